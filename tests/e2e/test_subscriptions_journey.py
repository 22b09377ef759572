"""A shopper subscribes to coffee beans from the product page, the day's run places the
delivery, the order and the wallet show it (balance first, the card the rest), the reminder
e-mail's link skips the next delivery, then the shopper cancels (docs/interface.md §14,
docs/subscriptions.md).

In Chromium against the live server, at 1280 px and on a 390 x 844 phone, axe-core on every
page visited (a page wider than the window counts as a violation). The shopper signs up
through the real pages; the default address and the balance come through the services, as a
shopper who shopped before would have them; the card is typed in the subscribe form. The run
is the operators' `subscriptions_run` command, called in the test process (the live server
shares its database). The screenshots go to var/test-results/a11y/subscriptions-<width>-*.png
for a person to look at.
"""

import datetime
import io
import re

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import Page, expect

from accounts.models import User
from catalog.demo import catalog_seed
from catalog.regions import region_today
from checkout import payments
from checkout.models import Order
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.periods import period_date
from tests.checkout.shopping import address_give, fund
from tests.e2e.test_a11y_pages import Audit
from tests.e2e.test_redeem_journey import sign_up
from wallet.reconcile import ledger_reconcile

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PRODUCT = "coffee-beans-1kg"  # a demo essential: $18.99, $18.04 by Subscribe & Save (5% off)
LIST_PRICE, UNIT_PRICE, QUANTITY = 1899, 1804, 2
BALANCE = 2000  # covers part of the $36.08 + shipping delivery; the card pays the rest
APPROVED_CARD = "4242 4242 4242 4242"
REMINDER = datetime.timedelta(days=3)  # the reminder goes 3 days before a delivery


@pytest.fixture
def gateway():
    """A fresh test gateway (a per-process singleton the live server's thread shares)."""
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


def _long(day) -> str:
    """A date as the pages write it ("1 February 2027")."""
    return f"{day.day} {day:%B %Y}"


def _row(page: Page):
    """The coffee beans' row on /subscriptions/."""
    return page.locator(f'[data-testid="subscription-row"][data-product="{PRODUCT}"]')


def _no_card_number(page: Page) -> None:
    """Only the card's last 4 digits are ever shown (docs/interface.md §14)."""
    html = page.content()
    assert APPROVED_CARD not in html, page.url
    assert APPROVED_CARD.replace(" ", "") not in html, page.url


