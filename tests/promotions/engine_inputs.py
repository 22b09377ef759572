"""Inputs for the pure engine tests (no database): specs, lines, shoppers, evaluation."""

import datetime
import itertools

from hypothesis import strategies as st

from promotions.engine import (
    EnteredCode,
    LineInput,
    PromotionSpec,
    ShippingInput,
    ShopperInput,
    promotions_evaluate,
)

TODAY = datetime.date(2026, 12, 1)
BOOKS, GAMES = 7, 8
LOCALES = {"USD": ("US", "en_US"), "GBP": ("GB", "en_GB"), "EUR": ("DE", "de_DE")}
LOCALES["JPY"] = ("JP", "ja_JP")

_ids = itertools.count(100)


def spec(**fields) -> PromotionSpec:
    """A promotion: an entered vanity code `code` (default "CODE<id>") or automatic."""
    fields.setdefault("id", next(_ids))
    automatic = fields.setdefault("automatic", False)
    fields.setdefault("code", "" if automatic else f"CODE{fields['id']}")
    fields.setdefault("slug", (fields["code"] or f"auto-{fields['id']}").lower())
    fields.setdefault("name", fields["code"] or f"Offer {fields['id']}")
    fields.setdefault("kind", "percent")
    fields.setdefault("target", "items" if "category_ids" in fields else "order")
    if fields["kind"] in ("percent", "buy_x_get_y"):
        fields.setdefault("percent", 10 if fields["kind"] == "percent" else 100)
    return PromotionSpec(**fields)


def shopper(currency="USD", **fields) -> ShopperInput:
    region, locale = LOCALES[currency]
    fields.setdefault("region_code", region)
    fields.setdefault("locale", locale)
    fields.setdefault("user_id", 1)
    fields.setdefault("today", TODAY)
    fields.setdefault("has_orders", False)
    return ShopperInput(currency=currency, **fields)


def line(key, price, quantity=1, category=BOOKS) -> LineInput:
    return LineInput(key=key, category_id=category, quantity=quantity, unit_price=price)


STANDARD = ShippingInput(method="standard", amount=599, free_from=5000)
EXPRESS = ShippingInput(method="express", amount=1299, free_from=None)


def evaluate(lines, specs, *, entered=None, shipping=None, who=None):
    """Evaluate with every non-automatic spec entered (by its code) unless `entered` says."""
    if entered is None:
        entered = [s for s in specs if not s.automatic]
    codes = [
        e if isinstance(e, EnteredCode) else EnteredCode(code=e.code, promotion_id=e.id)
        for e in entered
    ]
    return promotions_evaluate(
        lines=lines, shipping=shipping, shopper=who or shopper(), promotions=specs, entered=codes
    )


def amounts(evaluation) -> dict[str, int]:
    return {a.code or a.slug: a.amount for a in evaluation.applied}


def reasons(evaluation) -> dict[str, str]:
    return {r.code: r.reason for r in evaluation.refusals}


@st.composite
def offers(draw):
    """Up to 7 promotions of every kind, with caps, budgets, exclusives and conflicts, and a
    two-line cart."""
    count = draw(st.integers(1, 7))
    specs = []
    for index in range(1, count + 1):
        kind = draw(st.sampled_from(["percent", "fixed", "buy_x_get_y", "free_shipping"]))
        fields = {
            "id": index,
            "automatic": draw(st.booleans()),
            "exclusive": draw(st.integers(0, 6)) == 0,
            "not_combinable_with": frozenset(
                draw(st.sets(st.integers(1, count), max_size=2)) - {index}
            ),
            "cap": draw(st.none() | st.integers(1, 3000)),
            "budget_left": draw(st.none() | st.integers(1, 3000)),
        }
        if kind == "free_shipping":
            specs.append(spec(kind="free_shipping", target="shipping", **fields))
            continue
        if draw(st.booleans()):
            fields["category_ids"] = frozenset({draw(st.sampled_from([BOOKS, GAMES]))})
        if kind == "percent":
            fields["percent"] = draw(st.integers(1, 100))
        elif kind == "fixed":
            fields["amount_off"] = draw(st.integers(1, 5000))
        else:
            fields.update(buy_quantity=draw(st.integers(1, 2)), get_quantity=1)
            fields["percent"] = draw(st.integers(1, 100))
        specs.append(spec(kind=kind, **fields))
    # Prices in the currency's own integers: up to 50.00 (or 5,000 yen).
    cart = [
        line(1, draw(st.integers(1, 5000)), draw(st.integers(1, 4))),
        line(2, draw(st.integers(1, 5000)), draw(st.integers(1, 3)), GAMES),
    ]
    return specs, cart
