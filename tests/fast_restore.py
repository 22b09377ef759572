"""A faster `serialized_rollback` for the transactional tests (races, browser journeys).

Such a test ends by emptying every table, and the next one starts by loading back the rows the
migrations made (content types, permissions, staff groups, regions, shipping rates: about 280),
which Django does one `save()` at a time: an UPDATE then an INSERT per row, about 560
statements and 0.25 s of CPU per test, 224 times in the PostgreSQL stage. Here the same rows,
parsed once per process, go back in one INSERT per table (and one per many-to-many table),
inside the same transaction with the same constraint check at the end: the database each test
starts from is the same, row for row.
"""

from django.core import serializers
from django.db.backends.base.creation import BaseDatabaseCreation
from django.db.transaction import atomic

# The serialized string (one per database alias and process) -> the rows to insert, per model
# in the order the serializer wrote them (it sorts models by their dependencies).
_parsed: dict[int, list] = {}


def _rows(creation: BaseDatabaseCreation, data: str) -> list:
    key = hash(data)
    if key not in _parsed:
        by_model: dict[type, list] = {}
        through: dict[type, list] = {}
        for deserialized in serializers.deserialize("json", data, using=creation.connection.alias):
            instance = deserialized.object
            by_model.setdefault(type(instance), []).append(instance)
            for name, values in (deserialized.m2m_data or {}).items():
                field = instance._meta.get_field(name)
                model = field.remote_field.through
                source = field.m2m_field_name()
                target = field.m2m_reverse_field_name()
                through.setdefault(model, []).extend(
                    model(**{f"{source}_id": instance.pk, f"{target}_id": value})
                    for value in values
                )
        _parsed[key] = [*by_model.items(), *through.items()]
    return _parsed[key]


def deserialize_db_from_string(self: BaseDatabaseCreation, data: str) -> None:
    """Django's own `deserialize_db_from_string`, one INSERT per table instead of one save()
    per row, when the tables are empty (after a transactional test's flush): save() then
    inserts every row too (no signals: nothing in the project listens to these models' saves).
    When they are not (the first transactional test of a process, after the tests that roll
    back), Django's own, whose save() updates the rows already there."""
    rows = _rows(self, data)
    alias = self.connection.alias
    if any(model._base_manager.using(alias).exists() for model, _ in rows):
        _django_deserialize(self, data)
        return
    with atomic(using=alias):
        with self.connection.constraint_checks_disabled():
            for model, instances in rows:
                model._base_manager.using(alias).bulk_create(instances)
        self.connection.check_constraints(table_names=[model._meta.db_table for model, _ in rows])


_django_deserialize = BaseDatabaseCreation.deserialize_db_from_string


def install() -> None:
    BaseDatabaseCreation.deserialize_db_from_string = deserialize_db_from_string
