"""The product page's Subscribe & Save form and starting a subscription from it (POST
/subscriptions/, docs/interface.md §14); the order page's note on a delivery's line; the
navigation's link."""

import pytest
from django.test import Client

from catalog.models import Product
from checkout.models import Order, SavedCard
from subscriptions.models import Subscription
from subscriptions.services import subscriptions_run
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, address_give, fund, shop_state
from tests.subscriptions.given import subscribable_product, subscription_give
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

LIST = "/subscriptions/"
# Measured on SQLite, flat however many subscriptions the shopper has: user with region,
# product, nav cart count, nav balance; the form's subscription counts, addresses, saved card.
PRODUCT_QUERIES = 7
NOT_A_CARD = "4242424242424241"  # fails the Luhn check: the provider refuses to save it


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _url(product) -> str:
    return f"/products/{product.slug}/"


def _state():
    return (
        shop_state(),
        list(Subscription.objects.order_by("pk").values()),
        list(SavedCard.objects.order_by("pk").values()),
    )


@pytest.fixture
def shopper(db):
    user = UserFactory(region_id="US")
    address_give(user)
    return user


@pytest.fixture
def beans(db):
    return subscribable_product(price=1899, name="Coffee beans")


def test_a_visitor_is_offered_to_sign_in_to_subscribe(client, beans):
    response = client.get(_url(beans))

    assert response.status_code == 200
    link = hook(response, "subscribe-sign-in")
    assert link.attrs["href"] == f"/accounts/login/?next=/products/{beans.slug}/"
    assert hooks(response, "subscribe-form") == []


def test_the_form_shows_the_discounted_price_address_and_a_card_field(shopper, beans):
    response = _client(shopper).get(_url(beans))

    form = hook(response, "subscribe-form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", LIST)
    price = hook(response, "subscribe-price")
    assert price.attrs == price.attrs | {
        "data-amount-minor": "1804",
        "data-list-minor": "1899",
        "data-percent": "5",
    }
    assert "$18.04" in price.text
    assert "$18.99" in price.text
    assert "1 Test Street" in hook(response, "subscribe-address").text
    html = response.content.decode()
    assert f'name="product" value="{beans.slug}"' in html
    assert 'name="quantity" value="1"' in html
    assert '<option value="1" selected>' in html
    assert 'name="card_number"' in html  # no saved card yet
    assert hooks(response, "subscribe-card") == []


def test_a_saved_card_is_shown_by_its_last_four_digits_only(shopper, beans):
    subscription_give(shopper, subscribable_product(), card=APPROVED)

    response = _client(shopper).get(_url(beans))

    card = hook(response, "subscribe-card")
    assert card.attrs["data-last4"] == APPROVED[-4:]
    html = response.content.decode()
    assert 'name="card_number"' not in html
    assert APPROVED not in html


def test_four_active_subscriptions_make_the_fifth_ten_percent_off(shopper, beans):
    for _ in range(4):
        subscription_give(shopper, subscribable_product())

    price = hook(_client(shopper).get(_url(beans)), "subscribe-price")

    assert (price.attrs["data-percent"], price.attrs["data-amount-minor"]) == ("10", "1709")


def test_without_an_address_the_form_links_to_add_one(beans):
    user = UserFactory(region_id="US")

    response = _client(user).get(_url(beans))

    assert hook(response, "subscribe-add-address").attrs["href"] == "/account/addresses/"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subscribable": False, "kind": Product.Kind.PHYSICAL},
        {"subscribable": False, "kind": Product.Kind.DIGITAL},
    ],
)
def test_a_product_not_for_subscribe_and_save_has_no_form(shopper, kwargs):
    product = ProductFactory(prices={"US": 1000}, **kwargs)

    response = _client(shopper).get(_url(product))

    assert hooks(response, "subscribe-box") == []


def test_the_product_page_query_count_does_not_grow(shopper, beans, django_assert_num_queries):
    client = _client(shopper)
    subscription_give(shopper, subscribable_product())
    with django_assert_num_queries(PRODUCT_QUERIES):
        client.get(_url(beans))
    for _ in range(4):
        subscription_give(shopper, subscribable_product())
    with django_assert_num_queries(PRODUCT_QUERIES):
        response = client.get(_url(beans))
    assert hook(response, "subscribe-price").attrs["data-percent"] == "10"


# --- Subscribing ----------------------------------------------------------------------------


def test_subscribing_starts_it_and_says_so(shopper, beans):
    response = _client(shopper).post(
        LIST, {"product": beans.slug, "quantity": "2", "every": "3"}, follow=True
    )

    assert response.redirect_chain == [(LIST, 302)]
    sub = Subscription.objects.get(user=shopper)
    assert (sub.product, sub.quantity, sub.every, sub.status) == (beans, 2, 3, "active")
    message = hook(response, "message").text
    assert message.startswith(
        "Subscribed: 2 \N{MULTIPLICATION SIGN} Coffee beans every 3 months, "
        "$36.08 a delivery (5% off). Your first "
        f"delivery is on {sub.next_date.day} {sub.next_date:%B} {sub.next_date.year}"
    )
    assert hook(response, "subscription-row").attrs["data-id"] == str(sub.pk)


