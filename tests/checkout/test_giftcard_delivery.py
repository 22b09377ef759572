"""Bought gift cards from payment to the recipient's inbox (docs/giftcards.md, docs/worker.md):
issued on payment, delivered by the worker on the day, retried with back-off, failed after
JOB_MAX_ATTEMPTS, swept when a hook or a job was lost. The queue is run by the real db_worker
in batch mode (`jobs_run_pending`): "run the worker in the test".
"""

import datetime
import re
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.test import Client
from django_tasks_db.models import DBTaskResult

from catalog.regions import region_today, region_zone
from checkout.models import OrderGiftCard
from checkout.payments import TestGateway
from checkout.services import giftcard_delivery
from checkout.services.giftcard_orders import order_gift_cards_issue
from checkout.tasks import giftcard_deliver
from config.jobs import job_enqueue, jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.checkout.gift_orders import Clock, gift_order, gifts_of, sent_codes
from wallet.codes import code_display
from wallet.models import GiftCard, Transfer
from wallet.services import giftcard_redeem

pytestmark = pytest.mark.django_db

FRIEND = "friend@example.com"


class FlakyBackend(locmem.EmailBackend):
    """The mail server refuses the next `failures` messages, then accepts them."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FlakyBackend"}}
    FlakyBackend.failures = 0
    yield FlakyBackend
    FlakyBackend.failures = 0


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def jobs(status=None):
    rows = DBTaskResult.objects.filter(task_path="checkout.tasks.giftcard_deliver")
    return rows.filter(status=status).count() if status else rows.count()


def _buyer_sees(buyer, order, code_never: str = "") -> list[str]:
    """The `data-status` of each bought card on the buyer's order page (never a code)."""
    client = Client()
    client.force_login(buyer)
    page = client.get(f"/orders/{order.number}/").content.decode()
    if code_never:
        assert code_never not in page
    return re.findall(r'data-testid="egift-status" data-status="([a-z_]+)"', page)


def test_paid_order_issues_the_cards_and_the_worker_emails_the_code_that_redeems():
    buyer = UserFactory(region_id="US", first_name="Sam", last_name="Buyer")
    order = gift_order(
        buyer,
        {
            "amount": 2500,
            "recipient_email": FRIEND,
            "message": "Happy birthday!",
            "sender_name": "Sam Buyer",
        },
        {"amount": 5000, "delivery": "print"},
    )
    email_gift, print_gift = gifts_of(order)
    # Paid: both issued pending in the buyer's region (the liability in the ledger), no code
    # known to anyone yet; the e-mail one is queued, the print one waits for its download.
    assert (email_gift.status, print_gift.status) == ("scheduled", "ready")
    assert {email_gift.card.status, print_gift.card.status} == {GiftCard.Status.PENDING}
    assert (email_gift.card.amount, email_gift.card.currency) == (2500, "USD")
    issues = Transfer.objects.filter(kind=Transfer.Kind.GIFTCARD_ISSUE)
    assert set(issues.values_list("idempotency_key", flat=True)) == {
        f"order-giftcard:{email_gift.pk}",
        f"order-giftcard:{print_gift.pk}",
    }
    assert jobs("READY") == 1
    assert _buyer_sees(buyer, order) == ["scheduled", "ready"]
    mail.outbox.clear()

    jobs_run_pending()

    (message,) = mail.outbox
    assert message.to == [FRIEND]
    assert "Sam Buyer sent you a $25.00 gift card" in message.subject
    (code,) = sent_codes(FRIEND)
    assert code not in message.subject
    html, _ = message.alternatives[0]
    assert f'href="http://localhost:8000/gift-cards/redeem/#code={code_display(code)}"' in html
    # In the text part twice: the code line and the link; nowhere else (not the subject).
    assert message.body.replace("-", "").count(code) == 2
    assert "Happy birthday!" in html
    assert "$25.00" in html
    assert 'data-design="classic"' in html
    email_gift.refresh_from_db()
    assert (email_gift.status, email_gift.page_status, email_gift.attempts) == ("sent", "sent", 0)
    assert email_gift.sent_at is not None
    assert jobs("SUCCESSFUL") == 1

    assert _buyer_sees(buyer, order) == ["sent", "ready"]

    giftcard_redeem(user=UserFactory(region_id="US"), code=code)
    page = _buyer_sees(buyer, order, code_never=code)
    assert page == ["redeemed", "ready"]


