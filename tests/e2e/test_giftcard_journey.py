"""A shopper buys two gift cards — one e-mailed today, one to print — pays by card, the worker
delivers the e-mail, the recipient follows its Redeem link and redeems it, the buyer prints
the other once, then reloads their own balance; and auto-reload after a purchase, approved then
declined; a JP buy page; and the staff pages of bought gift cards, their resend and the
worker's task results (docs/interface.md §12, docs/giftcards.md).

In Chromium against the live server, axe-core on every page (the buy page, the cart, the
checkout, the order page and the reload page at 1280 px and at 390 x 844 too). The screenshots
go to var/test-results/giftcard-journey/ for a person to look at: the buy page (desktop and
phone), the e-mail as rendered HTML (desktop and phone), the printed PDF rendered to PNG, the
order page at each step.
"""

import re
from pathlib import Path

import pypdfium2
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from catalog.demo import catalog_seed
from checkout import payments
from checkout.models import OrderGiftCard
from config.jobs import jobs_run_pending
from promotions.demo import demo_promotions_load
from tests.accounts.factories import PASSWORD, UserFactory
from tests.checkout.gift_orders import gift_order, sent_codes
from tests.e2e.test_admin_a11y import _sign_in
from tests.e2e.test_redeem_journey import sign_up
from tests.wallet.credit_factories import fund
from tests.wallet.staff import superuser
from wallet.codes import code_display, code_normalize
from wallet.exceptions import CodeRefused
from wallet.models import AuditEntry
from wallet.reconcile import ledger_reconcile
from wallet.services import giftcard_redeem

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = Path(django_settings.BASE_DIR) / "var" / "test-results" / "giftcard-journey"
APPROVED_CARD = "4242 4242 4242 4242"
# A claim code as printed (docs/interface.md §7), with or without its dashes.
CODE = re.compile(r"\b[0-9A-Z]{4}-?[0-9A-Z]{6}-?[0-9A-Z]{5}\b")
EMAILED, PRINTED = 5000, 3000  # a listed denomination, a custom amount (US: 5 to 500)
BONUS = 1000  # the demo offer: 50.00 of gift cards in one order earn 10.00 of credit
RELOADED = 2500
MESSAGE = "Happy birthday, Grace! Spend it on something that makes you smile."


@pytest.fixture
def gateway():
    """A fresh test gateway (a per-process singleton the live server's thread shares)."""
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


class Audit:
    """axe-core (axe-playwright-python ships its script: nothing is fetched) and a full-page
    screenshot of a page at 1280 px and on a 390 px phone; keeps every violation, and any page
    wider than the phone (sideways scrolling)."""

    def __init__(self, page: Page, shots: Path):
        self.page = page
        self.shots = shots
        self.axe = Axe()
        self.violations: list[str] = []

    def both_widths(self, name: str) -> None:
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.wait_for_load_state("load")
            self.page.screenshot(path=str(self.shots / f"{name}-{label}.png"), full_page=True)
            where = f"{name} {label} ({self.page.url})"
            wide = self.page.evaluate("document.documentElement.scrollWidth")
            if wide > size["width"]:
                self.violations.append(f"{where}: {wide} px wide in {size['width']} px")
            for violation in self.axe.run(self.page).response["violations"]:
                targets = ", ".join(
                    " ".join(str(t) for t in node["target"]) for node in violation["nodes"][:5]
                )
                self.violations.append(
                    f"{where}: {violation['id']} [{violation['impact']}] {violation['help']}"
                    f" — {targets}"
                )
        self.page.set_viewport_size(DESKTOP)


def codes_in(text: str) -> set[str]:
    """The claim codes in `text`, canonical (no dashes)."""
    return {code_normalize(found) for found in CODE.findall(text)}


def no_code_on(page: Page, where: str, *codes: str) -> None:
    """A bought card's code never appears in a buyer's page (docs/interface.md §12): neither
    the code known to have been delivered (as typed or printed) nor anything of its shape."""
    html = page.content()
    for code in codes:
        assert code not in html, f"the code on {where}"
        assert code_display(code) not in html, f"the code on {where}"
    dashed = re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{6}-[0-9A-Z]{5}\b", html)
    assert dashed == [], f"a claim code on {where}: {dashed}"


