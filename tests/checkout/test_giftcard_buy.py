"""Buying a gift card: /gift-cards/buy/ (docs/interface.md §12), `cart_giftcard_add` and
`cart_giftcard_remove`, and the gift cards on /cart/."""

import datetime
import pathlib

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.exceptions import RegionChangeRefused
from accounts.services import user_region_change
from catalog.models import Region
from catalog.regions import region_today
from checkout.exceptions import CheckoutError, ProductUnavailable
from checkout.giftcard_designs import DESIGNS, design_get, design_list
from checkout.models import CartGiftCard
from checkout.services.cart import cart_giftcard_add, cart_giftcard_remove
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.giftcard_buying import (
    GIFTCARD_PRODUCT_SLUG,
    giftcard_cart_add,
    giftcard_fields,
    giftcard_product,
    giftcard_rows,
)
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

BUY = "/gift-cards/buy/"
CART = "/cart/"
UPDATE = "/cart/update/"

# Measured on SQLite: user with its region (the page's amounts and today), nav balance,
# nav cart count. Whatever the cart holds.
BUY_PAGE_QUERIES = 3
# user (with its region), lines (priced), gift cards, nav balance, nav cart count.
CART_PAGE_QUERIES = 5


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client, **overrides):
    data = {
        "amount": "50.00",
        "design": "birthday",
        "delivery": "email",
        "recipient_name": "Ann Recipient",
        "recipient_email": "ann@example.com",
        "message": "Happy birthday!",
        "send_on": "",
    }
    data.update(overrides)
    return client.post(BUY, {k: v for k, v in data.items() if v is not None})


def _refused(response, reason: str) -> None:
    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == reason


@pytest.fixture
def product(db):
    return giftcard_product()


# --- the page ------------------------------------------------------------------------------


def test_a_visitor_is_sent_to_sign_in_and_nothing_is_written(client, product):
    page = client.get(BUY)
    posted = _post(client)

    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    assert posted.status_code == 302
    assert posted["Location"].startswith("/accounts/login/")
    assert not CartGiftCard.objects.exists()


def test_the_form_lists_the_regions_amounts_designs_and_days(user, product):
    page = _client_for(user).get(BUY)

    assert page.status_code == 200
    hook(page, "giftcard-denominations")
    html = page.content.decode()
    for minor in (2500, 5000, 10000):
        assert f'data-amount-minor="{minor}"' in html
    limits = hook(page, "giftcard-limits")
    assert (limits.attrs["data-min-minor"], limits.attrs["data-max-minor"]) == ("500", "50000")
    assert [h.attrs["data-design"] for h in hooks(page, "giftcard-design")] == [
        "classic",
        "birthday",
        "thanks",
        "celebrate",
    ]
    today = region_today(user.region)
    assert f'min="{today:%Y-%m-%d}"' in html
    # The first amount is chosen; the classic design and e-mail delivery too.
    assert 'value="25.00" data-amount-minor="2500" checked' in html
    assert 'value="classic" checked' in html


def test_a_japanese_shopper_sees_yen_and_a_product_preselects_its_amount(product):
    shopper = UserFactory(region_id="JP")
    client = _client_for(shopper)

    page = client.get(BUY, {"product": GIFTCARD_PRODUCT_SLUG})  # ¥3,000 in JP
    html = page.content.decode()

    assert 'data-amount-minor="3000" checked' in html
    assert hook(page, "giftcard-limits").attrs["data-min-minor"] == "500"
    assert f'name="product" value="{GIFTCARD_PRODUCT_SLUG}"' in html
    assert "￥" in html


def test_a_product_whose_price_is_not_listed_preselects_it_as_a_custom_amount(user):
    ProductFactory(slug="gift-card-35", kind="gift_card", prices={"US": 3500})

    html = _client_for(user).get(BUY, {"product": "gift-card-35"}).content.decode()

    assert 'value="custom" checked' in html
    assert 'name="custom_amount" value="35.00"' in html


