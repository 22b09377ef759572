"""Staff-side test helpers: staff users in the groups of migration 0005, batches made through
the real services, and the outcome of redeeming a code."""

import functools
import importlib

from django.contrib.auth.models import Group, Permission
from django.core.cache import cache

from catalog.models import Region
from tests.accounts.factories import UserFactory
from wallet.exceptions import CodeRefused
from wallet.services import giftcard_batch_request, giftcard_redeem

ISSUERS = "Gift card issuers"
APPROVERS = "Gift card approvers"
ADJUSTERS = "Balance adjusters"
ADJUSTMENT_APPROVERS = "Balance adjustment approvers"


_LATER_GROUPS = importlib.import_module("wallet.migrations.0009_adjustment_approvers").GROUPS


def _group(name: str) -> Group:
    """A staff group as the migrations left it. The shared conftest restores only 0005's
    groups after a transactional test empties the tables; 0009's additions are restored here."""
    if name not in _LATER_GROUPS:
        return Group.objects.get(name=name)
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.add(
        *(
            Permission.objects.get(
                content_type__app_label=app_label, content_type__model=model, codename=codename
            )
            for app_label, model, codename in _LATER_GROUPS[name]
        )
    )
    return group


def staff_user(*groups: str, **kwargs):
    """A staff member (not a superuser) in the named groups."""
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(*(_group(name) for name in groups))
    return user


def superuser(**kwargs):
    return UserFactory(is_staff=True, is_superuser=True, **kwargs)


def batch_request(
    created_by,
    *,
    count: int = 10,
    amount: int = 2500,
    region: str = "US",
    name: str = "spring",
    expires_on=None,
    note: str = "",
    idempotency_key: str = "",
):
    """A batch asked for through `giftcard_batch_request` (approved at once when small)."""
    return giftcard_batch_request(
        idempotency_key=idempotency_key,
        name=name,
        region=Region.objects.get(code=region),
        count=count,
        amount=amount,
        expires_on=expires_on,
        note=note,
        created_by=created_by,
    )


def redeem_outcome(user, code: str) -> str:
    """`"redeemed"`, or the reason `giftcard_redeem` refused `code` for `user`.

    The guessing counters are cleared first, so checking many refused codes in a row answers
    each one's own reason instead of `locked`.
    """
    cache.clear()
    try:
        giftcard_redeem(user=user, code=code)
    except CodeRefused as refusal:
        return refusal.reason
    return "redeemed"


def small_chunks(monkeypatch, size: int) -> None:
    """Make every batch issue (command and admin download) write `size` cards per chunk.

    `giftcard_batch_issue` binds its `chunk_size` default when it is defined, so patching
    `ISSUE_CHUNK_SIZE` would not reach it: wrap the function where its callers look it up.
    """
    import wallet.management.commands.issue_giftcards as command
    import wallet.services.batches as batches
    import wallet.services.staff as staff

    real = batches.giftcard_batch_issue
    smaller = functools.partial(real, chunk_size=size)
    monkeypatch.setattr(batches, "ISSUE_CHUNK_SIZE", size)
    monkeypatch.setattr(staff, "giftcard_batch_issue", smaller)
    monkeypatch.setattr(command, "giftcard_batch_issue", smaller)
