"""client_ip: the client's address behind 0, 1 or 2 trusted proxies (docs/interface.md §9), and
allauth's sign-in limits counting that same address."""

import pytest
from allauth.account.adapter import get_adapter
from django.test import Client, RequestFactory, override_settings

from accounts.network import address_clean, client_ip
from tests.accounts.factories import PASSWORD, UserFactory

PROXY = "10.0.0.2"  # the TLS proxy in front of the app: every request's REMOTE_ADDR behind it
EDGE = "10.0.0.1"  # an outer proxy (a load balancer) in front of that one


def _request(remote="192.0.2.10", forwarded=None):
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


# --- the rule -------------------------------------------------------------------------------


@override_settings(TRUSTED_PROXY_COUNT=0)
@pytest.mark.parametrize("forwarded", [None, "", "203.0.113.5", "203.0.113.5, 198.51.100.7"])
def test_no_trusted_proxy_means_remote_addr_whatever_the_header(forwarded):
    assert client_ip(_request(remote="192.0.2.10", forwarded=forwarded)) == "192.0.2.10"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_one_trusted_proxy_means_the_last_entry():
    assert client_ip(_request(remote=PROXY, forwarded="198.51.100.7")) == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_one_trusted_proxy_ignores_what_the_client_wrote_before_it():
    # The client sent "X-Forwarded-For: 203.0.113.99"; the proxy appended what it saw.
    request = _request(remote=PROXY, forwarded="203.0.113.99, 198.51.100.7")
    assert client_ip(request) == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_two_trusted_proxies_mean_the_second_entry_from_the_right():
    # client -> EDGE (appends the client) -> PROXY (appends EDGE) -> app
    request = _request(remote=PROXY, forwarded=f"203.0.113.99, 198.51.100.7, {EDGE}")
    assert client_ip(request) == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=2)
@pytest.mark.parametrize("forwarded", [None, "", "198.51.100.7"])
def test_fewer_entries_than_trusted_proxies_fall_back_to_remote_addr(forwarded):
    # The request skipped a proxy of ours: no entry is known good, and allauth's own rule
    # would raise ImproperlyConfigured here (a 500).
    assert client_ip(_request(remote=PROXY, forwarded=forwarded)) == PROXY


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize("entry", ["unknown", "", "999.1.1.1", "<script>"])
def test_a_malformed_entry_falls_back_to_remote_addr(entry):
    assert client_ip(_request(remote=PROXY, forwarded=f"198.51.100.7, {entry}")) == PROXY


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_addresses_are_normalised():
    assert client_ip(_request(remote=PROXY, forwarded=" 198.51.100.7:4431 ")) == "198.51.100.7"
    assert client_ip(_request(remote=PROXY, forwarded="[2001:DB8::1]:443")) == "2001:db8::1"
    assert client_ip(_request(remote=PROXY, forwarded="::ffff:198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:80", "192.0.2.1"),
        ("2001:0db8:0000::0001", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("", None),
        ("example.com", None),
    ],
)
def test_address_clean(text, expected):
    assert address_clean(text) == expected


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_no_usable_remote_addr_is_none():
    assert client_ip(_request(remote="")) is None


# --- allauth counts the same address --------------------------------------------------------

CASES = [
    (0, "192.0.2.10", None),
    (0, "192.0.2.10", "203.0.113.5"),
    (1, PROXY, "198.51.100.7"),
    (1, PROXY, "203.0.113.99, 198.51.100.7"),
    (1, PROXY, None),
    (2, PROXY, f"203.0.113.99, 198.51.100.7, {EDGE}"),
    (2, PROXY, "198.51.100.7"),
    (1, PROXY, "2001:db8::1"),
]


@pytest.mark.parametrize(("trusted", "remote", "forwarded"), CASES)
def test_allauth_sees_the_same_address_as_the_guessing_limits(trusted, remote, forwarded):
    with override_settings(TRUSTED_PROXY_COUNT=trusted, ALLAUTH_TRUSTED_PROXY_COUNT=trusted):
        request = _request(remote=remote, forwarded=forwarded)
        assert get_adapter(request).get_client_ip(request) == client_ip(request)


def test_allauth_is_configured_with_the_same_proxy_count(settings):
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == settings.TRUSTED_PROXY_COUNT == 0


def _fail_sign_ins(client, times, **headers):
    """`times` wrong passwords, each for a different address (so only the per-IP limit counts)."""
    for n in range(times):
        response = client.post(
            "/accounts/login/",
            {"login": f"nobody{n}@example.com", "password": "wrong-horse-2026"},
            **headers,
        )
        assert response.status_code == 200
    return response


def _sign_in(client, user, **headers):
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}, **headers)


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1, ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_one_clients_failed_sign_ins_do_not_throttle_another():
    attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.66"}
    last = _fail_sign_ins(Client(), 10, **attacker)  # allauth: 10 failures per minute per IP
    assert b"data-reason" in last.content

    throttled = _sign_in(Client(), UserFactory(), **attacker)
    shopper = _sign_in(
        Client(), UserFactory(), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7"
    )

    assert throttled.status_code == 200  # refused: too many attempts from that address
    assert shopper.status_code == 302  # another client behind the same proxy signs in


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=0, ALLAUTH_TRUSTED_PROXY_COUNT=0)
def test_a_spoofed_header_without_trusted_proxies_does_not_escape_the_sign_in_limit():
    client = Client()
    for n in range(10):
        client.post(
            "/accounts/login/",
            {"login": f"nobody{n}@example.com", "password": "wrong-horse-2026"},
            REMOTE_ADDR="192.0.2.10",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 1}",
        )

    response = _sign_in(
        Client(), UserFactory(), REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="198.51.100.200"
    )

    assert response.status_code == 200  # still throttled: the header was never believed


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=2, ALLAUTH_TRUSTED_PROXY_COUNT=2)
def test_a_short_header_at_sign_in_is_no_500():
    response = _sign_in(Client(), UserFactory(), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="x")
    assert response.status_code == 302
