"""/checkout/: the order summary, the balance switch and the one box for codes (docs/interface.md
§5, §6)."""

import datetime
import re

import pytest
from django.test import Client, override_settings

from catalog.models import Region
from catalog.regions import region_today
from checkout.selectors import SESSION_USE_BALANCE
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import balance, cart_fill, fund, shop_state
from tests.wallet.factories import issue_card
from tests.wallet.pages import hook, hooks
from wallet.codes import check_symbol, code_display
from wallet.models import GiftCard
from wallet.services import giftcard_redeem

pytestmark = pytest.mark.django_db

CHECKOUT = "/checkout/"
CODE = "/checkout/code/"
BALANCE = "/checkout/balance/"
PLACE = "/checkout/place-order/"

# Measured on SQLite; flat however many lines the cart holds.
CHECKOUT_QUERIES = (
    9  # user (with its region), balance (shared with the nav), coins, lines (priced), gift
    # cards, shipping rates, the nav's cart count, the promotions on offer, earlier orders
    # (first-order-only)
)

UNKNOWN_CODE = "00000000000001" + check_symbol("00000000000001")  # well formed, never issued
TYPO_CODE = UNKNOWN_CODE[:-1] + ("1" if UNKNOWN_CODE[-1] != "1" else "2")  # wrong check symbol


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _amounts(response):
    return {
        name: int(hook(response, f"order-{name}").attrs["data-amount-minor"])
        for name in ("subtotal", "discount", "balance-applied", "amount-due")
    }


def _wallet_balance(response):
    found = hook(response, "wallet-balance")
    return int(found.attrs["data-amount-minor"]), found.attrs["data-currency"]


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", prices={"US": 2999, "JP": 4500, "GB": 2399})


# --- who may see it ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", CHECKOUT), ("post", CODE), ("post", BALANCE), ("post", PLACE)],
)
def test_anonymous_visitors_are_sent_to_login(client, method, url):
    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (CODE, {"code": UNKNOWN_CODE}),
        (BALANCE, {"use_balance": "off"}),
        (PLACE, {"idempotency_key": "0" * 32}),
    ],
)
def test_checkout_posts_need_the_csrf_token(user, lamp, url, data):
    cart_fill(user, (lamp, 1))
    fund(user, 5000)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    before = shop_state()

    response = client.post(url, data)

    assert response.status_code == 403
    assert shop_state() == before
    assert SESSION_USE_BALANCE not in client.session


# --- the summary ------------------------------------------------------------------------------


def test_the_summary_applies_the_balance_automatically(user, lamp):
    fund(user, 2000)
    cart_fill(user, (lamp, 2))

    response = _client_for(user).get(CHECKOUT)

    assert response.status_code == 200
    assert _amounts(response) == {
        "subtotal": 5998,
        "discount": 0,
        "balance-applied": 2000,
        "amount-due": 3998,
    }
    assert _wallet_balance(response) == (2000, "USD")
    assert hook(response, "order-amount-due").text == "$39.98"
    assert hook(response, "order-balance-applied").text == "\u2212$20.00"  # a minus sign
    assert 'name="card_number"' in response.content.decode()
    assert "Pay $39.98 and place order" in hook(response, "place-order").text
    assert len(hooks(response, "checkout-line")) == 1
    assert "checked data-autosubmit" in response.content.decode()  # no inline handler (CSP)


def test_a_balance_above_the_total_pays_it_all_and_asks_for_no_card(user, lamp):
    fund(user, 10000)
    cart_fill(user, (lamp, 1))

    response = _client_for(user).get(CHECKOUT)

    assert _amounts(response) == {
        "subtotal": 2999,
        "discount": 0,
        "balance-applied": 2999,
        "amount-due": 0,
    }
    assert _wallet_balance(response) == (10000, "USD")
    assert 'name="card_number"' not in response.content.decode()
    assert "paid from your balance" in hook(response, "place-order").text


def test_without_a_balance_the_card_pays_everything(user, lamp):
    cart_fill(user, (lamp, 1))

    response = _client_for(user).get(CHECKOUT)

    assert _amounts(response)["amount-due"] == 2999
    assert _amounts(response)["balance-applied"] == 0
    assert _wallet_balance(response) == (0, "USD")


def _idempotency_key(response) -> str:
    return response.content.decode().split('name="idempotency_key" value="')[1].split('"')[0]


def test_the_summary_renders_a_fresh_idempotency_key_each_time(user, lamp):
    cart_fill(user, (lamp, 1))
    client = _client_for(user)

    first, second = (_idempotency_key(client.get(CHECKOUT)) for _ in range(2))

    assert first != second
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert re.fullmatch(r"[0-9a-f]{32}", second)


