"""The guessing limits as the pages apply them: the client address behind a proxy, a spoofed
X-Forwarded-For, and every page with the shared cache unreachable (docs/interface.md §9)."""

import socket
import uuid

import pytest
from django.test import Client, override_settings

from accounts.models import User
from checkout.payments import TestGateway
from tests.accounts.factories import PASSWORD, UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill, shop_state
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from tests.wallet.pages import hook
from wallet.codes import check_symbol
from wallet.models import GiftCard

pytestmark = pytest.mark.django_db

REDEEM = "/gift-cards/redeem/"
CODE_BOX = "/checkout/code/"
PROXY = "10.0.0.2"


def _unknown(n: int) -> str:
    """A well-formed code (valid check symbol) that was never issued; a different one per n."""
    payload = f"{n:014d}"
    return payload + check_symbol(payload)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _reason(response) -> str:
    return hook(response, "form-error").attrs["data-reason"]


# --- behind a trusted proxy ---------------------------------------------------------------


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_thirty_bad_codes_from_shoppers_behind_the_proxy_lock_no_one_else():
    for n in range(30):
        response = _client_for(UserFactory()).post(
            REDEEM,
            {"code": _unknown(n)},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}",
        )
        assert _reason(response) == "not_found"
    issued = issue_card()

    response = _client_for(UserFactory()).post(
        REDEEM, {"code": issued.code}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.50"
    )

    assert response.status_code == 302  # redeemed: the others' refusals were theirs
    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.REDEEMED


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_the_proxy_is_one_address_as_before():
    """What TRUSTED_PROXY_COUNT fixes: left at 0 behind a proxy, everyone shares its address."""
    for n in range(30):
        _client_for(UserFactory()).post(
            REDEEM,
            {"code": _unknown(n)},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}",
        )

    response = _client_for(UserFactory()).post(
        REDEEM, {"code": issue_card().code}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.50"
    )

    assert response.status_code == 429


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_a_spoofed_header_without_trusted_proxies_changes_nothing():
    guessers = [_client_for(UserFactory()) for _ in range(3)]
    for n in range(30):
        guessers[n % 3].post(
            REDEEM,
            {"code": _unknown(n)},
            REMOTE_ADDR="192.0.2.66",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 1}",  # a new "address" every time
        )

    response = _client_for(UserFactory()).post(
        REDEEM,
        {"code": issue_card().code},
        REMOTE_ADDR="192.0.2.66",
        HTTP_X_FORWARDED_FOR="1.2.3.4",
    )

    assert response.status_code == 429
    assert _reason(response) == "locked"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_spoofed_prefix_behind_a_trusted_proxy_changes_nothing():
    """The guesser writes their own X-Forwarded-For; the proxy appends their real address."""
    guessers = [_client_for(UserFactory()) for _ in range(3)]
    for n in range(30):
        guessers[n % 3].post(
            REDEEM,
            {"code": _unknown(n)},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 1}, 192.0.2.66",
        )
    issued = issue_card()

    locked = _client_for(UserFactory()).post(
        REDEEM, {"code": issued.code}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="9.9.9.9, 192.0.2.66"
    )
    someone_else = _client_for(UserFactory()).post(
        REDEEM, {"code": issued.code}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.67"
    )

    assert locked.status_code == 429
    assert someone_else.status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_the_code_box_counts_the_same_client_address():
    lamp = ProductFactory(name="Desk Lamp", prices={"US": 2999})
    for n in range(30):
        user = UserFactory()
        cart_fill(user, (lamp, 1))
        _client_for(user).post(
            CODE_BOX,
            {"code": _unknown(n)},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="192.0.2.66",
        )

    locked = _client_for(UserFactory()).post(
        CODE_BOX, {"code": issue_card().code}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.66"
    )
    elsewhere = _client_for(UserFactory()).post(
        CODE_BOX, {"code": issue_card().code}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.67"
    )

    assert locked.status_code == 429
    assert _reason(locked) == "locked"
    assert elsewhere.status_code == 302


