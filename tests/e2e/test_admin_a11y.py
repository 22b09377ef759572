"""The staff pages pass axe-core at 1280 and 390 px, and read as money (docs/interface.md §5).

A superuser with two-factor walks the admin index (with its "waiting for my approval" box),
the gift card list and the code search, the batch request form (empty and refused), a batch
waiting for approval, the adjust page and its confirmation step, the balance adjustments (the
list and one waiting), postings, a ledger account, a transfer, the audit log, a product with
its prices and a shopper's region change; and, signed out, the sign-in page the admin sends
staff to. Each page gets a full-page screenshot in var/test-results/admin/ for a person to
look at, and axe-core's verdict; the test fails with every violation listed.
"""

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from catalog.demo import catalog_seed
from catalog.models import Product
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.wallet.factories import issue_card
from tests.wallet.staff import ADJUSTERS, ISSUERS, batch_request, staff_user, superuser
from wallet.models import Account, BalanceAdjustment, Transfer
from wallet.services import giftcard_redeem, wallet_adjust, wallet_credit

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = Path(settings.BASE_DIR) / "var" / "test-results" / "admin"


class Audit:
    """axe-core on the current page; keeps each page's violations and a screenshot."""

    def __init__(self, page: Page, width: str):
        self.page = page
        self.axe = Axe()
        self.violations: list[str] = []
        self.shots = SHOTS / width
        self.shots.mkdir(parents=True, exist_ok=True)

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        for violation in self.axe.run(self.page).response["violations"]:
            targets = ", ".join(" ".join(map(str, n["target"])) for n in violation["nodes"][:5])
            self.violations.append(
                f"{name} ({self.page.url}): {violation['id']} [{violation['impact']}] "
                f"{violation['help']} — {targets}"
            )


def _world():
    """A shopper with a balance, a redeemed card, one adjustment and one batch waiting for
    someone other than their requester, all through the real services."""
    catalog_seed()
    shopper = UserFactory(email="shopper@example.com")
    giftcard_redeem(user=shopper, code=issue_card(region="US", amount=2500).code)
    wallet_credit(user=shopper, amount=1099, idempotency_key="a11y-credit", description="credit")
    issue_card(region="JP", amount=3000)
    account = Account.objects.get(user=shopper, currency="USD")
    adjuster = staff_user(ADJUSTERS)
    waiting = wallet_adjust(
        account_id=account.pk,
        amount=60_000,
        reason="lost parcel, order CP-TEST",
        idempotency_key="a11y-waiting",
        by=adjuster,
    ).adjustment
    batch = batch_request(staff_user(ISSUERS), count=60, amount=2500, name="Spring promotion")
    return {"shopper": shopper, "account": account, "waiting": waiting, "batch": batch}


