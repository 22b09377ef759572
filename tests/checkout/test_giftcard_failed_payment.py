"""A bought gift card whose card capture fails (docs/giftcards.md): nothing issued, and the
card goes back in the cart as it was filled in; the navigation counts gift cards; a
promotional code in a cart of gift cards only is judged, not refused as an empty cart."""

import pytest
from django.test import Client

from checkout.models import CartGiftCard, CartLine, OrderGiftCard
from tests.checkout.factories import ProductFactory
from tests.checkout.giftcard_buying import giftcard_cart_add, giftcard_fields, giftcard_order_make
from tests.checkout.shopping import cart_fill
from tests.promotions.factories import promotion_with_code
from tests.wallet.pages import hook
from wallet.models import GiftCard

CAPTURE_FAILS = "4000000000000341"


@pytest.fixture
def lamp(db):
    return ProductFactory(slug="lamp", prices={"US": 2000})


def test_a_failed_capture_issues_nothing_and_puts_the_gift_card_back_as_it_was(user, lamp):
    fields = giftcard_fields(recipient_name="Bea", message="For you", design="thanks")
    order = giftcard_order_make(user, fields, lines=[(lamp, 1)], card=CAPTURE_FAILS)

    order.refresh_from_db()
    assert order.status == "payment_failed"
    assert list(OrderGiftCard.objects.values_list("status", flat=True)) == ["cancelled"]
    assert not GiftCard.objects.exists()
    # The lamp back as a line, the gift card back as a gift card (not a plain product line).
    assert list(CartLine.objects.values_list("product__slug", "quantity")) == [("lamp", 1)]
    restored = CartGiftCard.objects.get()
    assert (restored.recipient_name, restored.message, restored.design, restored.amount) == (
        "Bea",
        "For you",
        "thanks",
        5000,
    )


def test_the_navigation_counts_each_gift_card_beside_the_items(user, lamp):
    cart_fill(user, (lamp, 2))
    giftcard_cart_add(user)
    giftcard_cart_add(user, delivery="print", recipient_email="")
    client = Client()
    client.force_login(user)

    nav = hook(client.get("/cart/"), "nav-cart")

    assert nav.attrs["data-count"] == "4"


def test_a_promotional_code_in_a_cart_of_gift_cards_only_is_judged_not_empty(user):
    promotion_with_code("SAVE5")
    giftcard_cart_add(user)
    client = Client()
    client.force_login(user)

    page = client.post("/checkout/code/", {"code": "SAVE5"})

    # Gift cards are never discounted: the code gives nothing on them, and the cart is not
    # called empty.
    error = hook(page, "form-error")
    assert error.attrs["data-reason"] == "no_eligible_items"