def egift(page: Page, recipient: str):
    """The order page's delivery status of the gift card bought for `recipient`."""
    card = page.get_by_test_id("order-gift-card").filter(has_text=recipient)
    return card.get_by_test_id("egift-status")


def render_pdf(pdf: Path, png: Path) -> str:
    """The PDF's first page as a PNG (pypdfium2, 2x), and the text of its pages."""
    document = pypdfium2.PdfDocument(str(pdf))
    try:
        document[0].render(scale=2).to_pil().save(png)
        return "\n".join(p.get_textpage().get_text_range() for p in document)
    finally:
        document.close()


def test_buy_two_gift_cards_deliver_redeem_print_and_reload(
    browser, page: Page, live_server, offline_guard, gateway, shots, settings
):
    outside, failures = offline_guard
    catalog_seed()
    demo_promotions_load()
    # Every link of an e-mail is built from SITE_URL: here, the live server.
    settings.SITE_URL = live_server.url
    recipient = UserFactory(email="grace@example.com", region_id="US")
    mail.outbox.clear()
    page.set_viewport_size(DESKTOP)
    audit = Audit(page, shots)

    buyer_email = sign_up(page, live_server, region="US", shoot=lambda step: None)

    # The gift card product's page leads to the buy form, with the product chosen.
    page.goto(f"{live_server.url}/products/gift-card-50/")
    page.get_by_test_id("giftcard-buy-link").click()
    expect(page).to_have_url(re.compile(r"/gift-cards/buy/"))
    audit.both_widths("01-buy-page")

    # One for Grace by e-mail, today (no send date: as soon as it is paid).
    amounts = page.get_by_test_id("giftcard-denominations")
    expect(amounts.get_by_label("$50.00")).to_be_checked()  # the product's amount
    page.locator('[data-testid="giftcard-design"][data-design="birthday"]').click()
    page.get_by_label("E-mail it to the recipient").check()
    page.get_by_label("Their name").fill("Grace Hopper")
    page.get_by_label("Their e-mail address").fill(recipient.email)
    page.get_by_label("Your message").fill(MESSAGE)
    page.get_by_label("From").fill("Ada")
    page.screenshot(path=str(shots / "02-buy-filled-desktop.png"), full_page=True)
    page.get_by_test_id("giftcard-add").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.get_by_test_id("message")).to_be_visible()

    # One to print, a custom amount.
    page.goto(f"{live_server.url}/gift-cards/buy/")
    page.get_by_test_id("giftcard-denominations").get_by_text("Other amount").click()
    page.get_by_test_id("giftcard-custom-amount").fill("30")
    page.locator('[data-testid="giftcard-design"][data-design="thanks"]').click()
    page.get_by_label("Print it yourself").check()
    page.get_by_label("Their name").fill("Alan Turing")
    page.get_by_label("Your message").fill("Thank you for everything.")
    page.get_by_test_id("giftcard-add").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))

    lines = page.get_by_test_id("cart-giftcard")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_have_attribute("data-amount-minor", str(EMAILED))
    expect(lines.nth(1)).to_have_attribute("data-amount-minor", str(PRINTED))
    audit.both_widths("03-cart")

    page.get_by_test_id("go-to-checkout").click()
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute(
        "data-amount-minor", str(EMAILED + PRINTED)
    )
    expect(page.get_by_test_id("giftcard-paid-by-card")).to_have_attribute(
        "data-amount-minor", str(EMAILED + PRINTED)
    )
    # The demo bonus offer: announced beside the summary, never a discount.
    bonus = page.get_by_test_id("bonus-offer")
    expect(bonus).to_have_attribute("data-credit-minor", str(BONUS))
    expect(bonus).to_contain_text("You will receive $10.00 in promotional credit once paid")
    expect(page.get_by_test_id("order-discount")).to_have_attribute("data-amount-minor", "0")
    audit.both_widths("04-checkout")
    page.get_by_label("Card number").fill(APPROVED_CARD)
    page.get_by_test_id("place-order").click()

    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    number = page.get_by_test_id("order-number").inner_text()
    expect(egift(page, "Grace Hopper")).to_have_attribute("data-status", "scheduled")
    expect(egift(page, "Alan Turing")).to_have_attribute("data-status", "ready")
    # Nothing to ship, but the cards are not handed over yet: placed, not delivered.
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "placed")
    granted = page.get_by_test_id("bonus-credit")
    expect(granted).to_have_attribute("data-credit-minor", str(BONUS))
    expect(granted).to_have_attribute("data-status", "granted")
    no_code_on(page, "the order page")
    audit.both_widths("05-order-paid")
    assert mail.outbox  # the order e-mail, to the buyer
    assert all(recipient.email not in m.to for m in mail.outbox)

    # The worker runs: Grace's card goes out.
    jobs_run_pending()
    gifts = [m for m in mail.outbox if recipient.email in m.to]
    assert len(gifts) == 1, [m.subject for m in mail.outbox]
    gift = gifts[0]
    html = next(body for body, kind in gift.alternatives if kind == "text/html")
    codes = codes_in(gift.body)
    assert len(codes) == 1, f"the e-mail carries one code: {codes}"
    (code,) = codes
    assert codes_in(html) == {code}
    assert "$50.00" in gift.body
    assert MESSAGE in gift.body
    assert gift.subject == "[Coinpurse] Ada sent you a $50.00 gift card"
    assert buyer_email not in gift.body  # who it is from, as the buyer wrote it
    jobs_run_pending()  # run again: nothing more is sent
    assert len([m for m in mail.outbox if recipient.email in m.to]) == 1
    # The buyer's own e-mails never carry the code.
    assert all(code not in m.body for m in mail.outbox if buyer_email in m.to)

    page.reload()
    expect(egift(page, "Grace Hopper")).to_have_attribute("data-status", "sent")
    no_code_on(page, "the order page after delivery", code)
    page.screenshot(path=str(shots / "06-order-sent-desktop.png"), full_page=True)

    # The e-mail as the recipient's mail program would show it (its own page: no shop CSP).
    viewer = browser.new_page()
    viewer.set_content(html)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        viewer.set_viewport_size(size)
        viewer.screenshot(path=str(shots / f"07-email-{label}.png"), full_page=True)
    redeem_link = viewer.get_by_role("link", name=re.compile("Redeem", re.I)).first
    href = redeem_link.get_attribute("href")
    viewer.close()
    assert href is not None
    assert href.startswith(f"{live_server.url}/gift-cards/redeem/#code="), href
    assert code_normalize(href.split("#code=", 1)[1]) == code

    # Grace follows the link in her own browser, not signed in: the shop sends her to sign in
    # first (the code leaves the address bar there too), and the redeem page she lands on
    # after signing in has the code filled in.
    grace = browser.new_context(viewport=PHONE)
    grace_page = grace.new_page()
    grace_page.goto(href)
    expect(grace_page).to_have_url(re.compile(r"/accounts/login/\?next=/gift-cards/redeem/$"))
    grace_page.locator('[name="login"]').fill(recipient.email)
    grace_page.locator('[name="password"]').fill(PASSWORD)
    grace_page.get_by_role("button", name="Sign in").click()
    filled = grace_page.get_by_label("Claim code")
    expect(filled).not_to_have_value("")
    assert code_normalize(filled.input_value()) == code
    expect(grace_page).to_have_url(f"{live_server.url}/gift-cards/redeem/")
    grace_page.screenshot(path=str(shots / "08-redeem-filled-phone.png"), full_page=True)
    grace_page.get_by_test_id("redeem-submit").click()
    expect(grace_page.get_by_test_id("message")).to_contain_text("$50.00 was added")
    expect(grace_page.get_by_test_id("wallet-balance")).to_have_attribute(
        "data-amount-minor", str(EMAILED)
    )
    grace_page.screenshot(path=str(shots / "09-recipient-wallet-phone.png"), full_page=True)
    grace.close()

    page.reload()
    expect(egift(page, "Grace Hopper")).to_have_attribute("data-status", "redeemed")
    page.screenshot(path=str(shots / "10-order-redeemed-desktop.png"), full_page=True)

    # The printed card: one download.
    with page.expect_download() as download:
        page.get_by_test_id("giftcard-print").click()
    pdf = shots / "11-card.pdf"
    download.value.save_as(pdf)
    text = render_pdf(pdf, shots / "11-card-pdf.png")
    assert "$30.00" in text
    assert "Alan Turing" in text
    printed_codes = codes_in(text)
    assert len(printed_codes) == 1, f"the PDF carries one code: {printed_codes}"
    (printed_code,) = printed_codes
    assert printed_code != code
    page.reload()
    expect(egift(page, "Alan Turing")).to_have_attribute("data-status", "downloaded")
    downloaded = page.get_by_test_id("giftcard-downloaded")
    expect(downloaded).to_contain_text("Downloaded on")
    expect(downloaded).to_contain_text("It cannot be downloaded again")
    expect(page.get_by_test_id("giftcard-print")).to_have_count(0)
    # Every card handed over: now the order is delivered.
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "delivered")
    no_code_on(page, "the order page after the download", code, printed_code)
    audit.both_widths("12-order-downloaded")

    # The bonus credit landed once the order was paid; then the buyer reloads their balance.
    page.goto(f"{live_server.url}/wallet/")
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute("data-amount-minor", str(BONUS))
    expect(page.get_by_test_id("promo-credit")).to_have_attribute("data-amount-minor", str(BONUS))
    page.get_by_role("link", name="Reload your balance").click()
    expect(page).to_have_url(re.compile(r"/wallet/reload/$"))
    audit.both_widths("13-reload")
    page.get_by_label("$25.00", exact=True).check()
    page.get_by_label("Card number").fill(APPROVED_CARD)
    page.get_by_test_id("reload-submit").click()
    expect(page).to_have_url(re.compile(r"/wallet/$"))
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute(
        "data-amount-minor", str(BONUS + RELOADED)
    )
    expect(page.get_by_test_id("activity-row").first).to_have_attribute("data-kind", "reload")
    page.screenshot(path=str(shots / "14-wallet-reloaded-desktop.png"), full_page=True)
    page.goto(f"{live_server.url}/wallet/reload/")
    page.get_by_role("link", name="Reload automatically after a purchase").click()
    expect(page).to_have_url(re.compile(r"/wallet/auto-reload/$"))
    audit.both_widths("15-auto-reload")

    cards = OrderGiftCard.objects.filter(order__number=number).select_related("card")
    assert sorted(c.card.status for c in cards) == ["active", "redeemed"]
    assert ledger_reconcile().clean
    assert audit.violations == [], "axe-core:\n" + "\n".join(audit.violations)
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"


