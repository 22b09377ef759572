"""Promotions test data.

    promotion_with_code("WELCOME10", percent=10, minimum_subtotal=2000, first_order_only=True)
    promotion_with_code("SAVE5", kind="fixed", amount_off=500, not_combinable_with=[welcome])
    automatic_promotion(name="Books week", target="items", categories=[books], percent=20)
    unique_codes(promotion, ["AB12CD34", ...])     # single-use code rows, stored hashed

Money fields (`amount_off`, `minimum_subtotal`, `cap`, `budget`, `budget_used`) given
directly go to one `PromotionAmount` row in `currency` (USD unless said); `amounts=` gives
several currencies at once: `amounts={"USD": {"amount_off": 500}, "JPY": {"amount_off": 750}}`.
"""

import factory

from promotions.codes import promo_code_hash, promo_code_normalize
from promotions.models import Promotion, PromotionAmount, PromotionCode

MONEY_FIELDS = ("amount_off", "minimum_subtotal", "cap", "budget", "budget_used")


class PromotionFactory(factory.django.DjangoModelFactory):
    """An active automatic 10% off the order, offered everywhere."""

    class Meta:
        model = Promotion

    slug = factory.Sequence(lambda n: f"promotion-{n}")
    name = factory.Sequence(lambda n: f"Promotion {n}")
    kind = Promotion.Kind.PERCENT
    target = Promotion.Target.ORDER
    codes = Promotion.Codes.AUTOMATIC
    status = Promotion.Status.ACTIVE
    percent = factory.LazyAttribute(
        lambda o: 10 if o.kind in (Promotion.Kind.PERCENT, Promotion.Kind.BUY_X_GET_Y) else None
    )


class PromotionAmountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromotionAmount

    promotion = factory.SubFactory(PromotionFactory)
    currency = "USD"


def code_row(promotion: Promotion, code: str, *, single_use: bool = False, **fields):
    """One code of `promotion`, stored as the real services store it (hash + last four)."""
    canonical = promo_code_normalize(code)
    return PromotionCode.objects.create(
        promotion=promotion,
        code_hash=promo_code_hash(canonical),
        last4=canonical[-4:],
        single_use=single_use,
        **fields,
    )


def unique_codes(promotion: Promotion, codes, **fields) -> list[PromotionCode]:
    """Single-use code rows of a unique-codes promotion."""
    return [code_row(promotion, code, single_use=True, **fields) for code in codes]


def _promotion(
    *,
    currency="USD",
    amounts=None,
    categories=(),
    products=(),
    regions=(),
    not_combinable_with=(),
    **fields,
) -> Promotion:
    money = {name: fields.pop(name) for name in MONEY_FIELDS if name in fields}
    promotion = PromotionFactory(**fields)
    rows = {currency: money} if money else {}
    for row_currency, values in (amounts or {}).items():
        rows.setdefault(row_currency, {}).update(values)
    for row_currency, values in rows.items():
        PromotionAmountFactory(promotion=promotion, currency=row_currency, **values)
    if categories:
        promotion.categories.set(categories)
    if products:
        promotion.products.set(products)
    if regions:
        promotion.regions.set(regions)  # Region rows or codes ("US")
    if not_combinable_with:
        promotion.not_combinable_with.set(not_combinable_with)
    return promotion


def promotion_with_code(code: str = "WELCOME10", **fields) -> Promotion:
    """A vanity-code promotion (slug: the code in lower case) and its hashed code row."""
    canonical = promo_code_normalize(code)
    fields.setdefault("slug", canonical.lower())
    fields.setdefault("name", canonical)
    promotion = _promotion(codes=Promotion.Codes.VANITY, code=canonical, **fields)
    code_row(promotion, canonical)
    return promotion


def automatic_promotion(**fields) -> Promotion:
    """A promotion without a code, applied automatically."""
    return _promotion(codes=Promotion.Codes.AUTOMATIC, **fields)


def unique_code_promotion(codes=(), **fields) -> Promotion:
    """A promotion of unique single-use codes (and those codes' rows)."""
    promotion = _promotion(codes=Promotion.Codes.UNIQUE, **fields)
    unique_codes(promotion, codes)
    return promotion
