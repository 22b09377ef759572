"""Reads of the wallet, scoped to their owner. No writes, no locks."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import (
    BigIntegerField,
    DateField,
    DateTimeField,
    F,
    JSONField,
    OuterRef,
    Subquery,
    Value,
)
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from catalog.models import Category
from wallet.codes import CodeTypo, code_hash, code_normalize
from wallet.credit import CreditLotView
from wallet.models import (
    ADJUSTMENT_DESCRIPTION_DEFAULT,
    CUSTOMER_KINDS,
    Account,
    ActivityReport,
    BalanceAdjustment,
    CreditLot,
    GiftCard,
    Posting,
    Transfer,
)

# Rows written before transfers carried a `reference` say which order they are about only in
# their description ("Order CP-7K2M9QXR", "Refund of order CP-7K2M9QXR"): read it there, for
# the kinds checkout posts (a staff member's adjustment text is never taken for a link).
_ORDER_IN_DESCRIPTION = re.compile(r"\b[Oo]rder (CP-[0-9A-HJKMNP-TV-Z]{8})\b")
_ORDER_KINDS = frozenset(
    {Transfer.Kind.ORDER_PAYMENT, Transfer.Kind.REFUND, Transfer.Kind.REVERSAL}
)
ORDER_REFERENCE_PREFIX = "order:"
# A credit account's rows, by what moved the credit.
_CREDIT_ROW_KINDS = {
    Transfer.Kind.CREDIT_GRANT: "credit_grant",
    # Reward points converted: credit received, without expiry (docs/points.md).
    Transfer.Kind.POINTS_CONVERT: "credit_grant",
    Transfer.Kind.ORDER_PAYMENT: "credit_spend",
    Transfer.Kind.REFUND: "credit_return",
    Transfer.Kind.REVERSAL: "credit_return",
    Transfer.Kind.CREDIT_EXPIRY: "credit_expiry",
}
_CREDIT_ROW_LABELS = {
    "credit_grant": "Credit received",
    "credit_spend": "Credit spent",
    "credit_return": "Credit returned",
    "credit_expiry": "Credit expired",
}


@dataclass(frozen=True)
class Balance:
    """What the shopper can spend: `amount` = `money` (gift card money, never expires) +
    `credit` (the unexpired promotional credit of `lots`, soonest-expiring first)."""

    amount: int
    currency: str
    money: int | None = None  # None: all of `amount` is money
    credit: int = 0
    lots: tuple[CreditLotView, ...] = ()

    def __post_init__(self):
        if self.money is None:
            object.__setattr__(self, "money", self.amount - self.credit)


def wallet_balance_get(*, user) -> Balance:
    """The shopper's spendable balance in their region's currency (zero before their first
    movement): gift card money plus every unexpired credit lot, soonest-expiring first.

    One query whatever the number of lots: the money account and the spendable lots are read
    as one UNION, each joined to the user's region to pick the currency. A lot whose last day
    is over is left out at once, even before `wallet_expire_credit` posts it to breakage.
    """
    columns = ("figure", "currency", "lot_id", "lot_expires_on", "lot_expires_at", "lot_cats")
    money = (
        Account.objects.filter(
            user=user, kind=Account.Kind.CUSTOMER, currency=F("user__region__currency")
        )
        .annotate(
            figure=F("balance"),
            lot_id=Value(None, output_field=BigIntegerField()),
            lot_expires_on=Value(None, output_field=DateField()),
            lot_expires_at=Value(None, output_field=DateTimeField()),
            lot_cats=Value(None, output_field=JSONField()),
        )
        .order_by()
        .values_list(*columns)
    )
    lots = (
        CreditLot.objects.filter(
            user=user,
            currency=F("user__region__currency"),
            remaining__gt=0,
            expires_at__gt=timezone.now(),
        )
        .annotate(
            figure=F("remaining"),
            lot_id=F("pk"),
            lot_expires_on=F("expires_on"),
            lot_expires_at=F("expires_at"),
            lot_cats=F("category_ids"),
        )
        .order_by()
        .values_list(*columns)
    )
    rows = list(money.union(lots, all=True).order_by())
    if not rows:
        return Balance(amount=0, currency=user.region.currency)
    views = sorted(
        (
            CreditLotView(
                id=lot_id,
                remaining=figure,
                expires_on=expires_on,
                category_ids=frozenset(categories or ()),
                expires_at=expires_at,
            )
            for figure, _, lot_id, expires_on, expires_at, categories in rows
            if lot_id is not None
        ),
        key=lambda lot: (lot.expires_on, lot.id),
    )
    cash = sum(row[0] for row in rows if row[2] is None)
    credit = sum(lot.remaining for lot in views)
    return Balance(
        amount=cash + credit, currency=rows[0][1], money=cash, credit=credit, lots=tuple(views)
    )


@dataclass(frozen=True)
class CreditLotRow:
    """A lot as the wallet page lists it: what is left, its last day, the categories it may
    pay for (names; empty: anything)."""

    id: int
    remaining: int
    expires_on: object
    categories: tuple[str, ...]


def credit_lot_rows(lots: Iterable[CreditLotView]) -> list[CreditLotRow]:
    """Rows for `Balance.lots`, in their order; names the categories of restricted lots (one
    query, only when a lot is restricted)."""
    lots = list(lots)
    wanted = {category for lot in lots for category in lot.category_ids}
    names = {}
    if wanted:
        names = dict(Category.objects.filter(pk__in=wanted).values_list("pk", "name"))
    return [
        CreditLotRow(
            id=lot.id,
            remaining=lot.remaining,
            expires_on=lot.expires_on,
            categories=tuple(sorted(names[c] for c in lot.category_ids if c in names)),
        )
        for lot in lots
    ]


def wallet_activity_list(*, user):
    """The movements of the shopper's balance, newest first, each with its transfer, the
    shopper's report about it (`report_id`, `report_status`, None when not reported) and an
    adjustment's shopper-facing description (`adjustment_description`), in one query.
    Turn a page of it into rows with `activity_rows`."""
    own_report = ActivityReport.objects.filter(posting=OuterRef("pk"), user=user).order_by("pk")
    adjustment = BalanceAdjustment.objects.filter(transfer=OuterRef("transfer_id"))
    return (
        Posting.objects.filter(
            account__user=user,
            account__kind__in=CUSTOMER_KINDS,
            account__currency=user.region.currency,
        )
        .select_related("transfer", "account")
        .annotate(
            report_id=Subquery(own_report.values("pk")[:1]),
            report_status=Subquery(own_report.values("status")[:1]),
            adjustment_description=Subquery(adjustment.values("description")[:1]),
        )
        .order_by("-id")
    )


@dataclass(frozen=True)
class ActivityRow:
    """One row of the wallet page: the posting and what the shopper may read about it."""

    posting: Posting
    description: str
    order_number: str | None
    order_url: str | None
    report_id: int | None
    report_status: str | None  # the report's status, in words ("Open", "Resolved")

    @property
    def is_debit(self) -> bool:
        return self.posting.amount < 0

    @property
    def is_credit(self) -> bool:
        """A movement of promotional credit (not of gift card money)."""
        return self.posting.account.kind == Account.Kind.CUSTOMER_CREDIT

    @property
    def kind(self) -> str:
        """What the row is (`data-kind`): the transfer's kind; for promotional credit one of
        `credit_grant`, `credit_spend`, `credit_return`, `credit_expiry`."""
        kind = self.posting.transfer.kind
        if not self.is_credit:
            return kind
        return _CREDIT_ROW_KINDS.get(kind, f"credit_{kind}")

    @property
    def kind_label(self) -> str:
        """The credit row's kind in words, for its badge."""
        return _CREDIT_ROW_LABELS.get(self.kind, "Promotional credit")

    @property
    def magnitude(self) -> int:
        """The amount without its sign (the page writes one minus sign, U+2212, itself)."""
        return abs(self.posting.amount)


