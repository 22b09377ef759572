"""The staff refund page: /admin/checkout/order/<id>/refund/ (issue #4 §7)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from checkout.models import Order, Refund
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, balance, fund, new_key, order_make, shop_state
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunder(db):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["refund_order", "view_order"])
    )
    return staff


@pytest.fixture
def order(user, django_capture_on_commit_callbacks):
    """$59.98: $20.00 from the balance, $39.98 by card."""
    fund(user, 2000)
    with django_capture_on_commit_callbacks(execute=True):
        return order_make(user, (ProductFactory(prices={"US": 2999}), 2), card=APPROVED)


def _client_for(user, **kwargs) -> Client:
    return login_staff(Client(**kwargs), user)


def _url(order):
    return f"/admin/checkout/order/{order.pk}/refund/"


def _form(**fields):
    """The refund form as the confirmation step posts it (with `confirm`)."""
    data = {"from_balance": "", "from_card": "", "reason": "Arrived broken", "confirm": "Confirm"}
    data["idempotency_key"] = new_key()
    data.update(fields)
    return data


def test_the_refund_form_shows_what_is_left_per_source(order, refunder):
    response = _client_for(refunder).get(_url(order))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Refund order {order.number}" in html
    assert "<strong>$20.00</strong> of the part paid from the balance" in html
    assert "<strong>$39.98</strong> of the part paid by card" in html
    for field in ("from_balance", "from_card", "card_to_balance", "reason", "idempotency_key"):
        assert f'name="{field}"' in html
    assert re.search(r'name="idempotency_key" value="[0-9a-f]{32}"', html)


def test_posting_the_form_refunds_and_returns_to_the_order(
    user, order, refunder, gateway, django_capture_on_commit_callbacks
):
    client = _client_for(refunder)
    data = _form(from_balance="20.00", from_card="10.00")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(order), data, follow=True)

    assert response.redirect_chain == [(f"/admin/checkout/order/{order.pk}/change/", 302)]
    assert (
        f"Refund of order {order.number} posted: $20.00 of the balance part (to the balance)"
        " and $10.00 of the card part (to the card). Left to refund: $0.00 of the balance"
        " part, $29.98 of the card part."
    ) in response.content.decode()
    refund = Refund.objects.get()
    assert (refund.from_balance, refund.from_card, refund.card_destination) == (2000, 1000, "card")
    assert refund.idempotency_key == f"admin-refund:{data['idempotency_key']}"
    assert refund.created_by == refunder
    assert balance(user) == 2000
    assert list(gateway.refunds.values()) == [1000]


def test_the_card_part_to_the_balance_from_the_form(user, order, refunder, gateway):
    _client_for(refunder).post(_url(order), _form(from_card="39.98", card_to_balance="on"))

    assert balance(user) == 3998
    assert gateway.refunds == {}
    assert Refund.objects.get().card_destination == Refund.Destination.BALANCE


def test_the_same_form_posted_twice_refunds_once(user, order, refunder):
    client = _client_for(refunder)
    data = _form(from_balance="5.00")

    client.post(_url(order), data)
    client.post(_url(order), data)

    assert Refund.objects.count() == 1
    assert balance(user) == 500


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"from_balance": "20.01"}, "more than is left to refund to the balance"),
        ({"from_card": "39.99"}, "more than is left to refund to the card"),
        ({"from_balance": "1.001"}, "2 decimal places at most"),
        ({"from_card": "abc"}, "is not an amount"),
        ({"from_balance": "-1"}, "is not an amount"),
        ({}, "Refund a positive amount"),
    ],
)
def test_a_refused_refund_says_why_and_writes_nothing(order, refunder, fields, says):
    before = shop_state()

    response = _client_for(refunder).post(_url(order), _form(**fields))

    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "refused"
    assert "Refused:" in error.text
    assert says in error.text
    assert shop_state() == before


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"reason": ""}, "correct the errors"),
        ({"idempotency_key": ""}, "out of date"),
        ({"idempotency_key": "f" * 64}, "out of date"),  # longer than the column allows
    ],
)
def test_an_incomplete_form_writes_nothing(order, refunder, fields, says):
    before = shop_state()

    response = _client_for(refunder).post(_url(order), _form(from_balance="1.00", **fields))

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "invalid"
    assert says in hook(response, "form-error").text
    assert shop_state() == before


def test_a_refund_in_yen_takes_whole_yen(refunder, django_capture_on_commit_callbacks):
    shopper = UserFactory(region_id="JP")
    fund(shopper, 1000)
    with django_capture_on_commit_callbacks(execute=True):  # the card part is captured
        order = order_make(shopper, (ProductFactory(prices={"JP": 4500}), 1), card=APPROVED)
    client = _client_for(refunder)

    refused = client.post(_url(order), _form(from_balance="10.5"))
    client.post(_url(order), _form(from_balance="1000"))

    assert "JPY has no minor unit" in hook(refused, "form-error").text
    assert Refund.objects.get().from_balance == 1000
    assert balance(shopper) == 1000


def test_staff_without_the_permission_are_forbidden(order):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    client = _client_for(staff)

    assert client.get(_url(order)).status_code == 403
    assert client.post(_url(order), _form(from_balance="1.00")).status_code == 403
    assert not Refund.objects.exists()


def test_shoppers_are_sent_to_the_admin_login(order, user):
    response = _client_for(user).post(_url(order), _form(from_balance="1.00"))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not Refund.objects.exists()


def test_an_unknown_order_answers_404(refunder):
    assert _client_for(refunder).get("/admin/checkout/order/999999/refund/").status_code == 404


def test_the_refund_post_needs_the_csrf_token(order, refunder):
    client = _client_for(refunder, enforce_csrf_checks=True)
    before = shop_state()

    response = client.post(_url(order), _form(from_balance="1.00"))

    assert response.status_code == 403
    assert shop_state() == before


def test_the_csrf_token_of_the_page_works(user, order, refunder):
    client = _client_for(refunder, enforce_csrf_checks=True)
    html = client.get(_url(order)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)

    response = client.post(
        _url(order),
        {
            "csrfmiddlewaretoken": token,
            "idempotency_key": key,
            "from_balance": "2.00",
            "reason": "late",
            "confirm": "Confirm",
        },
    )

    assert response.status_code == 302
    assert balance(user) == 200


def test_the_order_page_offers_refund_until_fully_refunded(order):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = _client_for(admin)
    change = f"/admin/checkout/order/{order.pk}/change/"

    assert _url(order) in client.get(change).content.decode()
    client.post(_url(order), _form(from_balance="20.00", from_card="39.98"))

    assert Order.objects.get().status == Order.Status.REFUNDED
    page = client.get(change)
    assert page.status_code == 200
    assert _url(order) not in page.content.decode()
    assert "Arrived broken" in page.content.decode()


def test_the_order_admin_lists_orders(order):
    admin = UserFactory(is_staff=True, is_superuser=True)

    response = _client_for(admin).get("/admin/checkout/order/")

    assert response.status_code == 200
    assert order.number in response.content.decode()
    assert "$59.98" in response.content.decode()
    assert not hooks(response, "form-error")


# --- confirm before posting, repeat after (issue 8) -----------------------------------------


def _check(**fields):
    """The first step: the form without `confirm`."""
    data = _form(**fields)
    del data["confirm"]
    return data


def test_the_first_post_writes_nothing_and_states_the_amounts(order, refunder):
    before = shop_state()
    data = _check(from_balance="5.00", from_card="7.00")

    response = _client_for(refunder).post(_url(order), data)

    assert response.status_code == 200
    assert shop_state() == before
    assert not Refund.objects.exists()
    assert hook(response, "refund-confirm-text").text == (
        "Refund $5.00 of the balance part (to the balance) and $7.00 of the card part (to the"
        f" card) of order {order.number}? Reason: Arrived broken"
    )
    html = response.content.decode()
    for name, value in (
        ("from_balance", "5.00"),
        ("from_card", "7.00"),
        ("reason", "Arrived broken"),
        ("idempotency_key", data["idempotency_key"]),
    ):
        assert f'<input type="hidden" name="{name}" value="{value}"' in html
    assert hook(response, "refund-confirm-button").attrs["name"] == "confirm"
    assert hook(response, "refund-back").attrs["name"] == "back"


def test_the_confirmation_names_the_card_part_going_to_the_balance(order, refunder):
    response = _client_for(refunder).post(
        _url(order), _check(from_card="39.98", card_to_balance="on")
    )

    assert hook(response, "refund-confirm-text").text.startswith(
        "Refund $39.98 of the card part (to the balance) of order"
    )
    assert not Refund.objects.exists()


def test_confirming_posts_the_refund_once(user, order, refunder):
    client = _client_for(refunder)
    data = _check(from_balance="5.00")
    client.post(_url(order), data)

    response = client.post(_url(order), {**data, "confirm": "Confirm"}, follow=True)

    assert response.redirect_chain == [(f"/admin/checkout/order/{order.pk}/change/", 302)]
    assert "Left to refund: $15.00 of the balance part, $39.98 of the card part." in (
        response.content.decode()
    )
    assert Refund.objects.get().from_balance == 500
    assert balance(user) == 500


def test_a_replayed_confirm_lands_on_the_same_refund(user, order, refunder):
    """Even when the first took all that was left of the balance part."""
    client = _client_for(refunder)
    data = _form(from_balance="20.00")

    first = client.post(_url(order), data)
    again = client.post(_url(order), data, follow=True)

    assert first.status_code == 302
    assert again.redirect_chain == [(f"/admin/checkout/order/{order.pk}/change/", 302)]
    assert "$20.00 of the balance part (to the balance)" in again.content.decode()
    assert Refund.objects.count() == 1
    assert balance(user) == 2000


def test_back_returns_to_the_filled_form_and_writes_nothing(order, refunder):
    before = shop_state()
    data = {**_check(from_balance="5.00", card_to_balance="on"), "back": "Back"}

    response = _client_for(refunder).post(_url(order), data)

    assert response.status_code == 200
    assert shop_state() == before
    assert not hooks(response, "refund-confirm")
    assert not hooks(response, "form-error")
    html = response.content.decode()
    assert 'name="from_balance" value="5.00"' in html
    assert re.search(r'name="card_to_balance"[^>]*checked', html)
    assert f'name="idempotency_key" value="{data["idempotency_key"]}"' in html


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"from_balance": "20.01"}, "refused"),
        ({"from_card": "abc"}, "refused"),
        ({}, "refused"),
        ({"from_balance": "1.00", "reason": ""}, "invalid"),
        ({"from_balance": "1.00", "idempotency_key": "zz"}, "invalid"),
    ],
)
def test_invalid_input_at_the_first_step_shows_the_form_again(order, refunder, fields, reason):
    before = shop_state()

    response = _client_for(refunder).post(_url(order), _check(**fields))

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == reason
    assert not hooks(response, "refund-confirm")
    assert shop_state() == before
