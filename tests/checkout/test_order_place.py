"""Placing an order: POST /checkout/place-order/ and `order_place` (docs/interface.md §5, issue #4
§5).

Money state is built through the real services; the autouse fixture of conftest.py proves
`wallet_reconcile` clean after every test.
"""

import re

import pytest
from django.db import IntegrityError
from django.test import Client

from checkout import emails as checkout_emails
from checkout.exceptions import (
    CardRequired,
    CheckoutChanged,
    EmptyCart,
    PaymentDeclined,
    ProductUnavailable,
)
from checkout.models import CartLine, Order, Payment
from checkout.selectors import SESSION_USE_BALANCE
from checkout.services import order_place
from checkout.services import orders as services
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import (
    APPROVED,
    DECLINED,
    balance,
    cart_fill,
    fund,
    new_key,
    order_make,
    shop_state,
)
from tests.wallet.factories import issue_card
from tests.wallet.pages import hook
from wallet.models import Posting, Transfer
from wallet.services import wallet_debit

pytestmark = pytest.mark.django_db

PLACE = "/checkout/place-order/"


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _place(client, key=None, card=""):
    data = {"idempotency_key": key or new_key()}
    if card:
        data["card_number"] = card
    return client.post(PLACE, data)


def _debits(user):
    return Posting.objects.filter(account__user=user, amount__lt=0).count()


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", prices={"US": 2999, "JP": 4500})


@pytest.fixture
def pan(db):
    return ProductFactory(name="Cast-iron Pan", prices={"US": 3499, "JP": 5250})


# --- paid in full by the balance, in part, by card -------------------------------------------


