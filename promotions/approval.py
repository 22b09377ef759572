"""What a promotion is worth, and whether a second staff member must approve it (the two-person
rule of docs/interface.md §9, applied to promotions).

The value of a promotion in a currency is the most it can give away there in total:

- one use gives at most: the fixed amount (fixed off, credit), lowered by the cap if any; for
  percent off, buy X get Y and free shipping, the cap ("20% up to 30.00"); with no cap a
  percentage has no bound;
- in total: the budget, when there is one (it is never overshot: the last use is trimmed);
  else one use's most times the total limit; else there is no bound.

A fixed or credit promotion without an amount in a currency is not offered there: worth 0.
A promotion with no bound in some currency where it is offered always needs approval; so
does one offered in a currency with no `PROMOTION_APPROVAL_MAX_VALUE` set (not waved through).

Example with the defaults (USD 1,000.00): "5.00 off, 100 uses" is worth 500.00 (alone);
"15% off, usable once" has no bound (no cap: one order could be huge) and waits; "15% up to
30.00, 10 uses" is worth 300.00; "20% off books, budget 5,000.00" is worth 5,000.00 and waits.

As with gift card batches (wallet/services/thresholds.py), what one person made live alone in
the last 24 hours counts with the new terms: three promotions of 999.00 are not three small
ones. A promotion "went live alone" when it has no approver and `approved_at` (when its terms
last went live) within the window; its creator and whoever changed it both answer for it: for
what it can still give while it is live, for what it gave once it is not. The staff services
hold the person's user row lock (`accounts.locks.user_qs_select_for_update`) from this measure
to their write, so parallel requests of one person each see the ones before them. A promotion
worth more than `REFUSE_ABOVE_THRESHOLD_TIMES` its threshold is refused outright, as a batch is.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Q, Sum
from django.utils import timezone

from catalog.models import Region
from catalog.money import MoneyError, parse_amount, to_major_text
from promotions.models import Promotion, PromotionRedemption
from wallet.services.thresholds import REFUSE_ABOVE_THRESHOLD_TIMES, WINDOW


@dataclass(frozen=True)
class AmountTerms:
    """A promotion's amounts in one currency, minor units (None: not set)."""

    amount_off: int | None = None
    minimum_subtotal: int | None = None
    cap: int | None = None
    budget: int | None = None


@dataclass(frozen=True)
class PromotionTerms:
    """Everything staff set on a promotion: what the create and change services write."""

    slug: str
    name: str
    kind: str
    target: str = Promotion.Target.ORDER
    codes: str = Promotion.Codes.VANITY
    code: str = ""
    description: str = ""
    percent: int | None = None
    buy_quantity: int | None = None
    get_quantity: int | None = None
    credit_days: int | None = None
    category_ids: frozenset[int] = frozenset()
    product_ids: frozenset[int] = frozenset()
    region_codes: frozenset[str] = frozenset()
    starts_on: datetime.date | None = None
    ends_on: datetime.date | None = None
    first_order_only: bool = False
    per_shopper_limit: int | None = None
    total_limit: int | None = None
    exclusive: bool = False
    not_combinable_with: frozenset[int] = frozenset()  # promotion ids
    amounts: Mapping[str, AmountTerms] = field(default_factory=dict)  # currency -> amounts

    # Fields that change only what shoppers read: editing them alone keeps an approval.
    WORDING = ("name", "description")


def promotion_terms_of(promotion: Promotion) -> PromotionTerms:
    """The terms an existing promotion has now (its relations and amounts are read: 5 queries;
    fewer when prefetched)."""
    return PromotionTerms(
        slug=promotion.slug,
        name=promotion.name,
        description=promotion.description,
        kind=promotion.kind,
        target=promotion.target,
        codes=promotion.codes,
        code=promotion.code,
        percent=promotion.percent,
        buy_quantity=promotion.buy_quantity,
        get_quantity=promotion.get_quantity,
        credit_days=promotion.credit_days,
        category_ids=frozenset(c.pk for c in promotion.categories.all()),
        product_ids=frozenset(p.pk for p in promotion.products.all()),
        region_codes=frozenset(r.pk for r in promotion.regions.all()),
        starts_on=promotion.starts_on,
        ends_on=promotion.ends_on,
        first_order_only=promotion.first_order_only,
        per_shopper_limit=promotion.per_shopper_limit,
        total_limit=promotion.total_limit,
        exclusive=promotion.exclusive,
        not_combinable_with=frozenset(p.pk for p in promotion.not_combinable_with.all()),
        amounts={
            a.currency: AmountTerms(
                amount_off=a.amount_off,
                minimum_subtotal=a.minimum_subtotal,
                cap=a.cap,
                budget=a.budget,
            )
            for a in promotion.amounts.all()
            # A row kept only for its usage (its amounts removed) sets nothing.
            if (a.amount_off, a.minimum_subtotal, a.cap, a.budget) != (None, None, None, None)
        },
    )


def terms_differ_beyond_wording(old: PromotionTerms, new: PromotionTerms) -> bool:
    """Whether `new` changes anything but the name and description."""
    wording = dict.fromkeys(PromotionTerms.WORDING, "")
    return {**old.__dict__, **wording} != {**new.__dict__, **wording}


