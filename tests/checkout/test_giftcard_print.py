"""The one-time PDF of a gift card bought for print (docs/interface.md §12): the buyer's POST
gets the PDF once (design, amount, message, the code, a QR code of the redeem page with the
code in its fragment); afterwards the order page says when it was downloaded, never a code."""

import re
from pathlib import Path

import pypdfium2
import pytest
from django.test import Client
from django.urls import reverse

from catalog.money import format_money
from checkout import giftcard_pdf
from checkout.giftcard_designs import design_get, design_list
from checkout.giftcard_pdf import PrintedCard, giftcard_pdf_render, redeem_link
from checkout.models import OrderGiftCard
from tests.accounts.factories import UserFactory
from tests.checkout.bought_giftcards import gift_order
from tests.checkout.shopping import balance, shop_state
from wallet.codes import code_hash
from wallet.models import GiftCard
from wallet.services import giftcard_redeem

pytestmark = pytest.mark.django_db

RESULTS = Path("var/test-results/giftcard-print")
CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{6}-[0-9A-Z]{5}\b")


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _print_url(gift: OrderGiftCard) -> str:
    return reverse(
        "checkout:giftcard_print", kwargs={"number": gift.order.number, "gift_card_id": gift.pk}
    )


def _pdf_text(pdf: bytes, png: str | None = None) -> str:
    """The PDF's text; with `png`, its page rendered to var/test-results/giftcard-print/."""
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) == 1
    page = document[0]
    if png:
        RESULTS.mkdir(parents=True, exist_ok=True)
        page.render(scale=1.5).to_pil().save(RESULTS / png)
    return page.get_textpage().get_text_range()


@pytest.fixture
def printed(user):
    order = gift_order(user, (5000, "print"))
    return order.gift_cards.get()


def test_the_buyer_downloads_the_card_once_and_its_code_redeems(user, printed):
    response = _client(user).post(_print_url(printed))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert "no-store" in response["Cache-Control"]
    text = _pdf_text(response.content, png="print-birthday.png")
    assert "$50.00" in text
    assert "Happy birthday!" in text
    assert "For Robin Friend" in text
    assert "Buy yourself something nice." in text
    codes = CODE.findall(text)
    assert len(codes) == 1
    code = codes[0]
    printed.refresh_from_db()
    printed.card.refresh_from_db()
    assert printed.status == OrderGiftCard.Status.DOWNLOADED
    assert printed.downloaded_by == user
    assert printed.downloaded_at is not None
    assert printed.card.status == GiftCard.Status.ACTIVE
    assert printed.card.code_hash == code_hash(code.replace("-", ""))
    assert printed.page_status == "downloaded"

    recipient = UserFactory()
    giftcard_redeem(user=recipient, code=code)
    assert balance(recipient) == 5000
    printed.card.refresh_from_db()
    assert printed.card.status == GiftCard.Status.REDEEMED


def test_the_qr_code_opens_the_redeem_page_with_the_code_in_its_fragment(settings):
    settings.SITE_URL = "https://shop.example/"
    link = redeem_link("ABCD2345678EFGH")
    assert link == "https://shop.example/gift-cards/redeem/#code=ABCD-234567-8EFGH"


@pytest.mark.parametrize("design", [d.key for d in design_list()])
def test_every_design_draws_euro_amounts_and_names_in_any_script(design):
    """Babel's narrow no-break space and names outside Latin-1 still reach the page's text."""
    pdf = giftcard_pdf_render(
        card=PrintedCard(
            design=design_get(design),
            amount=format_money(5000, currency="EUR", locale="fr_FR"),
            recipient_name="山田 花子",
            message="",
            sender_name="Zoë",
            code="ABCD2345678EFGH",
        )
    )
    text = _pdf_text(pdf, png=f"design-{design}.png")
    assert "50,00" in text
    assert "€" in text
    assert "山田 花子" in text
    assert "ABCD-234567-8EFGH" in text
    assert design_get(design).headline in text


def test_a_second_download_says_when_and_writes_nothing(user, printed):
    client = _client(user)
    client.post(_print_url(printed))
    printed.refresh_from_db()
    before = shop_state()
    code_before = GiftCard.objects.get(pk=printed.card_id).code_hash

    response = client.post(_print_url(printed), follow=True)

    assert response.redirect_chain == [
        (reverse("checkout:order", args=[printed.order.number]), 302)
    ]
    page = response.content.decode()
    assert "was downloaded on" in page
    assert "once only" in page
    assert not CODE.search(page)
    assert shop_state() == before
    assert GiftCard.objects.get(pk=printed.card_id).code_hash == code_before
    assert OrderGiftCard.objects.get(pk=printed.pk).downloaded_at == printed.downloaded_at


def test_an_e_mail_card_has_nothing_to_print(user):
    gift = gift_order(user, (2500, "email")).gift_cards.get()
    before = shop_state()

    response = _client(user).post(_print_url(gift))

    assert response.status_code == 409
    assert 'data-reason="not_print"' in response.content.decode()
    assert shop_state() == before
    gift.refresh_from_db()
    assert gift.status == OrderGiftCard.Status.SCHEDULED
    assert gift.card.status == GiftCard.Status.PENDING


