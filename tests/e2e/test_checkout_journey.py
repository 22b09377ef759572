"""A new shopper redeems a gift card, fills a cart and pays partly from the balance, partly by
card; a declined card leaves the balance and the cart as they were.

Shopper journeys in Chromium against the live server (docs/interface.md §5, §6). Each step leaves a
full-page screenshot in test-results/screenshots/ for a person to look at.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from catalog.demo import catalog_seed
from catalog.models import Price
from checkout import payments
from checkout.models import Order
from tests.e2e.test_redeem_journey import as_typed_by_a_person, redeem, sign_up
from tests.wallet.factories import issue_card
from wallet.reconcile import ledger_reconcile

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Two books of the demo catalog: $29.99 + $14.99 = $44.98, more than a $25 gift card.
BOOKS = ["The Pragmatic Ledger", "Tiny Habits of Money"]
GIFT_CARD = 2500
APPROVED_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
# The books ship: US standard shipping, $44.98 being under the $50.00 free threshold.
SHIPPING = 599


def ship_to_a_new_address(page: Page) -> None:
    """At checkout, a first address: typed in the checkout's own form, saved to the book."""
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address line 1").fill("12 Analytical Row")
    page.get_by_label("City").fill("New York")
    page.get_by_label("Postal code").fill("10001")
    page.get_by_test_id("address-save").click()
    expect(page.get_by_test_id("checkout-address-selected")).to_contain_text("12 Analytical Row")
    expect(page.get_by_test_id("order-shipping")).to_have_attribute(
        "data-amount-minor", str(SHIPPING)
    )


@pytest.fixture
def demo_catalog() -> dict[str, int]:
    """The demo catalog (catalog.demo); returns the US price of each book in `BOOKS`."""
    catalog_seed()
    prices = Price.objects.filter(product__name__in=BOOKS, region_id="US")
    return {p.product.name: p.amount for p in prices.select_related("product")}


@pytest.fixture
def gateway():
    """A fresh test gateway (a per-process singleton the live server's thread shares)."""
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


def add_books_to_cart(page: Page, live_server, prices: dict[str, int], *, shoot) -> int:
    """From the catalog, open each book's page and add it to the cart; returns the subtotal."""
    page.goto(f"{live_server.url}/")
    expect(page.get_by_test_id("product-card").first).to_be_visible()
    shoot("catalog")
    page.get_by_role("link", name="Books", exact=True).click()
    expect(page.get_by_test_id("product-card")).to_have_count(4)
    for name in BOOKS:
        page.get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        expect(page.get_by_test_id("product-price")).to_have_attribute(
            "data-amount-minor", str(prices[name])
        )
        shoot(f"product-{name.lower().replace(' ', '-')}")
        page.get_by_test_id("add-to-cart").click()
        expect(page).to_have_url(re.compile(r"/cart/$"))
        expect(page.get_by_test_id("message")).to_contain_text("Added to your cart")
        page.get_by_role("navigation").get_by_role("link", name="Shop").click()
        page.get_by_role("link", name="Books", exact=True).click()
    page.get_by_test_id("nav-cart").click()
    subtotal = sum(prices.values())
    expect(page.get_by_test_id("cart-line")).to_have_count(2)
    expect(page.get_by_test_id("cart-subtotal")).to_have_attribute(
        "data-amount-minor", str(subtotal)
    )
    shoot("cart")
    return subtotal


def expect_split(page: Page, *, subtotal: int, balance: int, due: int) -> None:
    """The summary hooks of docs/interface.md §6 (checkout and order pages alike)."""
    for testid, amount in [
        ("order-subtotal", subtotal),
        ("order-discount", 0),
        ("order-balance-applied", balance),
        ("order-amount-due", due),
    ]:
        expect(page.get_by_test_id(testid)).to_have_attribute("data-amount-minor", str(amount))


def pay(page: Page, card_number: str) -> None:
    page.get_by_label("Card number").fill(card_number)
    page.get_by_test_id("place-order").click()


