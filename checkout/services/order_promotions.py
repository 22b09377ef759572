"""The promotions of an order being placed: their uses claimed under the promotion-usage locks
(`promotions.services.promotion_redemptions_claim`), and what they finally take off each unit
and the shipping once a budget may have trimmed one.

Runs inside `order_place`'s transaction, after the cart lock and the fresh quote.
"""

from dataclasses import dataclass

from checkout.exceptions import CheckoutChanged
from checkout.pricing import Quote
from promotions.engine import LineInput
from promotions.exceptions import PromotionNoLongerApplies
from promotions.rules import eligible_lines
from promotions.selectors import promotion_specs_get
from promotions.services import promotion_redemptions_claim


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


def promotion_keys(quote: Quote) -> tuple:
    """Which promotions a quote applies (and by which code): the summary the shopper saw and
    the quote under the lock must agree on these, whatever their amounts."""
    return tuple(sorted((a.promotion_id, a.code_id or 0) for a in quote.applied))


def order_promotions_claim(*, user, order_number: str, quote: Quote) -> OrderDiscounts:
    """Claim the uses of `quote`'s promotions for order `order_number` and return what they
    take off once claimed. Raises `CheckoutChanged` (nothing is charged: the caller's
    transaction rolls back and the card hold is voided) when one no longer applies."""
    lines = {line.product_id: line for line in quote.lines}
    units = {pid: [0] * line.quantity for pid, line in lines.items()}
    if not quote.applied:
        return OrderDiscounts(0, 0, units, [], [])
    ids = [a.promotion_id for a in quote.applied]
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
            applied=quote.applied,
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
    by_promotion = {a.promotion_id: a for a in quote.applied}
    snapshot = []
    for redemption in redemptions:
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
    shipping_discount = sum(r.shipping_amount for r in redemptions)
    return OrderDiscounts(
        discount=sum(r.amount for r in redemptions),
        shipping_discount=shipping_discount,
        units=units,
        snapshot=snapshot,
        redemptions=redemptions,
    )


def order_bonus_grant(*, order_id: int) -> None:
    """Placeholder until its helper writes it (issue #10)."""
    return None
