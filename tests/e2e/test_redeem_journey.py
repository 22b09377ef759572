"""A visitor signs up, redeems a gift card from the navigation bar and sees it in the wallet.

Shopper journeys in Chromium against the live server (docs/interface.md §5, §6). Each step leaves a
full-page screenshot in test-results/screenshots/ for a person to look at.
"""

import re
import uuid

import pytest
from django.core.management import call_command
from django.test import override_settings
from playwright.sync_api import Page, expect

from tests.accounts.factories import PASSWORD
from tests.wallet.factories import issue_card
from wallet.codefile import code_file_read

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def sign_up(page: Page, live_server, *, region: str, shoot) -> str:
    """Open /accounts/signup/ as a visitor and create an account in `region`."""
    email = f"shopper-{uuid.uuid4().hex[:10]}@example.com"
    page.goto(f"{live_server.url}/accounts/signup/")
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    shoot("signup")
    page.locator('[name="email"]').fill(email)
    page.locator('[name="password1"]').fill(PASSWORD)
    page.locator('[name="password2"]').fill(PASSWORD)
    page.locator('[name="region"]').select_option(region)
    shoot("signup-filled")
    page.get_by_role("button", name="Create account").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/signup/"))
    expect(page.get_by_role("navigation")).to_contain_text(email)
    return email


def redeem(page: Page, typed: str) -> None:
    """Go to "Redeem a Gift Card" through the navigation bar and submit `typed`."""
    page.get_by_role("navigation").get_by_role("link", name="Redeem a Gift Card").click()
    expect(page).to_have_url(re.compile(r"/gift-cards/redeem/$"))
    page.get_by_label("Claim code").fill(typed)
    page.get_by_test_id("redeem-submit").click()


def as_typed_by_a_person(code: str) -> str:
    """`ABCD-EFGHJK-MNPQR` → `abcd efghjk mnpqr`: lower case, spaces for dashes."""
    canonical = code.replace("-", "")
    return f"{canonical[:4]} {canonical[4:10]} {canonical[10:]}".lower()


def one_symbol_wrong(code: str) -> str:
    """The code with its sixth symbol replaced: the check symbol makes it a `typo`."""
    typed = as_typed_by_a_person(code)
    wrong = "x" if typed[6] != "x" else "y"
    return typed[:6] + wrong + typed[7:]


def test_us_visitor_signs_up_and_redeems_a_gift_card(page: Page, live_server, shoot, offline_guard):
    outside, failures = offline_guard
    issued = issue_card(region="US", amount=2500)
    typed = as_typed_by_a_person(issued.code)
    assert " " in typed
    assert typed == typed.lower()

    sign_up(page, live_server, region="US", shoot=shoot)
    expect(page).to_have_url(re.compile(r"/wallet/$"))
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "0")
    shoot("signed-up")

    redeem(page, typed)

    expect(page).to_have_url(re.compile(r"/wallet/$"))
    expect(page.get_by_test_id("message")).to_contain_text("$25.00 was added to your balance")
    balance = page.get_by_test_id("wallet-balance")
    expect(balance).to_have_attribute("data-amount-minor", str(issued.card.amount))
    expect(balance).to_have_attribute("data-currency", "USD")
    expect(balance).to_have_text("$25.00")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("$25.00")
    row = page.get_by_test_id("activity-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-kind", "giftcard_redeem")
    expect(row).to_have_attribute("data-amount-minor", "2500")
    shoot("redeemed")

    redeem(page, typed)

    expect(page).to_have_url(re.compile(r"/gift-cards/redeem/$"))
    error = page.get_by_test_id("form-error")
    expect(error).to_have_attribute("data-reason", "already_redeemed")
    # The same shopper, a moment ago: the page says it was them.
    expect(error).to_contain_text("You redeemed this card")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("$25.00")
    shoot("already-redeemed")

    page.get_by_label("Claim code").fill(one_symbol_wrong(issued.code))
    page.get_by_test_id("redeem-submit").click()

    error = page.get_by_test_id("form-error")
    expect(error).to_have_attribute("data-reason", "typo")
    expect(error).to_contain_text("doesn't look like a gift card code")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("$25.00")
    shoot("typo")

    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"


def test_jp_shopper_sees_yen_without_decimals(
    page: Page, live_server, shoot, offline_guard, tmp_path
):
    outside, failures = offline_guard
    # A JP code the way `make run` hands them out: seed_demo's code file.
    code_file = tmp_path / "demo-codes.csv"
    with override_settings(DEBUG=True):  # seed_demo refuses to run without it
        call_command("seed_demo", code_file=str(code_file))
    row = next(r for r in code_file_read(code_file) if r["region"] == "JP")
    assert (row["currency"], row["amount"]) == ("JPY", "3000")  # major units: yen have none

    sign_up(page, live_server, region="JP", shoot=shoot)
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-currency", "JPY")
    expect(page.get_by_test_id("wallet-balance")).to_have_text("￥0")
    shoot("signed-up")

    redeem(page, as_typed_by_a_person(row["code"]))

    expect(page).to_have_url(re.compile(r"/wallet/$"))
    expect(page.get_by_test_id("message")).to_contain_text("￥3,000 was added to your balance")
    balance = page.get_by_test_id("wallet-balance")
    expect(balance).to_have_attribute("data-amount-minor", "3000")
    expect(balance).to_have_attribute("data-currency", "JPY")
    expect(balance).to_have_text("￥3,000")
    expect(page.get_by_test_id("nav-balance")).to_contain_text("￥3,000")
    expect(page.get_by_test_id("activity-row")).to_have_attribute("data-amount-minor", "3000")
    for text in [balance.inner_text(), page.get_by_test_id("activity-row").inner_text()]:
        assert not re.search(r"￥[\d,]*\.\d", text), f"yen shown with decimals: {text!r}"
    shoot("redeemed")

    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"
