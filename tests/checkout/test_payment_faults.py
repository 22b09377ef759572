"""Payments tell the truth, and faults fail safe (docs/interface.md §9).

A payment is `authorized` until its capture succeeds. A failed capture marks it `failed` and
the order `payment_failed`, returns the balance part with a ledger transfer, puts the items back
in the cart and releases (and records) the hold. Every provider call is also made to fail
(`FaultyGateway`): authorise raising or timing out, capture, void and refund failing — never a
500, never money lost, the ledger reconciles (conftest.py checks it after every test).

The page tests marked `transaction=True` let `on_commit` run as in production: the capture
runs inside the place-order request, after the order committed. `serialized_rollback=True`, as
in the race tests: without it the flush after such a test recreates content types and
permissions under new keys, and a later serialized-rollback test cannot restore its rows.
"""

import logging

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client

from checkout.exceptions import CheckoutChanged, PaymentDeclined
from checkout.models import CartLine, Order, Payment, Refund, VoidedAuthorization
from checkout.payments import TestGateway
from checkout.services import card_payments, order_place
from checkout.services import orders as services
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import ProductFactory
from tests.checkout.fault_provider import install
from tests.checkout.shopping import APPROVED, balance, cart_fill, fund, new_key, shop_state
from tests.wallet.pages import hook
from wallet.models import Account, AuditEntry, Posting, Transfer
from wallet.reconcile import ledger_reconcile

pytestmark = pytest.mark.django_db

CAPTURE_FAILS = "4000 0000 0000 0341"
PLACE = "/checkout/place-order/"
CARD_DIGITS = ("4000000000000341", "4242424242424242", "4000 0000 0000 0341")


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", prices={"US": 2999})


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _place(user, card, key=None):
    return _client_for(user).post(PLACE, {"idempotency_key": key or new_key(), "card_number": card})


def _no_card_number_in(text: str) -> None:
    for digits in CARD_DIGITS:
        assert digits not in text


# --- a payment is authorised until its capture succeeds --------------------------------------


def test_a_payment_is_authorized_until_the_capture_succeeds(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    cart_fill(user, (lamp, 1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)
    assert Payment.objects.get().status == Payment.Status.AUTHORIZED

    for callback in callbacks:
        callback()

    assert Payment.objects.get().status == Payment.Status.CAPTURED
    assert gateway.captured == {order.payment.reference}
    assert Order.objects.get().status == Order.Status.DELIVERED  # digital: delivered at once


# --- the test card whose capture fails ------------------------------------------------------


def test_the_test_gateway_authorises_0341_and_refuses_its_capture(gateway):
    held = gateway.authorize(
        amount=500, currency="USD", card_number=CAPTURE_FAILS, idempotency_key="k"
    )

    assert held.card_last4 == "0341"
    with pytest.raises(Exception, match="capture"):
        gateway.capture(held)
    assert gateway.captured == set()
    assert TestGateway.CAPTURE_FAILS == "4000000000000341"


def test_a_failed_capture_fails_the_order_and_returns_the_balance_part(
    user, lamp, gateway, mailoutbox, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 2))

    with django_capture_on_commit_callbacks(execute=True):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=CAPTURE_FAILS)

    order = Order.objects.get()
    payment = order.payment
    assert (order.status, payment.status) == (Order.Status.PAYMENT_FAILED, Payment.Status.FAILED)
    assert order.page_status == "payment_failed"
    assert balance(user) == 1000  # the balance part came back
    returned = order.balance_return_transfer
    assert returned.kind == Transfer.Kind.REVERSAL
    assert sorted(
        (p.account.kind, p.amount) for p in returned.postings.select_related("account")
    ) == [(Account.Kind.CUSTOMER, 1000), (Account.Kind.PURCHASES, -1000)]
    assert [p.balance_after for p in Posting.objects.filter(account__user=user).order_by("pk")] == [
        1000,
        0,
        1000,
    ]
    # The items are back in the cart, the hold released and recorded in the database.
    assert list(CartLine.objects.filter(cart__user=user).values_list("product", "quantity")) == [
        (lamp.pk, 2)
    ]
    assert gateway.captured == set()
    assert gateway.voided == {payment.reference}
    record = VoidedAuthorization.objects.get()
    assert (record.reference, record.order_id, record.reason, record.status) == (
        payment.reference,
        order.pk,
        VoidedAuthorization.Reason.CAPTURE_FAILED,
        VoidedAuthorization.Status.VOIDED,
    )
    audit = AuditEntry.objects.get(action=AuditEntry.Action.PAYMENT_FAILED)
    assert audit.target == f"order {order.number}"
    # The shopper is told, never thanked.
    assert len(mailoutbox) == 1
    assert "failed" in mailoutbox[0].subject
    assert "Nothing was charged to your card" in mailoutbox[0].body
    assert "$10.00 taken from your balance is back" in mailoutbox[0].body
    assert ledger_reconcile().clean