def test_an_unknown_product_is_ignored(user, product):
    client = _client_for(user)
    page = client.get(BUY, {"product": "no-such-card"})
    assert page.status_code == 200
    assert 'name="product"' not in page.content.decode()
    assert client.get(BUY, {"product": "x\x00"}).status_code < 500


def test_the_buy_page_query_count_is_flat(user, product, django_assert_num_queries):
    client = _client_for(user)
    client.get(BUY)  # the session row exists
    with django_assert_num_queries(BUY_PAGE_QUERIES):
        client.get(BUY)
    for _ in range(4):
        giftcard_cart_add(user)
    with django_assert_num_queries(BUY_PAGE_QUERIES):
        client.get(BUY)


# --- posting the form ----------------------------------------------------------------------


def test_a_listed_amount_goes_into_the_cart(user, product):
    client = _client_for(user)
    today = region_today(user.region)

    response = _post(client, send_on=f"{today + datetime.timedelta(days=3):%Y-%m-%d}")

    assert response.status_code == 302
    assert response["Location"] == CART
    card = CartGiftCard.objects.get()
    assert (card.amount, card.currency, card.delivery, card.design) == (
        5000,
        "USD",
        "email",
        "birthday",
    )
    assert (card.recipient_name, card.recipient_email) == ("Ann Recipient", "ann@example.com")
    assert card.send_on == today + datetime.timedelta(days=3)
    assert card.product == product
    page = client.get(CART)
    assert "A gift card of $50.00 for Ann Recipient is in your cart." in page.content.decode()


def test_a_custom_amount_within_the_limits_goes_in(user, product):
    client = _client_for(user)

    _post(client, amount="custom", custom_amount="37.50")
    _post(client, amount="5")  # a script may post the figure itself: the minimum

    assert list(CartGiftCard.objects.values_list("amount", flat=True)) == [3750, 500]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount": "custom", "custom_amount": "4.99"}, "amount"),
        ({"amount": "500.01"}, "amount"),
        ({"amount": "custom", "custom_amount": ""}, "amount"),
        ({"amount": "25.001"}, "amount"),
        ({"amount": "-25"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"design": "neon"}, "design"),
        ({"delivery": "pigeon"}, "delivery"),
        ({"recipient_name": "   "}, "recipient_name"),
        ({"recipient_name": "x" * 101}, "recipient_name"),
        ({"recipient_email": ""}, "recipient_email"),
        ({"recipient_email": "not-an-address"}, "recipient_email"),
        ({"message": "x" * 301}, "message"),
        ({"sender_name": "x" * 101}, "sender_name"),
        ({"send_on": "2026-13-01"}, "send_on"),
        ({"send_on": "tomorrow"}, "send_on"),
        ({"product": "not a slug!"}, "product"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_writes_nothing(user, product, overrides, reason):
    before = giftcard_rows()

    response = _post(_client_for(user), **overrides)

    _refused(response, reason)
    assert giftcard_rows() == before


def test_a_day_already_over_in_the_shoppers_region_is_refused(user, product):
    yesterday = region_today(user.region) - datetime.timedelta(days=1)
    far = region_today(user.region) + datetime.timedelta(days=400)
    client = _client_for(user)

    _refused(_post(client, send_on=f"{yesterday:%Y-%m-%d}"), "send_on")
    _refused(_post(client, send_on=f"{far:%Y-%m-%d}"), "send_on")
    today = _post(client, send_on=f"{region_today(user.region):%Y-%m-%d}")

    assert today.status_code == 302
    assert CartGiftCard.objects.get().send_on == region_today(user.region)


def test_a_message_of_300_characters_is_kept_whole(user, product):
    _post(_client_for(user), message="é" * 300)
    assert CartGiftCard.objects.get().message == "é" * 300


def test_print_delivery_needs_no_address_and_ignores_a_day(user, product):
    tomorrow = region_today(user.region) + datetime.timedelta(days=1)

    response = _post(
        _client_for(user),
        delivery="print",
        recipient_email="",
        send_on=f"{tomorrow:%Y-%m-%d}",
    )

    assert response.status_code == 302
    card = CartGiftCard.objects.get()
    assert (card.delivery, card.recipient_email, card.send_on) == ("print", "", None)


def test_the_cart_holds_at_most_the_limit_of_gift_cards(user, product, settings):
    settings.GIFTCARD_MAX_PER_CART = 2
    client = _client_for(user)
    _post(client)
    _post(client, delivery="print")
    before = giftcard_rows()

    response = _post(client)

    _refused(response, "gift_card_limit")
    assert "at most 2 gift cards" in hook(response, "form-error").text
    assert giftcard_rows() == before


def test_a_refused_form_keeps_what_was_typed(user, product):
    response = _post(_client_for(user), recipient_email="", message="See you soon")
    html = response.content.decode()
    assert 'value="Ann Recipient"' in html
    assert "See you soon</textarea>" in html


def test_without_a_csrf_token_the_post_is_refused(user, product):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = _post(client)

    assert response.status_code == 403
    assert not CartGiftCard.objects.exists()


def test_without_a_gift_card_product_for_sale_nothing_is_added(user):
    before = giftcard_rows()
    response = _post(_client_for(user))
    _refused(response, "product_unavailable")
    assert giftcard_rows() == before


# --- the services --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount": 499}, "amount"),
        ({"amount": 50001}, "amount"),
        ({"delivery": "fax"}, "delivery"),
        ({"design": "neon"}, "design"),
        ({"recipient_name": " "}, "recipient_name"),
        ({"recipient_email": ""}, "recipient_email"),
        ({"message": "x" * 301}, "message"),
        ({"sender_name": "x" * 101}, "sender_name"),
        ({"send_on": datetime.date(2000, 1, 1)}, "send_on"),
    ],
)
def test_the_service_holds_the_same_rules_and_writes_nothing(user, product, overrides, reason):
    before = giftcard_rows()
    with pytest.raises(CheckoutError) as refused:
        cart_giftcard_add(user=user, **giftcard_fields(**overrides))
    assert refused.value.reason == reason
    assert giftcard_rows() == before