def test_pays_with_the_balance_first_and_the_rest_by_card(
    page: Page, live_server, shoot, offline_guard, demo_catalog, gateway
):
    outside, failures = offline_guard
    issued = issue_card(region="US", amount=GIFT_CARD)

    sign_up(page, live_server, region="US", shoot=shoot)
    redeem(page, as_typed_by_a_person(issued.code))
    expect(page.get_by_test_id("message")).to_contain_text("$25.00 was added to your balance")
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "2500")
    shoot("redeemed")

    subtotal = add_books_to_cart(page, live_server, demo_catalog, shoot=shoot)
    due = subtotal + SHIPPING - GIFT_CARD
    page.get_by_test_id("go-to-checkout").click()

    # The balance is applied without the shopper doing anything; the card pays the rest.
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    ship_to_a_new_address(page)
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "2500")
    expect(page.get_by_test_id("use-balance")).to_be_checked()
    expect_split(page, subtotal=subtotal, balance=GIFT_CARD, due=due)
    expect(page.get_by_test_id("order-amount-due")).to_have_text("$25.97")
    expect(page.get_by_test_id("place-order")).to_contain_text("Pay $25.97 and place order")
    shoot("checkout")

    pay(page, APPROVED_CARD)

    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    number = page.get_by_test_id("order-number").inner_text()
    assert page.url.endswith(f"/orders/{number}/")
    expect_split(page, subtotal=subtotal, balance=GIFT_CARD, due=due)
    expect(page.get_by_test_id("order-balance-applied")).to_have_text("\N{MINUS SIGN}$25.00")
    expect(page.get_by_test_id("order-amount-due")).to_have_text("$25.97")
    expect(page.get_by_text("Charged to your card")).to_be_visible()
    for name in BOOKS:
        expect(page.get_by_text(f"1 \N{MULTIPLICATION SIGN} {name}")).to_be_visible()
    expect(page.get_by_test_id("nav-balance")).to_contain_text("$0.00")
    shoot("order")

    order = Order.objects.get(number=number)
    assert (order.subtotal, order.balance_applied, order.card_charged) == (
        subtotal,
        GIFT_CARD,
        due,
    )
    assert gateway.captured == {order.payment.reference}
    assert gateway.voided == set()

    page.get_by_role("navigation").get_by_role("link", name="Wallet").click()
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "0")
    rows = page.get_by_test_id("activity-row")
    expect(rows).to_have_count(2)  # newest first: the order, then the gift card
    expect(rows.nth(0)).to_have_attribute("data-kind", "order_payment")
    expect(rows.nth(0)).to_have_attribute("data-amount-minor", str(-GIFT_CARD))
    expect(rows.nth(0)).to_contain_text(f"Order {number}")
    # Money out in red, in green: Bootstrap's table cell colour must not win over ours.
    expect(rows.nth(0).locator(".amount-debit")).to_have_css("color", "rgb(220, 53, 69)")
    expect(rows.nth(1).locator(".amount-credit")).to_have_css("color", "rgb(25, 135, 84)")
    expect(rows.nth(1)).to_have_attribute("data-kind", "giftcard_redeem")
    shoot("wallet")

    page.get_by_role("navigation").get_by_role("link", name="Cart").click()
    expect(page.get_by_test_id("cart-empty")).to_be_visible()

    assert ledger_reconcile().clean
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"


def test_a_declined_card_leaves_the_balance_and_the_cart_as_they_were(
    page: Page, live_server, shoot, offline_guard, demo_catalog, gateway
):
    outside, failures = offline_guard
    issued = issue_card(region="US", amount=GIFT_CARD)

    sign_up(page, live_server, region="US", shoot=shoot)
    subtotal = add_books_to_cart(page, live_server, demo_catalog, shoot=shoot)
    due = subtotal + SHIPPING - GIFT_CARD
    page.get_by_test_id("go-to-checkout").click()
    ship_to_a_new_address(page)
    expect_split(page, subtotal=subtotal, balance=0, due=subtotal + SHIPPING)

    # The one box for codes: a gift card typed at checkout goes to the balance and is applied.
    page.get_by_label("Code", exact=True).fill(as_typed_by_a_person(issued.code))
    page.get_by_test_id("apply-code").click()
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    expect(page.get_by_test_id("message")).to_contain_text("$25.00 was added to your balance")
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "2500")
    expect_split(page, subtotal=subtotal, balance=GIFT_CARD, due=due)
    shoot("code-applied")

    pay(page, DECLINED_CARD)

    error = page.get_by_test_id("form-error")
    expect(error).to_have_attribute("data-reason", "declined")
    expect(error).to_contain_text("declined")
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "2500")
    expect(page.get_by_test_id("checkout-line")).to_have_count(2)
    expect_split(page, subtotal=subtotal, balance=GIFT_CARD, due=due)
    shoot("declined")
    assert not Order.objects.exists()
    assert gateway.captured == gateway.voided == set()

    page.get_by_role("navigation").get_by_role("link", name="Cart").click()
    expect(page.get_by_test_id("cart-line")).to_have_count(2)
    expect(page.get_by_test_id("cart-subtotal")).to_have_attribute(
        "data-amount-minor", str(subtotal)
    )
    shoot("cart-kept")
    page.get_by_role("navigation").get_by_role("link", name="Wallet").click()
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "2500")
    expect(page.get_by_test_id("activity-row")).to_have_count(1)  # the gift card only
    shoot("wallet-kept")
    page.get_by_role("navigation").get_by_role("link", name="Orders").click()
    expect(page.get_by_test_id("orders-empty")).to_be_visible()
    expect(page.get_by_test_id("order-row")).to_have_count(0)
    shoot("no-orders")

    # The same cart then goes through with a good card.
    page.get_by_role("navigation").get_by_role("link", name="Cart").click()
    page.get_by_test_id("go-to-checkout").click()
    pay(page, APPROVED_CARD)
    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    expect_split(page, subtotal=subtotal, balance=GIFT_CARD, due=due)
    shoot("paid-after-decline")

    assert Order.objects.count() == 1
    assert ledger_reconcile().clean
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"
