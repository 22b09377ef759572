"""Paid orders of bought gift cards, through the real services (the buy service, placing the
order, the capture after commit), for the delivery tests; and a clock the worker shares."""

import datetime
import re

from django.core import mail
from django.test import TestCase
from django.utils import timezone

from catalog.models import Product
from checkout.models import Order, OrderGiftCard
from checkout.payments import TestGateway
from checkout.selectors import SESSION_USE_BALANCE
from checkout.services import order_place
from checkout.services.cart import cart_giftcard_add
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import new_key
from wallet.codes import code_normalize

CODE_IN_LINK = re.compile(r"/gift-cards/redeem/#code=([A-Z0-9-]+)")


def gift_product() -> Product:
    """The shop's gift card product (the buy service names each line after one)."""
    existing = Product.objects.filter(kind=Product.Kind.GIFT_CARD).first()
    return existing or ProductFactory(kind=Product.Kind.GIFT_CARD, slug="gift-card-test")


def gift_order(buyer, *cards: dict, card_number: str = TestGateway.APPROVED) -> Order:
    """Put each `cards` entry (keyword arguments of `cart_giftcard_add`: amount, delivery,
    recipient_name, recipient_email, send_on, ...) in the buyer's cart and place the order by
    card; the capture and its hook (issuing the cards) run after commit, as in a request."""
    gift_product()
    for card in cards:
        cart_giftcard_add(user=buyer, **{"delivery": "email", "recipient_name": "Robin", **card})
    with TestCase.captureOnCommitCallbacks(execute=True):
        return order_place(
            user=buyer,
            session={SESSION_USE_BALANCE: False},
            idempotency_key=new_key(),
            card_number=card_number,
        )


def gifts_of(order: Order) -> list[OrderGiftCard]:
    return list(OrderGiftCard.objects.filter(order=order).select_related("card").order_by("pk"))


def sent_codes(to: str) -> list[str]:
    """The claim codes of the gift card e-mails sent to `to`, in the order sent (read from the
    Redeem link of each text part), in their canonical form (no dashes)."""
    return [
        code_normalize(code)
        for message in mail.outbox
        if message.to == [to]
        for code in CODE_IN_LINK.findall(message.body)
    ]


class Clock:
    """`django.utils.timezone.now` stopped, and moved on by hand: the services, the retry
    back-off and the worker's "is this job due" all read it, so a test can let minutes or days
    pass and compare instants exactly."""

    def __init__(self, monkeypatch):
        self.moment = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.moment)

    def now(self) -> datetime.datetime:
        return self.moment

    def advance(self, **delta) -> None:
        self.moment += datetime.timedelta(**delta)

    def set(self, moment: datetime.datetime) -> None:
        self.moment = moment
