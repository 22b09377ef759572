"""The rules of one promotion on its own, and the words a refusal is told in.

Each rule answers `RuleResult(passed, reason, params)`; `rule_check` runs them in a fixed
order and the first failing one is the answer, so a shopper is told the most basic reason
first (a code that has expired is "expired", not "minimum not met"). Pure: no database, no
clock (the shopper's `today` is given, already in the region's time zone).
"""

import datetime
from collections.abc import Sequence

from babel.dates import format_date

from catalog.money import format_money
from promotions.codes import looks_issued
from promotions.engine import (
    LineInput,
    PromotionSpec,
    Refusal,
    RuleResult,
    ShopperInput,
)

PASSED = RuleResult(passed=True)

# Layers of docs/promotions.md, in the order they are priced. A gift card bonus is no layer
# of the price: it is promotional credit once the order is paid, beside the discounts.
LINE, ORDER, SHIPPING, TENDER = "line", "order", "shipping", "tender"
BONUS = "bonus"


def layer_of(spec: PromotionSpec) -> str:
    """Which layer a promotion prices in (docs/promotions.md, the stacking table)."""
    if spec.kind == "credit":
        return TENDER
    if spec.kind == "giftcard_bonus":
        return BONUS
    if spec.kind == "free_shipping" or spec.target == "shipping":
        return SHIPPING
    if spec.kind == "buy_x_get_y" or spec.target == "items":
        return LINE
    return ORDER


def is_eligible(spec: PromotionSpec, line: LineInput) -> bool:
    """An item a promotion is for: any item for an order (or shipping) target; for an items
    target, a listed product or an item of a listed category."""
    if spec.target != "items":
        return True
    return line.key in spec.product_ids or (
        line.category_id is not None and line.category_id in spec.category_ids
    )


def eligible_lines(spec: PromotionSpec, lines: Sequence[LineInput]) -> list[LineInput]:
    return [line for line in lines if line.quantity > 0 and is_eligible(spec, line)]


def _window(spec, lines, shopper):
    if spec.starts_on is not None and shopper.today < spec.starts_on:
        return RuleResult(False, "not_started", {"starts_on": spec.starts_on.isoformat()})
    if spec.ends_on is not None and shopper.today > spec.ends_on:
        return RuleResult(False, "expired", {"ended_on": spec.ends_on.isoformat()})
    return PASSED


def _region(spec, lines, shopper):
    if spec.region_codes and shopper.region_code not in spec.region_codes:
        return RuleResult(False, "wrong_region", {"region": shopper.region_code})
    # A fixed amount or a credit means nothing in a currency it has no amount in.
    if spec.kind in ("fixed", "credit", "giftcard_bonus") and (
        not spec.has_currency_amounts or not spec.amount_off
    ):
        return RuleResult(False, "wrong_region", {"currency": shopper.currency})
    return PASSED


def _first_order(spec, lines, shopper):
    if spec.first_order_only and shopper.has_orders:
        return RuleResult(False, "first_order_only")
    return PASSED


def _per_shopper(spec, lines, shopper):
    used = shopper.uses.get(spec.id, 0)
    if spec.per_shopper_limit is not None and used >= spec.per_shopper_limit:
        return RuleResult(False, "already_used", {"limit": spec.per_shopper_limit})
    return PASSED


def _total_limits(spec, lines, shopper):
    if spec.uses_left is not None and spec.uses_left <= 0:
        return RuleResult(False, "usage_limit_reached", {"limit": "uses"})
    if spec.budget_left is not None and spec.budget_left <= 0:
        return RuleResult(False, "usage_limit_reached", {"limit": "budget"})
    return PASSED


def _items(spec, lines, shopper):
    if spec.kind == "credit":
        return PASSED  # credit pays for an order later; the cart may even be empty
    eligible = eligible_lines(spec, lines)
    if not eligible:
        return RuleResult(False, "no_eligible_items")
    subtotal = sum(line.quantity * line.unit_price for line in eligible)
    if spec.minimum_subtotal and subtotal < spec.minimum_subtotal:
        return RuleResult(
            False,
            "minimum_not_met",
            {"missing": spec.minimum_subtotal - subtotal, "minimum": spec.minimum_subtotal},
        )
    if spec.kind == "buy_x_get_y":
        group = (spec.buy_quantity or 0) + (spec.get_quantity or 0)
        units = sum(line.quantity for line in eligible)
        if not spec.get_quantity or units < group:
            return RuleResult(False, "no_eligible_items", {"missing_quantity": group - units})
    return PASSED


def gift_cards_check(spec: PromotionSpec, gift_card_total: int) -> RuleResult:
    """A gift card bonus's own rule, in place of the eligible items and their minimum: the
    cart's gift cards must add up to its minimum (other lines never count)."""
    if gift_card_total <= 0:
        return RuleResult(False, "no_eligible_items", {"gift_cards": True})
    minimum = spec.minimum_subtotal or 0
    if gift_card_total < minimum:
        return RuleResult(
            False,
            "minimum_not_met",
            {"missing": minimum - gift_card_total, "minimum": minimum, "gift_cards": True},
        )
    return PASSED


RULES = (_window, _region, _first_order, _per_shopper, _total_limits, _items)


def rule_check_run(
    spec: PromotionSpec,
    lines: Sequence[LineInput],
    shopper: ShopperInput,
    *,
    gift_card_total: int = 0,
) -> RuleResult:
    if not spec.active:
        # Disabled or waiting for approval: as if it did not exist (docs/interface.md §11).
        return RuleResult(False, "not_found")
    if shopper.user_id is not None and shopper.user_id in spec.staff_ids:
        # Whoever created, approved or last changed it never benefits from it; telling them
        # so would confirm the code to anyone holding their account, so: no such code.
        return RuleResult(False, "not_found")
    bonus = spec.kind == "giftcard_bonus"
    for rule in RULES:
        if bonus and rule is _items:
            result = gift_cards_check(spec, gift_card_total)
        else:
            result = rule(spec, lines, shopper)
        if not result.passed:
            return result
    return PASSED