def test_the_same_job_run_twice_sends_one_email_and_issues_one_card():
    buyer = UserFactory(region_id="US")
    order = gift_order(buyer, {"amount": 2500, "recipient_email": FRIEND})
    (gift,) = gifts_of(order)
    # The hook again (a replayed capture), the sweep, and the job queued twice more.
    assert order_gift_cards_issue(order_id=order.pk) == 0
    job_enqueue(giftcard_deliver, order_gift_card_id=gift.pk)
    job_enqueue(giftcard_deliver, order_gift_card_id=gift.pk)
    mail.outbox.clear()

    jobs_run_pending()
    giftcard_delivery.giftcard_deliveries_sweep()
    jobs_run_pending()

    assert len(sent_codes(FRIEND)) == 1
    assert GiftCard.objects.count() == 1
    assert Transfer.objects.filter(kind=Transfer.Kind.GIFTCARD_ISSUE).count() == 1
    assert jobs("SUCCESSFUL") == jobs() == 3
    assert set(DBTaskResult.objects.values_list("return_value", flat=True)) == {"sent", "skipped"}


def test_a_later_send_date_is_kept_in_the_buyers_region_time_zone(clock):
    buyer = UserFactory(region_id="JP")
    tomorrow = region_today(buyer.region) + datetime.timedelta(days=1)
    order = gift_order(buyer, {"amount": 5000, "recipient_email": FRIEND, "send_on": tomorrow})
    (gift,) = gifts_of(order)
    midnight_tokyo = datetime.datetime.combine(
        tomorrow, datetime.time.min, tzinfo=region_zone(buyer.region)
    )
    assert gift.next_attempt_at == midnight_tokyo
    mail.outbox.clear()

    jobs_run_pending()  # queued to run after midnight in Tokyo: not yet
    clock.set(midnight_tokyo - datetime.timedelta(seconds=5))
    giftcard_delivery.giftcard_deliveries_sweep()
    jobs_run_pending()
    assert mail.outbox == []
    assert gifts_of(order)[0].status == "scheduled"

    clock.set(midnight_tokyo + datetime.timedelta(seconds=1))
    jobs_run_pending()
    assert len(sent_codes(FRIEND)) == 1
    assert gifts_of(order)[0].status == "sent"


def test_a_failing_mail_server_is_retried_with_back_off_until_it_works(flaky, clock, settings):
    buyer = UserFactory(region_id="US")
    order = gift_order(buyer, {"amount": 2500, "recipient_email": FRIEND})
    (gift,) = gifts_of(order)
    flaky.failures = 2
    seen = []

    for expected_delay in (60, 120):
        started = clock.now()
        jobs_run_pending()
        gift.refresh_from_db()
        seen.append((gift.status, gift.attempts, gift.last_error))
        assert gift.next_attempt_at == started + datetime.timedelta(seconds=expected_delay)
        # Not due before its back-off is over, whatever runs meanwhile.
        clock.advance(seconds=expected_delay - 1)
        giftcard_delivery.giftcard_deliveries_sweep()
        jobs_run_pending()
        assert OrderGiftCard.objects.get(pk=gift.pk).attempts == gift.attempts
        clock.advance(seconds=1)
    jobs_run_pending()

    error = "SMTPServerDisconnected: Connection unexpectedly closed"
    assert seen == [("scheduled", 1, error), ("scheduled", 2, error)]
    gift.refresh_from_db()
    assert (gift.status, gift.attempts, gift.last_error) == ("sent", 2, "")
    # One e-mail went out, with the only code that works (the failed attempts' codes are dead).
    (code,) = sent_codes(FRIEND)
    giftcard_redeem(user=UserFactory(region_id="US"), code=code)
    # The queue's record: two attempts failed (the short error, no code), the third sent it.
    failed = DBTaskResult.objects.filter(status="FAILED")
    assert failed.count() == 2
    assert jobs("SUCCESSFUL") == 1
    assert all(code not in row.traceback for row in failed)
    assert "DeliveryFailed" in failed.first().exception_class_path


