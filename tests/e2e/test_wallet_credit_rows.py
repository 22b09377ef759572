"""The wallet page with promotional credit rows at 1280 and 390 px: on a phone each stacked
activity row keeps its credit badge on one line and its description wrapping by words, not a
letter per line (screenshots in var/test-results/wallet-credit/ for a person to look at)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page

from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import fund, grant
from wallet.services import wallet_spend, wallet_spend_return

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
SHOTS = Path(settings.BASE_DIR) / "var" / "test-results" / "wallet-credit"


def _shopper_with_credit_rows():
    user = UserFactory(region_id="US")
    fund(user, 100)
    grant(user, 500, days=20)
    spent = wallet_spend(
        user=user,
        amount=550,
        payable_by_category={None: 550},
        idempotency_key="order:e2e-1",
        description="Order CP-7K2M9QXR",
        reference="order:CP-7K2M9QXR",
    )
    wallet_spend_return(
        transfer=spent.transfer,
        amount=300,
        idempotency_key="refund:e2e-1",
        description="Refund of order CP-7K2M9QXR",
        reference="order:CP-7K2M9QXR",
    )
    return user


@pytest.mark.parametrize("width", WIDTHS)
def test_credit_activity_rows_read_as_lines_at_desktop_and_phone(page: Page, live_server, width):
    user = _shopper_with_credit_rows()
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    w, h = WIDTHS[width]
    page.set_viewport_size({"width": w, "height": h})
    page.goto(f"{live_server.url}/wallet/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"wallet-credit-{width}.png"), full_page=True)

    badges = page.get_by_test_id("activity-credit")
    assert badges.count() >= 3
    for index in range(badges.count()):
        box = badges.nth(index).bounding_box()
        # One line of badge text (about 1.2 rem), wider than it is tall.
        assert box["height"] < 30, box
        assert box["width"] > box["height"], box
    if width == "phone":
        # Stacked: each description is one block beside its label, words whole, not a
        # column a letter wide; "$2.72 credit" stays together at the right.
        narrowest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('.activity-description')]
                 .map(e => e.getBoundingClientRect().width))"""
        )
        assert narrowest > 150, narrowest
        pairs = page.evaluate(
            """() => [...document.querySelectorAll('td[data-label="Balance"] > span')]
                 .map(e => e.getBoundingClientRect().width)"""
        )
        assert pairs
        assert max(pairs) < 120, pairs
    # Nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= w
