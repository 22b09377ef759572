"""An order placed from something other than the shopper's cart: a Subscribe & Save delivery
(docs/subscriptions.md).

`order_place(basket=…)` prices and pays a `Basket` exactly as it does a cart — the same
`quote_build`, the same automatic promotions, balance first (promotional credit
soonest-expiring, then gift card money), the same idempotency — with these differences, all
the basket's: its lines are given (with their own discount off the catalog price, e.g.
Subscribe & Save's), no promotional code is entered, coins stay off (they pay digital items
only, and a basket ships), the standard shipping rate, the basket's address, and a saved
card's token pays what the balance does not. The shopper's cart is neither read nor emptied;
it is still locked, so the shopper's own checkout and a delivery queue on one lock.

The basket's two hooks run inside the order's transaction: `lock` right after the cart lock
(the global lock order of docs/ledger.md: cart → subscription → …), where the subscription
checks it may still be delivered (not paused, skipped or cancelled meanwhile) and raises if
not; `written(order=…, lines=…)` once the order and its lines are written, where the
subscription records the period. Either raising rolls everything back, and the card hold is voided.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery

from catalog.models import Price, Product
from checkout.pricing import PricedLine


@dataclass(frozen=True)
class BasketLine:
    product_id: int
    quantity: int
    # Percent off the catalog's unit price (Subscribe & Save: 5 or 10), per unit, rounded half
    # up to the minor unit (`basket_unit_price`).
    percent_off: int = 0


@dataclass(frozen=True)
class Basket:
    lines: tuple[BasketLine, ...]
    address_id: int | None = None
    card_token: str = ""
    # What the order's e-mail and page may say it came from, e.g. "Subscribe & Save".
    source: str = ""
    lock: Callable[[], None] | None = field(default=None, compare=False)
    written: Callable[..., None] | None = field(default=None, compare=False)


def basket_unit_price(*, price: int, percent_off: int) -> int:
    """The unit price after `percent_off`: the discount per unit is `price * percent / 100`
    rounded half up to the minor unit (so ¥150 at 5% is ¥142, $18.99 is $18.04); each unit of
    a line pays the same, so a refund of units returns the same per unit."""
    return price - (price * percent_off + 50) // 100


def basket_lines_get(*, basket: Basket, region_code: str) -> list[PricedLine]:
    """The basket's lines priced in the region now, in one query: a product withdrawn, no
    longer priced there, or no longer subscribable is `unit_price=None` (unavailable, as in a
    cart)."""
    price = Price.objects.filter(product=OuterRef("pk"), region_id=region_code)
    products = {
        product.pk: product
        for product in Product.objects.filter(
            pk__in=[line.product_id for line in basket.lines]
        ).annotate(price=Subquery(price.values("amount")[:1]))
    }
    priced = []
    for line in basket.lines:
        product = products.get(line.product_id)
        if product is None:
            continue
        # A basket is a Subscribe & Save delivery: a product that staff made no longer
        # subscribable is not delivered again (the subscription pauses, `unavailable`).
        sold = product.is_active and product.subscribable and product.kind == Product.Kind.PHYSICAL
        list_price = product.price if sold else None
        priced.append(
            PricedLine(
                product_id=product.pk,
                slug=product.slug,
                name=product.name,
                quantity=line.quantity,
                unit_price=None
                if list_price is None
                else basket_unit_price(price=list_price, percent_off=line.percent_off),
                category_id=product.category_id,
                list_price=list_price,
            )
        )
    return priced
