"""Content-Security-Policy (docs/interface.md §9): every page, the shop's and the admin's, is
sent with a policy whose `script-src` has no 'unsafe-inline'; no template and no rendered page
has an inline script, an inline event handler (onclick=, onsubmit=, …) or a style attribute
that the policy would block; our own behaviour lives in static/js/."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, cart_fill, fund, order_make
from tests.wallet.factories import issue_card
from wallet.models import Posting

pytestmark = pytest.mark.django_db

# An executable inline script: a <script> without src whose type is not a data block.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name] = values
    return directives


def _inline_findings(html: str) -> list[str]:
    return [
        match.group(0)[:80]
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, STYLE_ATTRIBUTE)
        for match in pattern.finditer(html)
    ]


def test_no_template_has_an_inline_script_handler_or_style():
    templates = sorted(Path(settings.BASE_DIR, "templates").rglob("*.html"))
    assert len(templates) > 20
    found = {
        str(path.relative_to(settings.BASE_DIR)): hits
        for path in templates
        if (hits := _inline_findings(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def _shop_pages() -> list[tuple[Client, str]]:
    shopper = UserFactory(region_id="US")
    fund(shopper, 5000)
    product = ProductFactory()
    order = order_make(shopper, (product, 1), card=APPROVED)
    cart_fill(shopper, (product, 2))
    posting = Posting.objects.filter(account__user=shopper).first()
    signed_in = Client()
    signed_in.force_login(shopper)
    anonymous = Client()
    return [
        (anonymous, "/"),
        (anonymous, f"/products/{product.slug}/"),
        (anonymous, "/cart/"),
        (anonymous, "/accounts/login/"),
        (anonymous, "/accounts/signup/"),
        (anonymous, "/accounts/password/reset/"),
        (anonymous, "/no-such-page/"),
        (signed_in, "/"),
        (signed_in, "/cart/"),
        (signed_in, "/wallet/"),
        (signed_in, "/gift-cards/redeem/"),
        (signed_in, "/checkout/"),
        (signed_in, "/orders/"),
        (signed_in, f"/orders/{order.number}/"),
        (signed_in, f"/wallet/activity/{posting.pk}/report/"),
        (signed_in, reverse("mfa_index")),
        (signed_in, reverse("account_email")),
        (signed_in, reverse("account_change_password")),
    ]


def _admin_pages(admin_client) -> list[tuple[Client, str]]:
    issue_card()
    pages = [
        (admin_client, "/admin/"),
        (admin_client, "/admin/wallet/giftcard/code-search/"),
        (Client(), "/admin/login/"),
    ]
    for model in admin.site._registry:
        meta = model._meta
        pages.append(
            (admin_client, reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        )
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            name = f"admin:{meta.app_label}_{meta.model_name}_change"
            pages.append((admin_client, reverse(name, args=[quote(obj.pk)])))
    return pages


def _check(pages) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for client, url in pages:
        response = client.get(url, follow=True)
        assert response.status_code in (200, 404), url
        policy = _policy(response)
        wrong = []
        if policy.get("default-src") != ["'self'"]:
            wrong.append(f"default-src {policy.get('default-src')}")
        script = policy.get("script-src", [])
        if "'self'" not in script or "'unsafe-inline'" in script:
            wrong.append(f"script-src {script}")
        if policy.get("frame-ancestors") != ["'none'"]:
            wrong.append(f"frame-ancestors {policy.get('frame-ancestors')}")
        wrong += _inline_findings(response.content.decode())
        if wrong:
            problems[url] = wrong
    return problems


def test_every_shop_page_has_a_policy_and_no_inline_script():
    assert _check(_shop_pages()) == {}


def test_every_admin_page_has_a_policy_and_no_inline_script(admin_client):
    pages = _admin_pages(admin_client)
    assert len(pages) > 20
    assert _check(pages) == {}


def test_the_server_error_page_has_the_policy_too(monkeypatch):
    shopper = UserFactory()
    client = Client(raise_request_exception=False)
    client.force_login(shopper)

    def fault(**_):
        raise RuntimeError("injected fault")

    monkeypatch.setattr("wallet.views.wallet_overview_get", fault)
    response = client.get("/wallet/")

    assert response.status_code == 500
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert _inline_findings(response.content.decode()) == []


def test_our_javascript_is_served_from_static_files():
    response = Client().get("/")
    assert '<script src="/static/js/coinpurse.js"></script>' in response.content.decode()
    script = Client().get("/static/js/coinpurse.js")
    assert script.status_code == 200
    body = b"".join(script.streaming_content).decode()
    assert "data-autosubmit" in body
    assert "data-disable-on-submit" in body