GAME, GAME_PRICE = "space-trader", 1999  # digital: nothing to ship, the balance pays it all
DECLINED_CARD = "4000 0000 0000 0002"


def buy_with_the_balance(page: Page, live_server) -> str:
    """Buy the game from the product page, paid from the balance alone; the order number."""
    page.goto(f"{live_server.url}/products/{GAME}/")
    page.get_by_test_id("add-to-cart").click()
    page.get_by_test_id("go-to-checkout").click()
    expect(page.get_by_test_id("order-amount-due")).to_have_attribute("data-amount-minor", "0")
    page.get_by_test_id("place-order").click()
    expect(page).to_have_url(re.compile(r"/orders/CP-[0-9A-Z]{8}/$"))
    return page.get_by_test_id("order-number").inner_text()


def test_auto_reload_after_a_purchase_then_a_declined_card_turns_it_off(
    page: Page, live_server, offline_guard, gateway, shots
):
    """Auto-reload on with an approved card: a purchase that leaves the balance below the
    threshold reloads it once (the worker run twice). The saved card replaced by a declined
    one: the next purchase's auto-reload is declined, auto-reload is off and the page says
    why, and the shopper is told by e-mail."""
    outside, failures = offline_guard
    catalog_seed()
    shopper = UserFactory(region_id="US")
    fund(shopper, 3000)
    client = Client()
    client.force_login(shopper)
    cookie = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
    page.set_viewport_size(DESKTOP)
    audit = Audit(page, shots)
    mail.outbox.clear()

    page.goto(f"{live_server.url}/wallet/auto-reload/")
    expect(page.get_by_test_id("auto-reload-status")).to_have_attribute("data-enabled", "false")
    page.get_by_label("Reload automatically").check()
    page.get_by_label("When my balance falls below").fill("20")
    page.get_by_label("Reload this amount").fill("25")
    page.get_by_label("Card to charge").fill(APPROVED_CARD)
    page.get_by_test_id("auto-reload-submit").click()
    expect(page.get_by_test_id("message")).to_contain_text("Auto-reload is on")
    expect(page.get_by_test_id("auto-reload-status")).to_have_attribute("data-enabled", "true")
    expect(page.get_by_test_id("saved-card")).to_have_attribute("data-last4", "4242")
    assert "4242424242424242" not in page.content()
    audit.both_widths("20-auto-reload-on")

    # $30.00 less $19.99 leaves $10.01, below $20.00: $25.00 comes back, once.
    first = buy_with_the_balance(page, live_server)
    jobs_run_pending()
    jobs_run_pending()
    page.goto(f"{live_server.url}/wallet/")
    after_reload = 3000 - GAME_PRICE + 2500
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute(
        "data-amount-minor", str(after_reload)
    )
    reloads = page.locator('[data-testid="activity-row"][data-kind="reload"]')
    expect(reloads).to_have_count(1)
    expect(reloads).to_contain_text(f"after order {first}")
    page.screenshot(path=str(shots / "21-wallet-auto-reloaded-desktop.png"), full_page=True)
    assert [m.subject for m in mail.outbox if "reloaded" in m.subject] == [
        "[Coinpurse] Your balance was reloaded"
    ]

    # A declined card saved instead: the next purchase's auto-reload turns auto-reload off.
    page.goto(f"{live_server.url}/wallet/auto-reload/")
    page.get_by_label("Replace the saved card").fill(DECLINED_CARD)
    page.get_by_test_id("auto-reload-submit").click()
    expect(page.get_by_test_id("saved-card")).to_have_attribute("data-last4", "0002")
    buy_with_the_balance(page, live_server)  # $15.02 left, below $20.00
    jobs_run_pending()
    page.goto(f"{live_server.url}/wallet/auto-reload/")
    expect(page.get_by_test_id("auto-reload-status")).to_have_attribute("data-enabled", "false")
    expect(page.get_by_test_id("auto-reload-off-reason")).to_contain_text("declined")
    audit.both_widths("22-auto-reload-declined-off")
    page.goto(f"{live_server.url}/wallet/")
    expect(page.get_by_test_id("wallet-balance")).to_have_attribute(
        "data-amount-minor", str(after_reload - GAME_PRICE)
    )
    declined = [m for m in mail.outbox if "declined" in m.subject]
    assert len(declined) == 1
    assert declined[0].to == [shopper.email]

    assert ledger_reconcile().clean
    assert audit.violations == [], "axe-core:\n" + "\n".join(audit.violations)
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"


