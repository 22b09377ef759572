"""Orders with bought gift cards, for the print and refund tests, through the real services:
the buy service puts each card in the cart (`cart_giftcard_add`), `order_place` places the
order with the card (the balance pays only the other lines, if it may), and the capture after
commit runs the payment hook that issues each card `pending` (`order_paid`): `ready` for
print, `scheduled` for e-mail.

    order = gift_order(user, (5000, "print"), (2500, "email"), lines=[(lamp, 1)])
"""

from django.test import TestCase

from catalog.models import Product
from checkout.models import Order
from checkout.selectors import SESSION_USE_BALANCE
from checkout.services import order_place
from checkout.services.cart import cart_giftcard_add
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, cart_fill, new_key


def gift_product() -> Product:
    """The shop's gift card product (the buy service names each bought card's line after it)."""
    existing = Product.objects.filter(kind=Product.Kind.GIFT_CARD, is_active=True).first()
    return existing or ProductFactory(
        name="Coinpurse gift card", kind=Product.Kind.GIFT_CARD, prices={"US": 2500}
    )


def gift_order(user, *gifts, lines=(), use_balance=True, recipient="Robin Friend") -> Order:
    """A paid order of `user` with gift cards `gifts` ((amount, delivery) pairs) and the other
    `lines` ((product, quantity) pairs, optional), placed by card and captured."""
    gift_product()
    for amount, delivery in gifts:
        cart_giftcard_add(
            user=user,
            amount=amount,
            delivery=delivery,
            recipient_name=recipient,
            recipient_email="robin@example.com" if delivery == "email" else "",
            message="Happy birthday, Robin! Buy yourself something nice.",
            design="birthday",
        )
    if lines:
        cart_fill(user, *lines)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = order_place(
            user=user,
            session={SESSION_USE_BALANCE: use_balance},
            idempotency_key=new_key(),
            card_number=APPROVED,
        )
    order.refresh_from_db()
    return order