def activity_rows(postings: Iterable[Posting]) -> list[ActivityRow]:
    """Rows for the postings of `wallet_activity_list` (a page of them), with no query; for
    a posting read on its own, the report status is left out (None)."""
    rows = []
    for posting in postings:
        number = transfer_order_number(posting.transfer)
        status = getattr(posting, "report_status", None)
        rows.append(
            ActivityRow(
                posting=posting,
                description=transfer_shopper_description(
                    posting.transfer,
                    # Not annotated (a posting read on its own): one query for an adjustment.
                    adjustment_description=getattr(posting, "adjustment_description", ...),
                ),
                order_number=number,
                order_url=_order_url(number),
                report_id=getattr(posting, "report_id", None),
                report_status=ActivityReport.Status(status).label if status else None,
            )
        )
    return rows


def transfer_shopper_description(transfer: Transfer, *, adjustment_description=...) -> str:
    """What the shopper reads about a transfer. A balance adjustment shows its shopper-facing
    description, never the staff's internal note (older adjustment transfers carried the note
    in their own description). Pass `adjustment_description` when it was annotated already;
    otherwise one query for an adjustment, none for any other kind."""
    if transfer.kind != Transfer.Kind.ADJUSTMENT:
        return transfer.description
    if adjustment_description is ...:
        adjustment_description = (
            BalanceAdjustment.objects.filter(transfer=transfer)
            .values_list("description", flat=True)
            .first()
        )
    return adjustment_description or ADJUSTMENT_DESCRIPTION_DEFAULT