def test_an_order_paid_fully_by_the_balance_needs_no_card(
    user, lamp, pan, gateway, django_capture_on_commit_callbacks
):
    fund(user, 10_000)
    cart_fill(user, (lamp, 2), (pan, 1))
    client = _client_for(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = _place(client)

    order = Order.objects.get(user=user)
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/"
    assert re.fullmatch(r"CP-[0-9A-HJKMNP-TV-Z]{8}", order.number)
    assert (order.subtotal, order.discount, order.balance_applied, order.card_charged) == (
        9497,
        0,
        9497,
        0,
    )
    assert (order.currency, order.region_id, order.status) == (
        "USD",
        "US",
        "delivered",
    )  # digital: delivered at once
    assert balance(user) == 10_000 - 9497
    assert order.balance_transfer.kind == Transfer.Kind.ORDER_PAYMENT
    assert not Payment.objects.exists()
    assert gateway.captured == set()
    assert list(
        order.lines.values_list("product_name", "quantity", "unit_price", "line_total")
    ) == [
        ("Desk Lamp", 2, 2999, 5998),
        ("Cast-iron Pan", 1, 3499, 3499),
    ]
    assert not CartLine.objects.filter(cart__user=user).exists()


def test_an_order_paid_partly_by_balance_and_partly_by_card(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 2))
    client = _client_for(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = _place(client, card="4242 4242 4242 4242")

    order = Order.objects.get(user=user)
    assert response["Location"] == f"/orders/{order.number}/"
    assert (order.subtotal, order.balance_applied, order.card_charged) == (5998, 1000, 4998)
    assert balance(user) == 0
    payment = order.payment
    assert (payment.amount, payment.currency, payment.card_last4) == (4998, "USD", "4242")
    assert (payment.provider, payment.status) == ("test", "captured")
    assert gateway.captured == {payment.reference}
    assert gateway.voided == set()

    page = client.get(response["Location"])
    assert hook(page, "order-balance-applied").attrs["data-amount-minor"] == "1000"
    assert hook(page, "order-amount-due").attrs["data-amount-minor"] == "4998"


def test_an_order_paid_fully_by_card_with_the_balance_off(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 5000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    client.post("/checkout/balance/", {"use_balance": "off"})

    with django_capture_on_commit_callbacks(execute=True):
        _place(client, card=APPROVED)

    order = Order.objects.get(user=user)
    assert (order.balance_applied, order.card_charged) == (0, 2999)
    assert order.balance_transfer is None
    assert balance(user) == 5000
    assert _debits(user) == 0
    assert gateway.captured == {order.payment.reference}


def test_an_order_in_yen(lamp, gateway, django_capture_on_commit_callbacks):
    shopper = UserFactory(region_id="JP")
    fund(shopper, 1000)
    cart_fill(shopper, (lamp, 1))

    with django_capture_on_commit_callbacks(execute=True):
        response = _place(_client_for(shopper), card=APPROVED)

    order = Order.objects.get(user=shopper)
    assert (order.currency, order.subtotal, order.balance_applied, order.card_charged) == (
        "JPY",
        4500,
        1000,
        3500,
    )
    page = _client_for(shopper).get(response["Location"])
    assert hook(page, "order-amount-due").text == "￥3,500"
    assert order.payment.currency == "JPY"


# --- refusals: nothing written ------------------------------------------------------------------


def test_a_declined_card_leaves_everything_exactly_as_it_was(user, lamp, gateway):
    fund(user, 1000)
    unredeemed = issue_card(amount=700)
    cart_fill(user, (lamp, 2))
    client = _client_for(user)
    before = shop_state()

    response = _place(client, card="4000 0000 0000 0002")

    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "declined"
    assert "declined" in error.text
    assert shop_state() == before
    assert balance(user) == 1000
    assert int(hook(response, "wallet-balance").attrs["data-amount-minor"]) == 1000
    assert hook(response, "order-amount-due").attrs["data-amount-minor"] == str(5998 - 1000)
    unredeemed.card.refresh_from_db()
    assert unredeemed.card.status == "active"
    assert (gateway.captured, gateway.voided) == (set(), set())
    assert _client_for(user).get("/orders/").content.count(b'data-testid="order-row"') == 0


def test_an_invalid_card_number_is_declined_too(user, lamp):
    cart_fill(user, (lamp, 1))
    before = shop_state()

    response = _place(_client_for(user), card="1234 5678")

    assert hook(response, "form-error").attrs["data-reason"] == "declined"
    assert "not valid" in hook(response, "form-error").text
    assert shop_state() == before


def test_a_missing_card_when_something_is_due_is_refused(user, lamp):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    before = shop_state()

    response = _place(_client_for(user), card="   ")

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "card_required"
    assert "Enter a card number" in hook(response, "form-error").text
    assert shop_state() == before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"idempotency_key": ""},
        {"idempotency_key": "not-a-key"},
        {"idempotency_key": "A" * 32},  # upper case: not what the page renders
        {"idempotency_key": "0" * 31},
        {"idempotency_key": "0" * 33},
        {"idempotency_key": "0" * 32, "card_number": "4" * 31},
    ],
)
def test_an_invalid_or_missing_idempotency_key_answers_400_and_writes_nothing(
    user, lamp, gateway, data
):
    fund(user, 10_000)
    cart_fill(user, (lamp, 1))
    before = shop_state()

    response = _client_for(user).post(PLACE, data)

    assert response.status_code == 400
    assert hook(response, "form-error").attrs["data-reason"] == "invalid"
    assert shop_state() == before
    assert gateway.captured == set()


def test_an_empty_cart_is_refused(user, gateway):
    fund(user, 1000)
    before = shop_state()

    response = _place(_client_for(user), card=APPROVED)

    assert hook(response, "form-error").attrs["data-reason"] == "empty_cart"
    assert "Your cart is empty." in hook(response, "form-error").text
    assert shop_state() == before
    assert gateway.captured == set()
    with pytest.raises(EmptyCart):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)


def test_a_line_no_longer_sold_is_refused(user, lamp, pan):
    fund(user, 10_000)
    cart_fill(user, (lamp, 1), (pan, 1))
    pan.is_active = False
    pan.save()
    before = shop_state()

    response = _place(_client_for(user))

    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "product_unavailable"
    assert "Cast-iron Pan" in error.text
    assert shop_state() == before
    with pytest.raises(ProductUnavailable):
        order_place(user=user, session={}, idempotency_key=new_key())


