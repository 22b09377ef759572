"""Staff let a buyer download a printable gift card once more (docs/giftcards.md): the code
printed before dies at once, the next download draws a new one, the buyer is told; audited;
never for the staff member's own order; refusals write nothing."""

import re

import pypdfium2
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from checkout.models import OrderGiftCard
from checkout.services.giftcard_resend import order_gift_card_print_again
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.bought_giftcards import gift_order
from tests.wallet.staff import superuser
from wallet.exceptions import CodeRefused, InvalidState, SelfAction, StaffPermissionDenied
from wallet.models import AuditEntry
from wallet.services import giftcard_redeem

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{6}-[0-9A-Z]{5}\b")


def _codes(pdf: bytes) -> set[str]:
    """The claim codes printed on the PDF's page (its text layer)."""
    page = pypdfium2.PdfDocument(pdf)[0]
    return set(CODE.findall(page.get_textpage().get_text_range()))


def _download(buyer, gift) -> str:
    client = Client()
    client.force_login(buyer)
    url = reverse(
        "checkout:giftcard_print", kwargs={"number": gift.order.number, "gift_card_id": gift.pk}
    )
    response = client.post(url)
    assert response["Content-Type"] == "application/pdf"
    return response


def _frozen(gift):
    gift = OrderGiftCard.objects.select_related("card").get(pk=gift.pk)
    return (gift.status, gift.downloaded_at, gift.card.code_hash, len(mail.outbox))


def test_staff_let_the_buyer_download_it_again_and_the_old_code_dies(
    user, django_capture_on_commit_callbacks
):
    order = gift_order(user, (5000, "print"))
    gift = order.gift_cards.get()
    _download(user, gift)
    staff = superuser(email="boss@example.com")
    page = login_staff(Client(), staff).get(
        reverse("admin:checkout_ordergiftcard_change", args=[gift.pk])
    )
    assert b'data-testid="print-again-link"' in page.content
    staff_client = login_staff(Client(), staff)
    url = reverse("admin:checkout_ordergiftcard_print_again", args=[gift.pk])
    assert staff_client.get(url).status_code == 200
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        answer = staff_client.post(url, {"reason": "PDF lost"})
    assert answer.status_code == 302

    gift.refresh_from_db()
    assert (gift.status, gift.downloaded_at) == ("ready", None)
    (notice,) = mail.outbox
    assert notice.to == [user.email]
    assert "download your gift card" in notice.subject
    assert AuditEntry.objects.filter(action=AuditEntry.Action.GIFTCARD_RESENT).count() == 1
    # The next download draws a new code, which redeems; the buyer downloads once more only.
    (code,) = _codes(_download(user, gift).content)
    recipient = UserFactory(region_id="US")
    assert giftcard_redeem(user=recipient, code=code).card.pk == gift.card_id


def test_the_printed_code_stops_working_at_once(user):
    order = gift_order(user, (5000, "print"))
    gift = order.gift_cards.get()
    codes = _codes(_download(user, gift).content)
    assert len(codes) == 1
    staff = superuser(email="boss@example.com")

    order_gift_card_print_again(gift_card_id=gift.pk, reason="PDF lost", by=staff)

    for code in codes:
        with pytest.raises(CodeRefused):
            giftcard_redeem(user=UserFactory(region_id="US"), code=code)


def test_refusals_write_nothing(user):
    staff = superuser(email="boss@example.com")
    own = gift_order(staff, (5000, "print")).gift_cards.get()
    _download(staff, own)
    before = _frozen(own)
    with pytest.raises(SelfAction):
        order_gift_card_print_again(gift_card_id=own.pk, reason="mine", by=staff)
    assert _frozen(own) == before

    not_yet = gift_order(user, (5000, "print")).gift_cards.get()
    before = _frozen(not_yet)
    with pytest.raises(InvalidState):
        order_gift_card_print_again(gift_card_id=not_yet.pk, reason="x", by=staff)
    assert _frozen(not_yet) == before

    clerk = UserFactory(is_staff=True)
    with pytest.raises(StaffPermissionDenied):
        order_gift_card_print_again(gift_card_id=not_yet.pk, reason="x", by=clerk)
    assert _frozen(not_yet) == before