# --- the shared cache unreachable -----------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cache_down(settings):
    """The cache is a Redis nobody answers at (a closed port): as with Redis stopped."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_cache_down_the_redeem_page_answers_503_unavailable_and_writes_nothing(cache_down, user):
    issued = issue_card()
    before = ledger_state()

    response = _client_for(user).post(REDEEM, {"code": issued.code})

    assert response.status_code == 503
    assert _reason(response) == "unavailable"
    assert "try again" in hook(response, "form-error").text
    assert response["Retry-After"] == "60"
    assert issued.code not in response.content.decode()
    assert ledger_state() == before
    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.ACTIVE


def test_cache_down_the_code_box_answers_503_unavailable_and_writes_nothing(cache_down, user):
    cart_fill(user, (ProductFactory(name="Desk Lamp", prices={"US": 2999}), 1))
    issued = issue_card()
    before = shop_state()

    response = _client_for(user).post(CODE_BOX, {"code": issued.code})

    assert response.status_code == 503
    assert _reason(response) == "unavailable"
    assert response["Retry-After"] == "60"
    assert shop_state() == before
    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.ACTIVE


@pytest.mark.parametrize("url", ["/", "/cart/", "/checkout/", "/orders/", "/wallet/", REDEEM])
def test_cache_down_pages_that_need_no_cache_keep_working(cache_down, user, url):
    ProductFactory(name="Desk Lamp", prices={"US": 2999})
    assert _client_for(user).get(url).status_code == 200


@pytest.mark.parametrize("url", ["/", "/cart/", "/accounts/login/", "/accounts/signup/"])
def test_cache_down_pages_for_visitors_keep_working(cache_down, client, url):
    assert client.get(url).status_code == 200


def test_cache_down_the_product_page_keeps_working(cache_down, user):
    lamp = ProductFactory(name="Desk Lamp", prices={"US": 2999})
    assert _client_for(user).get(f"/products/{lamp.slug}/").status_code == 200


def test_cache_down_sign_in_answers_a_503_page_not_a_500(cache_down, client):
    """Sign-in fails closed: its limits are what stops password guessing (docs/interface.md
    §9); an outage of the cache must not open an unthrottled window. Nothing is signed in."""
    user = UserFactory()

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert response.status_code == 503
    assert _reason(response) == "unavailable"
    assert response["Retry-After"] == "60"
    assert "_auth_user_id" not in client.session


def test_cache_down_sign_up_answers_a_503_page_and_creates_no_one(cache_down, client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "new.shopper@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "region": "US",
        },
    )

    assert response.status_code == 503
    assert not User.objects.filter(email="new.shopper@example.com").exists()


def test_cache_down_password_reset_answers_a_503_page(cache_down, client, mailoutbox):
    user = UserFactory()

    response = client.post("/accounts/password/reset/", {"email": user.email})

    assert response.status_code == 503
    assert mailoutbox == []


def test_cache_down_staff_sign_in_at_admin_answers_a_503_page(cache_down, client):
    staff = UserFactory(is_staff=True)

    sent_to = client.get("/admin/login/")  # staff sign in through the shop's page
    response = client.post(
        sent_to["Location"], {"login": staff.email, "password": PASSWORD, "next": "/admin/"}
    )

    assert sent_to.status_code == 302
    assert response.status_code == 503
    assert "_auth_user_id" not in client.session


def test_cache_down_a_card_order_is_still_placed(
    cache_down, user, django_capture_on_commit_callbacks
):
    cart_fill(user, (ProductFactory(name="Desk Lamp", prices={"US": 2999}), 1))

    with django_capture_on_commit_callbacks(execute=True):
        response = _client_for(user).post(
            "/checkout/place-order/",
            {"idempotency_key": uuid.uuid4().hex, "card_number": TestGateway.APPROVED},
        )

    assert response.status_code == 302
    assert response["Location"].startswith("/orders/")
