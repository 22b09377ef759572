"""A new shopper ships a desk lamp and buys a game (docs/interface.md §10), at 1280 px and on a
390 x 844 phone: sign up → add an address → a physical and a digital item → express shipping →
pay with the balance and a card → staff mark it shipped → the shopper sees the timeline, and
the e-mails were sent. Each step leaves a full-page screenshot for a person to look at."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from catalog.demo import catalog_seed
from catalog.models import Price
from checkout import payments
from checkout.models import Order, ShippingRate
from checkout.services import order_ship
from tests.accounts.factories import UserFactory
from tests.e2e.test_a11y_pages import Audit
from tests.e2e.test_redeem_journey import as_typed_by_a_person, sign_up
from tests.wallet.factories import issue_card
from wallet.reconcile import ledger_reconcile

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LAMP, GAME = "desk-lamp", "puzzle-quest"
GIFT_CARD = 2000
APPROVED_CARD = "4242 4242 4242 4242"


@pytest.fixture
def gateway():
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


def _add(page: Page, live_server, slug: str, shoot) -> None:
    page.goto(f"{live_server.url}/products/{slug}/")
    shoot(f"product-{slug}")
    page.get_by_test_id("add-to-cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))


@pytest.mark.parametrize("width", list(WIDTHS))
def test_ship_a_lamp_and_buy_a_game(
    width, page: Page, live_server, shoot, offline_guard, gateway, mailoutbox
):
    outside, failures = offline_guard
    page.set_viewport_size(WIDTHS[width])
    catalog_seed()
    prices = {
        p.product.slug: p.amount
        for p in Price.objects.filter(
            product__slug__in=[LAMP, GAME], region_id="US"
        ).select_related("product")
    }
    express = ShippingRate.objects.get(region_id="US", method="express").amount
    issued = issue_card(region="US", amount=GIFT_CARD)

    email = sign_up(page, live_server, region="US", shoot=shoot)
    audit = Audit(page, width)  # axe-core on every page of the journey

    # The address book: a bad ZIP code is refused with its error tied to the input.
    page.goto(f"{live_server.url}/account/addresses/")
    expect(page.get_by_role("heading", name="Your addresses", level=1)).to_be_visible()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address line 1").fill("12 Analytical Row")
    page.get_by_label("City").fill("New York")
    page.get_by_label("Postal code").fill("1000")
    page.get_by_test_id("address-save").click()
    postal = page.get_by_label("Postal code")
    expect(postal).to_have_attribute("aria-invalid", "true")
    expect(postal).to_have_value("1000")
    expect(page.get_by_test_id("field-error")).to_contain_text("12345 or 12345-6789")
    shoot("address-refused")
    audit.check("address-refused")
    postal.fill("10001")
    page.get_by_test_id("address-save").click()
    expect(page.get_by_test_id("address")).to_have_count(1)
    expect(page.get_by_test_id("address-default")).to_be_visible()
    shoot("address-book")
    audit.check("address-book")

    _add(page, live_server, LAMP, shoot)
    _add(page, live_server, GAME, shoot)
    shoot("cart")

    page.goto(f"{live_server.url}/checkout/")
    expect(page.get_by_test_id("checkout-address-selected")).to_contain_text("12 Analytical Row")
    # A gift card through the code box, so the balance pays first.
    page.get_by_label("Code", exact=True).fill(as_typed_by_a_person(issued.code))
    page.get_by_test_id("apply-code").click()
    expect(page.get_by_test_id("message")).to_contain_text("was added to your balance")
    page.get_by_test_id("shipping-express").check()  # sends its form
    expect(page.get_by_test_id("order-shipping")).to_have_attribute(
        "data-amount-minor", str(express)
    )
    total = prices[LAMP] + prices[GAME] + express
    due = total - GIFT_CARD
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute("data-amount-minor", str(due))
    shoot("checkout-express")
    audit.check("checkout-express")
    page.get_by_label("Card number").fill(APPROVED_CARD)
    page.get_by_test_id("place-order").click()

    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    number = page.get_by_test_id("order-number").inner_text()
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "placed")
    expect(page.get_by_test_id("order-shipping")).to_have_attribute(
        "data-amount-minor", str(express)
    )
    shoot("order-placed")
    audit.check("order-placed")

    # Staff mark it shipped (the admin's action calls this same service).
    order = Order.objects.get(number=number)
    assert (order.total, order.balance_applied, order.card_charged) == (total, GIFT_CARD, due)
    staff = UserFactory(is_staff=True, is_superuser=True)
    order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z999AA10123456784", by=staff)

    page.reload()
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "shipped")
    steps = page.get_by_test_id("timeline-step")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_have_attribute("data-done", "true")
    expect(steps.nth(1)).to_have_attribute("data-done", "true")
    expect(steps.nth(2)).to_have_attribute("data-done", "false")
    expect(page.get_by_test_id("order-tracking")).to_contain_text("1Z999AA10123456784")
    shoot("order-shipped")
    audit.check("order-shipped")
    if width == "phone":
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= WIDTHS["phone"]["width"], f"the order page is {wide} px wide"

    page.goto(f"{live_server.url}/orders/library/")
    expect(page.get_by_test_id("library-item")).to_have_count(1)
    expect(page.get_by_test_id("library-item")).to_contain_text("Puzzle Quest")
    shoot("library")
    audit.check("library")

    assert audit.violations == []
    subjects = [m.subject for m in mail.outbox if m.to == [email]]
    assert f"[Coinpurse] Your order {number}" in subjects
    assert f"[Coinpurse] Your order {number} is on its way" in subjects
    shipped = next(m for m in mail.outbox if m.subject.endswith("is on its way"))
    assert f"/orders/{number}/" in shipped.body
    assert shipped.alternatives[0][1] == "text/html"
    assert ledger_reconcile().clean
    assert outside == []
    # The one refusal on purpose: the bad ZIP code answered 400 with the form.
    assert failures == [f"400 {live_server.url}/account/addresses/"]
