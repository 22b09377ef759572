"""A single-use code is never shown in full once typed, on the pages: the checkout page's
applied list and messages, the order page, the wallet page, the e-mails."""

import pytest
from django.core import mail
from django.test import Client

from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE, checkout_quote_get
from checkout.services import order_place
from promotions.models import Promotion
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill, fund, new_key
from tests.promotions.factories import unique_code_promotion
from wallet.models import CreditLot

pytestmark = pytest.mark.django_db

SECRET = "7QX3M9KD2RTZ"  # the shape of an issued code: 12 symbols of the claim alphabet


@pytest.fixture
def shopper():
    return UserFactory(region_id="US")


@pytest.fixture
def book():
    return ProductFactory(name="A Book", prices={"US": 3000})


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _everything(*pages) -> str:
    """Every page given and every e-mail sent, as one text."""
    mails = [
        "\n".join([m.subject, m.body, *(body for body, _ in getattr(m, "alternatives", []))])
        for m in mail.outbox
    ]
    return "\n".join([*pages, *mails])


def test_a_single_use_discount_code_is_not_in_the_checkout_page_the_order_page_or_the_mail(
    shopper, book, django_capture_on_commit_callbacks
):
    unique_code_promotion(codes=[SECRET], percent=10, name="Ten off for you")
    cart_fill(shopper, (book, 1))
    fund(shopper, 5000)
    client = _client(shopper)

    client.post("/checkout/code/", {"code": SECRET.lower()})
    checkout_page = client.get("/checkout/").content.decode()
    session = {SESSION_PROMO_CODES: [SECRET], SESSION_USE_BALANCE: True}
    quote = checkout_quote_get(user=shopper, session=session)
    assert quote.discount == 300  # it applies ...
    assert "Ten off for you" in checkout_page  # ... by its promotion's name
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(
            user=shopper,
            session=session,
            idempotency_key=new_key(),
            card_number="",
            expected_total=quote.total,
            expected_amount_due=quote.amount_due,
        )
    order_page = client.get(f"/orders/{order.number}/").content.decode()
    wallet_page = client.get("/wallet/").content.decode()

    assert order.discount == 300
    assert len(mail.outbox) >= 1  # the order's e-mail
    assert SECRET not in order_page
    assert SECRET not in wallet_page
    assert SECRET not in _everything()  # the e-mails
    assert SECRET not in checkout_page


def test_a_single_use_credit_code_entered_in_the_box_is_not_in_the_wallet_page_or_the_mail(
    shopper, book, django_capture_on_commit_callbacks
):
    unique_code_promotion(
        codes=[SECRET],
        kind=Promotion.Kind.CREDIT,
        percent=None,
        amount_off=1000,
        credit_days=30,
        name="Spring credit",
    )
    cart_fill(shopper, (book, 1))
    client = _client(shopper)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/checkout/code/", {"code": SECRET})
    pages = [client.get(url).content.decode() for url in ("/checkout/", "/wallet/")]
    assert CreditLot.objects.filter(user=shopper, amount=1000).exists()
    assert SECRET not in _everything()  # the e-mail
    assert SECRET not in pages[1]  # the wallet page
    assert SECRET not in pages[0]  # the checkout page (and its message)


def test_a_single_use_code_named_by_its_last_four_symbols_is_removed_by_that_name(shopper, book):
    unique_code_promotion(codes=[SECRET], percent=10, name="Ten off for you")
    cart_fill(shopper, (book, 1))
    client = _client(shopper)
    client.post("/checkout/code/", {"code": SECRET})
    page = client.get("/checkout/").content.decode()
    assert SECRET not in page
    assert 'data-code="…2RTZ"' in page

    client.post("/checkout/code/remove/", {"code": "…2RTZ"})

    assert client.session[SESSION_PROMO_CODES] == []
    assert "Ten off for you" not in client.get("/checkout/").content.decode()