def test_the_services_refusals_carry_their_reasons(user, lamp):
    cart_fill(user, (lamp, 1))

    with pytest.raises(CardRequired):
        order_place(user=user, session={}, idempotency_key=new_key())
    with pytest.raises(PaymentDeclined):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=DECLINED)

    assert not Order.objects.exists()


# --- idempotency: one order per key ----------------------------------------------------------


def test_the_same_key_twice_makes_one_order_and_lands_on_it(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    key = new_key()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = _place(client, key=key, card=APPROVED)
        second = _place(client, key=key, card=APPROVED)

    order = Order.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/orders/{order.number}/"
    assert _debits(user) == 1
    assert Payment.objects.count() == 1
    assert gateway.captured == {order.payment.reference}
    # One capture, one e-mail and one auto-reload check, for the first request only.
    assert len(callbacks) == 3


def test_a_replay_makes_no_card_call(user, lamp, pan, gateway, monkeypatch):
    cart_fill(user, (lamp, 1))
    key = new_key()
    first = order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)
    cart_fill(user, (pan, 1))  # something to pay again, were the replay not caught at once
    calls = []
    real_authorize = gateway.authorize
    monkeypatch.setattr(gateway, "authorize", lambda **kw: calls.append(kw) or real_authorize(**kw))

    again = order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)

    assert again == first
    assert calls == []


