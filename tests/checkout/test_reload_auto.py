"""Auto-reload (docs/interface.md §12): the settings page with its saved card, and the job a
purchase enqueues when it leaves the balance below the threshold (run by the real worker in
the test: `jobs_run_pending`)."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.exceptions import RegionChangeRefused
from accounts.services import user_region_change
from catalog.models import Region
from checkout.models import AutoReload, Reload, SavedCard
from checkout.reload_tasks import auto_reload_run, card_reloads_pending_complete
from checkout.services.auto_reloads import auto_reload_settings_save
from checkout.services.reloads import CLAIM_SECONDS
from config.jobs import job_enqueue, jobs_run_pending
from tests.checkout.factories import ProductFactory
from tests.checkout.fault_provider import install
from tests.checkout.shopping import APPROVED, DECLINED, balance, fund, order_make, shop_state
from tests.wallet.pages import hook, hooks
from wallet.models import Transfer

pytestmark = pytest.mark.django_db

URL = "/wallet/auto-reload/"


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def book(db):
    return ProductFactory(name="A Book", prices={"US": 2999, "JP": 4500})


def _turn_on(user, *, card=APPROVED, threshold=1000, amount=2500):
    return auto_reload_settings_save(
        user=user, enabled=True, threshold=threshold, amount=amount, card_number=card
    )


def _buy(user, product, capture):
    """An order paid from the balance; its on-commit work (the auto-reload check) runs."""
    with capture(execute=True):
        return order_make(user, (product, 1))


def _jobs(name="auto_reload_run"):
    return DBTaskResult.objects.filter(task_path__endswith=name)


def _run_worker(capture):
    with capture(execute=True):
        jobs_run_pending()


# --- the settings page -----------------------------------------------------------------------


def test_auto_reload_is_off_by_default(user):
    response = _client(user).get(URL)
    assert response.status_code == 200
    assert hook(response, "auto-reload-status").attrs["data-enabled"] == "false"
    assert hooks(response, "saved-card") == []


def test_turning_it_on_saves_the_card_as_a_token_and_shows_its_last_four(user):
    client = _client(user)
    response = client.post(
        URL,
        {"enabled": "on", "threshold": "10", "amount": "25", "card_number": "4242 4242 4242 4242"},
    )
    assert response.status_code == 302
    assert response["Location"] == URL
    auto = AutoReload.objects.get(user=user)
    assert (auto.enabled, auto.threshold, auto.amount, auto.currency) == (True, 1000, 2500, "USD")
    card = SavedCard.objects.get(user=user)
    assert card.card_last4 == "4242"
    assert "4242424242424242" not in card.token
    page = client.get(URL)
    assert "Auto-reload is on" in hook(page, "message").text
    assert hook(page, "auto-reload-status").attrs["data-enabled"] == "true"
    assert hook(page, "saved-card").attrs["data-last4"] == "4242"
    assert "4242424242424242" not in page.content.decode()
    assert 'value="4242' not in page.content.decode()  # the number typed is never shown back


def test_changing_the_amounts_keeps_the_saved_card(user):
    _turn_on(user)
    response = _client(user).post(URL, {"enabled": "on", "threshold": "20", "amount": "50"})
    assert response.status_code == 302
    auto = AutoReload.objects.get(user=user)
    assert (auto.threshold, auto.amount, auto.card.card_last4) == (2000, 5000, "4242")
    assert SavedCard.objects.count() == 1


def test_turning_it_off_keeps_the_amounts_and_the_card_whatever_the_boxes_say(user):
    _turn_on(user)
    client = _client(user)
    response = client.post(URL, {"threshold": "x", "amount": "99999", "card_number": "1"})
    assert response.status_code == 302
    assert "Auto-reload is off." in hook(client.get(URL), "message").text
    auto = AutoReload.objects.get(user=user)
    assert (auto.enabled, auto.threshold, auto.amount, auto.card.card_last4) == (
        False,
        1000,
        2500,
        "4242",
    )
    assert SavedCard.objects.count() == 1


def test_turning_it_off_before_ever_turning_it_on_writes_nothing(user):
    response = _client(user).post(URL, {"threshold": "10", "amount": "25", "card_number": APPROVED})
    assert response.status_code == 302
    assert not AutoReload.objects.exists()
    assert not SavedCard.objects.exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"enabled": "on", "threshold": "10", "amount": "25"}, "card_required"),
        ({"enabled": "on", "threshold": "10", "amount": "4", "card_number": APPROVED}, "amount"),
        ({"enabled": "on", "threshold": "", "amount": "25", "card_number": APPROVED}, "threshold"),
        ({"enabled": "on", "threshold": "x", "amount": "25", "card_number": APPROVED}, "threshold"),
        ({"enabled": "on", "threshold": "10", "amount": "", "card_number": APPROVED}, "amount"),
        ({"enabled": "on", "threshold": "10", "amount": "25", "card_number": "1234"}, "declined"),
    ],
)
def test_bad_settings_are_refused_and_write_nothing(user, data, reason):
    response = _client(user).post(URL, data)
    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == reason
    assert not AutoReload.objects.exists()
    assert not SavedCard.objects.exists()


def test_the_provider_down_when_saving_a_card_writes_nothing(user, monkeypatch):
    def down(**kwargs):
        raise ConnectionError("no route to the card service")

    gateway = install(monkeypatch)
    monkeypatch.setattr(gateway, "tokenize", down)
    response = _client(user).post(
        URL, {"enabled": "on", "threshold": "10", "amount": "25", "card_number": APPROVED}
    )
    assert response.status_code == 503
    assert hook(response, "form-error").attrs["data-reason"] == "provider_unavailable"
    assert not AutoReload.objects.exists()
    assert not SavedCard.objects.exists()


def test_another_shopper_neither_sees_nor_changes_your_settings(user, other_user):
    _turn_on(user)
    other = _client(other_user)
    page = other.get(URL)
    assert hook(page, "auto-reload-status").attrs["data-enabled"] == "false"
    assert hooks(page, "saved-card") == []
    other.post(URL, {"enabled": "on", "threshold": "30", "amount": "100", "card_number": APPROVED})
    mine = AutoReload.objects.get(user=user)
    assert (mine.threshold, mine.amount, mine.card.card_last4) == (1000, 2500, "4242")
    theirs = AutoReload.objects.get(user=other_user)
    assert (theirs.threshold, theirs.amount) == (3000, 10000)
    assert theirs.card != mine.card


def test_a_post_without_the_csrf_token_is_refused(user):
    response = _client(user, enforce_csrf_checks=True).post(
        URL, {"enabled": "on", "threshold": "10", "amount": "25", "card_number": APPROVED}
    )
    assert response.status_code == 403
    assert not AutoReload.objects.exists()


def test_the_page_queries_stay_flat_with_more_auto_reloads(
    user, book, django_assert_num_queries, django_capture_on_commit_callbacks
):
    _turn_on(user, threshold=50_000, amount=2500)  # every purchase reloads
    client = _client(user)
    fund(user, 10_000)
    _buy(user, book, django_capture_on_commit_callbacks)
    _run_worker(django_capture_on_commit_callbacks)
    client.get(URL)
    with CaptureQueriesContext(connection) as one:
        client.get(URL)
    one_row = len(one)
    for _ in range(3):
        _buy(user, book, django_capture_on_commit_callbacks)
        _run_worker(django_capture_on_commit_callbacks)
    with django_assert_num_queries(one_row):
        response = client.get(URL)
    assert len(hooks(response, "reload-row")) == 4


# --- the job after a purchase ----------------------------------------------------------------


def test_a_purchase_below_the_threshold_reloads_once_with_an_email(
    user, book, gateway, django_capture_on_commit_callbacks
):
    _turn_on(user)
    fund(user, 3000)
    order = _buy(user, book, django_capture_on_commit_callbacks)
    assert balance(user) == 1  # 30.00 - 29.99: below the 10.00 threshold
    assert _jobs().count() == 1

    _run_worker(django_capture_on_commit_callbacks)

    reload = Reload.objects.get()
    assert (reload.kind, reload.status, reload.amount, reload.order) == (
        "auto",
        "completed",
        2500,
        order,
    )
    assert reload.idempotency_key == f"auto-reload:order:{order.number}"
    assert balance(user) == 2501
    assert reload.transfer.kind == Transfer.Kind.RELOAD
    assert reload.transfer.reference == f"order:{order.number}"
    (email,) = [m for m in mail.outbox if "reloaded" in m.subject]
    assert f"order {order.number}" in email.body
    assert "4242424242424242" not in email.body

    # The same job again (a retry, the sweep, a second worker): nothing more.
    job_enqueue(auto_reload_run, order_id=order.pk)
    _run_worker(django_capture_on_commit_callbacks)
    assert Reload.objects.count() == 1
    assert balance(user) == 2501
    assert len(gateway.captured) == 1
    assert _jobs().filter(status="SUCCESSFUL").count() == 2


def test_a_purchase_that_leaves_the_balance_above_the_threshold_does_not_reload(
    user, book, django_capture_on_commit_callbacks
):
    _turn_on(user)
    fund(user, 10_000)
    _buy(user, book, django_capture_on_commit_callbacks)
    assert not _jobs().exists()
    assert not Reload.objects.exists()


def test_auto_reload_turned_off_does_not_reload(user, book, django_capture_on_commit_callbacks):
    _turn_on(user)
    auto_reload_settings_save(user=user, enabled=False, threshold=None, amount=None)
    fund(user, 3000)
    _buy(user, book, django_capture_on_commit_callbacks)
    assert not _jobs().exists()
    assert not Reload.objects.exists()


def test_turned_off_after_the_purchase_the_job_charges_nothing(
    user, book, gateway, django_capture_on_commit_callbacks
):
    _turn_on(user)
    fund(user, 3000)
    _buy(user, book, django_capture_on_commit_callbacks)
    auto_reload_settings_save(user=user, enabled=False, threshold=None, amount=None)
    _run_worker(django_capture_on_commit_callbacks)
    assert not Reload.objects.exists()
    assert gateway.captured == set()


def test_a_declined_auto_reload_turns_it_off_and_tells_the_shopper(
    user, book, gateway, django_capture_on_commit_callbacks
):
    _turn_on(user, card=DECLINED)
    fund(user, 3000)
    _buy(user, book, django_capture_on_commit_callbacks)
    before = shop_state()

    _run_worker(django_capture_on_commit_callbacks)

    assert shop_state().ledger == before.ledger  # nothing credited
    reload = Reload.objects.get()
    assert (reload.status, reload.card_last4) == ("declined", "0002")
    auto = AutoReload.objects.get(user=user)
    assert auto.enabled is False
    assert "declined" in auto.disabled_reason
    (email,) = [m for m in mail.outbox if "declined" in m.subject]
    assert "auto-reload" in email.body.lower()
    assert "/wallet/auto-reload/" in email.body
    page = _client(user).get(URL)
    assert hook(page, "auto-reload-status").attrs["data-enabled"] == "false"
    assert "declined" in hook(page, "auto-reload-off-reason").text
    assert hook(page, "reload-row").attrs["data-status"] == "declined"

    # Turned on again (a new card), the reason goes.
    _client(user).post(
        URL, {"enabled": "on", "threshold": "10", "amount": "25", "card_number": APPROVED}
    )
    auto.refresh_from_db()
    assert (auto.enabled, auto.disabled_reason) == (True, "")


def test_the_provider_down_retries_with_backoff_then_fails_and_keeps_auto_reload_on(
    user, book, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.JOB_MAX_ATTEMPTS = 3
    settings.JOB_RETRY_BASE_DELAY = 0  # due at once, so the worker in the test runs each retry
    _turn_on(user)
    fund(user, 3000)
    gateway = install(monkeypatch, authorize=TimeoutError("the gateway did not answer"))
    _buy(user, book, django_capture_on_commit_callbacks)
    before = shop_state()

    _run_worker(django_capture_on_commit_callbacks)

    assert gateway.calls["authorize"] == 3
    assert _jobs().count() == 3  # the first run and two retries
    reload = Reload.objects.get()
    assert reload.status == "failed"
    assert reload.error.startswith("TimeoutError")
    assert shop_state().ledger == before.ledger
    assert AutoReload.objects.get(user=user).enabled is True


def test_a_retry_after_the_provider_came_back_reloads(
    user, book, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.JOB_RETRY_BASE_DELAY = 60
    _turn_on(user)
    fund(user, 3000)
    gateway = install(monkeypatch, authorize=TimeoutError("the gateway did not answer"))
    order = _buy(user, book, django_capture_on_commit_callbacks)
    _run_worker(django_capture_on_commit_callbacks)
    retry = _jobs().get(status="READY")
    assert retry.run_after > timezone.now() + datetime.timedelta(seconds=50)
    assert retry.args_kwargs["kwargs"] == {"order_id": order.pk, "attempt": 2}

    gateway.faults.clear()
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    _run_worker(django_capture_on_commit_callbacks)
    assert Reload.objects.get().status == "completed"
    assert balance(user) == 2501


def test_the_sweep_gives_a_stale_pending_auto_reload_one_more_run(
    user, book, monkeypatch, django_capture_on_commit_callbacks
):
    _turn_on(user)
    fund(user, 3000)
    order = _buy(user, book, django_capture_on_commit_callbacks)
    DBTaskResult.objects.all().delete()  # the job is lost from the queue
    # A run that died after writing its row: pending, untouched for long.
    Reload.objects.create(
        user=user,
        kind="auto",
        amount=2500,
        currency="USD",
        idempotency_key=f"auto-reload:order:{order.number}",
        order=order,
    )
    Reload.objects.update(updated_at=timezone.now() - datetime.timedelta(seconds=3 * CLAIM_SECONDS))
    job_enqueue(card_reloads_pending_complete)
    _run_worker(django_capture_on_commit_callbacks)
    assert Reload.objects.get().status == "completed"
    assert balance(user) == 2501


def test_a_shopper_whose_region_changed_is_not_reloaded_in_the_old_currency(
    user, book, django_capture_on_commit_callbacks
):
    _turn_on(user)
    AutoReload.objects.filter(user=user).update(currency="JPY")
    fund(user, 3000)
    _buy(user, book, django_capture_on_commit_callbacks)
    assert not _jobs().exists()


def test_a_region_change_to_another_currency_waits_for_auto_reload_to_be_off(user):
    auto_reload_settings_save(
        user=user, enabled=True, threshold=1000, amount=2500, card_number=APPROVED
    )
    with pytest.raises(RegionChangeRefused) as refused:
        user_region_change(user=user, region=Region.objects.get(code="JP"), by=user)
    assert "auto-reload is on in USD" in str(refused.value)

    auto_reload_settings_save(user=user, enabled=False, threshold=None, amount=None)
    user_region_change(user=user, region=Region.objects.get(code="JP"), by=user)
    user.refresh_from_db()
    assert user.region_id == "JP"


@pytest.mark.parametrize("word", ["off", "OFF", "no", "0", "false"])
def test_a_script_posting_enabled_off_turns_it_off(user, word):
    _turn_on(user)

    response = _client(user).post(URL, {"enabled": word, "threshold": "10", "amount": "25"})

    assert response.status_code == 302
    assert AutoReload.objects.get(user=user).enabled is False
