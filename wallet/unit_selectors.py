"""Reads of a shopper's reward points and coins (docs/points.md): balances for pages and
checkout, each in a fixed number of queries whatever the history."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import F, OuterRef, Subquery, Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from catalog.money import format_money
from catalog.regions import region_zone
from wallet.models import (
    Account,
    ActivityReport,
    BalanceAdjustment,
    PointsEarning,
    PointsShortfall,
    Posting,
    Transfer,
)
from wallet.selectors import transfer_order_number, transfer_shopper_description
from wallet.units import format_points


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


# ---- The points and coins pages: the figures /wallet/ shows, each unit's activity ----------

AVAILABLE = Account.Kind.CUSTOMER_POINTS
PENDING = Account.Kind.CUSTOMER_POINTS_PENDING
COINS_KIND = Account.Kind.CUSTOMER_COINS


@dataclass(frozen=True)
class UnitBalances:
    """Available and pending points and coins, as /wallet/ shows them beside the balance."""

    points: int = 0
    pending: int = 0
    coins: int = 0


def unit_balances_get(*, user) -> UnitBalances:
    """The shopper's available points, pending points and coins in one query (zero for an
    account not made yet): the wallet page's count stays flat."""
    figures = _unit_balances(user)
    return UnitBalances(
        points=figures.get(AVAILABLE, 0),
        pending=figures.get(PENDING, 0),
        coins=figures.get(COINS_KIND, 0),
    )


def _unit_postings(*, user, kinds):
    # As wallet_activity_list: the shopper's report about each row, an adjustment's text.
    own_report = ActivityReport.objects.filter(posting=OuterRef("pk"), user=user).order_by("pk")
    adjustment = BalanceAdjustment.objects.filter(transfer=OuterRef("transfer_id"))
    return (
        Posting.objects.filter(account__user=user, account__kind__in=kinds)
        .select_related("transfer", "account")
        .annotate(
            report_id=Subquery(own_report.values("pk")[:1]),
            report_status=Subquery(own_report.values("status")[:1]),
            adjustment_description=Subquery(adjustment.values("description")[:1]),
        )
        .order_by("-id")
    )


def points_activity_list(*, user):
    """Every movement of the shopper's points, available and pending, newest first, in one
    query with what each row says: the earning an earn transfer made (its release day), the
    credit a conversion became, the points a release settled of what was owed. Turn a page of
    it into rows with `points_activity_rows`."""
    owed_taken = Posting.objects.filter(
        transfer=OuterRef("transfer_id"),
        transfer__kind=Transfer.Kind.POINTS_RELEASE,
        account__kind=Account.Kind.POINTS_ISSUED,
    )
    return (
        _unit_postings(user=user, kinds=(AVAILABLE, PENDING))
        .select_related("transfer__points_earning", "transfer__credit_lot")
        .annotate(owed_taken=Subquery(owed_taken.values("amount")[:1]))
    )


def coins_activity_list(*, user):
    """Every movement of the shopper's coins, newest first, in one query. Turn a page of it
    into rows with `coins_activity_rows`."""
    return _unit_postings(user=user, kinds=(COINS_KIND,))


@dataclass(frozen=True)
class UnitActivityRow:
    """One row of the points or coins activity: the posting and what the shopper reads."""

    posting: Posting
    description: str
    order_number: str | None
    order_url: str | None
    # Which of the two points balances moved ("Available" / "Pending"); None for coins.
    balance_label: str | None = None
    report_id: int | None = None
    report_status: str | None = None  # the shopper's report about it, in words ("Open")

    @property
    def kind(self) -> str:
        return self.posting.transfer.kind

    @property
    def is_debit(self) -> bool:
        return self.posting.amount < 0

    @property
    def magnitude(self) -> int:
        return abs(self.posting.amount)


def _order_url(number: str | None) -> str | None:
    # By URL name: the wallet does not import checkout (STYLE.md, "Layout").
    if number is None:
        return None
    try:
        return reverse("checkout:order", args=[number])
    except NoReverseMatch:
        return None


def _day_text(moment: datetime.datetime, *, region) -> str:
    """ "15 Dec 2026": the day `moment` falls on in the shopper's region."""
    day = timezone.localtime(moment, region_zone(region)).date()
    return f"{day.day} {day:%b %Y}"


def _points_text(posting, number: str | None, *, region) -> str:
    transfer = posting.transfer
    kind = transfer.kind
    on_order = f" on order {number}" if number else ""
    if kind == Transfer.Kind.POINTS_EARN:
        earning = getattr(transfer, "points_earning", None)
        when = f", available on {_day_text(earning.release_at, region=region)}" if earning else ""
        return f"Earned{on_order}{when}"
    if kind == Transfer.Kind.POINTS_RELEASE:
        if posting.account.kind == PENDING:
            return "Moved to your available points" + (f" (order {number})" if number else "")
        text = "Now available" + (f": earned on order {number}" if number else "")
        taken = getattr(posting, "owed_taken", None)
        if taken:
            text += f"; {format_points(taken, locale=region.locale)} went to the points you owed"
        return text
    if kind == Transfer.Kind.POINTS_REVERSAL:
        return f"Taken back: order {number} was refunded" if number else "Taken back (refund)"
    if kind == Transfer.Kind.POINTS_CONVERT:
        lot = getattr(transfer, "credit_lot", None)
        if lot is None:
            return "Converted to promotional credit"
        credit = format_money(lot.amount, currency=lot.currency, locale=region.locale)
        return f"Converted to {credit} of credit (no expiry)"
    return _fallback_text(posting)


def _coins_text(posting, number: str | None) -> str:
    kind = posting.transfer.kind
    of_order = f" (order {number})" if number else ""
    if kind == Transfer.Kind.COINS_PURCHASE:
        return f"Coins bought{of_order}"
    if kind == Transfer.Kind.COINS_SPEND:
        return f"Spent on order {number}" if number else "Spent on digital items"
    if kind == Transfer.Kind.COINS_RETURN:
        return f"Returned from order {number}" if number else "Returned"
    if kind == Transfer.Kind.COINS_REVERSAL:
        return f"Taken back: coin pack refunded{of_order}"
    return _fallback_text(posting)


def _fallback_text(posting) -> str:
    # A staff adjustment shows its shopper-facing text (annotated), anything else its own.
    return transfer_shopper_description(
        posting.transfer,
        adjustment_description=getattr(posting, "adjustment_description", ...),
    )


def _report_of(posting) -> dict:
    status = getattr(posting, "report_status", None)
    return {
        "report_id": getattr(posting, "report_id", None),
        "report_status": ActivityReport.Status(status).label if status else None,
    }


def points_activity_rows(postings: Iterable[Posting], *, region) -> list[UnitActivityRow]:
    """Rows for a page of `points_activity_list`, with no query; days in `region`."""
    rows = []
    for posting in postings:
        number = transfer_order_number(posting.transfer)
        rows.append(
            UnitActivityRow(
                posting=posting,
                description=_points_text(posting, number, region=region),
                order_number=number,
                order_url=_order_url(number),
                balance_label="Pending" if posting.account.kind == PENDING else "Available",
                **_report_of(posting),
            )
        )
    return rows


def coins_activity_rows(postings: Iterable[Posting]) -> list[UnitActivityRow]:
    """Rows for a page of `coins_activity_list`, with no query."""
    rows = []
    for posting in postings:
        number = transfer_order_number(posting.transfer)
        rows.append(
            UnitActivityRow(
                posting=posting,
                description=_coins_text(posting, number),
                order_number=number,
                order_url=_order_url(number),
                **_report_of(posting),
            )
        )
    return rows
