"""Gift cards from the cart to the order (docs/interface.md §12): priced as their own lines,
never discounted and never paid from the balance (the card pays them), placed as an order line
with its `OrderGiftCard`, shown on the checkout and order pages without a code."""

import datetime

import pytest
from django.test import Client

from catalog.models import Product
from catalog.regions import region_today
from checkout.exceptions import CardRequired, CheckoutChanged, PaymentDeclined, ProductUnavailable
from checkout.models import Cart, CartGiftCard, CartLine, Order, OrderGiftCard
from checkout.pricing import Discount, PricedGiftCard, PricedLine, Rate, quote_build
from checkout.selectors import SESSION_USE_BALANCE, checkout_quote_get, library_for_user
from checkout.services import order_place
from checkout.services.cart import cart_gift_cards_restore
from tests.checkout.factories import ProductFactory
from tests.checkout.giftcard_buying import (
    giftcard_cart_add,
    giftcard_fields,
    giftcard_order_make,
    giftcard_product,
    giftcard_rows,
)
from tests.checkout.shopping import (
    APPROVED,
    DECLINED,
    balance,
    cart_fill,
    fund,
    new_key,
    shop_state,
)
from tests.promotions.factories import automatic_promotion
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

CHECKOUT = "/checkout/"
PLACE = "/checkout/place-order/"
# Measured on SQLite, flat however many lines and gift cards: user with region, balance
# (with the nav), coins, lines, gift cards, rates, addresses, nav cart count, the promotions
# on offer, earlier orders.
CHECKOUT_QUERIES = 10
# user, order with its lines, their gift cards and cards (one query), refunds, the
# promotions used, nav balance, cart count (the region read with the user).
ORDER_PAGE_QUERIES = 7


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _gift(amount, **fields) -> PricedGiftCard:
    values = {
        "id": amount,
        "product_id": 1,
        "name": "Gift card for Ann",
        "amount": amount,
        "delivery": "email",
        "recipient_name": "Ann",
        "recipient_email": "ann@example.com",
        "message": "",
        "design": "classic",
        "send_on": None,
    }
    values.update(fields)
    return PricedGiftCard(**values)


@pytest.fixture
def product(db):
    return giftcard_product()


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", kind=Product.Kind.PHYSICAL, prices={"US": 2999})


# --- pricing (pure) ------------------------------------------------------------------------


def test_the_balance_never_pays_gift_cards():
    line = PricedLine(product_id=1, slug="lamp", name="Lamp", quantity=1, unit_price=2999)

    quote = quote_build(
        currency="USD",
        lines=[line],
        gift_cards=[_gift(5000), _gift(2500)],
        balance=100_000,
        use_balance=True,
    )

    assert (quote.subtotal, quote.items_subtotal, quote.gift_card_total) == (10499, 2999, 7500)
    assert (quote.total, quote.balance_applied, quote.amount_due) == (10499, 2999, 7500)


def test_gift_cards_only_are_all_due_by_card_and_count_for_no_free_shipping():
    rate = Rate("standard", 499, free_from=5000)
    line = PricedLine(product_id=1, slug="lamp", name="Lamp", quantity=1, unit_price=2999)

    only = quote_build(
        currency="USD", lines=[], gift_cards=[_gift(5000)], balance=9999, use_balance=True
    )
    mixed = quote_build(
        currency="USD",
        lines=[line],
        gift_cards=[_gift(5000)],
        balance=0,
        use_balance=True,
        rates=[rate],
    )

    assert (only.total, only.balance_applied, only.amount_due, only.needs_shipping) == (
        5000,
        0,
        5000,
        False,
    )
    assert not only.is_empty
    assert mixed.shipping == 499  # 29.99 of items: below the 50.00 threshold
    assert mixed.total == 2999 + 5000 + 499


def test_a_discount_never_reaches_the_gift_cards():
    line = PricedLine(product_id=1, slug="a", name="A", quantity=1, unit_price=1000)

    quote = quote_build(
        currency="USD",
        lines=[line],
        gift_cards=[_gift(5000)],
        balance=0,
        use_balance=False,
        discounts=[Discount("Too much", 4000)],
    )

    assert quote.discount == 1000  # at most the other lines
    assert (quote.total, quote.amount_due) == (5000, 5000)


# --- the quote and the checkout page --------------------------------------------------------


def test_a_percentage_promotion_and_its_minimum_look_at_the_other_lines_only(user, lamp, product):
    automatic_promotion(name="Ten off", percent=10, minimum_subtotal=3000)
    cart_fill(user, (lamp, 1))
    giftcard_cart_add(user, amount=10000)

    quote = checkout_quote_get(user=user, session={})
    assert quote.discount == 0  # 29.99 of items is below the 30.00 minimum

    automatic_promotion(name="Five off", percent=5)
    quote = checkout_quote_get(user=user, session={})
    assert quote.discount == 150  # 5% of 29.99, rounded; nothing of the 100.00 gift card
    assert quote.amount_due == quote.total


