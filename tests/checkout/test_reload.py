"""Reload your balance by card (docs/interface.md §12): the page, the service, the test
gateway's card tokens, and the worker's sweep that finishes a charged reload."""

import pytest
from django.core import mail
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkout import payments
from checkout.models import Reload, VoidedAuthorization
from checkout.payments import TestGateway
from checkout.reload_tasks import card_reloads_pending_complete
from checkout.services import reloads as reload_services
from config.jobs import job_enqueue, jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.checkout.fault_provider import install
from tests.checkout.shopping import APPROVED, DECLINED, balance, new_key, shop_state
from tests.wallet.pages import hook, hooks
from wallet.models import Account, Transfer
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db

URL = "/wallet/reload/"


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _post(client, *, amount="25", card=APPROVED, key=None, **extra):
    data = {"amount": amount, "card_number": card, "idempotency_key": key or new_key(), **extra}
    return client.post(URL, data)


def _reload_transfers():
    return Transfer.objects.filter(kind=Transfer.Kind.RELOAD)


# --- the test gateway's tokens ---------------------------------------------------------------


def test_a_token_holds_no_card_number_and_charges_from_another_process():
    token = TestGateway().tokenize(card_number="4242 4242 4242 4242")
    assert token.card_last4 == "4242"
    assert token.token.startswith("tok_test_4242_")
    assert "4242424242424242" not in token.token
    # A fresh gateway instance stands for the worker's process: nothing shared in memory.
    worker = TestGateway()
    held = worker.authorize(
        amount=2500, currency="USD", card_token=token.token, idempotency_key="k"
    )
    assert (held.amount, held.card_last4) == (2500, "4242")
    declined = TestGateway().tokenize(card_number=DECLINED).token
    with pytest.raises(payments.PaymentDeclined):
        worker.authorize(amount=2500, currency="USD", card_token=declined, idempotency_key="k2")
    forged = token.token[:-4] + "0000"
    with pytest.raises(payments.PaymentDeclined):
        worker.authorize(amount=2500, currency="USD", card_token=forged, idempotency_key="k3")
    with pytest.raises(payments.PaymentDeclined):
        worker.tokenize(card_number="1234 5678")


# --- the page --------------------------------------------------------------------------------


def test_the_page_offers_the_listed_amounts_and_the_limits(user):
    response = _client(user).get(URL)
    assert response.status_code == 200
    assert [h.attrs["value"] for h in hooks(response, "reload-amount")] == [
        "25.00",
        "50.00",
        "100.00",
    ]
    assert hook(response, "wallet-balance").attrs["data-amount-minor"] == "0"
    assert "$5.00" in response.content.decode()
    assert "$500.00" in response.content.decode()


def test_an_approved_card_reloads_the_balance_with_one_transfer_and_an_email(
    user, gateway, django_capture_on_commit_callbacks
):
    client = _client(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, amount="50.00")

    assert response.status_code == 302
    assert response["Location"] == "/wallet/"
    assert balance(user) == 5000
    reload = Reload.objects.get()
    assert (reload.kind, reload.status, reload.amount, reload.card_last4) == (
        "manual",
        "completed",
        5000,
        "4242",
    )
    transfer = _reload_transfers().get()
    assert reload.transfer == transfer
    assert transfer.idempotency_key == reload.idempotency_key
    clearing = Account.objects.get(kind=Account.Kind.CARD_RELOADS, currency="USD")
    assert account_balance_get(account=clearing) == -5000
    assert gateway.captured == {reload.reference}
    page = client.get("/wallet/")
    assert (
        "$50.00 was added to your balance from your card ending 4242." in hook(page, "message").text
    )
    row = hook(page, "activity-row")  # the wallet's activity names it
    assert (row.attrs["data-kind"], row.attrs["data-amount-minor"]) == ("reload", "5000")
    assert "Reload by card …4242" in row.text
    (email,) = mail.outbox
    assert email.to == [user.email]
    assert "$50.00" in email.body
    assert "http://testserver/wallet/" in email.body or "/wallet/" in email.body
    assert "4242424242424242" not in email.body + email.alternatives[0][0]


def test_a_custom_amount_within_the_limits_reloads(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(_client(user), amount="custom", custom_amount="37.50")
    assert response.status_code == 302
    assert balance(user) == 3750


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"amount": "custom", "custom_amount": "4.99"}, "amount"),
        ({"amount": "500.01"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"card": ""}, "card_number"),
        ({"key": "not-a-key"}, "expired"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(user, data, reason):
    before = shop_state()
    response = _post(_client(user), **{"amount": "25", **data})
    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == reason
    assert not Reload.objects.exists()
    assert shop_state() == before


def test_a_declined_card_writes_only_the_declined_reload(user, gateway):
    before = shop_state()
    response = _post(_client(user), card=DECLINED)
    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "declined"
    assert "declined" in error.text
    assert shop_state() == before
    assert list(Reload.objects.values_list("status", flat=True)) == ["declined"]
    assert gateway.captured == set()
    assert not mail.outbox


def test_a_replayed_form_answers_the_first_result_and_charges_once(
    user, gateway, django_capture_on_commit_callbacks
):
    client, key = _client(user), new_key()
    with django_capture_on_commit_callbacks(execute=True):
        first = _post(client, key=key)
        second = _post(client, key=key)
    assert first.status_code == second.status_code == 302
    assert balance(user) == 2500
    assert Reload.objects.count() == 1
    assert _reload_transfers().count() == 1
    assert len(gateway.captured) == 1
    assert len(mail.outbox) == 1


def test_a_replay_of_a_declined_form_is_declined_again_without_a_second_try(user, gateway):
    client, key = _client(user), new_key()
    _post(client, key=key, card=DECLINED)
    replay = _post(client, key=key, card=APPROVED)  # the same form sent again: same outcome
    assert hook(replay, "form-error").attrs["data-reason"] == "declined"
    assert Reload.objects.count() == 1
    assert balance(user) == 0


def test_a_replay_with_another_amount_is_refused(user, django_capture_on_commit_callbacks):
    client, key = _client(user), new_key()
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, key=key, amount="25")
    before = shop_state()
    response = _post(client, key=key, amount="50")
    assert hook(response, "form-error").attrs["data-reason"] == "conflict"
    assert shop_state() == before
    assert Reload.objects.count() == 1


