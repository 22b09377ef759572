"""Every shopper page passes axe-core, on a desktop (1280 px) and a phone (390 x 844).

One journey per width visits each page a shopper can reach — the catalog, a product, the cart
(empty and with items), checkout, the orders and an order, the wallet, redemption (empty and
refused), the activity report form, sign-in, sign-up, two-factor set-up, help and the 404 page —
runs axe-core (axe-playwright-python, which ships axe's script: nothing is fetched) on each, and
saves a full-page screenshot of each in var/test-results/a11y/ for a person to look at.

The test fails with every violation listed: the page, the rule, its impact and the elements;
a page wider than the window (sideways scrolling on a phone) is listed too.
"""

import re
import time
import uuid
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import Page, expect

from catalog.demo import catalog_seed
from checkout import payments
from tests.accounts.factories import totp_code
from tests.e2e.test_redeem_journey import PASSWORD, as_typed_by_a_person, one_symbol_wrong
from tests.wallet.factories import issue_card

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = Path(settings.BASE_DIR) / "var" / "test-results" / "a11y"
APPROVED_CARD = "4242 4242 4242 4242"


class Audit:
    """Runs axe on the current page and keeps its violations and a screenshot per page."""

    def __init__(self, page: Page, width: str):
        self.page = page
        self.width = width
        self.axe = Axe()
        self.violations: list[str] = []
        self.pages: list[str] = []
        SHOTS.mkdir(parents=True, exist_ok=True)

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        self.page.screenshot(path=str(SHOTS / f"{self.width}-{name}.png"), full_page=True)
        results = self.axe.run(self.page)
        self.pages.append(name)
        viewport = self.page.viewport_size["width"]
        wide = self.page.evaluate("document.documentElement.scrollWidth")
        if wide > viewport:  # a table or a word wider than the phone: sideways scrolling
            self.violations.append(
                f"{self.width} {name} ({self.page.url}): page is {wide} px wide in {viewport} px"
            )
        for violation in results.response["violations"]:
            targets = ", ".join(
                " ".join(str(t) for t in node["target"]) for node in violation["nodes"][:5]
            )
            more = len(violation["nodes"]) - 5
            self.violations.append(
                f"{self.width} {name} ({self.page.url}): {violation['id']} "
                f"[{violation['impact']}] {violation['help']} — {targets}"
                + (f" (+{more} more)" if more > 0 else "")
            )


@pytest.fixture
def gateway():
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


