"""Staff and bought gift cards (docs/giftcards.md): the deliveries listed with their status,
attempts and last error; the queue's jobs on django-tasks-db's page; "Send again to a corrected
address" (audited, the old code dead at once, a new one e-mailed); its refusals write nothing.
"""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from checkout.models import OrderGiftCard
from checkout.services.giftcard_resend import order_gift_card_resend
from config.jobs import jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.gift_orders import gift_order, gifts_of, sent_codes
from tests.wallet.staff import superuser
from wallet.exceptions import CodeRefused, InvalidState, SelfAction, StaffPermissionDenied
from wallet.models import AuditEntry
from wallet.services import giftcard_redeem

pytestmark = pytest.mark.django_db

WRONG, RIGHT = "frend@example.com", "friend@example.com"


def _sent_to_the_wrong_address(buyer=None):
    buyer = buyer or UserFactory(region_id="US")
    order = gift_order(buyer, {"amount": 2500, "recipient_email": WRONG})
    jobs_run_pending()
    (gift,) = gifts_of(order)
    assert gift.status == "sent"
    return order, gift


def _resend_url(gift) -> str:
    return f"/admin/checkout/ordergiftcard/{gift.pk}/resend/"


def _frozen(gift):
    """What a refused resend must leave as it was."""
    gift = OrderGiftCard.objects.select_related("card").get(pk=gift.pk)
    return (
        gift.recipient_email,
        gift.status,
        gift.resent_count,
        gift.card.code_hash,
        gift.card.status,
        DBTaskResult.objects.count(),
        AuditEntry.objects.filter(action=AuditEntry.Action.GIFTCARD_RESENT).count(),
        len(mail.outbox),
    )


def test_staff_send_it_again_to_a_corrected_address(
    admin_client, django_capture_on_commit_callbacks
):
    order, gift = _sent_to_the_wrong_address()
    (old_code,) = sent_codes(WRONG)

    page = admin_client.get(_resend_url(gift))
    assert page.status_code == 200
    assert old_code not in page.content.decode()
    change = admin_client.get(f"/admin/checkout/ordergiftcard/{gift.pk}/change/").content.decode()
    assert 'data-testid="resend-link"' in change
    assert old_code not in change
    with django_capture_on_commit_callbacks(execute=True):
        posted = admin_client.post(
            _resend_url(gift), {"email": RIGHT, "reason": "typo in the address, per the buyer"}
        )
    assert posted.status_code == 302

    gift.refresh_from_db()
    assert (gift.recipient_email, gift.status, gift.resent_count) == (RIGHT, "scheduled", 1)
    (entry,) = AuditEntry.objects.filter(action=AuditEntry.Action.GIFTCARD_RESENT)
    assert order.number in entry.target
    assert WRONG in entry.detail
    assert RIGHT in entry.detail
    assert "typo" in entry.detail
    # The old code died with the resend, before any job ran.
    with pytest.raises(CodeRefused) as refused:
        giftcard_redeem(user=UserFactory(region_id="US"), code=old_code)
    assert refused.value.reason == "not_found"

    jobs_run_pending()
    (new_code,) = sent_codes(RIGHT)
    assert new_code != old_code
    giftcard_redeem(user=UserFactory(region_id="US"), code=new_code)
    assert gifts_of(order)[0].page_status == "redeemed"


def test_a_redeemed_card_is_not_sent_again_and_nothing_is_written(admin_client):
    _, gift = _sent_to_the_wrong_address()
    giftcard_redeem(user=UserFactory(region_id="US"), code=sent_codes(WRONG)[0])
    before = _frozen(gift)

    page = admin_client.post(_resend_url(gift), {"email": RIGHT, "reason": "typo"})

    assert page.status_code == 200
    assert 'data-reason="refused"' in page.content.decode()
    assert "already redeemed by the recipient" in page.content.decode()
    assert _frozen(gift) == before