def test_a_card_number_is_saved_for_the_subscription(shopper, beans):
    response = _client(shopper).post(
        LIST, {"product": beans.slug, "quantity": "1", "every": "1", "card_number": APPROVED}
    )

    assert response.status_code == 302
    card = SavedCard.objects.get(user=shopper)
    assert card.card_last4 == APPROVED[-4:]
    assert Subscription.objects.get(user=shopper).card == card


def test_a_card_the_provider_refuses_is_refused_and_writes_nothing(shopper, beans):
    before = _state()

    response = _client(shopper).post(
        LIST, {"product": beans.slug, "quantity": "1", "every": "1", "card_number": NOT_A_CARD}
    )

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "declined"
    assert hook(response, "subscribe-form")  # the product page's form again
    assert NOT_A_CARD not in response.content.decode()
    assert _state() == before


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "21"}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"quantity": "9" * 5000}, "quantity"),
        ({"every": "4"}, "every"),
        ({"every": "1.5"}, "every"),
    ],
)
def test_a_bad_choice_shows_the_product_page_again(shopper, beans, data, reason):
    before = _state()

    response = _client(shopper).post(
        LIST, {"product": beans.slug, "quantity": "1", "every": "1"} | data
    )

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == reason
    assert hook(response, "subscribe-form")
    assert _state() == before


@pytest.mark.parametrize("data", [{"quantity": "", "every": ""}, {}])
def test_quantity_and_frequency_are_one_when_not_given(shopper, beans, data):
    response = _client(shopper).post(LIST, {"product": beans.slug} | data)

    assert response.status_code == 302
    sub = Subscription.objects.get(user=shopper)
    assert (sub.quantity, sub.every) == (1, 1)


@pytest.mark.parametrize("slug", ["no-such-product", "", "bad slug!", "x" * 300])
def test_an_unknown_product_is_refused(shopper, slug):
    before = _state()

    response = _client(shopper).post(LIST, {"product": slug, "quantity": "1", "every": "1"})

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "not_subscribable"
    assert _state() == before


def test_a_product_not_for_subscribe_and_save_is_refused(shopper):
    product = ProductFactory(prices={"US": 1000}, subscribable=False)
    before = _state()

    response = _client(shopper).post(LIST, {"product": product.slug, "quantity": "1", "every": "1"})

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "not_subscribable"
    assert _state() == before


def test_without_a_default_address_it_is_refused(beans):
    user = UserFactory(region_id="US")
    before = _state()

    response = _client(user).post(LIST, {"product": beans.slug, "quantity": "1", "every": "1"})

    assert hook(response, "form-error").attrs["data-reason"] == "address_required"
    assert _state() == before


def test_a_double_click_makes_one_subscription(shopper, beans):
    client = _client(shopper)
    data = {"product": beans.slug, "quantity": "1", "every": "1"}
    assert client.post(LIST, data).status_code == 302
    before = _state()

    response = client.post(LIST, data)

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "already_subscribed"
    assert hook(response, "subscription-row")  # the list, where it can be changed
    assert _state() == before
    assert hook(client.get(_url(beans)), "subscribe-already")


def test_subscribing_needs_the_csrf_token(shopper, beans):
    before = _state()

    response = _client(shopper, enforce_csrf_checks=True).post(
        LIST, {"product": beans.slug, "quantity": "1", "every": "1"}
    )

    assert response.status_code == 403
    assert _state() == before


def test_a_visitor_posting_is_sent_to_sign_in(client, beans):
    response = client.post(LIST, {"product": beans.slug, "quantity": "1", "every": "1"})

    assert response["Location"] == f"/accounts/login/?next={LIST}"
    assert not Subscription.objects.exists()


# --- The order page and the navigation -------------------------------------------------------


def test_a_deliverys_order_line_says_what_subscribe_and_save_took_off(
    shopper, beans, django_capture_on_commit_callbacks
):
    fund(shopper, 10_000)
    subscription_give(shopper, beans, quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        subscriptions_run()
    order = Order.objects.get(user=shopper)

    response = _client(shopper).get(f"/orders/{order.number}/")

    note = hook(response, "subscribe-save-line")
    assert note.attrs["data-list-minor"] == "1899"
    assert note.text == "Subscribe & Save: 5% off (was $18.99 each)"


def test_an_ordinary_order_line_has_no_subscribe_and_save_note(shopper, beans):
    from tests.checkout.shopping import order_make

    fund(shopper, 10_000)
    order = order_make(shopper, (beans, 1))

    response = _client(shopper).get(f"/orders/{order.number}/")

    assert hooks(response, "subscribe-save-line") == []


def test_the_account_menu_links_the_subscriptions(shopper, client, beans):
    assert hook(_client(shopper).get("/"), "nav-subscriptions").attrs["href"] == LIST
    assert hooks(client.get("/"), "nav-subscriptions") == []
