"""The gift card bonus offer on the shopper's pages (docs/promotions.md, "Gift card bonus"):
/checkout/ announces the credit beside the summary, never as a discount; the order page says
it was granted; a bonus offer with a code is kept by the code box."""

import pytest
from django.test import Client, TestCase

from catalog.models import Product
from checkout.models import Order
from promotions.models import Promotion
from tests.checkout.factories import ProductFactory
from tests.checkout.giftcard_buying import giftcard_cart_add
from tests.checkout.shopping import APPROVED
from tests.promotions.factories import automatic_promotion, promotion_with_code
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

TERMS = {
    "kind": Promotion.Kind.GIFTCARD_BONUS,
    "percent": None,
    "credit_days": 30,
    "amounts": {"USD": {"amount_off": 1000, "minimum_subtotal": 5000}},
}


@pytest.fixture
def shopper(user):
    ProductFactory(slug="gift-card-bonus-test", name="Gift card", kind=Product.Kind.GIFT_CARD)
    client = Client()
    client.force_login(user)
    return client


def _place(client) -> Order:
    page = client.get("/checkout/").content.decode()
    key = page.split('name="idempotency_key" value="', 1)[1].split('"', 1)[0]
    with TestCase.captureOnCommitCallbacks(execute=True):
        placed = client.post(
            "/checkout/place-order/", {"idempotency_key": key, "card_number": APPROVED}
        )
    assert placed.status_code == 302
    return Order.objects.get()


def test_checkout_announces_the_bonus_and_the_order_page_shows_it_granted(user, shopper):
    automatic_promotion(slug="giftcard-bonus", name="Gift card bonus", **TERMS)
    giftcard_cart_add(user, amount=5000)

    page = shopper.get("/checkout/")
    offer = hook(page, "bonus-offer")
    assert offer.attrs["data-credit-minor"] == "1000"
    assert hook(page, "order-discount").attrs["data-amount-minor"] == "0"
    assert hooks(page, "applied-promotion") == []

    order = _place(shopper)
    page = shopper.get(f"/orders/{order.number}/")
    credit = hook(page, "bonus-credit")
    assert (credit.attrs["data-credit-minor"], credit.attrs["data-status"]) == ("1000", "granted")
    # Credit, not a discount: it is not listed among the promotions that took money off.
    assert hooks(page, "applied-promotion") == []


def test_a_bonus_offer_with_a_code_is_kept_by_the_code_box(user, shopper):
    promotion_with_code("GIFTMORE", **TERMS)
    giftcard_cart_add(user, amount=5000)

    answer = shopper.post("/checkout/code/", {"code": "GIFTMORE"}, follow=True)

    assert hooks(answer, "form-error") == []
    assert "once the order is paid" in hook(answer, "message").text
    assert hook(answer, "bonus-offer").attrs["data-credit-minor"] == "1000"
