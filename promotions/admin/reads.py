"""What the promotions admin shows staff, read-only: the preview ("this cart would get …"),
the stacking matrix, and the report of one promotion. Reads only; every count is a fixed
number of queries whatever the number of rows (tests/promotions/test_admin.py counts them).
"""

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import CharField, Count, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat

from catalog.models import Price, Product, Region
from catalog.regions import region_today
from promotions.changes import promotion_changes_lines
from promotions.engine import (
    EnteredCode,
    Evaluation,
    LineInput,
    PromotionSpec,
    ShippingInput,
    ShopperInput,
    promotions_evaluate,
)
from promotions.models import Promotion, PromotionRedemption
from promotions.rules import BONUS, ORDER, SHIPPING, TENDER, layer_of
from promotions.search import compatible
from promotions.selectors import entered_codes_lookup, promotion_specs_get
from promotions.services.staff import APPROVED, CHANGED
from wallet.models import AuditEntry

# --- preview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    product: Product
    quantity: int
    unit_price: int
    discount: int  # all promotions together, this line
    units: tuple[int, ...]  # the discount of each unit


@dataclass(frozen=True)
class Preview:
    region: Region
    lines: list[PreviewLine]
    missing: list[Product]  # not sold in the region: left out
    subtotal: int
    evaluation: Evaluation
    total: int  # subtotal + shipping - discount


def promotion_preview(
    *,
    region: Region,
    items: Sequence[tuple[Product, int]],
    codes: Sequence[str] = (),
    promotion: Promotion | None = None,
    has_orders: bool = False,
    today: datetime.date | None = None,
    shipping_amount: int | None = None,
) -> Preview:
    """Price a cart as checkout would (the same selectors and engine) for a shopper of
    `region` on `today` (default: today there), with `codes` typed and, when given,
    `promotion` as if its code was typed — even if it is waiting for approval or disabled,
    since staff preview it before it goes live. Reads only (4 queries)."""
    products = [product for product, _ in items]
    prices = dict(
        Price.objects.filter(region=region, product__in=products).values_list(
            "product_id", "amount"
        )
    )
    quantities: dict[int, int] = {}
    for product, quantity in items:
        if product.pk in prices:
            quantities[product.pk] = quantities.get(product.pk, 0) + quantity
    by_id = {product.pk: product for product in products}
    lines = [
        LineInput(
            key=pk,
            category_id=by_id[pk].category_id,
            quantity=quantity,
            unit_price=prices[pk],
        )
        for pk, quantity in quantities.items()
    ]
    entered = list(entered_codes_lookup(codes=list(codes))) if codes else []
    ids = {e.promotion_id for e in entered if e.promotion_id is not None}
    if promotion is not None:
        ids.add(promotion.pk)
        if promotion.codes != Promotion.Codes.AUTOMATIC:
            entered.append(
                EnteredCode(
                    code=promotion.code or f"{promotion.slug} code", promotion_id=promotion.pk
                )
            )
    specs = promotion_specs_get(region=region, currency=region.currency, promotion_ids=ids)
    if promotion is not None:
        specs = [dataclasses.replace(s, active=True) if s.id == promotion.pk else s for s in specs]
    shopper = ShopperInput(
        user_id=None,
        region_code=region.code,
        currency=region.currency,
        locale=region.locale,
        today=today or region_today(region),
        has_orders=has_orders,
    )
    shipping = (
        ShippingInput(method="standard", amount=shipping_amount, free_from=None)
        if shipping_amount is not None
        else None
    )
    evaluation = promotions_evaluate(
        lines=lines, shipping=shipping, shopper=shopper, promotions=specs, entered=entered
    )
    subtotal = sum(line.quantity * line.unit_price for line in lines)
    preview_lines = []
    for line in lines:
        units = tuple(evaluation.unit_allocations.get(line.key, ()))
        preview_lines.append(
            PreviewLine(
                product=by_id[line.key],
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=sum(units),
                units=units,
            )
        )
    return Preview(
        region=region,
        lines=preview_lines,
        missing=[p for p in products if p.pk not in prices],
        subtotal=subtotal,
        evaluation=evaluation,
        total=subtotal + evaluation.shipping - evaluation.discount,
    )


# --- stacking matrix ----------------------------------------------------------------------

LAYER_NAMES = {
    "line": "items",
    ORDER: "order discount",
    SHIPPING: "shipping",
    TENDER: "credit (a tender)",
    BONUS: "gift card bonus",
}


@dataclass(frozen=True)
class MatrixCell:
    combines: bool
    why: str


@dataclass(frozen=True)
class StackingMatrix:
    specs: list[PromotionSpec]
    layers: dict[int, str]
    rows: list[tuple[PromotionSpec, list[MatrixCell | None]]]  # None: the diagonal