# --- words


def money_text(amount: int, shopper: ShopperInput) -> str:
    return format_money(amount, currency=shopper.currency, locale=shopper.locale)


def _date_text(iso: str, shopper: ShopperInput) -> str:
    day = datetime.date.fromisoformat(iso)
    try:
        return format_date(day, format="long", locale=shopper.locale)
    except (ValueError, LookupError):
        return iso


def refusal_message(*, reason: str, params: dict, label: str, shopper: ShopperInput) -> str:
    """Plain words for a refusal, its figures in the shopper's locale."""
    if reason == "not_found":
        return f"We do not recognise the code {label}. Check it and try again."
    if reason == "not_started":
        return f"{label} starts on {_date_text(params['starts_on'], shopper)}."
    if reason == "expired":
        return f"{label} expired on {_date_text(params['ended_on'], shopper)}."
    if reason == "wrong_region":
        return f"{label} cannot be used in your region."
    if reason == "first_order_only":
        return f"{label} is for a first order only."
    if reason == "already_used":
        return f"You have already used {label}."
    if reason == "usage_limit_reached":
        if params.get("limit") == "code":
            return f"The code {label} has already been used."
        return f"{label} has reached its usage limit."
    if reason == "minimum_not_met" and params.get("gift_cards"):
        return f"Add {money_text(params['missing'], shopper)} more of gift cards to use {label}."
    if reason == "minimum_not_met":
        return f"Spend {money_text(params['missing'], shopper)} more to use {label}."
    if reason == "no_eligible_items":
        if params.get("gift_cards"):
            return f"{label} is for gift cards: add a gift card to your cart to use it."
        if params.get("shipping"):
            return f"{label} is for standard shipping: choose standard shipping to use it."
        if params.get("shipping_free"):
            return f"Your shipping is already free: {label} is not needed."
        if params.get("missing_quantity"):
            count = params["missing_quantity"]
            item = "item" if count == 1 else "items"
            return f"Add {count} more eligible {item} to use {label}."
        if params.get("nothing_left"):
            return f"{label} adds nothing to the discounts already applied."
        return f"{label} is for other items: nothing in your cart qualifies."
    if reason == "not_combinable":
        other = params.get("conflicts_with", "")
        if params.get("same_promotion"):
            return f"{label} is another code of a promotion you already applied."
        return f"{label} cannot be combined with {other}."
    return f"{label} cannot be used."


def refusal_build(
    *,
    code: str,
    promotion_id: int | None,
    result: RuleResult,
    shopper: ShopperInput,
    label: str = "",
    spec: PromotionSpec | None = None,
) -> Refusal:
    """The refusal of one code from a failed rule, with its message (a single-use code named
    by its last four symbols, see `code_shown`)."""
    label = label or code_shown(code, spec, reason=result.reason)
    return Refusal(
        code=code,
        promotion_id=promotion_id,
        reason=result.reason,
        message=refusal_message(
            reason=result.reason, params=result.params, label=label, shopper=shopper
        ),
        params=dict(result.params),
        shown=code_shown(code, spec, reason=result.reason),
    )


def offer_text(spec: PromotionSpec, shopper: ShopperInput) -> str:
    """What a promotion gives, in words ("10% off", "$5.00 off books")."""
    if spec.description:
        return spec.description
    if spec.kind == "free_shipping":
        return "free standard shipping"
    if spec.kind == "buy_x_get_y":
        deal = "free" if (spec.percent or 100) >= 100 else f"{spec.percent}% off"
        return f"buy {spec.buy_quantity} get {spec.get_quantity} {deal}"
    if spec.kind == "fixed":
        text = f"{money_text(spec.amount_off or 0, shopper)} off"
    elif spec.kind == "credit":
        return f"{money_text(spec.amount_off or 0, shopper)} promotional credit"
    elif spec.kind == "giftcard_bonus":
        credit = money_text(spec.amount_off or 0, shopper)
        minimum = money_text(spec.minimum_subtotal or 0, shopper)
        return f"{credit} promotional credit with {minimum} of gift cards"
    else:
        text = f"{spec.percent}% off"
        if spec.cap:
            text += f" up to {money_text(spec.cap, shopper)}"
    return text + (" selected items" if spec.target == "items" else "")


def is_unique_code(spec: PromotionSpec | None) -> bool:
    """A promotion of unique single-use codes: neither automatic nor a public vanity code."""
    return spec is not None and not spec.automatic and not spec.code


def code_shown(code: str, spec: PromotionSpec | None, *, reason: str = "") -> str:
    """How a typed code is named in words: a vanity code (public) as it is, a single-use code
    by its last four symbols ("…7QXZ"), never in full outside the box that typed it.

    For `not_found` the promotion is not looked at (an insider's refusal must read exactly
    like an unknown code's): a typed code of the issued codes' shape is shortened anyway."""
    unique = looks_issued(code) if reason == "not_found" else is_unique_code(spec)
    return f"…{code[-4:]}" if unique and code else code


def label_of(spec: PromotionSpec, code: str, shopper: ShopperInput) -> str:
    """The summary line: "WELCOME10: 10% off" (an automatic offer, or a promotion of
    single-use codes, by its name: the typed code is not repeated)."""
    shown = spec.name if is_unique_code(spec) else (code or spec.name)
    return f"{shown}: {offer_text(spec, shopper)}"