def test_the_checkout_page_shows_the_gift_cards_and_that_the_card_pays_them(user, product):
    fund(user, 20_000)
    giftcard_cart_add(user, amount=5000)
    giftcard_cart_add(user, amount=2500, delivery="print")

    page = _client_for(user).get(CHECKOUT)

    cards = hooks(page, "checkout-giftcard")
    assert [c.attrs["data-amount-minor"] for c in cards] == ["5000", "2500"]
    note = hook(page, "giftcard-paid-by-card")
    assert note.attrs["data-amount-minor"] == "7500"
    assert hook(page, "order-balance-applied").attrs["data-amount-minor"] == "0"
    assert hook(page, "order-amount-due").attrs["data-amount-minor"] == "7500"
    assert 'name="card_number"' in page.content.decode()


def test_the_checkout_page_query_count_is_flat_with_more_gift_cards(
    user, lamp, product, django_assert_num_queries
):
    fund(user, 1000)
    client = _client_for(user)
    cart_fill(user, (lamp, 1))
    giftcard_cart_add(user)
    client.get(CHECKOUT)
    with django_assert_num_queries(CHECKOUT_QUERIES):
        assert len(hooks(client.get(CHECKOUT), "checkout-giftcard")) == 1
    cart_fill(user, (ProductFactory(), 2))
    for _ in range(8):
        giftcard_cart_add(user, delivery="print")
    with django_assert_num_queries(CHECKOUT_QUERIES):
        assert len(hooks(client.get(CHECKOUT), "checkout-giftcard")) == 9


# --- placing the order ----------------------------------------------------------------------


def test_a_funded_shopper_still_owes_the_gift_cards_by_card_and_nothing_is_written(
    user, lamp, product
):
    fund(user, 100_000)  # far more than the whole order
    cart_fill(user, (lamp, 1))
    giftcard_cart_add(user, amount=5000)
    before, rows = shop_state(), giftcard_rows()

    quote = checkout_quote_get(user=user, session={})
    with pytest.raises(CardRequired) as refused:
        order_place(user=user, session={}, idempotency_key=new_key())

    assert (quote.balance_applied, quote.amount_due) == (quote.total - 5000, 5000)
    assert refused.value.reason == "card_required"
    assert "Gift cards are paid by card" in refused.value.message
    assert shop_state() == before
    assert giftcard_rows() == rows
    assert balance(user) == 100_000


def test_the_place_order_page_refuses_without_a_card(user, product):
    fund(user, 100_000)
    giftcard_cart_add(user)
    rows = giftcard_rows()

    response = _client_for(user).post(PLACE, {"idempotency_key": new_key()})

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "card_required"
    assert not Order.objects.exists()
    assert giftcard_rows() == rows


def test_a_mixed_order_pays_the_items_from_the_balance_and_the_gift_cards_by_card(
    user, lamp, product, gateway
):
    fund(user, 10_000)
    tomorrow = region_today(user.region) + datetime.timedelta(days=1)

    order = giftcard_order_make(
        user,
        giftcard_fields(amount=5000, send_on=tomorrow),
        giftcard_fields(amount=2500, delivery="print", recipient_email=""),
        lines=[(lamp, 1)],
    )

    items = 2999 + order.shipping
    assert order.subtotal == 2999 + 7500
    assert (order.balance_applied, order.card_charged) == (items, 7500)
    assert order.subtotal - order.discount + order.shipping == (
        order.balance_applied + order.card_charged
    )
    assert balance(user) == 10_000 - items
    assert order.payment.amount == 7500
    assert order.payment.status == "captured"
    gift_lines = order.lines.filter(gift_card__isnull=False).order_by("pk")
    assert list(
        gift_lines.values_list("product_name", "quantity", "unit_price", "line_total", "discount")
    ) == [
        ("Gift card for Ann Recipient", 1, 5000, 5000, 0),
        ("Gift card for Ann Recipient", 1, 2500, 2500, 0),
    ]
    assert all(line.is_digital and line.product_id == product.pk for line in gift_lines)
    cards = list(OrderGiftCard.objects.filter(order=order).order_by("pk"))
    assert [(c.amount, c.currency, c.delivery, c.design) for c in cards] == [
        (5000, "USD", "email", "birthday"),
        (2500, "USD", "print", "birthday"),
    ]
    assert cards[0].send_on == tomorrow
    assert cards[1].send_on == region_today(user.region)
    assert cards[0].recipient_email == "ann@example.com"
    assert not CartGiftCard.objects.exists()
    assert not CartLine.objects.exists()


def test_gift_cards_wait_for_the_payment_until_it_is_captured(user, product):
    order = giftcard_order_make(user, paid=False)

    card = OrderGiftCard.objects.get(order=order)
    assert (card.status, card.card) == ("awaiting_payment", None)
    assert card.send_on == region_today(user.region)
    # Nothing ships, but the card is not handed over yet: placed until it is.
    assert order.status == "placed"
    assert order.card_charged == 5000