def test_a_card_not_ready_is_refused_and_nothing_written(user, printed):
    OrderGiftCard.objects.filter(pk=printed.pk).update(status=OrderGiftCard.Status.REFUNDED)
    before = shop_state()

    response = _client(user).post(_print_url(printed))

    assert response.status_code == 409
    assert 'data-reason="not_ready"' in response.content.decode()
    assert shop_state() == before
    assert OrderGiftCard.objects.get(pk=printed.pk).downloaded_at is None


def test_a_card_staff_disabled_is_refused_and_nothing_written(user, printed):
    GiftCard.objects.filter(pk=printed.card_id).update(status=GiftCard.Status.DISABLED)
    before = shop_state()

    response = _client(user).post(_print_url(printed))

    assert response.status_code == 409
    assert shop_state() == before
    assert OrderGiftCard.objects.get(pk=printed.pk).status == OrderGiftCard.Status.READY


def test_another_shoppers_order_is_a_404_and_nothing_written(printed, other_user):
    before = shop_state()
    assert _client(other_user).post(_print_url(printed)).status_code == 404
    assert shop_state() == before
    assert OrderGiftCard.objects.get(pk=printed.pk).status == OrderGiftCard.Status.READY


def test_a_gift_card_of_another_order_is_a_404(user, printed):
    mine = gift_order(user, (1000, "print"))
    url = reverse(
        "checkout:giftcard_print", kwargs={"number": mine.number, "gift_card_id": printed.pk}
    )
    assert _client(user).post(url).status_code == 404
    assert OrderGiftCard.objects.get(pk=printed.pk).status == OrderGiftCard.Status.READY


def test_anonymous_goes_to_sign_in(printed):
    response = Client().post(_print_url(printed))
    assert response.status_code == 302
    assert "/login/" in response["Location"] or "/accounts/" in response["Location"]
    assert OrderGiftCard.objects.get(pk=printed.pk).status == OrderGiftCard.Status.READY


def test_a_post_without_the_csrf_token_is_refused(user, printed):
    response = _client(user, enforce_csrf_checks=True).post(_print_url(printed))
    assert response.status_code == 403
    assert OrderGiftCard.objects.get(pk=printed.pk).status == OrderGiftCard.Status.READY


def test_a_get_writes_nothing_and_goes_to_the_order(user, printed):
    response = _client(user).get(_print_url(printed))
    assert response.status_code == 302
    assert response["Location"] == reverse("checkout:order", args=[printed.order.number])
    assert OrderGiftCard.objects.get(pk=printed.pk).status == OrderGiftCard.Status.READY


def test_the_order_page_shows_the_button_while_ready_then_when_it_was_downloaded(user, printed):
    client = _client(user)
    page_url = reverse("checkout:order", args=[printed.order.number])

    before = client.get(page_url).content.decode()
    assert 'data-testid="giftcard-print"' in before
    assert _print_url(printed) in before
    assert 'data-status="ready"' in before

    client.post(_print_url(printed))
    after = client.get(page_url).content.decode()

    assert 'data-testid="giftcard-print"' not in after
    assert 'data-testid="giftcard-downloaded"' in after
    assert 'data-status="downloaded"' in after
    assert "Downloaded on" in after
    assert not CODE.search(after)


def test_a_yen_card_a_long_name_and_a_long_message_are_printed_whole():
    """The yen sign is drawn (not a box); a 100-character name is fitted to the card; a
    message of 300 characters without spaces (Japanese) or of 30 short lines is printed
    whole, on the page."""
    pdf = giftcard_pdf_render(
        card=PrintedCard(
            design=design_get("classic"),
            amount=format_money(3000, currency="JPY", locale="ja_JP"),
            recipient_name="N" * 100,
            message="\n".join(f"line {n}" for n in range(30)),
            sender_name="Sam",
            code="ABCD2345678EFGH",
        )
    )
    text = _pdf_text(pdf, png="long-yen.png")
    assert "¥3,000" in text
    assert "line 0" in text
    assert "line 29" in text
    no_spaces = _pdf_text(
        giftcard_pdf_render(
            card=PrintedCard(
                design=design_get("classic"),
                amount="$50.00",
                recipient_name="Ann",
                message="ab" * 150,
                sender_name="",
                code="ABCD2345678EFGH",
            )
        )
    )
    assert no_spaces.replace("\r", "").replace("\n", "").count("ab") == 150
    # Japanese has no spaces: broken by width, two columns a character, nothing dropped.
    lines = giftcard_pdf._wrapped("花" * 300, giftcard_pdf.MESSAGE_COLUMNS)
    assert "".join(lines) == "花" * 300
    assert max(len(line) for line in lines) == giftcard_pdf.MESSAGE_COLUMNS // 2
