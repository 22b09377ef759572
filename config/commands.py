"""The base of the shop's own management commands (docs/interface.md §8).

An operator who points `DATABASE_URL` at the wrong place, or forgot `manage.py migrate`, gets one
line and exit status 1 from every command, not a traceback: when a database error ends a
command, the command asks the database whether its migrations are applied. Not reachable, or
migrations missing: that is the line, with the error's own first line in it (`--traceback`
shows the whole error as its cause). Otherwise the error was something else (a bug, a database
refusing a statement) and is raised as it was, traceback and all. Nothing is asked of the
database before a command runs: the question costs a migration graph, paid only on a failure.
The commands that move value are idempotent (docs/interface.md §8, §13, §14): a run stopped
this way keeps what it committed, and running it again once the database is back carries on.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def database_explained(error: DatabaseError) -> CommandError | None:
    """The one line for `error` when the database cannot be reached or is not migrated; None
    when it is up to date (the error is another one)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:
        # Called inside a transaction (from code, not by an operator): the error as it was,
        # and the caller's transaction left alone.
        return None
    try:
        connection.close()  # whatever state the failure left it in
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as unreachable:
        # Both reasons when they differ: a database lost in the middle of a run is not a
        # DATABASE_URL typo, and what the run was doing when it stopped is the first one.
        reasons = [_first_line(error), _first_line(unreachable)]
        said = reasons[0] if reasons[0] == reasons[1] else "; now: ".join(reasons)
        return CommandError(
            f"cannot reach the database ({said}): is it up, and is DATABASE_URL right?"
        )
    if pending:
        return CommandError(
            f"the database is not migrated ({len(pending)} migrations to apply; "
            f"{_first_line(error)}): run `manage.py migrate` first."
        )
    return None


class ShopCommand(BaseCommand):
    """`BaseCommand`, its database errors explained when they mean an unreachable or an
    unmigrated database (above)."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DatabaseError as error:
            explained = database_explained(error)
            if explained is None:
                raise
            # One line on stderr; with --traceback, the error it explains as its cause.
            raise explained from error
