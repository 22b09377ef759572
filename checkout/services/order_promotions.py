"""The promotions of an order being placed: their uses claimed under the promotion-usage locks
(`promotions.services.promotion_redemptions_claim`), and what they finally take off each unit
and the shipping once a budget may have trimmed one. `order_promotions_claim` runs inside
`order_place`'s transaction, after the cart lock and the fresh quote.

A gift card bonus offer (docs/promotions.md, "Gift card bonus") is claimed with them but
takes nothing off: its credit is granted once the order is paid (`order_bonus_grant`) and
taken back when refunds leave the order's gift cards below its minimum
(`order_bonus_claw_back`).
"""

from dataclasses import dataclass

from django.db import transaction

from checkout.exceptions import CheckoutChanged
from checkout.locks import order_qs_select_for_update
from checkout.models import Order, OrderGiftCard, Payment
from checkout.pricing import Quote
from promotions.engine import AppliedBonus, AppliedPromotion, LineInput
from promotions.exceptions import PromotionNoLongerApplies
from promotions.models import Promotion, PromotionRedemption
from promotions.rules import eligible_lines
from promotions.selectors import promotion_specs_get
from promotions.services import promotion_redemptions_claim
from promotions.services.bonus import giftcard_bonus_claw_back, giftcard_bonus_grant

GIFTCARD_BONUS = Promotion.Kind.GIFTCARD_BONUS.value


@dataclass(frozen=True)
class OrderDiscounts:
    """What the promotions of an order take off, as claimed (budget trims included)."""

    discount: int  # items and shipping together (`Order.discount`)
    shipping_discount: int
    units: dict[int, list[int]]  # product id -> each unit's discount (`OrderLine.unit_discounts`)
    snapshot: list[dict]  # `Order.promotions`
    redemptions: list

    def payable_by_category(self, quote: Quote) -> dict[int | None, int]:
        """What is left to pay per category after these discounts: what a credit lot
        restricted to categories may pay (wallet.services.wallet_spend). Shipping and lines
        without a category are under None, which only an unrestricted lot pays."""
        payable: dict[int | None, int] = {}
        for line in quote.lines:
            left = line.total - sum(self.units.get(line.product_id, ()))
            payable[line.category_id] = payable.get(line.category_id, 0) + left
        payable[None] = payable.get(None, 0) + quote.shipping - self.shipping_discount
        return payable


def quote_bonuses(quote: Quote) -> tuple[AppliedBonus, ...]:
    """The gift card bonus offer a quote's gift cards earn (none, or one)."""
    return quote.evaluation.bonuses if quote.evaluation is not None else ()


def promotion_keys(quote: Quote) -> tuple:
    """Which promotions a quote applies (and by which code), a gift card bonus offer
    included: the summary the shopper saw and the quote under the lock must agree on these,
    whatever their amounts."""
    return tuple(
        sorted((a.promotion_id, a.code_id or 0) for a in (*quote.applied, *quote_bonuses(quote)))
    )


def order_promotions_claim(*, user, order_number: str, quote: Quote) -> OrderDiscounts:
    """Claim the uses of `quote`'s promotions for order `order_number` and return what they
    take off once claimed. Raises `CheckoutChanged` (nothing is charged: the caller's
    transaction rolls back and the card hold is voided) when one no longer applies."""
    lines = {line.product_id: line for line in quote.lines}
    units = {pid: [0] * line.quantity for pid, line in lines.items()}
    bonuses = quote_bonuses(quote)
    if not quote.applied and not bonuses:
        return OrderDiscounts(0, 0, units, [], [])
    # A bonus is one more use to claim (its limits, its budget: the credit promised is the
    # redemption's amount), never a discount.
    wanted = [
        *quote.applied,
        *(
            AppliedPromotion(
                promotion_id=b.promotion_id,
                slug=b.slug,
                code=b.code,
                code_id=b.code_id,
                label=b.label,
                amount=b.credit,
                shown=b.shown,
            )
            for b in bonuses
        ),
    ]
    ids = [a.promotion_id for a in wanted]
    specs = {
        spec.id: spec
        for spec in promotion_specs_get(
            region=user.region, currency=quote.currency, promotion_ids=ids
        )
        if spec.id in ids
    }
    try:
        redemptions = promotion_redemptions_claim(
            user=user,
            order_number=order_number,
            currency=quote.currency,
            applied=wanted,
            specs=list(specs.values()),
        )
    except PromotionNoLongerApplies as gone:
        raise CheckoutChanged(
            f"{gone} Nothing was charged: check the summary again.", reason="changed"
        ) from None
    inputs = [
        LineInput(
            key=line.product_id,
            category_id=line.category_id,
            quantity=line.quantity,
            unit_price=line.unit_price or 0,
        )
        for line in quote.lines
    ]
    by_promotion = {a.promotion_id: a for a in wanted}
    by_bonus = {b.promotion_id: b for b in bonuses}
    snapshot = []
    for redemption in redemptions:
        if redemption.promotion_id in by_bonus:
            snapshot.append(_bonus_entry(by_bonus[redemption.promotion_id], redemption))
            continue
        for key, parts in redemption.allocation.items():
            line_units = units[int(key)]
            for index, part in enumerate(parts):
                line_units[index] += part
        applied = by_promotion[redemption.promotion_id]
        spec = specs.get(redemption.promotion_id)
        # A single-use code is kept only as its hash (promotions.codes): the order remembers
        # its last four symbols, as for claim codes, never the whole code.
        shown = applied.code
        if redemption.single_use_code and applied.code:
            shown = "…" + applied.code[-4:]
        snapshot.append(
            {
                "promotion_id": redemption.promotion_id,
                "slug": applied.slug,
                "code": shown,
                "label": applied.label.replace(applied.code, shown)
                if applied.code
                else applied.label,
                "amount": redemption.amount,
                "shipping_amount": redemption.shipping_amount,
                "kind": spec.kind if spec else "",
                "minimum": spec.minimum_subtotal if spec else None,
                "buy": spec.buy_quantity if spec else None,
                "get": spec.get_quantity if spec else None,
                "eligible": sorted(line.key for line in eligible_lines(spec, inputs))
                if spec
                else [],
                "units": redemption.allocation,
            }
        )
    discounts = [r for r in redemptions if r.promotion_id not in by_bonus]
    shipping_discount = sum(r.shipping_amount for r in discounts)
    return OrderDiscounts(
        discount=sum(r.amount for r in discounts),
        shipping_discount=shipping_discount,
        units=units,
        snapshot=snapshot,
        redemptions=redemptions,
    )