@pytest.mark.parametrize("width", list(WIDTHS))
def test_subscribe_run_the_day_see_order_and_wallet_skip_then_cancel(
    width, page: Page, live_server, offline_guard, gateway
):
    outside, failures = offline_guard
    page.set_viewport_size(WIDTHS[width])
    catalog_seed()
    url = live_server.url

    email = sign_up(page, live_server, region="US", shoot=lambda step: None)
    user = User.objects.get(email=email)
    address_give(user)
    fund(user, BALANCE)
    today = region_today(user.region)
    audit = Audit(page, f"subscriptions-{width}")

    # 1. The product page: the Subscribe & Save price before confirming, the default address,
    # and (no saved card yet) a card number field for this subscription.
    page.goto(f"{url}/products/{PRODUCT}/")
    form = page.get_by_test_id("subscribe-form")
    price = form.get_by_test_id("subscribe-price")
    expect(price).to_have_attribute("data-amount-minor", str(UNIT_PRICE))
    expect(price).to_have_attribute("data-list-minor", str(LIST_PRICE))
    expect(price).to_have_attribute("data-percent", "5")
    expect(price).to_contain_text("$18.04")
    expect(form).to_contain_text("1 Test Street")
    expect(form.locator('[name="every"]')).to_have_value("1")
    form.locator('[name="quantity"]').fill(str(QUANTITY))
    form.locator('[name="card_number"]').fill(APPROVED_CARD)
    audit.check("01-product-subscribe")
    form.get_by_test_id("subscribe-submit").click()

    # 2. Subscribed: the message, and the row with its first delivery due today.
    expect(page).to_have_url(re.compile(r"/subscriptions/$"))
    expect(page.get_by_test_id("message")).to_contain_text(
        f"Your first delivery is on {_long(today)}"
    )
    row = _row(page)
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "active")
    expect(row).to_have_attribute("data-next-date", today.isoformat())
    expect(row).to_have_attribute("data-quantity", str(QUANTITY))
    expect(row).to_have_attribute("data-every", "1")
    expect(row).to_have_attribute("data-amount-minor", str(UNIT_PRICE * QUANTITY))
    _no_card_number(page)
    audit.check("02-subscribed")
    sub = Subscription.objects.get(user=user)
    assert sub.card is not None
    assert sub.card.card_last4 == "4242"

    # 3. The day's deliveries, as the worker's schedule (or an operator) runs them.
    out = io.StringIO()
    call_command("subscriptions_run", stdout=out)
    assert "1 placed" in out.getvalue(), out.getvalue()
    order = Order.objects.get(user=user)

    # 4. The order: the Subscribe & Save note on its line, the balance part, the card part.
    page.goto(f"{url}/orders/")
    expect(page.get_by_test_id("order-row")).to_have_count(1)
    audit.check("03-orders")
    page.get_by_role("link", name=order.number).click()
    expect(page).to_have_url(re.compile(rf"/orders/{order.number}/$"))
    note = page.get_by_test_id("subscribe-save-line")
    expect(note).to_have_count(1)
    expect(note).to_have_attribute("data-list-minor", str(LIST_PRICE))
    expect(note).to_contain_text("5% off")
    expect(note).to_contain_text("$18.99")
    expect(page.get_by_test_id("order-subtotal")).to_have_attribute(
        "data-amount-minor", str(UNIT_PRICE * QUANTITY)
    )
    expect(page.get_by_test_id("order-balance-applied")).to_have_attribute(
        "data-amount-minor", str(BALANCE)
    )
    card_part = order.subtotal + order.shipping - order.discount - BALANCE
    assert card_part > 0
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute(
        "data-amount-minor", str(card_part)
    )
    expect(page.get_by_test_id("order-card")).to_contain_text("4242")
    _no_card_number(page)
    audit.check("04-order")
    assert (order.balance_applied, order.card_charged) == (BALANCE, card_part)
    assert gateway.captured == {order.payment.reference}

    # 5. The wallet: the balance spent, the debit row naming the order.
    page.goto(f"{url}/wallet/")
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", "0")
    debit = page.get_by_test_id("activity-row").first
    expect(debit).to_have_attribute("data-kind", "order_payment")
    expect(debit).to_have_attribute("data-amount-minor", str(-BALANCE))
    expect(debit).to_contain_text(order.number)
    audit.check("05-wallet")

    # 6. Back on /subscriptions/: the next delivery a month on, the placed one in the history.
    # Through the account menu of the navigation bar (collapsed on a phone).
    next_date = period_date(anchor=today, every=1, index=1)
    if width == "phone":
        page.get_by_role("button", name="Toggle navigation").click()
        # The menu slides open: a click on what is in it while it moves can be lost (it was,
        # once, under load), so wait until it is open.
        expect(page.locator("#nav")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    account = page.get_by_role("navigation").get_by_role("button", name=email)
    account.click()
    expect(account).to_have_attribute("aria-expanded", "true")
    page.get_by_test_id("nav-subscriptions").click()
    expect(page).to_have_url(re.compile(r"/subscriptions/$"))
    row = _row(page)
    expect(row).to_have_attribute("data-next-date", next_date.isoformat())
    expect(row.get_by_role("link", name=order.number)).to_be_visible()
    expect(row.get_by_role("button", name=re.compile("Skip"))).to_be_visible()
    audit.check("06-after-the-run")

    # 7. Three days before it, the run e-mails the reminder; its link opens the skip
    # confirmation page, and confirming moves the next delivery a month on.
    mail.outbox.clear()
    out = io.StringIO()
    call_command("subscriptions_run", date=(next_date - REMINDER).isoformat(), stdout=out)
    assert "1 reminder(s) sent" in out.getvalue(), out.getvalue()
    (reminder,) = [m for m in mail.outbox if m.to == [email]]
    link = re.search(r"/subscriptions/\d+/skip/\?date=[0-9-]+", reminder.body)
    assert link is not None, reminder.body
    assert link.group(0) == f"/subscriptions/{sub.pk}/skip/?date={next_date.isoformat()}"
    page.goto(f"{url}{link.group(0)}")
    confirm = page.get_by_test_id("skip-confirm")
    expect(confirm).to_have_attribute("data-due-date", next_date.isoformat())
    expect(confirm.get_by_role("heading", level=1)).to_contain_text(
        f"Skip the delivery of {next_date.day} {next_date:%B}?"
    )
    audit.check("07-skip-confirm")
    confirm.get_by_test_id("confirm").click()
    after_skip = period_date(anchor=today, every=1, index=2)
    expect(page).to_have_url(re.compile(r"/subscriptions/$"))
    expect(page.get_by_test_id("message")).to_contain_text(
        f"Skipped: your next delivery is on {_long(after_skip)}"
    )
    row = _row(page)
    expect(row).to_have_attribute("data-next-date", after_skip.isoformat())
    expect(row).to_have_attribute("data-status", "active")
    audit.check("08-skipped")

    # 8. Cancel: a confirmation page, then the row cancelled with no next date.
    row.get_by_test_id("subscription-cancel").click()
    confirm = page.get_by_test_id("cancel-confirm")
    expect(confirm).to_contain_text(_long(after_skip))
    audit.check("09-cancel-confirm")
    confirm.get_by_test_id("confirm").click()
    expect(page).to_have_url(re.compile(r"/subscriptions/$"))
    expect(page.get_by_test_id("message")).to_contain_text(re.compile("cancel", re.I))
    row = _row(page)
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(row).to_have_attribute("data-next-date", "")
    expect(row.get_by_role("button")).to_have_count(0)  # nothing left to skip, pause or change
    audit.check("10-cancelled")

    sub.refresh_from_db()
    assert sub.status == Subscription.Status.CANCELLED
    periods = list(sub.periods.order_by("index").values_list("index", "status", "order_id"))
    assert periods == [
        (0, SubscriptionPeriod.Status.PLACED, order.pk),
        (1, SubscriptionPeriod.Status.SKIPPED, None),
    ]
    assert Order.objects.filter(user=user).count() == 1
    assert ledger_reconcile().clean
    assert audit.violations == [], "\n".join(audit.violations)
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"