def test_the_service_refuses_a_product_that_is_not_a_gift_card(user, product):
    lamp = ProductFactory(slug="lamp")
    with pytest.raises(ProductUnavailable):
        cart_giftcard_add(user=user, product_slug=lamp.slug, **giftcard_fields())
    assert not CartGiftCard.objects.exists()


def test_a_japanese_card_is_in_whole_yen_within_the_yen_limits(product):
    shopper = UserFactory(region_id="JP")
    card = cart_giftcard_add(user=shopper, **giftcard_fields(amount=3000))
    assert (card.amount, card.currency) == (3000, "JPY")
    with pytest.raises(CheckoutError):
        cart_giftcard_add(user=shopper, **giftcard_fields(amount=400))


def test_the_service_removes_only_the_shoppers_own_card(user, other_user, product):
    mine = giftcard_cart_add(user)
    theirs = giftcard_cart_add(other_user)

    with pytest.raises(CartGiftCard.DoesNotExist):
        cart_giftcard_remove(user=user, gift_card_id=theirs.pk)
    cart_giftcard_remove(user=user, gift_card_id=mine.pk)

    assert list(CartGiftCard.objects.values_list("pk", flat=True)) == [theirs.pk]


# --- the cart page -------------------------------------------------------------------------


def test_the_cart_lists_each_gift_card_as_its_own_line(user, product):
    lamp = ProductFactory(prices={"US": 4499})
    client = _client_for(user)
    client.post("/cart/add/", {"product": lamp.slug, "quantity": "1"})
    giftcard_cart_add(user, amount=2500)
    giftcard_cart_add(user, amount=2500, delivery="print")

    page = client.get(CART)

    cards = hooks(page, "cart-giftcard")
    assert [(c.attrs["data-amount-minor"], c.attrs["data-delivery"]) for c in cards] == [
        ("2500", "email"),
        ("2500", "print"),
    ]
    assert hook(page, "cart-subtotal").attrs["data-amount-minor"] == str(4499 + 5000)
    assert "Paid by card" in cards[0].text
    hook(page, "giftcard-card-only")
    hook(page, "go-to-checkout")