def test_an_empty_cart_shows_the_empty_state(user):
    response = _client_for(user).get(CHECKOUT)

    assert response.status_code == 200
    assert hook(response, "cart-empty")
    assert not hooks(response, "place-order")


def test_the_summary_in_yen():
    shopper = UserFactory(region_id="JP")
    book = ProductFactory(prices={"JP": 4500})
    fund(shopper, 1000)
    cart_fill(shopper, (book, 2))

    response = _client_for(shopper).get(CHECKOUT)

    assert _amounts(response) == {
        "subtotal": 9000,
        "discount": 0,
        "balance-applied": 1000,
        "amount-due": 8000,
    }
    assert _wallet_balance(response) == (1000, "JPY")
    assert hook(response, "order-subtotal").text == "￥9,000"
    assert hook(response, "order-amount-due").text == "￥8,000"
    assert hook(response, "wallet-balance").text == "￥1,000"


def test_a_line_no_longer_sold_disables_the_order_button(user, lamp):
    cart_fill(user, (lamp, 1))
    lamp.is_active = False
    lamp.save()

    response = _client_for(user).get(CHECKOUT)

    assert "not sold in your region" in response.content.decode()
    assert "disabled" in hook(response, "place-order").attrs


def test_checkout_query_count_does_not_grow_with_lines(user, django_assert_num_queries):
    fund(user, 1000)
    client = _client_for(user)
    products = [ProductFactory() for _ in range(10)]
    cart_fill(user, (products[0], 1))
    with django_assert_num_queries(CHECKOUT_QUERIES):
        assert len(hooks(client.get(CHECKOUT), "checkout-line")) == 1

    cart_fill(user, *((product, 3) for product in products[1:]))
    with django_assert_num_queries(CHECKOUT_QUERIES):
        response = client.get(CHECKOUT)
    assert len(hooks(response, "checkout-line")) == 10
    assert hook(response, "nav-balance").text == "Balance: $10.00"


# --- the balance switch -------------------------------------------------------------------------


def test_turning_the_balance_off_and_on(user, lamp):
    fund(user, 2000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)

    off = client.post(BALANCE, {"use_balance": "off"}, follow=True)

    assert off.redirect_chain == [(CHECKOUT, 302)]
    assert "Your balance will not be used." in hook(off, "message").text
    assert _amounts(off) == {
        "subtotal": 2999,
        "discount": 0,
        "balance-applied": 0,
        "amount-due": 2999,
    }
    assert _wallet_balance(off) == (2000, "USD")
    assert client.session[SESSION_USE_BALANCE] is False

    on = client.post(BALANCE, {"use_balance": "on"}, follow=True)

    assert "Your balance will pay first." in hook(on, "message").text
    assert _amounts(on)["balance-applied"] == 2000
    assert _amounts(on)["amount-due"] == 999


@pytest.mark.parametrize("value", ["", "maybe", "OFF"])
def test_an_unknown_switch_value_is_refused_clearly_and_changes_nothing(user, lamp, value):
    fund(user, 2000)
    cart_fill(user, (lamp, 1))
    client = _client_for(user)

    response = client.post(BALANCE, {"use_balance": value}, follow=True)

    assert hook(response, "form-error").attrs["data-reason"] == "invalid"
    assert SESSION_USE_BALANCE not in client.session
    assert _amounts(response)["balance-applied"] == 2000


# --- the code box ---------------------------------------------------------------------------


def test_a_claim_code_is_redeemed_into_the_balance_and_applied(user, lamp):
    fund(user, 500)
    cart_fill(user, (lamp, 1))
    issued = issue_card(amount=1500)
    client = _client_for(user)

    response = client.post(CODE, {"code": code_display(issued.code).lower()}, follow=True)

    assert response.redirect_chain == [(CHECKOUT, 302)]
    assert "Gift card applied: $15.00 was added to your balance." in hook(response, "message").text
    assert _wallet_balance(response) == (2000, "USD")
    assert _amounts(response)["balance-applied"] == 2000
    assert _amounts(response)["amount-due"] == 999
    issued.card.refresh_from_db()
    assert issued.card.status == GiftCard.Status.REDEEMED
    assert issued.card.redeemed_by == user
    assert balance(user) == 2000
    assert issued.code not in response.content.decode()


def test_a_claim_code_pasted_with_no_break_spaces_is_redeemed_and_never_shown(user, lamp):
    """As on the redeem page: every kind of space or dash is ignored (wallet/codes.py); and a
    typo that holds a real code (a symbol too many) is not given back in the box."""
    cart_fill(user, (lamp, 1))
    issued, other = issue_card(amount=1500), issue_card(amount=700)
    client = _client_for(user)

    pasted = client.post(CODE, {"code": code_display(issued.code).replace("-", "\u00a0")})
    extra = client.post(CODE, {"code": code_display(other.code) + "7"})

    assert pasted.status_code == 302
    assert balance(user) == 1500
    assert hook(extra, "form-error").attrs["data-reason"] == "typo"
    assert other.code not in extra.content.decode()
    assert code_display(other.code) not in extra.content.decode()


