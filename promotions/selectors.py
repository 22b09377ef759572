"""Reads that feed the promotions engine (promotions.engine): the codes a shopper typed, the
promotions on offer as the engine's `PromotionSpec`, and the shopper's own uses.

Checkout calls all three for one quote: three queries together, whatever the number of
promotions, codes, categories or products (tests/promotions/test_selectors.py counts them).
"""

from collections.abc import Iterable, Sequence

from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    StringAgg,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast

from catalog.regions import region_today
from promotions.codes import PromoCodeTypo, promo_code_hasher, promo_code_normalize
from promotions.engine import EnteredCode, PromotionSpec, ShopperInput
from promotions.models import GiftCardBonus, Promotion, PromotionCode, PromotionRedemption
from wallet.models import CreditLotSpend


def entered_codes_lookup(*, codes: Sequence[str], user_id: int | None = None) -> list[EnteredCode]:
    """Each typed code as the engine sees it, in the order given (one query).

    A code that is not the shape of a promotional code, unknown, or of a promotion that is
    not active has `promotion_id` None (the engine answers `not_found`: existence is not
    revealed). So has a code of a promotion that `user_id` created, approved or last changed:
    an insider never benefits, and the code box counts it as the guess of an unknown code.
    A single-use code already used has `already_redeemed`.
    """
    canonical = []
    for text in codes:
        try:
            canonical.append(promo_code_normalize(text))
        except PromoCodeTypo:
            canonical.append(None)
    hasher = promo_code_hasher()
    hashes = {code: hasher(code) for code in canonical if code is not None}
    rows = {
        row.code_hash: row
        for row in PromotionCode.objects.filter(code_hash__in=hashes.values()).select_related(
            "promotion"
        )
    }
    found = []
    for text, code in zip(codes, canonical, strict=True):
        row = rows.get(hashes[code]) if code is not None else None
        insider = user_id is not None and user_id in (
            row.promotion.created_by_id if row else None,
            row.promotion.approved_by_id if row else None,
            row.promotion.changed_by_id if row else None,
        )
        if row is None or row.promotion.status != Promotion.Status.ACTIVE or insider:
            found.append(EnteredCode(code=code or text.strip().upper(), promotion_id=None))
            continue
        found.append(
            EnteredCode(
                code=code,
                promotion_id=row.promotion_id,
                code_id=row.pk,
                already_redeemed=row.single_use and row.redeemed_at is not None,
            )
        )
    return found


def _ids_aggregate(through, owner: str, column: str):
    """The ids a promotion lists in one many-to-many relation, as "3,7,12" (a subquery, so
    every relation comes back in the promotions' own query)."""
    return Subquery(
        through.objects.filter(**{owner: OuterRef("pk")})
        .values(owner)
        .annotate(ids=StringAgg(Cast(column, CharField()), delimiter=Value(",")))
        .values("ids")[:1]
    )


def _id_set(text: str | None) -> frozenset:
    return frozenset(int(part) for part in text.split(",")) if text else frozenset()


def promotion_specs_get(
    *, region, currency: str, promotion_ids: Iterable[int]
) -> list[PromotionSpec]:
    """The promotions `promotion_ids` (whatever their status: the engine refuses an inactive
    one as `not_found`) and every active automatic promotion offered in `region`, as specs
    with their amounts in `currency` (one query)."""
    regions = Promotion.regions.through
    offered_here = ~Exists(regions.objects.filter(promotion_id=OuterRef("pk"))) | Exists(
        regions.objects.filter(promotion_id=OuterRef("pk"), region_id=region.pk)
    )
    automatic = Q(codes=Promotion.Codes.AUTOMATIC, status=Promotion.Status.ACTIVE)
    rows = (
        Promotion.objects.filter(Q(pk__in=list(promotion_ids)) | (automatic & offered_here))
        .annotate(
            here=FilteredRelation("amounts", condition=Q(amounts__currency=currency)),
            category_list=_ids_aggregate(Promotion.categories.through, "promotion", "category"),
            product_list=_ids_aggregate(Promotion.products.through, "promotion", "product"),
            region_list=_ids_aggregate(regions, "promotion", "region"),
            conflict_list=_ids_aggregate(
                Promotion.not_combinable_with.through, "from_promotion", "to_promotion"
            ),
        )
        .values(
            "pk",
            "slug",
            "name",
            "description",
            "kind",
            "target",
            "codes",
            "code",
            "status",
            "percent",
            "buy_quantity",
            "get_quantity",
            "credit_days",
            "starts_on",
            "ends_on",
            "first_order_only",
            "per_shopper_limit",
            "total_limit",
            "uses_count",
            "exclusive",
            "category_list",
            "product_list",
            "region_list",
            "conflict_list",
            "here__pk",
            "here__amount_off",
            "here__minimum_subtotal",
            "here__cap",
            "here__budget",
            "here__budget_used",
            "created_by",
            "approved_by",
            "changed_by",
        )
        .order_by("pk")
    )
    return [_spec(row) for row in rows]