def test_a_cart_of_gift_cards_only_is_not_empty(user, product):
    giftcard_cart_add(user)
    page = _client_for(user).get(CART)
    assert not hooks(page, "cart-empty")
    hook(page, "go-to-checkout")


def test_remove_takes_the_card_out(user, product):
    card = giftcard_cart_add(user)
    client = _client_for(user)

    response = client.post(UPDATE, {"gift_card": card.pk}, follow=True)

    assert response.redirect_chain[-1][0] == CART
    assert not CartGiftCard.objects.exists()
    assert "removed from your cart" in response.content.decode()


@pytest.mark.parametrize("value", ["theirs", "999999", "abc", "-1", str(2**70)])
def test_another_shoppers_card_or_no_card_is_a_404_and_nothing_is_removed(
    user, other_user, product, value
):
    theirs = giftcard_cart_add(other_user)
    before = giftcard_rows()

    response = _client_for(user).post(
        UPDATE, {"gift_card": theirs.pk if value == "theirs" else value}
    )

    assert response.status_code == 404
    assert giftcard_rows() == before


def test_a_visitor_cannot_remove_a_card(client, other_user, product):
    theirs = giftcard_cart_add(other_user)
    assert client.post(UPDATE, {"gift_card": theirs.pk}).status_code == 404
    assert CartGiftCard.objects.count() == 1


def test_the_cart_page_query_count_is_flat_with_more_gift_cards(
    user, product, django_assert_num_queries
):
    client = _client_for(user)
    giftcard_cart_add(user)
    client.get(CART)
    with django_assert_num_queries(CART_PAGE_QUERIES):
        assert len(hooks(client.get(CART), "cart-giftcard")) == 1
    lamp = ProductFactory(prices={"US": 4499})
    client.post("/cart/add/", {"product": lamp.slug, "quantity": "2"})
    for _ in range(5):
        giftcard_cart_add(user, delivery="print")
    with django_assert_num_queries(CART_PAGE_QUERIES):
        assert len(hooks(client.get(CART), "cart-giftcard")) == 6


# --- region change, designs, product page --------------------------------------------------


def test_a_region_change_waits_for_the_gift_cards_to_leave_the_cart(user, product):
    giftcard_cart_add(user)

    with pytest.raises(RegionChangeRefused) as refused:
        user_region_change(user=user, region=Region.objects.get(code="JP"), by=user)

    assert "1 gift card(s) in USD" in str(refused.value)
    user.refresh_from_db()
    assert user.region_id == "US"


def test_every_design_has_its_colours_in_the_stylesheet():
    css = (pathlib.Path(django_settings.BASE_DIR) / "static/css/giftcards.css").read_text()
    assert [d.key for d in design_list()] == list(DESIGNS)
    for design in design_list():
        assert f".giftcard-design-{design.key} {{ background-color: {design.background}; " in css
        assert design.accent in css
    assert design_get("retired") == DESIGNS["classic"]


def test_the_gift_card_product_page_links_to_the_buy_page(shopper_client, product):
    page = shopper_client.get(f"/products/{product.slug}/")
    link = hook(page, "giftcard-buy-link")
    assert link.attrs["href"] == f"/gift-cards/buy/?product={product.slug}"
    assert shopper_client.get(link.attrs["href"]).status_code == 200


def test_print_delivery_ignores_what_the_email_half_of_the_form_still_holds(user, product):
    response = _post(
        _client_for(user), delivery="print", recipient_email="not-an-address", send_on="2020-01-01"
    )

    assert response.status_code == 302
    card = CartGiftCard.objects.get()
    assert (card.delivery, card.recipient_email, card.send_on) == ("print", "", None)


def test_a_browsers_line_breaks_count_once_against_the_message_limit(user, product):
    # 11 lines of 26 characters: 296 characters as typed, 306 as a browser posts it (CR LF).
    message = "\r\n".join(["x" * 26] * 11 + ["y"])[: 26 * 11 + 2 * 10]
    typed = message.replace("\r\n", "\n")
    assert len(typed) <= 300 < len(message)

    response = _post(_client_for(user), message=message)

    assert response.status_code == 302
    assert CartGiftCard.objects.get().message == typed
