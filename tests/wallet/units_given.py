"""Reward points and coins test data, made through the real wallet services, and what the
ledger says a shopper holds of each (read straight from the accounts, not through the
selectors under test elsewhere)."""

import datetime
import itertools
from dataclasses import dataclass

from django.db.models import F, Sum
from django.utils import timezone

from wallet.models import Account, PointsEarning, PointsShortfall
from wallet.models.ledger import CUSTOMER_UNIT_KINDS
from wallet.services import coins_credit, points_order_settle, points_release
from wallet.units import EARN_MINOR_PER_POINT, POINTS_PENDING_DAYS

_orders = itertools.count(1)
_keys = itertools.count(1)


def order_reference() -> str:
    """A made-up order's reference ("order:CP-T0000001"), unique in the test run."""
    return f"order:CP-T{next(_orders):07d}"


def paid_for(points: int, currency: str) -> int:
    """What an order must have paid (minor units) to earn exactly `points`."""
    return points * EARN_MINOR_PER_POINT[currency]


def points_earn(user, points: int, *, delivered_at=None, reference: str | None = None):
    """Earn `points` on a made-up delivered order (pending until delivered_at + 14 days)."""
    currency = user.region.currency
    return points_order_settle(
        user=user,
        reference=reference or order_reference(),
        currency=currency,
        paid=paid_for(points, currency),
        delivered_at=delivered_at or timezone.now(),
    )


def points_give(user, points: int):
    """`points` available to `user`: earned on an order delivered past its return window,
    then released (`points_release` releases every due earning, of anyone)."""
    now = timezone.now()
    earning = points_earn(
        user, points, delivered_at=now - datetime.timedelta(days=POINTS_PENDING_DAYS + 1)
    )
    points_release(now=now)
    return earning


def coins_key() -> str:
    return f"test-coins:{next(_keys)}"


def coins_give(user, coins: int):
    """`coins` on the shopper's coins account, as a coin pack paid would credit them."""
    return coins_credit(
        user=user, coins=coins, idempotency_key=coins_key(), description="Coin pack (test)"
    )


@dataclass(frozen=True)
class UnitBalances:
    available: int  # points
    pending: int  # points
    owed: int  # points still owed to the shop (open shortfalls)
    coins: int


def unit_balances(user) -> UnitBalances:
    """What the ledger's accounts and the shortfall rows say `user` holds."""
    balances = dict(
        Account.objects.filter(user=user, kind__in=CUSTOMER_UNIT_KINDS).values_list(
            "kind", "balance"
        )
    )
    owed = PointsShortfall.objects.filter(user=user).aggregate(
        owed=Sum(F("points") - F("settled"))
    )["owed"]
    return UnitBalances(
        available=balances.get(Account.Kind.CUSTOMER_POINTS, 0),
        pending=balances.get(Account.Kind.CUSTOMER_POINTS_PENDING, 0),
        owed=owed or 0,
        coins=balances.get(Account.Kind.CUSTOMER_COINS, 0),
    )


def pending_kept(user) -> int:
    """Σ kept (points - reversed) over the shopper's unreleased earnings: what the pending
    account must hold."""
    kept = PointsEarning.objects.filter(user=user, released_at__isnull=True).aggregate(
        kept=Sum(F("points") - F("reversed"))
    )["kept"]
    return kept or 0