def test_a_yen_shopper_buys_a_custom_gift_card_at_phone_width(
    page: Page, live_server, offline_guard, shots
):
    """The buy page in the JP store: yen denominations and limits, a custom 4,500 yen card to
    print into the cart; axe-core at both widths."""
    outside, failures = offline_guard
    catalog_seed()
    shopper = UserFactory(region_id="JP")
    client = Client()
    client.force_login(shopper)
    cookie = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
    audit = Audit(page, shots)

    page.goto(f"{live_server.url}/gift-cards/buy/")
    amounts = page.get_by_test_id("giftcard-denominations")
    for minor in (3000, 5000, 10000):
        radio = amounts.locator(f'input[data-amount-minor="{minor}"]')
        expect(radio).to_have_count(1)
        expect(amounts.locator(f'label[for="{radio.get_attribute("id")}"]')).to_contain_text(
            f"{minor:,}"
        )
    limits = page.get_by_test_id("giftcard-limits")
    expect(limits).to_have_attribute("data-min-minor", "500")
    expect(limits).to_have_attribute("data-max-minor", "50000")
    audit.both_widths("30-buy-page-jp")

    page.set_viewport_size(PHONE)
    amounts.get_by_text("Other amount").click()
    page.get_by_test_id("giftcard-custom-amount").fill("4500")
    page.locator('[data-testid="giftcard-design"][data-design="celebrate"]').click()
    page.get_by_label("Print it yourself").check()
    page.get_by_label("Their name").fill("Hana Sato")
    page.get_by_test_id("giftcard-add").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    line = page.get_by_test_id("cart-giftcard")
    expect(line).to_have_attribute("data-amount-minor", "4500")
    expect(line).to_contain_text("4,500")
    audit.both_widths("31-cart-jp")

    assert audit.violations == [], "axe-core:\n" + "\n".join(audit.violations)
    assert outside == [], f"requests left the shop (a CDN?): {outside}"
    assert failures == [], f"failed responses: {failures}"


