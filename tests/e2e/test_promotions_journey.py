"""A new shopper uses the demo promotions at checkout (docs/interface.md §11), at 1280 px and on
a 390 x 844 phone: WELCOME10 refused below its minimum with the amount missing → another book
→ WELCOME10 applied → SAVE5 refused as not combinable with it → a gift card in the same box
→ paid with the balance and a card → the order page lists the promotion it used.

axe-core runs on every page of the journey; each step leaves a full-page screenshot for a
person to look at.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from catalog.demo import catalog_seed
from catalog.models import Price
from checkout import payments
from checkout.models import Order
from promotions.demo import demo_promotions_load
from promotions.models import PromotionRedemption
from tests.e2e.test_a11y_pages import Audit
from tests.e2e.test_redeem_journey import as_typed_by_a_person, sign_up
from tests.wallet.factories import issue_card
from wallet.reconcile import ledger_reconcile

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SMALL_BOOK, BIG_BOOK = "tiny-habits-of-money", "django-in-depth"  # 14.99 and 39.99
GIFT_CARD = 2000
APPROVED_CARD = "4242 4242 4242 4242"


@pytest.fixture
def gateway():
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


def _add(page: Page, live_server, slug: str, shoot) -> None:
    page.goto(f"{live_server.url}/products/{slug}/")
    page.get_by_test_id("add-to-cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    shoot(f"cart-{slug}")


def _enter(page: Page, code: str) -> None:
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_test_id("apply-code").click()


def _minor(page: Page, testid: str) -> int:
    return int(page.get_by_test_id(testid).get_attribute("data-amount-minor"))


@pytest.mark.parametrize("width", list(WIDTHS))
def test_welcome10_refused_then_applied_save5_not_combinable_then_paid(
    width, page: Page, live_server, shoot, offline_guard, gateway
):
    outside, failures = offline_guard
    page.set_viewport_size(WIDTHS[width])
    catalog_seed()
    demo_promotions_load()
    prices = {
        p.product.slug: p.amount
        for p in Price.objects.filter(
            product__slug__in=[SMALL_BOOK, BIG_BOOK], region_id="US"
        ).select_related("product")
    }
    issued = issue_card(region="US", amount=GIFT_CARD)

    sign_up(page, live_server, region="US", shoot=shoot)
    audit = Audit(page, f"promotions-{width}")
    _add(page, live_server, SMALL_BOOK, shoot)
    page.get_by_test_id("go-to-checkout").click()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address line 1").fill("12 Analytical Row")
    page.get_by_label("City").fill("New York")
    page.get_by_label("Postal code").fill("10001")
    page.get_by_test_id("address-save").click()
    expect(page.get_by_test_id("checkout-address-selected")).to_contain_text("12 Analytical Row")
    expect(page.get_by_role("heading", name="Gift Cards & Promotional Codes")).to_be_visible()

    # 14.99 of the 20.00 WELCOME10 needs: refused, saying how much more to spend.
    _enter(page, "welcome10")
    error = page.get_by_test_id("form-error")
    expect(error).to_have_attribute("data-reason", "minimum_not_met")
    expect(error).to_have_attribute("data-missing-minor", str(2000 - prices[SMALL_BOOK]))
    expect(error).to_contain_text("Spend $5.01 more")
    expect(page).to_have_url(re.compile(r"/checkout/$"))  # a reload sends nothing again
    expect(page.get_by_test_id("applied-promotion")).to_have_count(0)
    expect(page.get_by_test_id("order-discount")).to_have_attribute("data-amount-minor", "0")
    shoot("welcome10-refused")
    audit.check("welcome10-refused")

    # Another book: 54.98, and the code applies (10%: 5.50).
    _add(page, live_server, BIG_BOOK, shoot)
    page.get_by_test_id("go-to-checkout").click()
    _enter(page, "WELCOME-10")
    expect(page.get_by_test_id("message")).to_contain_text("You save $5.50")
    applied = page.get_by_test_id("applied-promotion")
    expect(applied).to_have_count(1)
    expect(applied).to_have_attribute("data-code", "WELCOME10")
    expect(applied).to_have_attribute("data-amount-minor", "550")
    expect(page.get_by_test_id("order-discount")).to_have_attribute("data-amount-minor", "550")
    expect(applied.get_by_role("button", name="Remove WELCOME10")).to_be_visible()
    shoot("welcome10-applied")
    audit.check("welcome10-applied")

    # SAVE5 (5.00 from 50.00) does not combine with WELCOME10, which saves more.
    _enter(page, "save5")
    error = page.get_by_test_id("form-error")
    expect(error).to_have_attribute("data-reason", "not_combinable")
    expect(error).to_contain_text("SAVE5 cannot be combined with WELCOME10")
    expect(error).to_contain_text("SAVE5 was not used: WELCOME10 saves you $0.50 more")
    expect(page.get_by_test_id("applied-promotion")).to_have_attribute("data-code", "WELCOME10")
    expect(page.get_by_test_id("order-discount")).to_have_attribute("data-amount-minor", "550")
    shoot("save5-refused")
    audit.check("save5-refused")

    # A gift card in the same box: the balance pays first, the card the rest.
    _enter(page, as_typed_by_a_person(issued.code))
    expect(page.get_by_test_id("message")).to_contain_text("$20.00 was added to your balance")
    subtotal = prices[SMALL_BOOK] + prices[BIG_BOOK]
    shipping = _minor(page, "order-shipping")
    total = subtotal + shipping - 550
    expect(page.get_by_test_id("order-balance-applied")).to_have_attribute(
        "data-amount-minor", str(GIFT_CARD)
    )
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute(
        "data-amount-minor", str(total - GIFT_CARD)
    )
    shoot("checkout-ready")
    audit.check("checkout-ready")
    page.get_by_label("Card number").fill(APPROVED_CARD)
    page.get_by_test_id("place-order").click()

    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    number = page.get_by_test_id("order-number").inner_text()
    used = page.get_by_test_id("applied-promotion")
    expect(used).to_have_count(1)
    expect(used).to_have_attribute("data-code", "WELCOME10")
    expect(used).to_have_attribute("data-amount-minor", "550")
    expect(used).to_contain_text("WELCOME10: 10% off")
    expect(page.get_by_test_id("order-discount")).to_have_attribute("data-amount-minor", "550")
    expect(page.get_by_test_id("order-balance-applied")).to_have_attribute(
        "data-amount-minor", str(GIFT_CARD)
    )
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute(
        "data-amount-minor", str(total - GIFT_CARD)
    )
    expect(page.get_by_role("button", name=re.compile("Remove"))).to_have_count(0)
    shoot("order")
    audit.check("order")

    order = Order.objects.get(number=number)
    assert (order.discount, order.balance_applied, order.card_charged) == (
        550,
        GIFT_CARD,
        total - GIFT_CARD,
    )
    assert list(
        PromotionRedemption.objects.filter(order_number=number).values_list(
            "promotion__slug", "amount"
        )
    ) == [("welcome10", 550)]
    assert gateway.captured == {order.payment.reference}
    assert ledger_reconcile().clean
    assert audit.violations == [], "\n".join(audit.violations)
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_kept_code_that_no_longer_applies_shows_why_with_remove(
    width, page: Page, live_server, shoot, offline_guard
):
    outside, failures = offline_guard
    page.set_viewport_size(WIDTHS[width])
    catalog_seed()
    demo_promotions_load()
    sign_up(page, live_server, region="US", shoot=shoot)
    audit = Audit(page, f"promotions-kept-{width}")
    _add(page, live_server, BIG_BOOK, shoot)
    page.goto(f"{live_server.url}/checkout/")
    _enter(page, "WELCOME10")
    expect(page.get_by_test_id("applied-promotion")).to_have_attribute("data-code", "WELCOME10")

    # The cart changes under the code: the book out, a cheaper one in (14.99 < 20.00).
    page.goto(f"{live_server.url}/cart/")
    page.get_by_role("button", name="Remove").click()
    _add(page, live_server, SMALL_BOOK, shoot)
    page.goto(f"{live_server.url}/checkout/")
    refused = page.get_by_test_id("promo-code-refused")
    expect(refused).to_have_attribute("data-code", "WELCOME10")
    expect(refused).to_have_attribute("data-reason", "minimum_not_met")
    expect(refused).to_contain_text("Spend $5.01 more to use WELCOME10")
    expect(page.get_by_test_id("applied-promotion")).to_have_count(0)
    expect(page.get_by_test_id("order-discount")).to_have_attribute("data-amount-minor", "0")
    shoot("kept-code-refused")
    audit.check("kept-code-refused")

    refused.get_by_role("button", name="Remove WELCOME10").click()
    expect(page.get_by_test_id("message")).to_contain_text("WELCOME10 was removed")
    expect(page.get_by_test_id("promo-code-refused")).to_have_count(0)
    shoot("kept-code-removed")
    audit.check("kept-code-removed")
    assert audit.violations == [], "\n".join(audit.violations)
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"