def _bonus_entry(bonus: AppliedBonus, redemption) -> dict:
    """A gift card bonus in `Order.promotions`: it took nothing off (`amount` 0, no units: a
    refund of units never claws anything back on it), `credit` is what it promised (a budget's
    trim included), `minimum` the gift card total it needs, as the claw-back judges it."""
    return {
        "promotion_id": redemption.promotion_id,
        "slug": bonus.slug,
        "code": bonus.shown or bonus.code,
        "label": bonus.label,
        "amount": 0,
        "shipping_amount": 0,
        "kind": GIFTCARD_BONUS,
        "credit": redemption.amount,
        "minimum": bonus.minimum,
        "buy": None,
        "get": None,
        "eligible": [],
        "units": {},
    }


def _bonus_minimums(order: Order) -> dict[int, int]:
    """Each gift card bonus of the order and its minimum, as stored when it was placed."""
    return {
        entry["promotion_id"]: int(entry.get("minimum") or 0)
        for entry in order.promotions or []
        if isinstance(entry, dict) and entry.get("kind") == GIFTCARD_BONUS
    }


def order_has_bonus(order: Order) -> bool:
    """Whether the order was placed with a gift card bonus offer (its snapshot says so: no
    query)."""
    return bool(_bonus_minimums(order))


def order_gift_card_total_standing(*, order: Order) -> int:
    """What the order's bought gift cards add up to, less those refunded or cancelled."""
    gone = (OrderGiftCard.Status.REFUNDED, OrderGiftCard.Status.CANCELLED)
    return sum(
        OrderGiftCard.objects.filter(order=order)
        .exclude(status__in=gone)
        .values_list("amount", flat=True)
    )


def order_bonus_grant(*, order_id: int) -> None:
    """Grant the promotional credit of the gift card bonus offer order `order_id` earned,
    once its card payment is captured (`order_paid` calls it after the capture).

    Under the order's lock (a refund of the same order queues there): nothing for an order
    without a bonus, not captured, or whose payment failed; otherwise
    `promotions.services.bonus.giftcard_bonus_grant` with the gift cards still standing.
    Idempotent (keyed by the order and the promotion): the hook and a retry grant once."""
    with transaction.atomic():
        order = order_qs_select_for_update(order_id=order_id).select_related("user").first()
        if order is None:
            return
        minimums = _bonus_minimums(order)
        if not minimums or order.status in (Order.Status.PAYMENT_FAILED, Order.Status.CANCELLED):
            return
        paid = Payment.objects.filter(order=order).exclude(
            status__in=(Payment.Status.AUTHORIZED, Payment.Status.FAILED)
        )
        if not paid.exists():
            return
        giftcard_bonus_grant(
            user=order.user,
            order_number=order.number,
            gift_card_total=order_gift_card_total_standing(order=order),
            minimums=minimums,
        )


def order_bonuses_grant_missed() -> int:
    """The periodic sweep (`checkout.bonus_tasks.giftcard_bonuses_due`): grant the gift card
    bonus of every paid order whose hook after the capture did not (it failed, or the process
    died first); returns how many orders it granted for. Idempotent: `order_bonus_grant`
    grants each order's bonus once, under its lock, whoever calls it."""
    numbers = (
        PromotionRedemption.objects.filter(
            promotion__kind=GIFTCARD_BONUS, released_at__isnull=True, giftcard_bonus__isnull=True
        )
        .exclude(order_number="")
        .values_list("order_number", flat=True)
    )
    paid = (Payment.Status.CAPTURED, Payment.Status.PARTLY_REFUNDED, Payment.Status.REFUNDED)
    order_ids = Order.objects.filter(
        number__in=list(numbers), payment__status__in=paid
    ).values_list("pk", flat=True)
    granted = 0
    for order_id in sorted(order_ids):
        order_bonus_grant(order_id=order_id)
        granted += 1
    return granted


def order_bonus_claw_back(*, order: Order, gift_card_total_left: int, idempotency_key: str) -> int:
    """After a refund of gift cards of `order`: when what its gift cards still standing add up
    to (`gift_card_total_left`) is below a gift card bonus's minimum, take that credit back.

    What is left of the credit lot goes back; what the shopper already spent of it cannot,
    so it is returned: the caller withholds it from the refund of the gift cards
    (docs/promotions.md, "Gift card bonus"). 0 when nothing is to be withheld. Call it inside
    the refund's transaction, holding the order's lock; idempotent on `idempotency_key`
    (the refund's: a replay returns the same amount, another refund afterwards 0)."""
    minimums = _bonus_minimums(order)
    if not minimums:
        return 0
    return giftcard_bonus_claw_back(
        order_number=order.number,
        gift_card_total_left=gift_card_total_left,
        minimums=minimums,
        idempotency_key=idempotency_key,
    )
