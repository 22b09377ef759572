"""Make the ledger append-only in the database itself.

Triggers refuse any UPDATE of a posting or a transfer, on SQLite and PostgreSQL alike; on
PostgreSQL a DELETE is refused too. (Test teardown on PostgreSQL uses TRUNCATE, which row
triggers do not see; SQLite's flush deletes rows, so its delete guard is left to the code.)
"""

from django.db import migrations

from wallet.migrations._append_only import append_only

create_triggers, drop_triggers = append_only("wallet_posting", "wallet_transfer")


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
