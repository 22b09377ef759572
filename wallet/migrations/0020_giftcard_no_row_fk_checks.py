"""Gift cards: the database no longer checks their foreign keys row by row (issue 13).

PostgreSQL checks a foreign key with one query per inserted row, even one left empty, at
commit: for a card's four (region, batch, the shopper who redeems it, the staff member who
disables it) that cost more than writing the row and all its indexes, and capped a bulk issue
of a million cards near a third of the table's speed. The references stay true without it: a
batch's cards take region and batch from the batch row, which is itself checked, and the users
are the ones the services act for; `on_delete=PROTECT` refuses deleting any row a card refers
to, through the indexes kept in 0019. Making them checked again is this migration reversed.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_product_subscribable_message"),
        ("wallet", "0019_giftcard_bulk_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="giftcard",
            name="batch",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="cards",
                to="wallet.giftcardbatch",
            ),
        ),
        migrations.AlterField(
            model_name="giftcard",
            name="redeemed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="giftcard",
            name="region",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="catalog.region",
            ),
        ),
        migrations.AlterField(
            model_name="giftcard",
            name="status_changed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