def test_resend_refusals_write_nothing():
    staff = superuser(email="boss@example.com")
    _own_order, own = _sent_to_the_wrong_address(buyer=staff)
    before = _frozen(own)
    with pytest.raises(SelfAction):
        order_gift_card_resend(gift_card_id=own.pk, email=RIGHT, reason="mine", by=staff)
    assert _frozen(own) == before
    # The refusal itself is audited (it says something about the person).
    assert AuditEntry.objects.filter(actor=staff, action=AuditEntry.Action.REFUSED).count() == 1

    _, gift = _sent_to_the_wrong_address()
    before = _frozen(gift)
    clerk = UserFactory(is_staff=True)
    with pytest.raises(StaffPermissionDenied):
        order_gift_card_resend(gift_card_id=gift.pk, email=RIGHT, reason="x", by=clerk)
    assert _frozen(gift) == before
    assert login_staff(Client(), clerk).get(_resend_url(gift)).status_code in (302, 403)

    printed = gifts_of(
        gift_order(UserFactory(region_id="US"), {"amount": 2500, "delivery": "print"})
    )[0]
    before = _frozen(printed)
    with pytest.raises(InvalidState):
        order_gift_card_resend(gift_card_id=printed.pk, email=RIGHT, reason="x", by=staff)
    assert _frozen(printed) == before


def test_staff_find_failed_deliveries_and_the_queues_jobs(admin_client, settings):
    settings.JOB_MAX_ATTEMPTS = 1
    settings.MAILERS = {
        "default": {"BACKEND": "tests.checkout.test_giftcard_delivery.FlakyBackend"}
    }
    from tests.checkout.test_giftcard_delivery import FlakyBackend

    order = gift_order(UserFactory(region_id="US"), {"amount": 2500, "recipient_email": RIGHT})
    FlakyBackend.failures = 1
    try:
        jobs_run_pending()
    finally:
        FlakyBackend.failures = 0
    (gift,) = gifts_of(order)
    assert gift.status == "failed"

    listing = admin_client.get(
        "/admin/checkout/ordergiftcard/", {"status__exact": "failed", "q": order.number}
    )
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [gift]
    assert "SMTPServerDisconnected" in listing.content.decode()
    assert admin_client.get("/admin/checkout/ordergiftcard/", {"q": RIGHT}).status_code == 200

    jobs = admin_client.get(
        "/admin/django_tasks_database/dbtaskresult/", {"status__exact": "FAILED"}
    )
    assert jobs.status_code == 200
    (failed,) = jobs.context["cl"].result_list
    page = admin_client.get(f"/admin/django_tasks_database/dbtaskresult/{failed.pk}/change/")
    assert page.status_code == 200
    assert "DeliveryFailed" in page.content.decode()


def test_resend_bad_input_is_a_form_error_and_a_missing_card_a_404(admin_client):
    _, gift = _sent_to_the_wrong_address()
    before = _frozen(gift)
    page = admin_client.post(_resend_url(gift), {"email": "not an address", "reason": ""})
    assert page.status_code == 200
    assert 'data-reason="invalid"' in page.content.decode()
    assert _frozen(gift) == before
    assert admin_client.get("/admin/checkout/ordergiftcard/999999/resend/").status_code == 404


def test_the_gift_card_list_queries_do_not_grow_with_its_rows(admin_client):
    def measure() -> int:
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get("/admin/checkout/ordergiftcard/")
        assert page.status_code == 200
        return len(queries)

    buyer = UserFactory(region_id="US")
    gift_order(buyer, {"amount": 2500, "recipient_email": RIGHT})
    few = measure()
    gift_order(buyer, *[{"amount": 2500, "recipient_email": RIGHT}] * 4)
    assert OrderGiftCard.objects.count() == 5
    assert measure() == few


@pytest.mark.parametrize(
    "address",
    ["boss@example.com", "BOSS@example.com", "boss+gift@example.com", "clerk+x@Example.com"],
)
def test_no_staff_member_sends_a_gift_card_to_a_staff_address(address):
    staff = superuser(email="boss@example.com")
    UserFactory(is_staff=True, email="clerk@example.com")
    _, gift = _sent_to_the_wrong_address()
    before = _frozen(gift)

    with pytest.raises(SelfAction):
        order_gift_card_resend(gift_card_id=gift.pk, email=address, reason="x", by=staff)

    assert _frozen(gift) == before
    assert AuditEntry.objects.filter(actor=staff, action=AuditEntry.Action.REFUSED).count() == 1


def test_the_buyer_is_told_when_their_gift_card_is_sent_again(django_capture_on_commit_callbacks):
    staff = superuser(email="boss@example.com")
    order, gift = _sent_to_the_wrong_address()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        order_gift_card_resend(gift_card_id=gift.pk, email=RIGHT, reason="typo", by=staff)

    (notice,) = [m for m in mail.outbox if m.to == [order.user.email]]
    assert RIGHT in notice.body
    assert WRONG in notice.body
    assert f"/orders/{order.number}/" in notice.body
    assert "no longer works" in notice.body