def test_a_day_that_passed_while_the_card_sat_in_the_cart_becomes_today(user, product):
    giftcard_cart_add(user)
    CartGiftCard.objects.update(send_on=datetime.date(2020, 1, 1))

    order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)

    assert order.gift_cards.get().send_on == region_today(user.region)


def test_a_declined_card_writes_nothing_and_keeps_the_gift_cards_in_the_cart(user, product):
    giftcard_cart_add(user)
    before, rows = shop_state(), giftcard_rows()

    with pytest.raises(PaymentDeclined):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=DECLINED)

    assert shop_state() == before
    assert giftcard_rows() == rows


def test_a_gift_card_added_in_another_tab_changes_the_summary(user, product):
    giftcard_cart_add(user)
    summary = checkout_quote_get(user=user, session={})
    giftcard_cart_add(user, amount=2500)
    rows = giftcard_rows()

    with pytest.raises(CheckoutChanged):
        order_place(
            user=user,
            session={},
            idempotency_key=new_key(),
            card_number=APPROVED,
            expected_total=summary.total,
            expected_amount_due=summary.amount_due,
        )
    assert giftcard_rows() == rows
    assert not Order.objects.exists()


def test_a_replayed_key_lands_on_the_first_order(user, product):
    key = new_key()
    first = giftcard_order_make(user, key=key)
    again = order_place(
        user=user, session={SESSION_USE_BALANCE: True}, idempotency_key=key, card_number=APPROVED
    )
    assert again.pk == first.pk
    assert OrderGiftCard.objects.count() == 1


def test_gift_cards_are_not_in_the_buyers_library(user, product):
    giftcard_order_make(user)
    assert not library_for_user(user=user).exists()


def test_a_failed_payments_gift_cards_can_go_back_in_the_cart(user, product):
    tomorrow = region_today(user.region) + datetime.timedelta(days=1)
    order = giftcard_order_make(
        user, giftcard_fields(send_on=tomorrow), giftcard_fields(), paid=False
    )
    OrderGiftCard.objects.filter(order=order, send_on=region_today(user.region)).update(
        send_on=datetime.date(2020, 1, 1)
    )
    Cart.objects.get_or_create(user=user)

    cart_gift_cards_restore(order=order)

    restored = list(CartGiftCard.objects.order_by("pk").values_list("amount", "send_on"))
    assert restored == [(5000, tomorrow), (5000, None)]


# --- the order page -------------------------------------------------------------------------


def test_the_order_page_shows_each_card_with_its_status_and_never_a_code(user, product):
    order = giftcard_order_make(
        user, giftcard_fields(), giftcard_fields(delivery="print", recipient_email="")
    )

    page = _client_for(user).get(f"/orders/{order.number}/")

    statuses = [h.attrs["data-status"] for h in hooks(page, "egift-status")]
    assert len(statuses) == 2
    assert statuses[0] == "scheduled"
    assert statuses[1] in ("ready", "scheduled")  # ready once the card is issued on payment
    cards = hooks(page, "order-gift-card")
    assert [c.attrs["data-delivery"] for c in cards] == ["email", "print"]
    assert "Ann Recipient" in cards[0].text
    assert "ann@example.com" in cards[0].text
    assert "$50.00" in cards[0].text
    assert "library" not in hook(page, "order-gift-cards").text


def test_another_shoppers_order_page_is_a_404(user, other_user, product):
    order = giftcard_order_make(user)
    assert _client_for(other_user).get(f"/orders/{order.number}/").status_code == 404


def test_the_order_page_query_count_is_flat_with_more_gift_cards(
    user, product, django_assert_num_queries
):
    client = _client_for(user)
    few = giftcard_order_make(user)
    many = giftcard_order_make(user, *[giftcard_fields() for _ in range(6)])
    client.get(f"/orders/{few.number}/")
    with django_assert_num_queries(ORDER_PAGE_QUERIES):
        assert len(hooks(client.get(f"/orders/{few.number}/"), "egift-status")) == 1
    with django_assert_num_queries(ORDER_PAGE_QUERIES):
        assert len(hooks(client.get(f"/orders/{many.number}/"), "egift-status")) == 6


def test_a_gift_card_product_as_a_plain_line_is_never_bought_that_way(user, product):
    # No service puts one there (cart_add refuses it); a line restored from an older order
    # could. It shows what to do and the order is refused, nothing charged.
    cart, _ = Cart.objects.get_or_create(user=user)
    CartLine.objects.create(cart=cart, product=product, quantity=1)
    before = shop_state()

    page = _client_for(user).get("/cart/")
    with pytest.raises(ProductUnavailable):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)

    assert "gift card page" in hook(page, "cart-line-giftcard").text
    assert shop_state() == before