def test_staff_see_the_bought_cards_send_one_again_and_read_the_jobs(browser, live_server, shots):
    """The admin pages of this issue at 1280 and 390 px, axe-core clean: the bought gift cards
    (list and one card), "Send again to a corrected address" (the new address gets one e-mail
    with a new code, the first code stops working), and the worker's task results."""
    catalog_seed()
    mail.outbox.clear()
    boss = superuser(email="boss@example.com")
    buyer = UserFactory(region_id="US")
    order = gift_order(buyer, {"amount": 5000, "recipient_email": "robin@exmaple.com"})
    jobs_run_pending()
    (first,) = sent_codes("robin@exmaple.com")
    gift = OrderGiftCard.objects.get(order=order)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    audit = Audit(page, shots)
    _sign_in(context, live_server, boss)

    page.goto(f"{live_server.url}{reverse('admin:checkout_ordergiftcard_changelist')}")
    rows = page.locator("#result_list")
    expect(rows).to_contain_text("$50.00")
    expect(rows).to_contain_text("robin@exmaple.com")
    assert code_display(first) not in page.content()
    audit.both_widths("40-admin-bought-cards")
    page.goto(f"{live_server.url}{reverse('admin:checkout_ordergiftcard_change', args=[gift.pk])}")
    assert code_display(first) not in page.content()
    audit.both_widths("41-admin-bought-card")

    page.goto(f"{live_server.url}{reverse('admin:checkout_ordergiftcard_resend', args=[gift.pk])}")
    audit.both_widths("42-admin-resend")
    page.get_by_label("Corrected e-mail address").fill("robin@example.com")
    page.get_by_label("Reason").fill("the buyer mistyped the domain")
    page.get_by_test_id("resend-submit").click()
    expect(page.locator(".messagelist")).to_contain_text("robin@example.com")
    jobs_run_pending()
    (second,) = sent_codes("robin@example.com")
    assert second != first
    gift.refresh_from_db()
    assert (gift.status, gift.resent_count) == ("sent", 1)
    assert AuditEntry.objects.filter(action="giftcard_resent").count() == 1
    robin = UserFactory(email="robin@example.com", region_id="US")
    with pytest.raises(CodeRefused) as refused:
        giftcard_redeem(user=robin, code=first)
    assert refused.value.reason == "not_found"
    assert giftcard_redeem(user=robin, code=second).card.amount == 5000

    page.goto(f"{live_server.url}{reverse('admin:django_tasks_database_dbtaskresult_changelist')}")
    expect(page.locator("#result_list")).to_contain_text("giftcard_deliver")
    audit.both_widths("43-admin-task-results")
    page.locator("#result_list a").first.click()
    audit.both_widths("44-admin-task-result")
    context.close()

    assert ledger_reconcile().clean
    assert audit.violations == [], "axe-core:\n" + "\n".join(audit.violations)