def test_a_failed_capture_is_undone_once_however_often_it_is_reported(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    with django_capture_on_commit_callbacks(execute=True):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=CAPTURE_FAILS)
    order = Order.objects.get()
    authorization = gateway._authorizations[f"order:{order.idempotency_key}"]
    before = shop_state()

    with django_capture_on_commit_callbacks(execute=True):
        card_payments.order_payment_fail(order_id=order.pk, authorization=authorization)
        card_payments.payment_capture(order_id=order.pk, authorization=authorization)

    assert shop_state() == before
    assert Transfer.objects.filter(kind=Transfer.Kind.REVERSAL).count() == 1
    assert balance(user) == 1000


def test_a_late_failure_report_leaves_a_captured_payment_alone(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)
    authorization = gateway._authorizations[f"order:{order.idempotency_key}"]
    before = shop_state()

    card_payments.order_payment_fail(order_id=order.pk, authorization=authorization)

    assert shop_state() == before
    assert Order.objects.get().status == Order.Status.DELIVERED


def test_a_replay_of_a_failed_orders_form_lands_on_that_order(
    user, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    key = new_key()
    with django_capture_on_commit_callbacks(execute=True):
        first = order_place(user=user, session={}, idempotency_key=key, card_number=CAPTURE_FAILS)
    before = shop_state()

    with django_capture_on_commit_callbacks(execute=True):
        again = order_place(user=user, session={}, idempotency_key=key, card_number=CAPTURE_FAILS)

    assert again.pk == first.pk
    assert shop_state() == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_shopper_is_told_plainly_when_the_capture_fails(user, lamp, caplog):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)

    response = client.post(PLACE, {"idempotency_key": new_key(), "card_number": CAPTURE_FAILS})

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert hook(page, "order-status").attrs["data-status"] == "payment_failed"
    message = hook(page, "message").text
    assert f"Your card payment for order {order.number} failed" in message
    assert "Thank you" not in page.content.decode()
    said = " ".join(hook(page, "payment-failed").text.split())
    assert "Nothing was charged to your card" in said
    assert "$10.00 taken from your balance is back in your balance" in said
    # Balance and cart as they were before the attempt.
    assert balance(user) == 1000
    assert list(CartLine.objects.filter(cart__user=user).values_list("product", "quantity")) == [
        (lamp.pk, 1)
    ]
    assert VoidedAuthorization.objects.get().status == VoidedAuthorization.Status.VOIDED
    _no_card_number_in(caplog.text)
    assert ledger_reconcile().clean


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_normal_card_order_shows_placed(user, lamp):
    cart_fill(user, (lamp, 1))
    client = _client_for(user)

    response = client.post(PLACE, {"idempotency_key": new_key(), "card_number": APPROVED})

    page = client.get(response["Location"])
    assert hook(page, "order-status").attrs["data-status"] == "delivered"
    assert "Thank you!" in hook(page, "message").text
    assert Payment.objects.get().status == Payment.Status.CAPTURED


# --- authorise raising or timing out --------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [TimeoutError("the provider did not answer"), ConnectionError("refused"), RuntimeError("x")],
    ids=["timeout", "connection", "other"],
)
@pytest.mark.parametrize("after_hold", [False, True], ids=["before-hold", "answer-lost"])
def test_an_authorise_that_fails_writes_nothing(user, lamp, monkeypatch, fault, after_hold):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    gateway = install(monkeypatch, authorize=fault, authorize_after_hold=after_hold)
    before = shop_state()

    with pytest.raises(PaymentDeclined) as refused:
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)

    assert refused.value.reason == "payment_unavailable"
    assert "Nothing was charged" in refused.value.message
    assert shop_state() == before
    assert gateway.captured == set()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_authorise_timeout_on_the_page_is_a_clear_refusal(user, lamp, monkeypatch, caplog):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    install(monkeypatch, authorize=TimeoutError("the provider did not answer"))
    before = shop_state()

    response = _place(user, "4242 4242 4242 4242")

    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "payment_unavailable"
    assert "Nothing was charged" in error.text
    assert shop_state() == before
    _no_card_number_in(caplog.text)


