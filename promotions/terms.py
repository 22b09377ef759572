"""Whether a promotion's terms make sense, before anything is written (the staff services and
the admin form both ask). Plain rules of docs/promotions.md: which target each kind has, what
each kind needs, which codes a kind may have."""

from catalog.models import Category, Product, Region
from promotions.approval import PromotionTerms
from promotions.codes import PromoCodeTypo, promo_code_normalize
from promotions.models import Promotion
from wallet.codes import CodeTypo, code_normalize
from wallet.exceptions import WalletError

Kind, Target, Codes = Promotion.Kind, Promotion.Target, Promotion.Codes

# The targets each kind may have (docs/promotions.md, "kinds and layers").
TARGETS = {
    Kind.PERCENT: (Target.ORDER, Target.ITEMS),
    Kind.FIXED: (Target.ORDER, Target.ITEMS),
    Kind.BUY_X_GET_Y: (Target.ITEMS,),
    Kind.FREE_SHIPPING: (Target.SHIPPING,),
    Kind.CREDIT: (Target.ORDER,),
    Kind.GIFTCARD_BONUS: (Target.ORDER,),
}
# More uses than this in one promotion is a typo, not a campaign.
MAX_LIMIT = 10_000_000


class PromotionTermsInvalid(WalletError):
    """The terms cannot make a promotion; the message names the field and the problem."""


def promotion_code_clean(text: str) -> str:
    """A vanity code in canonical form. Refuses what is not a promotional code's shape, and
    what the code box would read as a gift card's claim code (15 symbols, valid check)."""
    try:
        code = promo_code_normalize(text)
    except PromoCodeTypo:
        raise PromotionTermsInvalid(
            "code: 3 to 32 letters and digits (spaces and dashes are ignored)"
        ) from None
    try:
        code_normalize(code)
    except CodeTypo:
        return code
    raise PromotionTermsInvalid("code: that is the shape of a gift card code; choose another")


def promotion_terms_validate(terms: PromotionTerms, *, promotion: Promotion | None = None) -> None:
    """Raise `PromotionTermsInvalid` for terms that cannot make a promotion (`promotion`: the
    one being changed, so its own slug and code are not "taken")."""
    _check(terms.slug and len(terms.slug) <= 40, "slug: 1 to 40 letters, digits or dashes")
    _check(terms.slug == terms.slug.lower(), "slug: lower case")
    _check(terms.name.strip(), "name: required")
    _check(terms.kind in Kind.values, f"kind: one of {', '.join(Kind.values)}")
    _check(
        terms.target in TARGETS[terms.kind],
        f"target: a {Kind(terms.kind).label.lower()} promotion applies to "
        + " or ".join(Target(t).label.lower() for t in TARGETS[terms.kind]),
    )
    others = Promotion.objects.exclude(pk=promotion.pk) if promotion else Promotion.objects
    _check(not others.filter(slug=terms.slug).exists(), "slug: another promotion has it")
    _codes_validate(terms, others=others, promotion=promotion)
    if terms.kind in (Kind.PERCENT, Kind.BUY_X_GET_Y):
        _check(terms.percent is not None and 1 <= terms.percent <= 100, "percent: 1 to 100")
    else:
        _check(terms.percent is None, "percent: only for percent off and buy X get Y")
    if terms.kind == Kind.BUY_X_GET_Y:
        _check(
            (terms.buy_quantity or 0) >= 1 and (terms.get_quantity or 0) >= 1,
            "buy and get quantities: at least 1 each",
        )
    if terms.kind in (Kind.FIXED, Kind.CREDIT, Kind.GIFTCARD_BONUS):
        _check(
            any(a.amount_off for a in terms.amounts.values()),
            "amount off: give it in at least one currency",
        )
    if terms.kind == Kind.GIFTCARD_BONUS:
        _bonus_validate(terms)
    if terms.kind == Kind.CREDIT:
        _check((terms.credit_days or 0) >= 1, "credit days: at least 1")
        _check(terms.codes != Codes.AUTOMATIC, "codes: promotional credit is applied by a code")
    if terms.target == Target.ITEMS:
        _check(terms.category_ids or terms.product_ids, "target items: pick categories or products")
    if terms.starts_on and terms.ends_on:
        _check(terms.starts_on <= terms.ends_on, "ends on: not before it starts")
    for name in ("total_limit", "per_shopper_limit"):
        value = getattr(terms, name)
        _check(value is None or 1 <= value <= MAX_LIMIT, f"{name}: 1 to {MAX_LIMIT:,}")
    _relations_validate(terms, promotion=promotion)


def _bonus_validate(terms: PromotionTerms) -> None:
    """A gift card bonus: credit that lasts, and for each currency it gives credit in, the
    gift card total it needs; it always combines (never a discount), so it lists nothing."""
    _check((terms.credit_days or 0) >= 1, "credit days: at least 1")
    for currency, amounts in terms.amounts.items():
        if amounts.amount_off:
            _check(
                (amounts.minimum_subtotal or 0) > 0,
                f"minimum ({currency}): the gift card total that earns the credit",
            )
    _check(not terms.exclusive, "exclusive: a gift card bonus combines with every promotion")
    _check(
        not terms.not_combinable_with,
        "not combinable with: a gift card bonus combines with every promotion",
    )


def _codes_validate(terms: PromotionTerms, *, others, promotion: Promotion | None) -> None:
    _check(terms.codes in Codes.values, f"codes: one of {', '.join(Codes.values)}")
    if terms.codes == Codes.VANITY:
        _check(terms.code == promotion_code_clean(terms.code), "code: give it in canonical form")
        _check(not others.filter(code=terms.code).exists(), "code: another promotion has it")
    else:
        _check(not terms.code, "code: only a promotion with one public code has one")
    if promotion is not None:
        # Codes are printed, mailed and issued in files: they do not change under shoppers.
        _check(
            (terms.codes, terms.code) == (promotion.codes, promotion.code),
            "codes: a promotion's codes cannot change; disable it and create a new one",
        )


def _relations_validate(terms: PromotionTerms, *, promotion: Promotion | None) -> None:
    regions = set(Region.objects.filter(code__in=terms.region_codes).values_list("pk", flat=True))
    _check(regions == set(terms.region_codes), "regions: unknown region")
    categories = Category.objects.filter(pk__in=terms.category_ids).count()
    _check(categories == len(terms.category_ids), "categories: unknown category")
    products = Product.objects.filter(pk__in=terms.product_ids).count()
    _check(products == len(terms.product_ids), "products: unknown product")
    _check(
        promotion is None or promotion.pk not in terms.not_combinable_with,
        "not combinable with: not itself",
    )
    found = Promotion.objects.filter(pk__in=terms.not_combinable_with).count()
    _check(found == len(terms.not_combinable_with), "not combinable with: unknown promotion")
    currencies = set(Region.objects.values_list("currency", flat=True))
    for currency, amounts in terms.amounts.items():
        _check(currency in currencies, f"amounts: {currency} is no region's currency")
        for name in ("amount_off", "cap", "budget"):
            value = getattr(amounts, name)
            _check(value is None or value > 0, f"{name} ({currency}): more than zero")
        minimum = amounts.minimum_subtotal
        _check(minimum is None or minimum >= 0, f"minimum ({currency}): zero or more")


def _check(condition, message: str) -> None:
    if not condition:
        raise PromotionTermsInvalid(message)