def transfer_order_number(transfer: Transfer) -> str | None:
    """The order a transfer is about: its `reference` ("order:CP-…"), else, for the kinds
    checkout posts, the order number its description names. None for anything else."""
    reference = transfer.reference or ""
    if reference.startswith(ORDER_REFERENCE_PREFIX):
        return reference.removeprefix(ORDER_REFERENCE_PREFIX) or None
    if transfer.kind in _ORDER_KINDS:
        match = _ORDER_IN_DESCRIPTION.search(transfer.description)
        if match:
            return match.group(1)
    return None


def _order_url(number: str | None) -> str | None:
    # By URL name, not by import: the wallet does not import checkout (STYLE.md, "Layout").
    if number is None:
        return None
    try:
        return reverse("checkout:order", args=[number])
    except NoReverseMatch:
        return None


def posting_get_for_user(*, user, posting_id: int) -> Posting:
    """One of the shopper's own activity rows; anyone else's answers 404."""
    return get_object_or_404(
        Posting.objects.select_related("account", "transfer"),
        pk=posting_id,
        account__user=user,
        account__kind__in=CUSTOMER_KINDS,
    )


def activity_report_get_for_user(*, user, posting_id: int) -> ActivityReport | None:
    """The shopper's own report about one of their activity rows, if they made one."""
    return ActivityReport.objects.filter(posting_id=posting_id, user=user).first()


def activity_report_get_for_user_or_404(*, user, report_id: int) -> ActivityReport:
    """One of the shopper's own reports with its activity row; anyone else's answers 404."""
    return get_object_or_404(
        ActivityReport.objects.select_related("posting__transfer"), pk=report_id, user=user
    )


# A full code is a bearer secret: an error report must not show it.
@sensitive_variables("code", "canonical")
def giftcard_get_by_code(*, code: str) -> GiftCard | None:
    """The card a typed code names, with its region, or None (a typo, or no such card).

    For the redeem page to explain a refusal the service already made (who redeemed the card
    and when, which store it is for); it never decides anything. One query, none for a typo.
    """
    try:
        canonical = code_normalize(code)
    except CodeTypo:
        return None
    return GiftCard.objects.select_related("region").filter(code_hash=code_hash(canonical)).first()
