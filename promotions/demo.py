"""The demo promotions of docs/interface.md §11, loaded by `seed_demo`. Idempotent: a promotion
is matched by its slug (its code in lower case) and left as it is, except that OLDCODE and SOON
are kept "expired yesterday" and "starting tomorrow" (in every region's time zone) so the demo
shows those refusals whenever it is run.

Written directly, active, with no creator: the operator loads them on a development database
(`seed_demo` refuses without DEBUG); staff promotions go through promotions.services.staff.
"""

import datetime
from dataclasses import dataclass

from django.db import transaction

from catalog.models import Category, Region
from catalog.regions import region_today
from promotions.codes import promo_code_hash
from promotions.models import Promotion, PromotionAmount, PromotionCode

Kind, Target = Promotion.Kind, Promotion.Target
# Amounts are given in cents (pence, euro cents); yen are these x 150 / 100: whole yen.
JPY_PER_CENT = 150 / 100


@dataclass(frozen=True)
class DemoPromotion:
    code: str
    name: str
    kind: str
    target: str = Target.ORDER
    percent: int | None = None
    amount_off: int | None = None  # cents
    minimum: int | None = None  # cents
    first_order_only: bool = False
    per_shopper_limit: int | None = None
    total_limit: int | None = None
    credit_days: int | None = None
    category_slugs: tuple[str, ...] = ()
    region_codes: tuple[str, ...] = ()
    not_combinable_with: tuple[str, ...] = ()
    window: str = ""  # "expired" (ended yesterday) / "soon" (starts tomorrow)
    # An automatic offer has no code: its slug names it (`code` is then only its name here).
    automatic: bool = False
    slug: str = ""

    @property
    def key(self) -> str:
        return self.slug or self.code.lower()


DEMO_PROMOTIONS = (
    DemoPromotion(
        "WELCOME10",
        "10% off your first order",
        Kind.PERCENT,
        percent=10,
        minimum=2000,
        first_order_only=True,
        per_shopper_limit=1,
    ),
    DemoPromotion(
        "BOOKS20",
        "20% off books",
        Kind.PERCENT,
        target=Target.ITEMS,
        percent=20,
        category_slugs=("books",),
    ),
    DemoPromotion(
        "SAVE5",
        "5.00 off an order from 50.00",
        Kind.FIXED,
        amount_off=500,
        minimum=5000,
        not_combinable_with=("WELCOME10",),
    ),
    DemoPromotion("SHIPFREE", "Free standard shipping", Kind.FREE_SHIPPING, target=Target.SHIPPING),
    DemoPromotion(
        "LIMITED1",
        "15% off (US only, once in total)",
        Kind.PERCENT,
        percent=15,
        total_limit=1,
        region_codes=("US",),
    ),
    DemoPromotion(
        "CREDIT10",
        "10.00 promotional credit for 30 days",
        Kind.CREDIT,
        amount_off=1000,
        credit_days=30,
        per_shopper_limit=1,
    ),
    # docs/interface.md §12: gift cards worth 50.00 or more in one order earn 10.00 of
    # promotional credit once the order is paid (7,500 yen earn 1,500).
    DemoPromotion(
        "GIFTCARD-BONUS",
        # Named without figures: its label adds them in the shopper's currency.
        "Gift card bonus",
        Kind.GIFTCARD_BONUS,
        amount_off=1000,
        minimum=5000,
        credit_days=30,
        automatic=True,
        slug="giftcard-bonus",
    ),
    DemoPromotion("OLDCODE", "An old 10% off", Kind.PERCENT, percent=10, window="expired"),
    DemoPromotion("SOON", "10% off, starting soon", Kind.PERCENT, percent=10, window="soon"),
)


def demo_amount(cents: int, currency: str) -> int:
    """A demo amount in `currency`'s minor units: the same figure in dollars, pounds and
    euros; x 150 in whole yen."""
    return round(cents * JPY_PER_CENT) if currency == "JPY" else cents


def _window(demo: DemoPromotion) -> dict:
    """starts_on / ends_on so that the day is past (or to come) in every region's zone: the
    regions do not share one calendar day (Tokyo is ahead of New York)."""
    days = [region_today(region) for region in Region.objects.all()]
    if demo.window == "expired":
        return {"starts_on": None, "ends_on": min(days) - datetime.timedelta(days=1)}
    if demo.window == "soon":
        return {"starts_on": max(days) + datetime.timedelta(days=1), "ends_on": None}
    return {"starts_on": None, "ends_on": None}


def _demo_create(demo: DemoPromotion, currencies: list[str]) -> Promotion:
    promotion = Promotion.objects.create(
        slug=demo.key,
        name=demo.name,
        kind=demo.kind,
        target=demo.target,
        codes=Promotion.Codes.AUTOMATIC if demo.automatic else Promotion.Codes.VANITY,
        code="" if demo.automatic else demo.code,
        status=Promotion.Status.ACTIVE,
        percent=demo.percent,
        credit_days=demo.credit_days,
        first_order_only=demo.first_order_only,
        per_shopper_limit=demo.per_shopper_limit,
        total_limit=demo.total_limit,
        **_window(demo),
    )
    if demo.category_slugs:
        promotion.categories.set(Category.objects.filter(slug__in=demo.category_slugs))
    if demo.region_codes:
        promotion.regions.set(demo.region_codes)
    if demo.amount_off or demo.minimum:
        PromotionAmount.objects.bulk_create(
            PromotionAmount(
                promotion=promotion,
                currency=currency,
                amount_off=demo_amount(demo.amount_off, currency) if demo.amount_off else None,
                minimum_subtotal=demo_amount(demo.minimum, currency) if demo.minimum else None,
            )
            for currency in currencies
        )
    if not demo.automatic:
        PromotionCode.objects.create(
            promotion=promotion, code_hash=promo_code_hash(demo.code), last4=demo.code[-4:]
        )
    return promotion


def demo_promotions_load() -> int:
    """Create the demo promotions that are missing (in every region's currency) and return how
    many were created; keep OLDCODE expired and SOON to come."""
    currencies = sorted(set(Region.objects.values_list("currency", flat=True)))
    created = 0
    with transaction.atomic():
        existing = {p.slug: p for p in Promotion.objects.filter(slug__in=_slugs())}
        for demo in DEMO_PROMOTIONS:
            promotion = existing.get(demo.key)
            if promotion is None:
                existing[demo.key] = _demo_create(demo, currencies)
                created += 1
            elif demo.window:
                Promotion.objects.filter(pk=promotion.pk).update(**_window(demo))
        for demo in DEMO_PROMOTIONS:
            others = [existing[code.lower()] for code in demo.not_combinable_with]
            if others:
                existing[demo.key].not_combinable_with.add(*others)
    return created


def _slugs() -> list[str]:
    return [demo.key for demo in DEMO_PROMOTIONS]
