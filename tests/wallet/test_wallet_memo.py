"""The wallet page's remembered fragments (`{% memo %}`, wallet/templatetags/memo.py) never show
a stale balance, movement or report: each is keyed on every value it shows, so the page after
any change is the page a fresh render gives."""

import re

import pytest
from django.test import Client

from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import fund, grant
from tests.wallet.factories import issue_card
from tests.wallet.pages import hook, hooks
from tests.wallet.staff import staff_user
from wallet import overview_reads
from wallet.models import ActivityReport, CreditLot, Posting
from wallet.services import activity_report_create
from wallet.templatetags import memo

pytestmark = pytest.mark.django_db

WALLET = "/wallet/"
REDEEM = "/gift-cards/redeem/"
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(client) -> str:
    # The CSRF token is masked afresh on every page: the one part that differs between renders.
    return _TOKEN.sub("", client.get(WALLET).content.decode())


def _fresh(client) -> str:
    memo.fragments_clear()
    return _page(client)


def test_a_redemption_shows_at_once_and_the_page_is_a_fresh_render():
    user = UserFactory()
    fund(user, 5_00)
    client = _client(user)
    before = client.get(WALLET)
    assert hook(before, "wallet-balance").attrs["data-amount-minor"] == "500"

    response = client.post(REDEEM, {"code": issue_card(amount=25_00).code})
    assert response.status_code == 302

    after = client.get(WALLET)
    assert hook(after, "wallet-balance").attrs["data-amount-minor"] == "3000"
    assert hook(after, "nav-balance").text == "Balance: $30.00"
    assert hooks(after, "activity-row")[0].attrs["data-amount-minor"] == "2500"
    assert _page(client) == _fresh(client)


def test_a_page_remembered_whole_builds_no_row(monkeypatch):
    # The rows as read are the page's key: a second visit with nothing changed is the kept text,
    # and no activity row (or posting) is built for it.
    user = UserFactory()
    fund(user, 5_00)
    client = _client(user)
    first = _fresh(client)
    built = []
    real = overview_reads.activity_rows
    monkeypatch.setattr(overview_reads, "activity_rows", lambda p: built.append(1) or real(p))
    assert _page(client) == first
    assert built == []
    client.post(REDEEM, {"code": issue_card(amount=1_00).code})
    assert 'data-amount-minor="100"' in _page(client)
    assert built == [1]


def test_a_report_answered_by_staff_and_an_expired_lot_show_at_once():
    user = UserFactory()
    fund(user, 1_00)
    lot = grant(user, 3_00)
    client = _client(user)
    posting = Posting.objects.filter(account__user=user).earliest("pk")
    report = activity_report_create(user=user, posting=posting, message="Not mine.")
    assert hooks(client.get(WALLET), "activity-reported")[0].attrs["data-status"] == "open"

    ActivityReport.objects.filter(pk=report.pk).update(status=ActivityReport.Status.RESOLVED)
    assert hooks(client.get(WALLET), "activity-reported")[0].attrs["data-status"] == "resolved"

    CreditLot.objects.filter(pk=lot.pk).update(expires_at="2000-01-01T00:00:00Z")
    page = client.get(WALLET)
    assert hook(page, "wallet-balance").attrs["data-amount-minor"] == "100"
    assert not hooks(page, "promo-credit")
    assert _page(client) == _fresh(client)


def test_two_shoppers_with_the_same_figures_see_their_own_page():
    first, second = UserFactory(), UserFactory(region_id="GB")
    for user in (first, second):
        fund(user, 2_00)
    shown = {user.pk: _page(_client(user)) for user in (first, second)}
    assert "$2.00" in shown[first.pk]
    assert "£2.00" in shown[second.pk]
    assert "$2.00" not in shown[second.pk]


def test_the_staff_link_is_only_in_a_staff_members_nav():
    shopper, staff = UserFactory(), staff_user()
    assert "/admin/" not in _page(_client(shopper))
    assert "/admin/" in _page(_client(staff))
    assert "/admin/" not in _page(_client(shopper))


def test_the_navigation_bar_shows_each_shoppers_own_figures_at_once():
    # base.html's bar is remembered too (several memos around the CSRF token): the e-mail,
    # the store, the balance and the cart count are each in a key, so any change shows.
    from catalog.models import Region
    from checkout.services.cart import cart_add
    from tests.checkout.factories import ProductFactory

    first, second = UserFactory(email="first@example.com"), UserFactory(email="second@example.com")
    fund(first, 2_00)
    fund(second, 2_00)
    lamp = ProductFactory(slug="lamp")
    for user in (first, second):
        assert user.email in _page(_client(user))
        assert _page(_client(user)) == _fresh(_client(user))
    client = _client(first)
    for url in ("/", WALLET):  # remembered, then changed
        assert hook(client.get(url), "nav-balance").text == "Balance: $2.00"
        assert hook(client.get(url), "nav-cart").text == "Cart"
    fund(first, 1_00)
    cart_add(user=first, session={}, slug=lamp.slug, quantity=2)
    for url in ("/", WALLET):
        nav = hook(client.get(url), "nav-balance")
        assert nav.text == "Balance: $3.00", url
        assert hook(client.get(url), "nav-cart").text == "Cart (2)", url
    type(first).objects.filter(pk=first.pk).update(email="renamed@example.com")
    assert "renamed@example.com" in _page(client)
    type(first).objects.filter(pk=first.pk).update(region_id="GB")
    assert f"Store: {Region.objects.get(pk='GB').name} (GBP)" in _page(client)
    assert hook(client.get("/"), "nav-balance").text == "Balance: £0.00"
    assert "first@example.com" not in _page(_client(second))
    signed_out = Client().get("/").content.decode()
    assert "Sign in" in signed_out
    assert "Sign out" not in signed_out


def test_a_memo_refuses_a_block_and_takes_several_keys():
    from django.template import Context, Template, TemplateSyntaxError

    with pytest.raises(TemplateSyntaxError):
        Template("{% load memo %}{% memo 'k' %}{% block b %}{% endblock %}{% endmemo %}")
    shown = Template("{% load memo %}{% memo 'k' a b %}{{ a }}-{{ b }}{% endmemo %}")
    assert [shown.render(Context({"a": a, "b": b})) for a, b in [(1, 2), (1, 3), (1, 2)]] == [
        "1-2",
        "1-3",
        "1-2",
    ]


def test_the_fragments_kept_are_bounded_by_their_characters(monkeypatch):
    # A busy process renders many shoppers' pages: what it keeps stays under the bound in
    # characters whatever the number of pages, least recently used out first.
    monkeypatch.setattr(memo, "FRAGMENTS_MAX_CHARS", 10_000)
    memo.fragments_clear()
    for index in range(50):
        memo._fragment_keep(("page", index), "€" * 900)
    assert sum(len(text) for text in memo._fragments.values()) <= 10_000
    assert memo._fragments_chars == sum(len(text) for text in memo._fragments.values())
    assert ("page", 49) in memo._fragments
    assert ("page", 0) not in memo._fragments
    memo._fragment_keep(("huge",), "x" * 5_000)  # over an eighth of the bound: never kept
    assert ("huge",) not in memo._fragments
    memo.fragments_clear()
