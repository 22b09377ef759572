"""Staff helpers of the promotions admin tests: staff members holding exactly the promotion
permissions named, and promotion terms to create through the real services."""

from django.contrib.auth.models import Permission

from promotions.approval import AmountTerms, PromotionTerms
from promotions.models import Promotion
from tests.accounts.factories import UserFactory

MANAGE = ("add_promotion", "change_promotion", "view_promotion")
APPROVE = ("approve_promotion", "view_promotion")


def promo_staff(*codenames: str, **kwargs):
    """A staff member (not a superuser) with these permissions of the promotions app."""
    user = UserFactory(is_staff=True, **kwargs)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="promotions", codename__in=codenames)
    )
    return user


def manager(**kwargs):
    return promo_staff(*MANAGE, **kwargs)


def approver(**kwargs):
    return promo_staff(*APPROVE, "view_promotionredemption", **kwargs)


def fixed_terms(slug="save5", *, code=None, amount=500, total_limit=10, **kwargs) -> PromotionTerms:
    """5.00 off (in every currency, yen x 150), usable `total_limit` times: worth 50.00."""
    amounts = {currency: AmountTerms(amount_off=amount) for currency in ("USD", "GBP", "EUR")}
    amounts["JPY"] = AmountTerms(amount_off=amount * 150 // 100)
    fields = {
        "slug": slug,
        "name": "5 off",
        "kind": Promotion.Kind.FIXED,
        "codes": Promotion.Codes.VANITY,
        "code": code if code is not None else slug.upper(),
        "total_limit": total_limit,
        "amounts": amounts,
        **kwargs,
    }
    return PromotionTerms(**fields)


def percent_terms(slug="books20", **kwargs) -> PromotionTerms:
    """20% off the order, no cap: unbounded, so always waits for approval."""
    fields = {
        "slug": slug,
        "name": "20% off",
        "kind": Promotion.Kind.PERCENT,
        "percent": 20,
        "codes": Promotion.Codes.VANITY,
        "code": slug.upper(),
        **kwargs,
    }
    return PromotionTerms(**fields)
