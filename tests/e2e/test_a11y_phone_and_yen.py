"""JP prices are readable in a stock Chromium (no CJK font), and the shopper pages fit a
390 x 844 phone: nothing wider than the screen, the cart's quantity box keeps a usable width,
the collapsed navigation opens and shows the cart count.

Screenshots go to var/test-results/a11y/ for a person to look at.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from catalog.demo import catalog_seed
from tests.e2e.test_redeem_journey import sign_up

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PHONE = {"width": 390, "height": 844}
SHOTS = Path(settings.BASE_DIR) / "var" / "test-results" / "a11y"
YEN_FONT = re.compile(r"/static/fonts/coinpurse-yen-(regular|bold)\.woff2$")


def _yen_faces_loaded(page: Page) -> list[str]:
    return page.evaluate(
        """async () => { await document.fonts.ready;
           return [...document.fonts].filter(f => f.family.includes('Coinpurse Yen'))
             .map(f => f.weight + ':' + f.status); }"""
    )


def test_a_jp_shopper_reads_yen_prices_in_the_shipped_glyph(page: Page, live_server, shoot):
    catalog_seed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    fonts: list[str] = []
    page.on("response", lambda r: fonts.append(r.status) if YEN_FONT.search(r.url) else None)
    sign_up(page, live_server, region="JP", shoot=shoot)
    page.goto(f"{live_server.url}/products/the-pragmatic-ledger/")
    price = page.get_by_test_id("product-price")
    expect(price).to_have_text("\N{FULLWIDTH YEN SIGN}4,500")  # the text is Babel's, unchanged
    loaded = _yen_faces_loaded(page)
    assert "501 900:loaded" in loaded, loaded  # the price is semibold: the bold face drew it
    assert fonts, "the yen face was never requested"
    assert set(fonts) == {200}, fonts
    price.screenshot(path=str(SHOTS / "jp-price-with-font.png"))
    page.screenshot(path=str(SHOTS / "jp-product.png"), full_page=True)
    page.goto(f"{live_server.url}/")
    page.screenshot(path=str(SHOTS / "jp-catalog.png"), full_page=True)

    # Only U+FFE5 comes from the shipped face: the digits keep the system font's width.
    widths = page.evaluate(
        """() => { const c = document.createElement('canvas').getContext('2d');
           const f = getComputedStyle(document.body).fontFamily;
           c.font = '16px ' + f; const a = c.measureText('4,500').width;
           c.font = '16px ' + f.replace(/"Coinpurse Yen",\\s*/, '');
           return [a, c.measureText('4,500').width]; }"""
    )
    assert widths[0] == widths[1], widths


def test_without_the_shipped_face_the_yen_sign_has_no_glyph(page: Page, live_server, shoot):
    """The control: the same price with the font blocked is drawn as a box (the bug)."""
    catalog_seed()
    page.route(YEN_FONT, lambda route: route.abort())
    sign_up(page, live_server, region="JP", shoot=shoot)
    page.goto(f"{live_server.url}/products/the-pragmatic-ledger/")
    price = page.get_by_test_id("product-price")
    price.screenshot(path=str(SHOTS / "jp-price-without-font.png"))
    assert "501 900:error" in _yen_faces_loaded(page)


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def test_phone_pages_fit_and_the_quantity_box_stays_usable(browser, live_server):
    catalog_seed()
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    url = live_server.url
    for path in ["/", "/?category=books", "/products/desk-lamp/", "/accounts/login/"]:
        page.goto(f"{url}{path}")
        _fits(page)

    page.goto(f"{url}/accounts/signup/")
    _fits(page)
    page.locator('[name="email"]').fill("phone-shopper@example.com")
    page.locator('[name="password1"]').fill("a long phone password 2026")
    page.locator('[name="password2"]').fill("a long phone password 2026")
    page.get_by_role("button", name="Create account").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/signup/"))

    for slug in ["noise-cancelling-headphones", "the-pragmatic-ledger"]:
        page.goto(f"{url}/products/{slug}/")
        page.get_by_label("Quantity").fill("2")
        page.get_by_test_id("add-to-cart").click()
        expect(page).to_have_url(re.compile(r"/cart/$"))
    _fits(page)
    box = page.locator('[data-testid="cart-line"] input[name="quantity"]').first
    width = box.bounding_box()["width"]
    assert width >= 64, f"the quantity box is {width} px wide"
    expect(box).to_have_value("2")
    total = page.locator('[data-testid="cart-line"] td').nth(3)
    assert total.bounding_box()["x"] + total.bounding_box()["width"] <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "phone-cart-stacked.png"), full_page=True)

    for path in ["/accounts/2fa/", "/accounts/2fa/totp/activate/"]:
        page.goto(f"{url}{path}")
        _fits(page)

    # The collapsed navigation opens and shows the cart's count.
    page.goto(f"{url}/")
    expect(page.get_by_test_id("nav-cart")).to_be_hidden()
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.get_by_test_id("nav-cart")).to_be_visible()
    page.screenshot(path=str(SHOTS / "phone-nav-open.png"), full_page=True)
    if "checkout.context_processors.cart_count" in str(settings.TEMPLATES):
        expect(page.get_by_test_id("nav-cart")).to_have_text("Cart (4)")
    context.close()