def _help_url() -> str | None:
    """/help/ once the support pages exist (docs/interface.md §10)."""
    try:
        return reverse("support:help")
    except NoReverseMatch:
        return "/help/"


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_shopper_page_has_no_axe_violation(
    browser, live_server, width, gateway, screenshots_dir
):
    catalog_seed()
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    audit = Audit(page, width)
    url = live_server.url

    # A visitor.
    page.goto(f"{url}/")
    audit.check("catalog")
    page.goto(f"{url}/?category=books")
    audit.check("catalog-books")
    page.goto(f"{url}/products/desk-lamp/")
    audit.check("product")
    page.goto(f"{url}/cart/")
    audit.check("cart-empty")
    page.goto(f"{url}/accounts/login/")
    audit.check("sign-in")
    page.locator('[name="login"]').fill("nobody@example.com")
    page.locator('[name="password"]').fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    audit.check("sign-in-refused")
    page.goto(f"{url}/no-such-page/")
    audit.check("404")

    # Signs up.
    page.goto(f"{url}/accounts/signup/")
    audit.check("sign-up")
    page.locator('[name="email"]').fill("not-an-address")
    page.locator('[name="password1"]').fill("short")
    page.locator('[name="password2"]').fill("other")
    page.locator("form").first.evaluate("f => f.noValidate = true")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("form-error").first).to_be_visible()
    audit.check("sign-up-refused")
    email = f"a11y-{uuid.uuid4().hex[:10]}@example.com"
    page.locator('[name="email"]').fill(email)
    page.locator('[name="password1"]').fill(PASSWORD)
    page.locator('[name="password2"]').fill(PASSWORD)
    page.locator('[name="region"]').select_option("US")
    page.get_by_role("button", name="Create account").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/signup/"))

    page.goto(f"{url}/wallet/")
    audit.check("wallet-empty")
    page.goto(f"{url}/gift-cards/redeem/")
    audit.check("redeem")
    issued = issue_card(region="US", amount=2500)
    page.get_by_label("Claim code").fill(one_symbol_wrong(issued.code))
    page.get_by_test_id("redeem-submit").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    audit.check("redeem-refused")
    page.get_by_label("Claim code").fill(as_typed_by_a_person(issued.code))
    page.get_by_test_id("redeem-submit").click()
    expect(page).to_have_url(re.compile(r"/wallet/$"))

    for slug in ["desk-lamp", "puzzle-quest"]:
        page.goto(f"{url}/products/{slug}/")
        page.get_by_test_id("add-to-cart").click()
        expect(page).to_have_url(re.compile(r"/cart/$"))
    audit.check("cart")
    page.goto(f"{url}/checkout/")
    audit.check("checkout")
    # The order itself is of the digital item only: it needs no address (docs/interface.md §10).
    page.goto(f"{url}/cart/")
    lamp = page.locator('[data-testid="cart-line"][data-slug="desk-lamp"]')
    lamp.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("cart-line")).to_have_count(1)
    page.goto(f"{url}/checkout/")
    if page.get_by_label("Card number").count():  # the balance may pay it all
        page.get_by_label("Card number").fill(APPROVED_CARD)
    page.get_by_test_id("place-order").click()
    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    audit.check("order")
    page.goto(f"{url}/orders/")
    audit.check("orders")
    page.goto(f"{url}/wallet/")
    audit.check("wallet")
    report = page.locator('[data-testid="activity-row"] a[href$="/report/"]').first
    page.goto(f"{url}{report.get_attribute('href')}")
    audit.check("report")
    page.goto(f"{url}/accounts/2fa/")
    audit.check("2fa")
    page.goto(f"{url}/accounts/2fa/totp/activate/")
    audit.check("2fa-unverified")
    EmailAddress.objects.filter(email=email).update(verified=True)
    page.goto(f"{url}/accounts/2fa/totp/activate/")
    if page.locator('[name="password"]').count():  # allauth asks for the password again first
        audit.check("reauthenticate")
        page.locator('[name="password"]').fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
    expect(page.locator('[name="code"]')).to_be_visible()
    audit.check("2fa-setup")
    page.locator('[name="code"]').fill("000000")
    page.locator('[name="code"]').press("Enter")
    expect(page.get_by_test_id("form-error").first).to_be_visible()
    audit.check("2fa-setup-refused")
    secret = page.locator("input[readonly], input[disabled]").first.input_value()
    page.locator('[name="code"]').fill(totp_code(secret))
    page.locator('[name="code"]').press("Enter")
    expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
    audit.check("2fa-on")

    # Signing in again takes the second step: /accounts/2fa/authenticate/.
    page.goto(f"{url}/accounts/logout/")
    audit.check("sign-out")
    page.locator("main").get_by_role("button", name="Sign out").click()
    page.goto(f"{url}/accounts/login/")
    page.locator('[name="login"]').fill(email)
    page.locator('[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    audit.check("2fa-authenticate")
    page.locator('[name="code"]').fill("000000")
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("form-error").first).to_be_visible()
    audit.check("2fa-authenticate-refused")
    for _attempt in range(2):  # a code used once is refused: the next period brings a new one
        page.locator('[name="code"]').fill(totp_code(secret))
        page.locator("main").get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("load")
        if "/accounts/2fa/authenticate/" not in page.url:
            break
        time.sleep(30 - time.time() % 30 + 1)
    expect(page).not_to_have_url(re.compile(r"/accounts/"))
    help_url = _help_url()
    if page.goto(f"{url}{help_url}").status == 200:
        audit.check("help")
    page.goto(f"{url}/cart/")
    audit.check("cart-after-order")

    context.close()
    assert audit.violations == [], (
        f"axe-core found {len(audit.violations)} violation(s) on {width}:\n"
        + "\n".join(audit.violations)
    )
