"""Authentication backends: Django's and allauth's, each reading the signed-in person with
their region in one prepared statement.

Every signed-in page shows the shopper's store (the navigation's "Store: …", money in the
region's locale, the wallet's currency), so the region is read on nearly every request: joined
to the user's own row instead of a second query of its own (docs/interface.md §9, the pages'
query counts). It is the one read every signed-in request makes, so it is written as SQL
through `prepared_cursor` (config/prepared.py): the ORM's `select_related(...).get()` cost more
CPU to build than the round trip, and PostgreSQL planned it anew each time (issue 13,
bench/http_load.py). The same instances come back: every field of the user and of the region,
the region cached on the user as `select_related` leaves it. Authentication itself is unchanged.
"""

from functools import cache

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection

from config.prepared import ModelRead, model_read, prepared_cursor


@cache
def _read() -> tuple[str, ModelRead, ModelRead]:
    """The statement and how to read the user and the region back from its row. Every name in
    it is a model's table or column (no input): the id is a parameter."""
    from accounts.models import User

    region_field = User._meta.get_field("region")
    Region = region_field.related_model
    quote = connection.ops.quote_name
    user, region = model_read(User, "u"), model_read(Region, "r")
    sql = (
        f"SELECT {', '.join(user.columns + region.columns)} "  # noqa: S608  # nosec B608
        f"FROM {quote(User._meta.db_table)} u JOIN {quote(Region._meta.db_table)} r "
        f"ON r.{quote(region_field.target_field.column)} = u.{quote(region_field.column)} "
        f"WHERE u.{quote(User._meta.pk.column)} = %s"
    )
    return sql, user, region


def user_with_region_get(user_id):
    """The user of `user_id`, their region cached on them (as `select_related("region")`
    leaves it); None when there is none, or the id is not one."""
    sql, user_read, region_read = _read()
    User = user_read.model
    try:
        user_id = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    if user_id is None or not -(2**63) <= user_id < 2**63:
        return None  # beyond a 64-bit integer: no one's id (as the ORM answers)
    with prepared_cursor() as cursor:
        cursor.execute(sql, [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(user_read.columns)
    user = user_read.instance(row[:split])
    User.region.field.set_cached_value(user, region_read.instance(row[split:]))
    return user


class _RegionWithUser:
    def get_user(self, user_id):
        user = user_with_region_get(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ShopperModelBackend(_RegionWithUser, ModelBackend):
    """Django's ModelBackend; the user read with their region."""


class ShopperAllauthBackend(_RegionWithUser, AllauthBackend):
    """allauth's backend (sign-in by e-mail); the user read with their region."""