def _sign_in(context, live_server, user) -> None:
    """The browser gets the session of a staff member who proved their second factor."""
    client = login_staff(Client(), user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


# At 1280 px and on a 390 px phone (where the approve and reject buttons once fell off-screen).
@pytest.mark.parametrize("width", sorted(VIEWPORTS))
def test_every_staff_page_has_no_axe_violation_and_shows_money(browser, live_server, width):
    world = _world()
    boss = superuser(email="boss@example.com")
    url = live_server.url
    context = browser.new_context(viewport=VIEWPORTS[width])
    page = context.new_page()
    audit = Audit(page, width)

    # Signed out: the admin sends staff to the shop's sign-in.
    page.goto(f"{url}/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    audit.check("sign-in")

    _sign_in(context, live_server, boss)
    page.goto(f"{url}/admin/")
    expect(page.get_by_test_id("waiting-for-me-balanceadjustment")).to_have_attribute(
        "data-count", "1"
    )
    expect(page.get_by_test_id("waiting-for-me-giftcardbatch")).to_have_attribute("data-count", "1")
    audit.check("index")

    page.goto(f"{url}{reverse('admin:wallet_giftcard_changelist')}")
    expect(page.locator("#result_list")).to_contain_text("$25.00")
    expect(page.locator("#result_list")).to_contain_text("¥3,000")
    audit.check("giftcard-list")
    page.goto(f"{url}{reverse('admin:wallet_giftcard_code_search')}")
    page.get_by_label("Full claim code").fill("ABCD-EFGHJK-LMN7K2")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    audit.check("code-search-typo")

    page.goto(f"{url}{reverse('admin:wallet_giftcardbatch_add')}")
    expect(page.get_by_label("Region")).to_have_value(settings.DEFAULT_REGION)
    audit.check("batch-add")
    page.get_by_label("Name").fill("Too big")
    page.get_by_label("Number of cards").fill("1")
    page.get_by_label("Value of each card").fill("25.001")
    page.get_by_role("button", name="Request batch").click()
    expect(page.locator(".errornote")).to_be_visible()
    audit.check("batch-add-errors")
    page.goto(f"{url}{reverse('admin:wallet_giftcardbatch_changelist')}")
    expect(page.locator("#result_list")).to_contain_text("$1,500.00")
    audit.check("batch-list")
    page.goto(f"{url}{reverse('admin:wallet_giftcardbatch_change', args=[world['batch'].pk])}")
    expect(page.get_by_test_id("batch-approve")).to_be_visible()
    audit.check("batch-waiting")

    account = world["account"]
    page.goto(f"{url}{reverse('admin:wallet_account_adjust', args=[account.pk])}")
    expect(page.get_by_test_id("admin-balance")).to_have_text("$35.99")
    audit.check("adjust")
    page.get_by_label("Amount").fill("25.00")
    page.get_by_label("Internal note").fill("goodwill for a late parcel")
    page.get_by_label("Description the shopper sees").fill("Sorry for the late parcel")
    page.get_by_role("button", name="Check adjustment…").click()
    expect(page.get_by_test_id("adjust-confirm-text")).to_have_text(
        "Credit $25.00 to shopper@example.com's USD balance?"
    )
    audit.check("adjust-confirm")
    page.get_by_test_id("adjust-confirm-button").click()
    expect(page.locator(".messagelist")).to_contain_text("The balance is now $60.99")
    audit.check("account-after-adjust")

    page.goto(f"{url}{reverse('admin:wallet_balanceadjustment_changelist')}?waiting_for_me=1")
    expect(page.locator("#result_list")).to_contain_text("+$600.00")
    audit.check("adjustment-list")
    waiting = world["waiting"]
    page.goto(f"{url}{reverse('admin:wallet_balanceadjustment_change', args=[waiting.pk])}")
    expect(page.get_by_test_id("adjustment-approve")).to_be_visible()
    audit.check("adjustment-detail")

    page.goto(f"{url}{reverse('admin:wallet_posting_changelist')}")
    expect(page.locator("#result_list")).to_contain_text("\u2212$25.00")
    audit.check("posting-list")
    page.goto(f"{url}{reverse('admin:wallet_account_changelist')}")
    audit.check("account-list")
    transfer = Transfer.objects.filter(kind="adjustment").first()
    page.goto(f"{url}{reverse('admin:wallet_transfer_change', args=[transfer.pk])}")
    audit.check("transfer")
    page.goto(f"{url}{reverse('admin:wallet_auditentry_changelist')}")
    expect(page.locator("#result_list")).to_contain_text("$25.00 credited")
    audit.check("audit-log")

    product = Product.objects.filter(prices__region_id="US").first()
    page.goto(f"{url}{reverse('admin:catalog_product_change', args=[product.pk])}")
    audit.check("product")
    page.goto(f"{url}{reverse('admin:accounts_user_region_change', args=[world['shopper'].pk])}")
    audit.check("region-change")

    context.close()
    assert BalanceAdjustment.objects.filter(status="applied").count() == 1
    assert audit.violations == [], (
        f"axe-core found {len(audit.violations)} violation(s):\n" + "\n".join(audit.violations)
    )