def test_after_job_max_attempts_the_delivery_is_failed_and_left_for_staff(flaky, clock, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    buyer = UserFactory(region_id="US")
    order = gift_order(buyer, {"amount": 2500, "recipient_email": FRIEND})
    flaky.failures = 3  # every attempt; the buyer's notice after them gets through
    for _ in range(5):
        jobs_run_pending()
        giftcard_delivery.giftcard_deliveries_sweep()
        clock.advance(hours=2)

    (gift,) = gifts_of(order)
    assert (gift.status, gift.attempts, gift.next_attempt_at) == ("failed", 3, None)
    assert gift.last_error.startswith("SMTPServerDisconnected")
    # The buyer sees it was not delivered (never the error) and is told by e-mail.
    assert gift.page_status == "failed"
    (notice,) = [m for m in mail.outbox if "was not delivered" in m.subject]
    assert notice.to == [buyer.email]
    assert FRIEND in notice.body
    assert f"/orders/{order.number}/" in notice.body
    assert jobs("FAILED") == 3
    assert jobs("READY") == 0
    assert gift.card.status == GiftCard.Status.ACTIVE  # its last code died unsent
    assert sent_codes(FRIEND) == []


def test_a_failed_payment_cancels_the_cards_and_issues_none():
    buyer = UserFactory(region_id="US")
    order = gift_order(
        buyer, {"amount": 2500, "recipient_email": FRIEND}, card_number=TestGateway.CAPTURE_FAILS
    )
    order.refresh_from_db()
    assert order.status == "payment_failed"
    (gift,) = gifts_of(order)
    assert (gift.status, gift.card) == ("cancelled", None)
    assert GiftCard.objects.count() == 0
    giftcard_delivery.giftcard_deliveries_sweep()
    jobs_run_pending()
    assert GiftCard.objects.count() == 0
    assert sent_codes(FRIEND) == []


def test_the_sweep_issues_cards_the_hook_missed_and_sends_a_dead_workers_claim(monkeypatch, clock):
    monkeypatch.setattr("checkout.services.paid.order_gift_cards_issue", lambda **kw: 0)
    buyer = UserFactory(region_id="US")
    order = gift_order(buyer, {"amount": 2500, "recipient_email": FRIEND})
    assert gifts_of(order)[0].status == "awaiting_payment"  # the capture's hook did nothing

    result = giftcard_delivery.giftcard_deliveries_sweep()
    assert (result.issued, result.queued) == (1, 0)  # issuing queued its own job
    # A worker claims it and dies before sending (the claim is all it committed).
    (gift,) = gifts_of(order)
    assert giftcard_delivery._claim(gift.pk, clock.now()) is not None
    DBTaskResult.objects.all().delete()
    jobs_run_pending()
    assert sent_codes(FRIEND) == []
    assert gifts_of(order)[0].status == "sending"

    clock.advance(minutes=6)  # its lease ran out
    result = giftcard_delivery.giftcard_deliveries_sweep()
    assert (result.reclaimed, result.queued) == (1, 1)
    assert giftcard_delivery.giftcard_deliveries_sweep().queued == 0  # queued once per lease
    jobs_run_pending()
    assert len(sent_codes(FRIEND)) == 1
    (gift,) = gifts_of(order)
    assert (gift.status, gift.attempts) == ("sent", 1)  # the interrupted attempt counted
