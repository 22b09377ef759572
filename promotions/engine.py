"""The promotions engine: a pure function of the cart, the shopper and the promotions
(docs/promotions.md). No database, no clock, no request: the caller (checkout's quote, the
admin preview, the order placement under its locks) gathers the inputs, so every one of them
prices the same way.

The types below are the interface other modules build against; the rules of one promotion
are in `promotions.rules`, the layers in `promotions.layers`, the choice of the best
combination in `promotions.search`, the answer (candidates, refusals, notes) in
`promotions.evaluation`, the split of a discount in `promotions.allocation`.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineInput:
    """One cart line. `key` is the product id (one line per product)."""

    key: int
    category_id: int | None
    quantity: int
    unit_price: int  # minor units


@dataclass(frozen=True)
class ShippingInput:
    """The chosen shipping method for this cart (None when nothing ships)."""

    method: str  # "standard" / "express"
    amount: int  # the rate, before the free-from threshold
    free_from: int | None  # standard free from this item subtotal, *before* promotions


@dataclass(frozen=True)
class ShopperInput:
    user_id: int | None
    region_code: str
    currency: str
    locale: str
    today: datetime.date  # in the region's time zone
    has_orders: bool  # any earlier order that counts (first-order-only)
    uses: dict[int, int] = field(default_factory=dict)  # promotion id -> this shopper's uses


@dataclass(frozen=True)
class PromotionSpec:
    """A promotion as the engine needs it, amounts already in the shopper's currency
    (promotions.selectors builds these from the models)."""

    id: int
    slug: str
    name: str
    kind: str  # Promotion.Kind value
    target: str  # Promotion.Target value
    automatic: bool
    code: str = ""  # the vanity code, canonical ("" for automatic / unique codes)
    active: bool = True  # False: disabled / waiting for approval -> `not_found`
    percent: int | None = None
    amount_off: int | None = None  # fixed off (or credit), this currency; None: not offered here
    minimum_subtotal: int | None = None
    cap: int | None = None
    budget_left: int | None = None  # None: no budget
    uses_left: int | None = None  # None: no total limit
    per_shopper_limit: int | None = None
    first_order_only: bool = False
    starts_on: datetime.date | None = None
    ends_on: datetime.date | None = None
    region_codes: frozenset[str] = frozenset()  # empty: every region
    category_ids: frozenset[int] = frozenset()
    product_ids: frozenset[int] = frozenset()
    buy_quantity: int | None = None
    get_quantity: int | None = None
    exclusive: bool = False
    not_combinable_with: frozenset[int] = frozenset()  # promotion ids (symmetric in the models)
    has_currency_amounts: bool = True  # a PromotionAmount row exists for this currency
    credit_days: int | None = None
    description: str = ""  # shown to shoppers; the summary's words when set
    # Its creator, approver and last changer: insiders never benefit, so for them it does
    # not exist (`not_found`, docs/promotions.md).
    staff_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class EnteredCode:
    """A code the shopper typed, as looked up: `promotion_id` None means no such code (or a
    code of a promotion that is not active): the engine answers `not_found`."""

    code: str  # canonical, as shown back to the shopper ("WELCOME10")
    promotion_id: int | None
    code_id: int | None = None
    already_redeemed: bool = False  # a single-use code that was used


@dataclass(frozen=True)
class RuleResult:
    """The answer of one rule: passed, or the reason of docs/interface.md §11 and its figures
    (e.g. {"missing": 450} for `minimum_not_met`)."""

    passed: bool
    reason: str = ""
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    code: str
    promotion_id: int | None
    reason: str  # a reason of docs/interface.md §11
    message: str  # plain words, figures formatted in the shopper's locale
    # e.g. {"missing": 450} / {"conflicts_with": "WELCOME10"}
    params: dict = field(default_factory=dict)
    # How the page names the code: as typed for a public code, "…7QXZ" for a single-use one.
    shown: str = ""


@dataclass(frozen=True)
class AppliedPromotion:
    promotion_id: int
    slug: str
    code: str  # "" for an automatic one
    code_id: int | None
    label: str  # what the summary shows ("WELCOME10: 10% off your first order")
    amount: int  # items + shipping, minor units
    # line key -> the discount of each unit (len == quantity); sums to the items part
    unit_allocations: dict[int, tuple[int, ...]] = field(default_factory=dict)
    shipping_amount: int = 0
    # How the page names the code: as typed for a public code, "…7QXZ" for a single-use one.
    shown: str = ""


@dataclass(frozen=True)
class AppliedBonus:
    """A gift card bonus offer the cart qualifies for: `credit` of promotional credit once
    the order is paid (never a discount: the order's figures do not change)."""

    promotion_id: int
    slug: str
    code: str  # "" for an automatic one
    code_id: int | None
    label: str  # "Gift card bonus: $10.00 promotional credit with $50.00 of gift cards"
    credit: int  # minor units
    minimum: int  # the gift card total it needs, minor units
    shown: str = ""


@dataclass(frozen=True)
class Evaluation:
    applied: tuple[AppliedPromotion, ...]
    refusals: tuple[Refusal, ...]  # one per entered code not applied
    notes: tuple[str, ...]  # "SAVE5 was not used: WELCOME10 saves you 2.30 more"
    items_discount: int
    shipping: int  # the chosen method's price after its free-from threshold, before promotions
    shipping_discount: int
    # line key -> discount of each unit, all promotions together (what the order line stores)
    unit_allocations: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # The gift card bonus offer the cart's gift cards qualify for (at most one: the largest
    # credit), beside the discounts, which it never changes.
    bonuses: tuple[AppliedBonus, ...] = ()

    @property
    def discount(self) -> int:
        return self.items_discount + self.shipping_discount


def rule_check(
    *,
    spec: PromotionSpec,
    lines: Sequence[LineInput],
    shopper: ShopperInput,
    gift_card_total: int = 0,
) -> RuleResult:
    """Every condition of one promotion on its own (window, region, currency, first order,
    per-shopper and total limits, budget, eligible items, minimum), first failing reason.
    `gift_card_total`: the gift cards in the cart (only a gift card bonus looks at them)."""
    # The rules and the search live beside this module and import its types, hence the
    # imports at call time.
    from promotions.rules import rule_check_run

    return rule_check_run(spec, lines, shopper, gift_card_total=gift_card_total)


def promotions_evaluate(
    *,
    lines: Sequence[LineInput],
    shipping: ShippingInput | None,
    shopper: ShopperInput,
    promotions: Sequence[PromotionSpec],
    entered: Sequence[EnteredCode] = (),
    gift_card_total: int = 0,
) -> Evaluation:
    """The best allowed combination of the automatic offers among `promotions` and the
    promotions of the `entered` codes, priced to the unit (see docs/promotions.md).
    Credit promotions are never a discount (they are applied to the balance at once).

    `lines` are the cart's lines other than gift cards (never discounted); `gift_card_total`
    is what the cart's gift cards add up to, which only a gift card bonus offer looks at
    (`Evaluation.bonuses`)."""
    from promotions.evaluation import evaluate

    return evaluate(
        lines=lines,
        shipping=shipping,
        shopper=shopper,
        promotions=promotions,
        entered=entered,
        gift_card_total=gift_card_total,
    )