def test_a_redeemed_code_is_applied_even_with_the_balance_switched_off_it_stays_off(user, lamp):
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    client.post(BALANCE, {"use_balance": "off"})

    response = client.post(CODE, {"code": issue_card(amount=1000).code}, follow=True)

    # The switch is the shopper's choice; a new code only fills the balance.
    assert _wallet_balance(response) == (1000, "USD")
    assert _amounts(response)["balance-applied"] == 0


def _refused_code(reason):
    """A code the redemption service refuses with `reason` for `user` (a US shopper)."""
    if reason == "typo":
        return TYPO_CODE
    if reason == "not_found":
        return UNKNOWN_CODE
    if reason == "wrong_region":
        return issue_card(region="GB", amount=1000).code
    issued = issue_card(amount=1000)
    if reason == "already_redeemed":
        giftcard_redeem(user=UserFactory(), code=issued.code)
    elif reason == "expired":
        GiftCard.objects.filter(pk=issued.card.pk).update(
            expires_on=region_today(Region.objects.get(code="US")) - datetime.timedelta(days=1)
        )
    elif reason == "disabled":
        GiftCard.objects.filter(pk=issued.card.pk).update(status=GiftCard.Status.DISABLED)
    return issued.code


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("typo", "doesn't look like a gift card code"),
        ("not_found", "couldn't find a gift card"),
        ("already_redeemed", "already been redeemed"),
        ("expired", "has expired"),
        ("disabled", "has been disabled"),
        ("wrong_region", "another region's store"),
    ],
)
def test_a_refused_code_answers_with_the_redeem_pages_reason(user, lamp, reason, says):
    fund(user, 500)
    cart_fill(user, (lamp, 1))
    code = _refused_code(reason)
    before = shop_state()

    response = _client_for(user).post(CODE, {"code": code})

    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == reason
    assert says in error.text
    assert shop_state() == before
    assert _wallet_balance(response) == (500, "USD")
    html = response.content.decode()
    if reason in ("typo", "not_found"):
        # No card has that code: it comes back in the box to be corrected.
        assert f'value="{code}"' in html
    else:
        assert code not in html  # a real card's code is never shown again
    # A reload asks for /checkout/, not the code again (one more guess).
    assert 'data-replace-url="/checkout/"' in html


def test_a_promotional_code_is_answered_clearly_as_not_found(user, lamp):
    cart_fill(user, (lamp, 1))
    before = shop_state()

    response = _client_for(user).post(CODE, {"code": "SUMMER10"})

    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "not_found"
    assert "promotional code" in error.text
    assert "15 characters" in error.text
    assert shop_state() == before
    assert _amounts(response)["discount"] == 0


def test_an_empty_code_is_refused(user, lamp):
    cart_fill(user, (lamp, 1))

    response = _client_for(user).post(CODE, {"code": "  "})

    assert hook(response, "form-error").attrs["data-reason"] == "required"
    assert "Enter a gift card or promotional code." in hook(response, "form-error").text


def test_refused_codes_lock_the_box_like_the_redeem_page(user, lamp):
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    valid = issue_card(amount=1000)
    with override_settings(REDEEM_LIMIT_PER_USER=3):
        for _ in range(3):
            assert hook(client.post(CODE, {"code": TYPO_CODE}), "form-error")

        response = client.post(CODE, {"code": valid.code})

    assert response.status_code == 429
    assert hook(response, "form-error").attrs["data-reason"] == "locked"
    assert "locked for 30 minutes" in hook(response, "form-error").text
    valid.card.refresh_from_db()
    assert valid.card.status == GiftCard.Status.ACTIVE
    assert balance(user) == 0
    # The redeem page shares the lock.
    assert client.post("/gift-cards/redeem/", {"code": valid.code}).status_code == 429


def test_the_checkout_box_counts_against_the_limit_of_ten(user, lamp):
    cart_fill(user, (lamp, 1))
    client = _client_for(user)
    for _ in range(10):
        assert client.post(CODE, {"code": UNKNOWN_CODE}).status_code == 200

    assert client.post(CODE, {"code": issue_card().code}).status_code == 429


@pytest.mark.parametrize("typed", ["ABCD-EFGHJK-MNPQ", "ABCD-EFGHJK-MNPQRS"])
def test_a_claim_code_with_a_symbol_missing_or_extra_is_a_typo_not_a_promotion(user, lamp, typed):
    cart_fill(user, (lamp, 1))
    before = shop_state()

    response = _client_for(user).post(CODE, {"code": typed})

    assert hook(response, "form-error").attrs["data-reason"] == "typo"
    assert shop_state() == before
