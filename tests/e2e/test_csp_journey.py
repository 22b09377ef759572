"""Under the Content-Security-Policy (docs/interface.md §9) the shop still behaves in a real
browser: the balance switch sends its form and the place-order button disables itself, both
from static/js/coinpurse.js now that no template has an inline handler, and Chromium reports
no violation of the policy on any page of the journey."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.checkout.factories import ProductFactory
from tests.e2e.test_redeem_journey import as_typed_by_a_person, redeem, sign_up
from tests.wallet.factories import issue_card

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_the_checkout_works_under_the_policy_without_a_violation(
    page: Page, live_server, shoot, offline_guard
):
    outside, failures = offline_guard
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    product = ProductFactory(name="Desk lamp", prices={"US": 3999})
    issued = issue_card(region="US", amount=1000)

    sign_up(page, live_server, region="US", shoot=shoot)
    redeem(page, as_typed_by_a_person(issued.code))
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "1000")
    page.goto(f"{live_server.url}/products/{product.slug}/")
    page.get_by_test_id("add-to-cart").click()
    page.goto(f"{live_server.url}/checkout/")
    expect(page.get_by_test_id("use-balance")).to_be_checked()
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute("data-amount-minor", "2999")
    shoot("checkout")

    # The switch has no onchange= any more: static/js/coinpurse.js sends its form.
    page.get_by_test_id("use-balance").click()
    expect(page.get_by_test_id("message")).to_contain_text("Your balance will not be used.")
    expect(page.get_by_test_id("use-balance")).not_to_be_checked()
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute("data-amount-minor", "3999")
    shoot("balance-off")

    # The button disables itself when the form is sent (no onsubmit= either). A listener added
    # after the page's own notes what the button was as the form left, for after the reload.
    page.evaluate(
        """() => document.addEventListener("submit", () => sessionStorage.setItem(
            "placeOrderDisabled",
            document.querySelector('[data-testid=place-order]').disabled))"""
    )
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_test_id("place-order").click()
    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    assert page.evaluate("() => sessionStorage.getItem('placeOrderDisabled')") == "true"
    shoot("order")

    for path in ("/", "/wallet/", "/orders/", "/gift-cards/redeem/", "/no-such-page/"):
        page.goto(f"{live_server.url}{path}")
    assert violations == []
    assert outside == []
    assert failures == [f"404 {live_server.url}/no-such-page/"]
