"""Append-only tables: database triggers that refuse UPDATE (and DELETE on PostgreSQL).

Shared by the migrations that protect a table (a module starting with `_` is not a migration).
Test teardown on PostgreSQL uses TRUNCATE, which row triggers do not see; SQLite's flush
deletes rows, so there the delete guard is left to the code.
"""


def append_only(*tables):
    """A pair of RunPython functions (forwards, backwards) guarding `tables`."""

    def create_triggers(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(
                    f"""
                    CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
                    BEGIN
                        RAISE EXCEPTION '{table} is append-only: % refused', TG_OP;
                    END;
                    $$ LANGUAGE plpgsql;
                    """,
                    params=None,  # no interpolation: the `%` above is PL/pgSQL's, not a parameter
                )
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only();"
                )
            elif vendor == "sqlite":
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END;"
                )

    def drop_triggers(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(
                    f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};"
                )
                schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_append_only();")
            elif vendor == "sqlite":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update;")

    return create_triggers, drop_triggers
