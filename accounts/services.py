"""Writes to shoppers' accounts: changing a shopper's region.

A shopper's region decides their currency, so changing it must not strand what they hold in
the old one (a balance no page shows any more, a cart priced elsewhere, an order still being
paid or refunded). What they hold lives in apps that import accounts, never the other way
round (tests/test_architecture.py), so accounts cannot look at it itself. Instead:

- each of those apps registers *guards* in its `AppConfig.ready` (the wallet: balances;
  checkout: the cart and open orders; a later points app: points), each saying why the change
  must wait, in plain words, or nothing;
- the wallet registers the *recorder* that writes the audit log (which accounts cannot import).

`user_region_change` locks the user's row, runs every guard (in the global lock order, since a
guard locks what it reads) and writes the change only when none objects, all in one
transaction. A new kind of holding needs a guard in its own app, not a change here.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from accounts.exceptions import RegionChangeRefused
from accounts.locks import user_qs_select_for_update
from accounts.models import User
from catalog.models import Region

# The global lock order (docs/ledger.md), for the rows a guard locks; the user's own row comes
# before all of them. An order and the cart share a level: the order first.
LOCK_ORDER = (
    "order",
    "cart",
    "subscription",
    "giftcard_batch",
    "promotion_usage",
    "giftcard",
    "wallet_account",
)

PERMISSION = "accounts.change_user"


@dataclass(frozen=True)
class RegionChange:
    """A change a guard is asked about, or a recorder told of. `user` is the locked row."""

    user: User
    old_region: Region
    new_region: Region
    by: User

    @property
    def currency_changes(self) -> bool:
        return self.old_region.currency != self.new_region.currency


# A guard returns the reasons the change must wait (empty: no objection). It runs inside the
# change's transaction and locks, through its own app's locks.py, the rows it reads.
RegionChangeGuard = Callable[[RegionChange], list[str]]
# A recorder is told of every attempt: `reasons` empty when the change was written (inside its
# transaction), else the refusal's reasons (in a transaction of its own, after the rollback).
RegionChangeRecorder = Callable[[RegionChange, list[str]], None]


@dataclass(frozen=True)
class _Guard:
    check: RegionChangeGuard
    locks: str


_guards: dict[str, _Guard] = {}
_recorders: dict[str, RegionChangeRecorder] = {}


def _key(function) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def region_change_guard_register(guard: RegionChangeGuard, *, locks: str) -> None:
    """Have `user_region_change` ask `guard` before every change. `locks` names, from
    `LOCK_ORDER`, the rows it locks, so guards run in the global lock order. Idempotent (an
    app's `ready` may run more than once)."""
    if locks not in LOCK_ORDER:
        raise ValueError(f"{locks!r} is not in LOCK_ORDER: add it there, in its place")
    _guards[_key(guard)] = _Guard(check=guard, locks=locks)


def region_change_recorder_register(recorder: RegionChangeRecorder) -> None:
    """Tell `recorder` of every region change and every refused one. Idempotent."""
    _recorders[_key(recorder)] = recorder


def _guards_in_lock_order() -> list[_Guard]:
    return sorted(_guards.values(), key=lambda guard: LOCK_ORDER.index(guard.locks))


def user_region_change(*, user: User, region: Region, by: User) -> User:
    """Move `user` to `region` (storefront and currency); returns the user, updated.

    `by` is the person asking: the shopper themselves, or staff with `accounts.change_user`.
    Refused while the shopper still holds anything in the old region (every registered guard
    is asked; all their reasons are given together). The change and its audit entry are
    written in one transaction; a refusal writes nothing but its audit entry. Moving a shopper
    to the region they are in is a no-op (nothing written, not audited).

    Raises `RegionChangeRefused`.
    """
    if by is None or not by.is_active or (by.pk != user.pk and not by.has_perm(PERMISSION)):
        # Nothing to audit against: the recorder needs an actor, and the admin view checks the
        # same permission before it calls this.
        raise RegionChangeRefused([f"you need the permission {PERMISSION!r} for this"])
    with transaction.atomic():
        # Lock first: two changes of one shopper, or a change and a guard's write, queue here.
        locked = user_qs_select_for_update(user_id=user.pk).get()
        if locked.region_id == region.pk:
            return locked
        change = RegionChange(user=locked, old_region=locked.region, new_region=region, by=by)
        reasons = [reason for guard in _guards_in_lock_order() for reason in guard.check(change)]
        if not reasons:
            locked.region = region
            locked.save(update_fields=["region"])
            for recorder in _recorders.values():
                recorder(change, [])
    if reasons:
        # The transaction above wrote nothing; the refusal's record survives on its own.
        with transaction.atomic():
            for recorder in _recorders.values():
                recorder(change, reasons)
        raise RegionChangeRefused(reasons)
    user.region = region
    return locked
