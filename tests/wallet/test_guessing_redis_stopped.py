"""Redis stopped mid-run, on PostgreSQL: redemption and the code box fail closed with 503
`unavailable` and write nothing; the other pages keep working; nothing answers 500.

The test starts a Redis of its own (the suite's throwaway one is shared by the tests after it),
uses it, stops it, then drives the pages. Like the race tests it FAILS, never skips, without
PostgreSQL or a redis-server binary.
"""

import shutil
import socket
import subprocess
import time

import pytest
from django.db import connection
from django.test import Client

from tests.accounts.factories import PASSWORD, UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill, shop_state
from tests.wallet.factories import issue_card
from tests.wallet.pages import hook
from wallet import guessing
from wallet.codes import check_symbol
from wallet.models import GiftCard

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

UNKNOWN_CODE = "00000000000001" + check_symbol("00000000000001")


@pytest.fixture
def own_redis(settings, tmp_path):
    """A redis-server on a free port, the cache of this test; `stop()` stops it."""
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL: run it with DATABASE_URL=postgres://…", pytrace=False)
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("needs redis-server (scripts/provision.sh installs it)", pytrace=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 (a fixed binary and arguments)
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    def stop():
        server.terminate()
        server.wait(timeout=10)

    yield stop
    if server.poll() is None:
        stop()


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_redis_stopped_mid_run_fails_closed_and_nothing_500s(own_redis):
    shopper = UserFactory(region_id="US")
    lamp = ProductFactory(name="Desk Lamp", prices={"US": 2999})
    cart_fill(shopper, (lamp, 1))
    client = _client_for(shopper)
    # Redis up: a wrong code is counted there.
    assert hook(client.post("/gift-cards/redeem/", {"code": UNKNOWN_CODE}), "form-error").attrs[
        "data-reason"
    ] == ("not_found")
    assert guessing.redemption_failure_count(user_id=shopper.pk)[f"user:{shopper.pk}"] == 1

    own_redis()
    issued = issue_card()
    before = shop_state()

    redeem = client.post("/gift-cards/redeem/", {"code": issued.code})
    code_box = client.post("/checkout/code/", {"code": issued.code})

    for response in (redeem, code_box):
        assert response.status_code == 503
        assert hook(response, "form-error").attrs["data-reason"] == "unavailable"
    assert shop_state() == before
    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.ACTIVE

    for url in ("/wallet/", "/", f"/products/{lamp.slug}/", "/cart/", "/checkout/", "/orders/"):
        assert client.get(url).status_code == 200, url
    visitor = Client()
    assert visitor.get("/accounts/login/").status_code == 200
    sign_in = visitor.post("/accounts/login/", {"login": shopper.email, "password": PASSWORD})
    assert sign_in.status_code == 503  # fails closed: no unthrottled sign-in
    assert hook(sign_in, "form-error").attrs["data-reason"] == "unavailable"
    assert "_auth_user_id" not in visitor.session