# --- capture failing with any error ---------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("fault", [TimeoutError("slow"), RuntimeError("boom")], ids=repr)
def test_a_capture_that_raises_is_never_a_500(user, lamp, monkeypatch, fault):
    fund(user, 500)
    cart_fill(user, (lamp, 1))
    gateway = install(monkeypatch, capture=fault)

    response = _place(user, APPROVED)

    assert response.status_code == 302
    order = Order.objects.get()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.payment.status == Payment.Status.FAILED
    assert balance(user) == 500
    assert gateway.captured == set()
    assert gateway.voided == {order.payment.reference}
    assert ledger_reconcile().clean


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_even_a_broken_failure_path_is_not_a_500(user, lamp, monkeypatch, caplog):
    """Belt and braces: if undoing the failed payment itself raised, the page still answers
    (the payment stays `authorized` for staff to see, and it is logged)."""
    cart_fill(user, (lamp, 1))
    install(monkeypatch, capture=RuntimeError("boom"))

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(card_payments, "order_payment_fail", broken)

    response = _place(user, APPROVED)

    assert response.status_code == 302
    assert Payment.objects.get().status == Payment.Status.AUTHORIZED
    assert "the failed payment was not undone" in caplog.text


# --- void failing ---------------------------------------------------------------------------


def test_a_void_that_fails_is_recorded_as_needing_attention(
    user, lamp, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    cart_fill(user, (lamp, 1))
    gateway = install(monkeypatch, void=ConnectionError("provider down"))
    key = new_key()
    real_write = services._order_write

    def fail_once(**kwargs):
        monkeypatch.setattr(services, "_order_write", real_write)
        raise CheckoutChanged("the cart changed")

    monkeypatch.setattr(services, "_order_write", fail_once)
    with caplog.at_level(logging.ERROR), pytest.raises(CheckoutChanged):
        order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)

    record = VoidedAuthorization.objects.get()
    assert (record.reason, record.status, record.error) == (
        VoidedAuthorization.Reason.NOT_WRITTEN,
        VoidedAuthorization.Status.VOID_FAILED,
        "ConnectionError",
    )
    assert record.needs_attention
    assert "failed to release it" in caplog.text
    # The hold is still known to be dead: the same form posted again builds no order on it.
    before = shop_state()
    with pytest.raises(CheckoutChanged, match="start again"):
        order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)
    assert shop_state() == before
    assert gateway.captured == set()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_void_failing_after_a_failed_capture_is_not_a_500(user, lamp, monkeypatch):
    fund(user, 1000)
    cart_fill(user, (lamp, 1))
    install(monkeypatch, capture=RuntimeError("no"), void=TimeoutError("no answer"))

    response = _place(user, APPROVED)

    assert response.status_code == 302
    order = Order.objects.get()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert balance(user) == 1000
    record = VoidedAuthorization.objects.get()
    assert (record.order_id, record.status) == (order.pk, VoidedAuthorization.Status.VOID_FAILED)
    assert ledger_reconcile().clean


def test_voided_holds_do_not_need_the_cache(
    user, lamp, gateway, monkeypatch, django_capture_on_commit_callbacks
):
    """With the shared cache down, a failed attempt still releases and records its hold and
    a retry of that form is still refused (the record is in the database)."""

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    for method in ("get", "set", "add", "get_many", "set_many", "incr", "delete"):
        monkeypatch.setattr(cache, method, down)
    cart_fill(user, (lamp, 1))
    key = new_key()
    real_write = services._order_write

    def fail_once(**kwargs):
        monkeypatch.setattr(services, "_order_write", real_write)
        raise CheckoutChanged("the cart changed")

    monkeypatch.setattr(services, "_order_write", fail_once)
    with pytest.raises(CheckoutChanged):
        order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)
    assert VoidedAuthorization.objects.get().status == VoidedAuthorization.Status.VOIDED

    with pytest.raises(CheckoutChanged, match="start again"):
        order_place(user=user, session={}, idempotency_key=key, card_number=APPROVED)
    assert not Order.objects.exists()
    assert gateway.captured == set()


# --- refund failing -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_card_refund_the_provider_fails_is_kept_and_shown(user, lamp, monkeypatch, caplog):
    cart_fill(user, (lamp, 1))
    gateway = install(monkeypatch, refund=ConnectionError("provider down"))
    _place(user, APPROVED)
    order = Order.objects.get()
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["refund_order", "view_order", "view_refund"])
    )
    client = login_staff(Client(), staff)

    response = client.post(
        f"/admin/checkout/order/{order.pk}/refund/",
        {"idempotency_key": new_key(), "from_card": "29.99", "reason": "broken", "confirm": "1"},
    )

    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.from_card, refund.card_status, refund.provider_reference) == (
        2999,
        Refund.CardStatus.FAILED,
        "",
    )
    assert gateway.calls["refund"] == 1
    assert "card refund of refund" in caplog.text
    listing = client.get("/admin/checkout/refund/?card_status=failed")
    assert listing.status_code == 200
    assert str(refund) in listing.content.decode()
    assert ledger_reconcile().clean


# --- edges ----------------------------------------------------------------------------------


def test_a_malformed_order_number_answers_404(user):
    assert _client_for(user).get("/orders/%00/").status_code == 404