def _spec(row: dict) -> PromotionSpec:
    budget = row["here__budget"]
    total_limit = row["total_limit"]
    return PromotionSpec(
        id=row["pk"],
        slug=row["slug"],
        name=row["name"],
        description=row["description"],
        kind=row["kind"],
        target=row["target"],
        automatic=row["codes"] == Promotion.Codes.AUTOMATIC,
        # A vanity code is public; a unique code is what the shopper typed (EnteredCode).
        code=row["code"] if row["codes"] == Promotion.Codes.VANITY else "",
        active=row["status"] == Promotion.Status.ACTIVE,
        percent=row["percent"],
        amount_off=row["here__amount_off"],
        minimum_subtotal=row["here__minimum_subtotal"],
        cap=row["here__cap"],
        budget_left=None if budget is None else max(budget - row["here__budget_used"], 0),
        uses_left=None if total_limit is None else max(total_limit - row["uses_count"], 0),
        per_shopper_limit=row["per_shopper_limit"],
        first_order_only=row["first_order_only"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        region_codes=frozenset(part for part in (row["region_list"] or "").split(",") if part),
        category_ids=_id_set(row["category_list"]),
        product_ids=_id_set(row["product_list"]),
        buy_quantity=row["buy_quantity"],
        get_quantity=row["get_quantity"],
        exclusive=row["exclusive"],
        not_combinable_with=_id_set(row["conflict_list"]),
        has_currency_amounts=row["here__pk"] is not None,
        credit_days=row["credit_days"],
        staff_ids=frozenset(
            row[who] for who in ("created_by", "approved_by", "changed_by") if row[who] is not None
        ),
    )


def shopper_input_get(*, user, has_orders: bool, promotion_ids: Iterable[int]) -> ShopperInput:
    """The shopper as the engine sees it: region, currency, locale, today in the region's
    time zone, whether an earlier order counts (the caller knows its orders), and how many
    times they have used each of `promotion_ids` (unreleased redemptions; one query, none for
    an empty list)."""
    region = user.region
    ids = list(promotion_ids)
    uses = {}
    if ids and user.pk is not None:
        uses = dict(
            PromotionRedemption.objects.filter(
                user=user, promotion_id__in=ids, released_at__isnull=True
            )
            .values("promotion_id")
            .annotate(n=Count("pk"))
            .values_list("promotion_id", "n")
            .order_by()
        )
    return ShopperInput(
        user_id=user.pk,
        region_code=region.code,
        currency=region.currency,
        locale=region.locale,
        today=region_today(region),
        has_orders=has_orders,
        uses=uses,
    )


def giftcard_bonus_withheld_estimate(*, order_number: str, gift_card_total_left: int) -> int:
    """What a refund of gift cards that leaves `gift_card_total_left` of order
    `order_number`'s gift cards standing would withhold now: for each granted gift card bonus
    whose minimum that no longer reaches, the credit the shopper has spent of it (what orders
    still hold of its lot), as `giftcard_bonus_claw_back` computes it under its locks. A read,
    for the staff confirmation step; the refund itself decides."""
    withheld = 0
    bonuses = GiftCardBonus.objects.filter(
        order_number=order_number, status=GiftCardBonus.Status.GRANTED
    ).select_related("lot")
    for bonus in bonuses:
        if gift_card_total_left >= bonus.minimum or bonus.lot is None:
            continue
        held = CreditLotSpend.objects.filter(lot_id=bonus.lot_id).aggregate(
            held=Sum(F("amount") - F("returned"))
        )["held"]
        withheld += min(held or 0, bonus.credit - bonus.lot.remaining)
    return withheld
