"""The wallet, report, redeem and help pages in Chromium at 1280 px and on a 390 x 844 phone:
the activity table stacks on the phone with Balance and Report in view, no page scrolls
sideways; a full-page screenshot of each for a person to look at."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from tests.wallet.test_views import UNKNOWN_CODE
from wallet.models import Posting, Transfer
from wallet.selectors import posting_get_for_user
from wallet.services import activity_report_create, giftcard_redeem, wallet_debit

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def _signed_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def _shopper():
    user = UserFactory()
    giftcard_redeem(user=user, code=issue_card(amount=12_345).code)
    wallet_debit(
        user=user,
        amount=2_500,
        idempotency_key=f"o-{user.pk}",
        description="Order CP-7K2M9QXR",
        kind=Transfer.Kind.ORDER_PAYMENT,
        reference="order:CP-7K2M9QXR",
    )
    first = Posting.objects.filter(account__user=user).order_by("pk").first()
    report = activity_report_create(
        user=user, posting=posting_get_for_user(user=user, posting_id=first.pk), message="Hm?"
    )
    return user, report


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


@pytest.mark.parametrize("size", list(WIDTHS))
def test_support_pages_at_both_widths(page, live_server, shoot, size):
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[size], strict=True)))
    user, _report = _shopper()
    _signed_in(page, live_server, user)

    page.goto(f"{live_server.url}/wallet/")
    rows = page.get_by_test_id("activity-row")
    expect(rows).to_have_count(2)
    for cell in ("Balance", "Report"):
        box = rows.first.locator(f'td[data-label="{cell}"]').bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= page.viewport_size["width"] + 1, (cell, box)
    expect(page.get_by_test_id("activity-amount").first).to_have_text("\u2212$25.00")
    expect(page.get_by_test_id("activity-reported")).to_contain_text("Reported")
    _no_sideways_scroll(page)
    shoot("wallet")

    page.get_by_test_id("activity-reported").click()
    expect(page.get_by_test_id("report-status")).to_have_text("Open")
    _no_sideways_scroll(page)
    shoot("report")

    page.goto(f"{live_server.url}/help/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Help and contact")
    page.get_by_label("Your name").fill("Sam")
    page.get_by_label("What is it about?").select_option("gift_card")
    page.get_by_label("Your message").fill("Where is my card?")
    _no_sideways_scroll(page)
    shoot("help")
    page.get_by_test_id("contact-submit").click()
    expect(page.get_by_test_id("message")).to_contain_text("your message was sent")
    shoot("help-sent")

    page.goto(f"{live_server.url}/gift-cards/redeem/")
    for _ in range(8):
        page.get_by_label("Claim code").fill(UNKNOWN_CODE)
        page.get_by_test_id("redeem-submit").click()
    expect(page.get_by_test_id("lockout-warning")).to_contain_text("2 more wrong codes")
    shoot("redeem-warning")
    for _ in range(2):
        page.get_by_label("Claim code").fill(UNKNOWN_CODE)
        page.get_by_test_id("redeem-submit").click()
    expect(page.get_by_test_id("redeem-locked")).to_contain_text("30 minutes")
    expect(page.get_by_label("Claim code")).to_be_disabled()
    _no_sideways_scroll(page)
    shoot("redeem-locked")