def test_the_same_key_from_another_shopper_is_a_reload_of_their_own(
    user, other_user, django_capture_on_commit_callbacks
):
    key = new_key()
    with django_capture_on_commit_callbacks(execute=True):
        _post(_client(user), key=key)
        _post(_client(other_user), key=key, amount="50")
    assert (balance(user), balance(other_user)) == (2500, 5000)


def test_the_provider_down_says_so_and_credits_nothing(user, monkeypatch):
    install(monkeypatch, authorize=TimeoutError("the gateway did not answer"))
    before = shop_state()
    response = _post(_client(user))
    assert response.status_code == 503
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "provider_unavailable"
    assert "Nothing was charged" in error.text
    assert shop_state() == before
    reload = Reload.objects.get()
    assert reload.status == "failed"
    assert reload.error.startswith("TimeoutError")


def test_a_capture_that_fails_releases_the_hold_and_credits_nothing(user, gateway):
    before = shop_state()
    response = _post(_client(user), card=TestGateway.CAPTURE_FAILS)
    assert hook(response, "form-error").attrs["data-reason"] == "provider_unavailable"
    assert shop_state() == before
    reload = Reload.objects.get()
    assert reload.status == "failed"
    assert VoidedAuthorization.objects.get().reference == reload.reference
    assert gateway.voided == {reload.reference}


def test_a_charged_reload_whose_credit_failed_is_finished_by_the_worker_once(
    user, monkeypatch, django_capture_on_commit_callbacks
):
    real_credit = reload_services.wallet_credit

    def database_down(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(reload_services, "wallet_credit", database_down)
    client = _client(user)
    response = _post(client)
    assert response.status_code == 302
    assert "still being processed" in hook(client.get("/wallet/"), "message").text
    assert Reload.objects.get().status == "captured"
    assert balance(user) == 0

    monkeypatch.setattr(reload_services, "wallet_credit", real_credit)
    with django_capture_on_commit_callbacks(execute=True):
        job_enqueue(card_reloads_pending_complete)
        job_enqueue(card_reloads_pending_complete)  # found twice: credited once
        jobs_run_pending()
    assert Reload.objects.get().status == "completed"
    assert balance(user) == 2500
    assert _reload_transfers().count() == 1
    assert len(mail.outbox) == 1


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, "/wallet/auto-reload/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    for response in (client.get(url), client.post(url, {"amount": "25"})):
        assert response.status_code == 302
        assert response["Location"].startswith(f"/accounts/login/?next={url}")


def test_a_post_without_the_csrf_token_is_refused(user):
    response = _post(_client(user, enforce_csrf_checks=True))
    assert response.status_code == 403
    assert not Reload.objects.exists()


def test_the_page_shows_only_the_shoppers_own_reloads(
    user, other_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(_client(other_user), amount="100")
    response = _client(user).get(URL)
    assert hooks(response, "reload-row") == []


def test_the_page_queries_stay_flat_with_more_reloads(
    user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client = _client(user)

    def reload_times(n):
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(n):
                _post(client)

    reload_times(1)
    client.get(URL)  # the session's message read
    with CaptureQueriesContext(connection) as one:
        client.get(URL)
    one_reload = len(one)
    reload_times(4)
    client.get(URL)
    with django_assert_num_queries(one_reload):
        response = client.get(URL)
    assert len(hooks(response, "reload-row")) == 5


def test_reloading_a_shopper_in_another_region_uses_their_currency(
    django_capture_on_commit_callbacks,
):
    shopper = UserFactory(region_id="JP")
    response = _client(shopper).get(URL)
    assert [h.attrs["value"] for h in hooks(response, "reload-amount")] == ["3000", "5000", "10000"]
    with django_capture_on_commit_callbacks(execute=True):
        _post(_client(shopper), amount="3000")
    assert balance(shopper) == 3000
    assert Reload.objects.get().currency == "JPY"


def test_a_mail_server_down_leaves_the_reload_done(
    user, monkeypatch, django_capture_on_commit_callbacks
):
    def refused(**kwargs):
        raise ConnectionRefusedError("smtp")

    monkeypatch.setattr(reload_services, "mail_send", refused)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(_client(user))
    assert response.status_code == 302
    assert balance(user) == 2500
    assert Reload.objects.get().status == "completed"
