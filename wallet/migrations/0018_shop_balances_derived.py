"""Shop (system) accounts no longer cache their balance (docs/ledger.md "Shop accounts").

A shop account's row was locked and updated by every transfer touching it, so every
redemption and every balance payment in a currency waited on one row until commit. From now on
a shop account's balance is the sum of its postings: its cached `balance` is set to 0 (a
constraint keeps it there) and its new postings carry no running balance (`balance_after`
NULL). The postings themselves are not touched: they are the ledger. Customer accounts are
unchanged.

On SQLite, making `balance_after` nullable rebuilds the posting table, which drops its
append-only trigger: the triggers are dropped first and made again afterwards. Reversible: going
back fills the shop postings' running balances from their postings and caches the shop
balances again (deploy the old code only after migrating back).
"""

from django.db import migrations, models

from wallet.migrations._append_only import append_only

CUSTOMER_KINDS = (
    "customer",
    "customer_credit",
    "customer_points",
    "customer_points_pending",
    "customer_coins",
)
create_triggers, drop_triggers = append_only("wallet_posting", "wallet_transfer")


def shop_running_balances_fill(apps, schema_editor):
    """Backwards only: give the shop postings written without a running balance one again (the
    sum of their account's postings up to each), so the column can be NOT NULL again. The
    append-only triggers are dropped at this point of the reversal."""
    schema_editor.execute(
        "UPDATE wallet_posting SET balance_after = ("
        " SELECT SUM(earlier.amount) FROM wallet_posting earlier"
        " WHERE earlier.account_id = wallet_posting.account_id"
        " AND earlier.id <= wallet_posting.id)"
        " WHERE balance_after IS NULL"
    )


def shop_balances_uncache(apps, schema_editor):
    Account = apps.get_model("wallet", "Account")
    Account.objects.exclude(kind__in=CUSTOMER_KINDS).update(balance=0)


def shop_balances_recache(apps, schema_editor):
    """Backwards: each shop account's cached balance is the sum of its postings again."""
    Account = apps.get_model("wallet", "Account")
    Posting = apps.get_model("wallet", "Posting")
    for account in Account.objects.exclude(kind__in=CUSTOMER_KINDS):
        total = Posting.objects.filter(account=account).aggregate(t=models.Sum("amount"))["t"]
        Account.objects.filter(pk=account.pk).update(balance=total or 0)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0017_points_and_coins")]

    operations = [
        migrations.RunPython(drop_triggers, create_triggers),
        migrations.AlterField(
            model_name="posting",
            name="balance_after",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(migrations.RunPython.noop, shop_running_balances_fill),
        migrations.RunPython(shop_balances_uncache, shop_balances_recache),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(kind__in=CUSTOMER_KINDS) | models.Q(balance=0),
                name="wallet_account_shop_balance_not_cached",
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
