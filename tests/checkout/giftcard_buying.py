"""Buying gift cards in tests, through the real services (docs/interface.md §12): a gift card
product, gift cards in the cart, an order of them placed (and paid), and a snapshot of every
gift card row a refusal must leave alone.

    giftcard_cart_add(user, amount=5000, delivery="print")       # one card in the cart
    order = giftcard_order_make(user, giftcard_fields(), giftcard_fields(delivery="print"))
    order = giftcard_order_make(user, giftcard_fields(), lines=[(lamp, 1)], paid=False)

`paid=True` (the default) runs the on-commit callbacks of the order (the capture, then
`order_paid`) inside the test's transaction, as a real request would after commit.
"""

from dataclasses import dataclass

from django.test import TestCase

from catalog.models import Product
from checkout.models import CartGiftCard, Order, OrderGiftCard
from checkout.selectors import SESSION_USE_BALANCE
from checkout.services import order_place
from checkout.services.cart import cart_giftcard_add
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, cart_fill, new_key
from wallet.models import GiftCard

GIFTCARD_PRODUCT_SLUG = "gift-card-test"


def giftcard_product() -> Product:
    """The gift card product bought cards are named after (one per test database)."""
    product = Product.objects.filter(slug=GIFTCARD_PRODUCT_SLUG).first()
    return product or ProductFactory(
        slug=GIFTCARD_PRODUCT_SLUG,
        name="Gift card",
        kind=Product.Kind.GIFT_CARD,
        prices={"US": 2500, "GB": 2000, "FR": 2300, "DE": 2300, "JP": 3000},
    )


def giftcard_fields(**overrides) -> dict:
    """What the buy form would post, as `cart_giftcard_add` takes it: an e-mail card of 50.00
    (¥5,000 in JPY: pass `amount=`) for Ann, as soon as it is paid."""
    fields = {
        "amount": 5000,
        "delivery": "email",
        "recipient_name": "Ann Recipient",
        "recipient_email": "ann@example.com",
        "message": "Happy birthday, Ann!",
        "design": "birthday",
        "send_on": None,
    }
    fields.update(overrides)
    return fields


def giftcard_cart_add(user, **overrides) -> CartGiftCard:
    """One gift card in the shopper's cart (`giftcard_fields` with `overrides`)."""
    giftcard_product()
    return cart_giftcard_add(user=user, **giftcard_fields(**overrides))


def giftcard_order_make(
    user,
    *cards: dict,
    lines=(),
    card: str = APPROVED,
    use_balance: bool = True,
    paid: bool = True,
    key: str | None = None,
) -> Order:
    """Put `cards` (each a `giftcard_fields` dict; one default card when none) and `lines`
    (`(product, quantity)`) in the cart and place the order, paid by `card`. With `paid` the
    capture and what follows it (`order_paid`: issuing, the bonus) run as after a commit."""
    giftcard_product()
    if lines:
        cart_fill(user, *lines)
    for fields in cards or (giftcard_fields(),):
        cart_giftcard_add(user=user, **fields)

    def place() -> Order:
        return order_place(
            user=user,
            session={SESSION_USE_BALANCE: use_balance},
            idempotency_key=key or new_key(),
            card_number=card,
        )

    if not paid:
        return place()
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = place()
    order.refresh_from_db()
    return order


@dataclass(frozen=True)
class GiftCardRows:
    cart: list
    ordered: list
    issued: int


def giftcard_rows() -> GiftCardRows:
    """Every gift card row as it is now: in carts, in orders, issued in the wallet."""
    return GiftCardRows(
        cart=list(CartGiftCard.objects.order_by("pk").values()),
        ordered=list(OrderGiftCard.objects.order_by("pk").values()),
        issued=GiftCard.objects.count(),
    )