def promotion_currencies(terms: PromotionTerms) -> set[str]:
    """The currencies a promotion is offered in (its regions', or every region's) and those it
    has amounts for."""
    regions = Region.objects.all()
    if terms.region_codes:
        regions = regions.filter(code__in=terms.region_codes)
    return set(regions.values_list("currency", flat=True)) | set(terms.amounts)


def promotion_value(terms: PromotionTerms, *, currency: str) -> int | None:
    """The most the promotion can give in `currency` in total, minor units; None: no bound."""
    row = terms.amounts.get(currency, AmountTerms())
    if terms.kind in (Promotion.Kind.FIXED, Promotion.Kind.CREDIT, Promotion.Kind.GIFTCARD_BONUS):
        per_use = row.amount_off or 0
        if row.cap is not None:
            per_use = min(per_use, row.cap)
    else:
        per_use = row.cap
    if per_use == 0:
        return 0
    bounds = [row.budget]
    if per_use is not None and terms.total_limit is not None:
        bounds.append(per_use * terms.total_limit)
    bounds = [b for b in bounds if b is not None]
    return min(bounds) if bounds else None


def promotion_approval_threshold(*, currency: str) -> int | None:
    """`PROMOTION_APPROVAL_MAX_VALUE` for `currency` in minor units; None when not set (or not
    an amount): everything in that currency then waits for a second person."""
    setting = settings.PROMOTION_APPROVAL_MAX_VALUE
    text = setting.get(currency) if isinstance(setting, Mapping) else setting
    if text is None:
        return None
    try:
        return parse_amount(str(text), currency=currency)
    except MoneyError:
        return None


def promotions_alone_totals(*, person, exclude_id: int | None = None) -> dict[str, int | None]:
    """Per currency, what the promotions `person` created or changed and that went live without
    a second person in the last 24 hours stand for (None: no bound). A live one counts what it
    can still give in all (its value); one no longer live (disabled, or sent back for
    approval) counts what it gave while it was, so taking a used one off and making another
    does not start the day again. `exclude_id`: the promotion being changed, measured anew."""
    if person is None or person.pk is None:
        return {}
    rows = list(
        Promotion.objects.filter(
            Q(created_by=person) | Q(changed_by=person),
            approved_by__isnull=True,
            approved_at__gte=timezone.now() - WINDOW,
        )
        .exclude(pk=exclude_id)
        .prefetch_related("categories", "products", "regions", "not_combinable_with", "amounts")
    )
    totals: dict[str, int | None] = {}

    def add(currency: str, value: int | None) -> None:
        before = totals.get(currency, 0)
        totals[currency] = None if before is None or value is None else before + value

    for promotion in rows:
        if promotion.status == Promotion.Status.ACTIVE:
            terms = promotion_terms_of(promotion)
            for currency in promotion_currencies(terms):
                add(currency, promotion_value(terms, currency=currency))
    given = (
        PromotionRedemption.objects.filter(
            promotion__in=[p.pk for p in rows if p.status != Promotion.Status.ACTIVE],
            released_at__isnull=True,
        )
        .values("currency")
        .annotate(given=Sum(F("amount") - F("clawed_back")))
    )
    for row in given:
        add(row["currency"], row["given"])
    return totals


def _money(value: int, currency: str) -> str:
    return f"{to_major_text(value, currency=currency)} {currency}"


def promotion_too_large(terms: PromotionTerms) -> str | None:
    """Why the terms are refused outright (worth more than `REFUSE_ABOVE_THRESHOLD_TIMES` the
    threshold in some currency: a typo or an attack, not a campaign), else None."""
    for currency in sorted(promotion_currencies(terms)):
        value = promotion_value(terms, currency=currency)
        threshold = promotion_approval_threshold(currency=currency)
        if value is not None and threshold is not None:
            limit = threshold * REFUSE_ABOVE_THRESHOLD_TIMES
            if value > limit:
                return (
                    f"{currency}: worth up to {_money(value, currency)}; a promotion worth more "
                    f"than {_money(limit, currency)} is refused"
                )
    return None


def promotion_approval_reasons(
    terms: PromotionTerms, *, alone: Mapping[str, int | None] | None = None
) -> list[str]:
    """Why `terms` need a second staff member, one sentence per currency (empty: they don't).
    `alone`: what the person made live alone in the window (`promotions_alone_totals`)."""
    reasons = []
    for currency in sorted(promotion_currencies(terms)):
        value = promotion_value(terms, currency=currency)
        threshold = promotion_approval_threshold(currency=currency)
        earlier = (alone or {}).get(currency, 0)
        if threshold is None:
            reasons.append(f"{currency}: no approval threshold is set")
        elif value is None:
            reasons.append(f"{currency}: no cap, budget or limit bounds what it gives")
        elif value > threshold:
            reasons.append(
                f"{currency}: worth up to {to_major_text(value, currency=currency)} {currency}, "
                f"above {to_major_text(threshold, currency=currency)} {currency}"
            )
        elif earlier is None or value + earlier > threshold:
            # An earlier one with no bound could only have gone live alone under another
            # setting: it counts as over, never as nothing.
            made = "an unbounded amount" if earlier is None else _money(earlier, currency)
            reasons.append(
                f"{currency}: worth up to {_money(value, currency)}; with the {made} the same "
                f"person made live alone in the last 24 hours, above {_money(threshold, currency)}"
            )
    return reasons


def promotion_needs_approval(terms: PromotionTerms) -> bool:
    """Whether a promotion with these terms waits for a second staff member."""
    return bool(promotion_approval_reasons(terms))
