"""Reads of a shopper's reward points and coins (docs/points.md): balances for pages and
checkout, each in a fixed number of queries whatever the history."""

import datetime
from dataclasses import dataclass, field

from django.db.models import F, Sum

from wallet.models import Account, PointsEarning, PointsShortfall


@dataclass(frozen=True)
class PendingPoints:
    points: int
    release_at: datetime.datetime
    reference: str


@dataclass(frozen=True)
class PointsBalance:
    available: int
    pending: int
    owed: int  # taken back by refunds after they were used: settled from the next releases
    pending_lots: list[PendingPoints] = field(default_factory=list)  # soonest first


def _unit_balances(user) -> dict[str, int]:
    rows = Account.objects.filter(
        user=user,
        kind__in=(
            Account.Kind.CUSTOMER_POINTS,
            Account.Kind.CUSTOMER_POINTS_PENDING,
            Account.Kind.CUSTOMER_COINS,
        ),
    ).values_list("kind", "balance")
    return dict(rows)


def points_balance_get(*, user) -> PointsBalance:
    """The shopper's available and pending points, what they owe, and each order's pending
    points with its release date. Three queries."""
    balances = _unit_balances(user)
    lots = [
        PendingPoints(points=e.kept, release_at=e.release_at, reference=e.reference)
        for e in PointsEarning.objects.filter(
            user=user, released_at__isnull=True, reversed__lt=F("points")
        ).only("points", "reversed", "release_at", "reference")
    ]
    owed = PointsShortfall.objects.filter(user=user, settled__lt=F("points")).aggregate(
        owed=Sum(F("points") - F("settled"))
    )["owed"]
    return PointsBalance(
        available=balances.get(Account.Kind.CUSTOMER_POINTS, 0),
        pending=balances.get(Account.Kind.CUSTOMER_POINTS_PENDING, 0),
        owed=owed or 0,
        pending_lots=lots,
    )


def coins_balance_get(*, user) -> int:
    """The shopper's coins (0 before their first). One query."""
    balance = (
        Account.objects.filter(user=user, kind=Account.Kind.CUSTOMER_COINS)
        .values_list("balance", flat=True)
        .first()
    )
    return balance or 0