def _cell(a: PromotionSpec, b: PromotionSpec) -> MatrixCell:
    if TENDER in (layer_of(a), layer_of(b)):
        return MatrixCell(True, "credit is a tender: always combines")
    if layer_of(a) == layer_of(b) == BONUS:
        return MatrixCell(False, "one gift card bonus at most (the largest credit)")
    if BONUS in (layer_of(a), layer_of(b)):
        return MatrixCell(True, "a gift card bonus is credit, never a discount: always combines")
    if compatible(a, b):
        return MatrixCell(True, "combines")
    if a.exclusive or b.exclusive:
        who = a if a.exclusive else b
        return MatrixCell(False, f"{who.code or who.slug} is exclusive")
    if b.id in a.not_combinable_with or a.id in b.not_combinable_with:
        return MatrixCell(False, "set not combinable")
    return MatrixCell(False, f"one {LAYER_NAMES[layer_of(a)]} at most")


def stacking_matrix_get(*, region: Region) -> StackingMatrix:
    """Which active promotions combine with which (docs/promotions.md's stacking table
    applied to them), as the engine decides it (`promotions.search.compatible`); credit is a
    tender and combines with everything. Two queries, whatever the number of promotions."""
    ids = Promotion.objects.filter(status=Promotion.Status.ACTIVE).values_list("pk", flat=True)
    specs = [
        s
        for s in promotion_specs_get(region=region, currency=region.currency, promotion_ids=ids)
        if s.active
    ]
    rows = [(a, [None if a.id == b.id else _cell(a, b) for b in specs]) for a in specs]
    return StackingMatrix(
        specs=specs, layers={s.id: LAYER_NAMES[layer_of(s)] for s in specs}, rows=rows
    )


# --- report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrencyReport:
    currency: str
    uses: int  # redemptions that still count
    released: int  # given back by a cancellation or a full refund
    orders: int
    given: int  # discount (or credit) kept by shoppers: counting uses, less claw-backs
    clawed_back: int
    budget: int | None
    budget_left: int | None


def promotion_report_get(*, promotion: Promotion) -> list[CurrencyReport]:
    """Per currency: uses, released uses, orders, what was given and clawed back, and the
    budget left (2 queries)."""
    counting = Q(released_at__isnull=True)
    totals = (
        PromotionRedemption.objects.filter(promotion=promotion)
        .values("currency")
        .annotate(
            uses=Count("pk", filter=counting),
            released=Count("pk", filter=~counting),
            orders=Count("order_number", filter=counting & ~Q(order_number=""), distinct=True),
            amount=Sum("amount", filter=counting, default=0),
            clawed_back=Sum("clawed_back", filter=counting, default=0),
        )
        .order_by("currency")
    )
    by_currency = {row["currency"]: row for row in totals}
    budgets = {a.currency: a for a in promotion.amounts.all()}
    report = []
    for currency in sorted(set(by_currency) | set(budgets)):
        row = by_currency.get(currency, {})
        amounts = budgets.get(currency)
        budget = amounts.budget if amounts else None
        report.append(
            CurrencyReport(
                currency=currency,
                uses=row.get("uses", 0),
                released=row.get("released", 0),
                orders=row.get("orders", 0),
                given=row.get("amount", 0) - row.get("clawed_back", 0),
                clawed_back=row.get("clawed_back", 0),
                budget=budget,
                budget_left=None if budget is None else budget - amounts.budget_used,
            )
        )
    return report


# --- changes since the last approval --------------------------------------------------------


@dataclass(frozen=True)
class ChangeShown:
    """One change of a promotion as the approver reads it (from its audit entry)."""

    actor: str
    at: datetime.datetime
    outcome: str
    lines: list[tuple[str, str]]  # ("percent", "10 → 20"), one per changed term


# At most this many changes are listed (newest first); the audit log has them all.
CHANGES_SHOWN = 20


def promotion_changes_since_approval(*, promotion: Promotion) -> list[ChangeShown]:
    """The changes of `promotion` since it was last approved (all of them if never), newest
    first, each with what it changed old → new (2 queries)."""
    target = f"promotion #{promotion.pk}"
    last_approval = (
        AuditEntry.objects.filter(target=target, action=APPROVED)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    entries = AuditEntry.objects.filter(target=target, action=CHANGED).select_related("actor")
    if last_approval is not None:
        entries = entries.filter(id__gt=last_approval)
    shown = []
    for entry in entries.order_by("-id")[:CHANGES_SHOWN]:
        outcome, lines = promotion_changes_lines(entry.detail)
        shown.append(
            ChangeShown(
                actor=str(entry.actor),
                at=entry.created_at,
                outcome=outcome,
                # The labels (promotions/changes.py) hold no ": ", so the first one splits.
                lines=[tuple(line.partition(": ")[::2]) for line in lines],
            )
        )
    return shown


def changes_since_approval_by(user):
    """The outer promotion's change audit entries by `user` since its last approval: a
    subquery for `Exists` in a promotion queryset (the admin's "waiting for me")."""

    def target(ref):
        # The audit target of a promotion: "promotion #<pk>".
        return Concat(Value("promotion #"), Cast(ref, CharField()))

    last_approval = (
        AuditEntry.objects.filter(target=target(OuterRef(OuterRef("pk"))), action=APPROVED)
        .order_by("-id")
        .values("id")[:1]
    )
    return AuditEntry.objects.filter(
        target=target(OuterRef("pk")),
        action=CHANGED,
        actor=user,
        id__gt=Coalesce(Subquery(last_approval), 0),
    )
