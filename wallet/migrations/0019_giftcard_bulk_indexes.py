"""Gift cards: only the indexes a look-up uses, so a bulk issue maintains fewer (issue 13).

PostgreSQL had a second index on the code hashes (the LIKE-pattern one Django adds for a
unique text column), as random as the unique one and used by no query: the hashes are now
unique through a named constraint, with no pattern index. The region keeps its index (staff
filter by it) without a pattern one; the shopper who redeemed a card and the staff member who
last disabled one are indexed only where set (empty on every card issued; "cards redeemed by
this user" and a user's deletion check still use them). Redemption's look-up by hash and the
batch's cards keep their indexes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_product_subscribable_message"),
        ("wallet", "0018_shop_balances_derived"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="giftcard",
            name="code_hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="giftcard",
            name="redeemed_by",
            field=models.ForeignKey(
                blank=True,
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
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="giftcard",
            index=models.Index(fields=["region"], name="wallet_giftcard_region"),
        ),
        migrations.AddIndex(
            model_name="giftcard",
            index=models.Index(
                condition=models.Q(("redeemed_by__isnull", False)),
                fields=["redeemed_by"],
                name="wallet_giftcard_redeemed_by",
            ),
        ),
        migrations.AddIndex(
            model_name="giftcard",
            index=models.Index(
                condition=models.Q(("status_changed_by__isnull", False)),
                fields=["status_changed_by"],
                name="wallet_giftcard_status_by",
            ),
        ),
        migrations.AddConstraint(
            model_name="giftcard",
            constraint=models.UniqueConstraint(
                fields=("code_hash",), name="wallet_giftcard_code_hash_key"
            ),
        ),
    ]
