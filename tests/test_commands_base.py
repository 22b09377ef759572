"""config/commands.py in-process: a database error that is neither an unreachable nor an
unmigrated database is raised as it was, and a command called inside a transaction leaves it
alone. (Both stages run these: on PostgreSQL a closed connection ends the caller's transaction;
SQLite's in-memory test database ignores a close.) The real processes on a database not migrated
or not there: tests/test_commands_database.py."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError

from accounts.models import User
from config.commands import ShopCommand
from tests.accounts.factories import UserFactory


class _Broken(ShopCommand):
    def handle(self, *args, **options):
        raise DatabaseError("a statement the database refused")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_another_database_error_on_a_migrated_database_is_raised_as_it_was():
    with pytest.raises(DatabaseError, match="a statement the database refused"):
        call_command(_Broken())


@pytest.mark.django_db
def test_a_command_called_inside_a_transaction_raises_its_error_and_leaves_it_open():
    shopper = UserFactory()

    with pytest.raises(DatabaseError, match="a statement the database refused"):
        call_command(_Broken())

    # The caller's transaction is still usable: nothing closed its connection.
    assert User.objects.filter(pk=shopper.pk).exists()


class _LosesTheDatabase(ShopCommand):
    """A run whose database goes away half-way: the statement fails, and so does the check."""

    def handle(self, *args, **options):
        raise DatabaseError("server closed the connection unexpectedly")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_lost_half_way_says_both_what_stopped_the_run_and_why(monkeypatch):
    import config.commands

    def unreachable(connection):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(config.commands, "MigrationExecutor", unreachable)

    with pytest.raises(CommandError) as raised:
        call_command(_LosesTheDatabase())

    message = str(raised.value)
    assert "server closed the connection unexpectedly" in message
    assert "now: connection refused" in message
    assert "is it up" in message
    assert isinstance(raised.value.__cause__, DatabaseError)  # --traceback shows it