def test_the_same_key_after_the_cart_changed_lands_on_the_first_order_and_charges_nothing(
    user, lamp, pan, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    key = new_key()
    with django_capture_on_commit_callbacks(execute=True):
        first = _place(client, key=key, card=APPROVED)
    cart_fill(user, (pan, 2))  # another tab fills the cart again
    before = shop_state()

    with django_capture_on_commit_callbacks(execute=True):
        again = _place(client, key=key, card=APPROVED)

    assert again["Location"] == first["Location"]
    assert shop_state() == before
    assert len(gateway.captured) == 1
    assert dict(
        CartLine.objects.filter(cart__user=user).values_list("product__slug", "quantity")
    ) == {pan.slug: 2}


def test_a_second_tabs_summary_after_the_order_is_refused_not_charged_twice(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    tab_one, tab_two = new_key(), new_key()  # two summaries open at once
    with django_capture_on_commit_callbacks(execute=True):
        _place(client, key=tab_one, card=APPROVED)
    before = shop_state()

    response = _place(client, key=tab_two, card=APPROVED)

    assert hook(response, "form-error").attrs["data-reason"] == "empty_cart"
    assert shop_state() == before
    assert len(gateway.captured) == 1


def test_the_cart_changed_since_the_summary_is_refused_before_charging(user, lamp, pan, gateway):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    summary = client.get("/checkout/")
    cart_fill(user, (pan, 3))  # another tab adds to the cart after this summary was shown
    form = {
        field: re.search(rf'name="{field}" value="([^"]*)"', summary.content.decode()).group(1)
        for field in ("idempotency_key", "expected_total", "expected_amount_due")
    }
    before = shop_state()

    response = client.post(PLACE, {**form, "card_number": APPROVED})

    assert hook(response, "form-error").attrs["data-reason"] == "changed"
    assert shop_state() == before
    assert gateway.captured == set()
    # The page now shows what would really be charged, under a fresh key.
    assert hook(response, "order-amount-due").attrs["data-amount-minor"] == str(
        2999 + 3 * 3499 - 1000
    )


def test_the_same_key_from_another_shopper_is_refused(user, other_user, lamp):
    fund(user, 5000)
    key = new_key()
    order_make(user, (lamp, 1), key=key)
    cart_fill(other_user, (lamp, 1))
    before = shop_state()

    response = _place(_client_for(other_user), key=key, card=APPROVED)

    assert hook(response, "form-error").attrs["data-reason"] == "changed"
    assert Order.objects.get().number not in response.content.decode()
    assert shop_state() == before


def test_a_key_refused_once_can_be_used_again(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    cart_fill(user, (lamp, 1))
    key = new_key()
    with pytest.raises(PaymentDeclined):
        order_place(user=user, session={}, idempotency_key=key, card_number=DECLINED)

    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)

    assert order.card_charged == 2999
    assert gateway.captured == {order.payment.reference}


# --- after commit: capture, void, e-mail -----------------------------------------------------


def test_the_card_is_captured_only_after_commit(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    cart_fill(user, (lamp, 1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)
        assert gateway.captured == set()  # still inside the transaction: held, not taken

    assert gateway.captured == set()
    for callback in callbacks:
        callback()
    assert gateway.captured == {order.payment.reference}


def test_the_card_is_voided_when_writing_the_order_fails(
    user, lamp, gateway, monkeypatch, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    taken = order_make(user, (lamp, 1), card=APPROVED)  # its number will collide
    monkeypatch.setattr(services, "_order_number", lambda: taken.number)
    cart_fill(user, (lamp, 1))
    before = shop_state()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(IntegrityError):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)

    assert shop_state() == before
    assert len(gateway.voided) == 1
    assert gateway.captured == set()


def test_a_balance_spent_in_another_tab_meanwhile_voids_the_card_and_writes_nothing(
    user, lamp, gateway, monkeypatch, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    real_quote = services.checkout_quote_get
    calls = []

    def quote_then_competitor_spends(**kwargs):
        quote = real_quote(**kwargs)
        if not calls:  # right after the first pricing: another tab spends the balance
            wallet_debit(user=user, amount=600, idempotency_key="other-tab", description="x")
        calls.append(quote)
        return quote

    monkeypatch.setattr(services, "checkout_quote_get", quote_then_competitor_spends)
    before = shop_state()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CheckoutChanged):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)

    assert not Order.objects.exists()
    assert shop_state().cart_lines == before.cart_lines
    assert balance(user) == 400  # only the other tab's spending
    assert len(gateway.voided) == 1
    assert gateway.captured == set()


def test_a_retry_of_a_failed_key_never_captures_a_voided_hold(
    user, lamp, gateway, monkeypatch, django_capture_on_commit_callbacks
):
    """The gateway replays a key's first hold; once an attempt voided it, the same form
    posted again must not place an order on that dead hold (capturing it would fail)."""
    cart_fill(user, (lamp, 1))
    key = new_key()
    real_write = services._order_write

    def fail_once(**kwargs):
        monkeypatch.setattr(services, "_order_write", real_write)
        raise CheckoutChanged("the cart changed")

    monkeypatch.setattr(services, "_order_write", fail_once)
    with pytest.raises(CheckoutChanged):
        order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)
    assert len(gateway.voided) == 1
    before = shop_state()

    with django_capture_on_commit_callbacks(execute=True):
        response = _place(_client_for(user), key=key, card=APPROVED)

    assert hook(response, "form-error").attrs["data-reason"] == "changed"
    assert "start again" in hook(response, "form-error").text
    assert shop_state() == before
    assert gateway.captured == set()
    # The page handed out a fresh key: with it the order goes through on a live hold.
    fresh = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', response.content.decode())
    assert fresh.group(1) != key
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(
            user=user, session={}, idempotency_key=fresh.group(1), card_number=APPROVED
        )
    assert order.payment.reference not in gateway.voided
    assert gateway.captured == {order.payment.reference}


def test_the_confirmation_email_is_sent_after_commit(
    user, lamp, mailoutbox, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 2))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)
    assert mailoutbox == []

    for callback in callbacks:
        callback()

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [user.email]
    assert order.number in mail.subject
    assert "2 x Desk Lamp" in mail.body
    assert "Paid from your balance: $10.00" in mail.body
    assert "Charged to your card: $49.98" in mail.body
    assert "Total: $59.98" in mail.body


