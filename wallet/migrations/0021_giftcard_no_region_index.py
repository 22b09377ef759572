"""No index on a gift card's region.

With five regions, a filter on one region is a fifth of the table, which the database reads in
order of id (the admin's list) rather than through an index this unselective; the index cost a
bulk issue about a fifth of the database server's work (docs/interface.md §8). Reversible: the
index comes back on the way down.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0020_giftcard_no_row_fk_checks"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="giftcard",
            name="wallet_giftcard_region",
        ),
    ]