def test_no_email_when_the_order_is_refused(
    user, lamp, mailoutbox, django_capture_on_commit_callbacks
):
    cart_fill(user, (lamp, 1))

    with django_capture_on_commit_callbacks(execute=True):
        _place(_client_for(user), card=DECLINED)

    assert mailoutbox == []


def test_the_balance_switch_is_kept_in_the_session_for_the_order(user, lamp):
    fund(user, 5000)
    cart_fill(user, (lamp, 1))

    order = order_place(
        user=user,
        session={SESSION_USE_BALANCE: False},
        idempotency_key=new_key(),
        card_number=APPROVED,
    )

    assert (order.balance_applied, order.card_charged) == (0, 2999)


def test_the_email_shows_amounts_as_the_shoppers_store_does(
    mailoutbox, django_capture_on_commit_callbacks
):
    shopper = UserFactory(region_id="FR")
    headphones = ProductFactory(prices={"FR": 123450})
    cart_fill(shopper, (headphones, 1))

    with django_capture_on_commit_callbacks(execute=True):
        order_place(user=shopper, session={}, idempotency_key=new_key(), card_number=APPROVED)

    body = mailoutbox[0].body.replace("\u202f", " ").replace("\xa0", " ")
    assert "Total: 1 234,50 €" in body  # fr_FR, not de_DE's 1.234,50 €


def test_a_mail_server_failure_is_logged_and_the_order_stands(
    user, lamp, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(checkout_emails, "mail_send", refuse)
    cart_fill(user, (lamp, 1))

    with django_capture_on_commit_callbacks(execute=True):
        response = _place(_client_for(user), card=APPROVED)

    order = Order.objects.get()
    assert response["Location"] == f"/orders/{order.number}/"
    assert f"order {order.number}: the confirmation e-mail was not sent" in caplog.text


@pytest.mark.parametrize("field", ["expected_total", "expected_amount_due"])
def test_a_summary_figure_that_no_longer_matches_is_refused(user, lamp, gateway, field):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    figures = {"expected_total": 2999, "expected_amount_due": 1999}
    figures[field] -= 1
    before = shop_state()

    response = _client_for(user).post(
        PLACE, {"idempotency_key": new_key(), "card_number": APPROVED, **figures}
    )

    assert hook(response, "form-error").attrs["data-reason"] == "changed"
    assert "Nothing was charged" in hook(response, "form-error").text
    assert shop_state() == before
    assert (gateway.captured, gateway.voided) == (set(), set())


def test_matching_summary_figures_place_the_order(user, lamp):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))

    response = _client_for(user).post(
        PLACE,
        {
            "idempotency_key": new_key(),
            "card_number": APPROVED,
            "expected_total": "2999",
            "expected_amount_due": "1999",
        },
    )

    assert response.status_code == 302
    assert Order.objects.get().card_charged == 1999


@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_a_malformed_summary_figure_answers_400(user, lamp, value):
    cart_fill(user, (lamp, 1))
    before = shop_state()

    response = _client_for(user).post(
        PLACE, {"idempotency_key": new_key(), "card_number": APPROVED, "expected_total": value}
    )

    assert response.status_code == 400
    assert shop_state() == before


def test_the_checkout_page_form_round_trips(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    """Post exactly what the page renders, as a browser would."""
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    html = client.get("/checkout/").content.decode()
    form = html.split('data-testid="place-order-form"')[1].split("</form>")[0]
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    data["card_number"] = "4242 4242 4242 4242"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PLACE, data)

    assert set(data) >= {"csrfmiddlewaretoken", "idempotency_key", "expected_total"}
    order = Order.objects.get()
    assert response["Location"] == f"/orders/{order.number}/"
    assert gateway.captured == {order.payment.reference}
    landing = client.get(response["Location"])
    assert f"Thank you! Your order {order.number} is placed." in hook(landing, "message").text
    assert hook(landing, "order-card").text.strip() == "Card ending 4242."
