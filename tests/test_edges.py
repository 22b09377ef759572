"""Robust edges (docs/interface.md §9): every URL pattern of the shop and the admin, walked with
malformed ids, answers 404 (or the sign-in redirect for an anonymous visitor), never a 500;
pages that show a balance, a code or an order are never cached; every page carries a
Content-Security-Policy without inline script; the 404 and 500 pages are the shop's own.

The walks run on both databases of `make test` (they are unmarked, so the SQLite stage and the
PostgreSQL stage each run them): PostgreSQL refuses a NUL byte in a string, SQLite does not, so
a NUL that reaches a query is a 500 there only, and PostgreSQL gets the values it answers
otherwise. A value a route's converter refuses is sent once per route (the resolver's 404);
the others go to what reaches a view. Staff's answers in the admin are checked where they
point, not followed (the pages they point to are walked themselves): a third less time.
(A second copy marked `postgres` made the PostgreSQL stage walk every URL twice: 96 s each.)"""

import re
from urllib.parse import quote, unquote, urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import get_converters
from django.views.defaults import server_error

from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, order_make
from tests.wallet.factories import issue_card

pytestmark = pytest.mark.django_db

# What a careless link, a scanner or an attacker puts where an id belongs. Each is written as
# it goes on the wire: "%00" is a NUL byte once the server decodes the path.
MALFORMED = {
    "letters": "abc",
    "nul": "%00",
    "nul-inside": "12%0034",
    "negative": "-1",
    "zero": "0",
    "huge": "99999999999999999999",
    "float": "1.5",
    "long": "a" * 3000,
    "unicode": quote("ünï"),
    "dots": "..%2f..",
    "quote": "%27%20OR%201%3D1",
}
# What a visitor who is not staff tries in the admin's URLs (the admin turns them away first).
NOT_STAFF_IN_ADMIN = ("letters", "nul", "long")
# What staff try there: the admin's object ids take any text (a `path` converter), read by one
# lookup of the primary key, so "zero" is the case of "negative" (a whole number no object has)
# and "float" and "dots" that of "letters" (no number, for a numeric key; text no object has,
# for a text key): the rest, a third fewer requests than every shape.
STAFF_IN_ADMIN = tuple(name for name in MALFORMED if name not in ("zero", "float", "dots"))
# The shapes PostgreSQL answers otherwise than SQLite (it refuses a NUL byte in a string and an
# integer beyond a bigint; a long value reaches its varchar checks): the walk on PostgreSQL
# sends these, the SQLite stage all of them (URL converters and forms decide the rest before any
# query, alike on both).
DATABASE_SENSITIVE = ("nul", "nul-inside", "huge", "long")
# A malformed id that still names an object: the shop's own order number, the admin's ids.
PLACEHOLDER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<group>\w+)>[^)]*\)")


def _patterns(resolver=None, prefix: str = "") -> list[str]:
    """Every URL pattern of the project as one route string, e.g.
    `admin/wallet/giftcard/<path:object_id>/change/` or `orders/<order_number:number>/`."""
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern).lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            found += _patterns(entry, route)
        elif isinstance(entry, URLPattern) and PLACEHOLDER.search(route):
            found.append(route)
    return found


def _fill(route: str, value: str) -> str:
    return "/" + PLACEHOLDER.sub(value, route).replace("\\", "")


def _reaches_the_view(route: str, value: str) -> bool:
    """Whether `value` (as sent) is one the route's converters take, so the view reads it. A
    value a converter refuses (letters for an `<int:…>`) never reaches the view: Django's
    resolver answers 404 before any of our code runs."""
    converters = get_converters()
    decoded = unquote(value)
    for match in PLACEHOLDER.finditer(route):
        converter = converters.get(match["converter"] or "str")
        if match["group"] is None and not re.fullmatch(converter.regex, decoded):
            return False
    return True


def _values(route: str, names) -> list[str]:
    """The malformed values of `names` sent to `route`: those that reach its view, and one
    the converters refuse (if any), to prove the resolver's 404."""
    reaching = [MALFORMED[name] for name in names if _reaches_the_view(route, MALFORMED[name])]
    refused = [MALFORMED[name] for name in names if MALFORMED[name] not in reaching]
    return reaching + refused[:1]


ROUTES = _patterns()


def _clients() -> dict[str, Client]:
    shopper = UserFactory()
    issue_card()  # so there is a card, an account and a posting with a real id around
    order_make(shopper, (ProductFactory(), 1), card=APPROVED)
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(shopper)
    staff = UserFactory(is_staff=True, is_superuser=True)
    return {
        "anonymous": Client(raise_request_exception=False),
        "shopper": signed_in,
        "staff": login_staff(Client(raise_request_exception=False), staff),
    }


# allauth's e-mail confirmation and password reset links take a token: a bad one is a page
# that says the link is invalid or expired (200), by design.
TOKEN_ROUTES = ("accounts/confirm-email/", "accounts/password/reset/key/")


CHANGELIST = re.compile(r"^/admin/(\w+/\w+/)?$")


def _acceptable(who: str, method: str, route: str, response) -> bool:
    """404; or, for a visitor who is not staff, the sign-in page (or 403 on the admin); or,
    for staff in the admin, the admin's own way of saying no: Django's "doesn't exist, perhaps
    it was deleted?" (or a refused action's message) on the index or a list, or 403 for a GET
    of a POST-only action and for a page no one may use (delete) before the id is looked up."""
    status = response.status_code
    final = response.request["PATH_INFO"]
    if status == 404:
        return True
    if status == 405 and method == "post":  # a page that takes no POST
        return True
    if route.startswith("admin/"):
        if who != "staff":
            signed_out = response.redirect_chain and final in ("/accounts/login/", "/admin/login/")
            return status == 403 or (status == 200 and bool(signed_out))
        if "<path:object_id>/" in route and route.endswith(("/change/", "/history/")):
            # An object's own pages: a malformed id is a 404 in every model admin
            # (config/admin_site.py), not Django's "perhaps it was deleted?" redirect.
            return status == 404
        if status == 403:
            return method == "get" or route.endswith("/delete/")
        # Staff's requests are not followed (`_walk`): the admin sends them back to a list or
        # the index (its query walk is below), and an object's bare address (which takes any
        # path, `<int:…>` routes' refused values too) to its change page (walked itself).
        location = urlsplit(response.headers.get("Location", "")).path
        return status == 302 and (bool(CHANGELIST.match(location)) or location.endswith("/change/"))
    if response.redirect_chain and final == "/accounts/login/":
        return who == "anonymous" and status == 200
    return status == 200 and route.startswith(TOKEN_ROUTES)


def _walk(visitor: str, part: str) -> dict[str, list[str]]:
    """Request every route of `part` (the shop's or the admin's) with every malformed value, as
    `visitor` (anonymous, shopper, staff), following redirects: the answers that were none of
    the acceptable ones (a 500 above all). Staff's answers in the admin are not followed:
    where they go back to is walked on its own."""
    odd: dict[str, list[str]] = {}
    for who, client in _clients().items():
        if who != visitor:
            continue
        on_postgresql = connection.vendor == "postgresql"
        for route in ROUTES:
            if route.startswith("admin/") != (part == "admin"):
                continue
            names = DATABASE_SENSITIVE if on_postgresql else MALFORMED
            if route.startswith("admin/"):
                # The admin sends a visitor who is not staff to sign in before it reads the id:
                # three shapes prove that (a NUL and a huge value in the `next` it carries).
                shapes = STAFF_IN_ADMIN if who == "staff" else NOT_STAFF_IN_ADMIN
                names = [name for name in shapes if name in names]
            follow = who != "staff" or not route.startswith("admin/")
            for value in _values(route, names):
                url = _fill(route, value)
                for method in ("get", "post"):
                    response = getattr(client, method)(url, follow=follow)
                    if not _acceptable(who, method, route, response):
                        key = f"{response.status_code} {who} {method.upper()} {route}"
                        odd.setdefault(key, []).append(value[:20])
    return odd


def test_the_walk_covers_the_shop_and_the_admin():
    assert "orders/<order_number:number>/" in ROUTES
    assert "wallet/activity/<int:posting_id>/report/" in ROUTES
    assert "admin/wallet/giftcard/<path:object_id>/change/" in ROUTES
    assert "admin/checkout/order/<int:order_id>/refund/" in ROUTES
    assert sum(route.startswith("admin/") for route in ROUTES) > 50


# One walk per kind of visitor and part of the site, so parallel test workers share the walks
# (the staff's walk of the admin alone is the longest).
@pytest.mark.parametrize("part", ["shop", "admin"])
@pytest.mark.parametrize("visitor", ["anonymous", "shopper", "staff"])
def test_malformed_ids_in_any_url_are_404_never_500(visitor, part):
    assert _walk(visitor, part) == {}


@pytest.mark.parametrize(
    "url",
    ["/orders/%00/", "/orders/CP-%00/", "/admin/wallet/giftcard/abc/change/"],
)
def test_the_urls_of_the_report_are_404(url, admin_client):
    shopper = Client()
    shopper.force_login(UserFactory())
    client = admin_client if url.startswith("/admin/") else shopper

    response = client.get(url)

    assert response.status_code == 404
    assert 'data-testid="not-found"' in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/orders/%00/",
        "/products/lamp%00/",
        "/admin/catalog/region/US%00/change/",
        "/?page=%00",
        "/admin/accounts/user/?q=a%00b",
        "/wallet/?page=1&x=%00",
    ],
)
def test_a_nul_byte_anywhere_in_the_url_is_the_shops_404(url, admin_client):
    client = admin_client if url.startswith("/admin/") else Client()

    response = client.get(url)

    assert response.status_code == 404
    assert 'data-testid="not-found"' in response.content.decode()
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "shift_jis"])
def test_a_form_body_that_is_not_utf8_is_a_400_never_a_500(settings, user, debug, charset):
    """config/nul_bytes.py: Django refuses such a form, and with DEBUG on (`make run`) its
    error page then failed on reading the form again: a 500. Nothing is written either way."""
    settings.DEBUG = debug
    issued = issue_card()
    client = Client(raise_request_exception=False)
    client.force_login(user)
    content_type = f"application/x-www-form-urlencoded; charset={charset}"
    for url, body in (
        ("/accounts/login/", b"login=a%40b.example&password=x"),
        ("/gift-cards/redeem/", f"code={issued.code}".encode()),
    ):
        response = client.post(url, data=body, content_type=content_type)
        assert response.status_code == 400, url
    issued.card.refresh_from_db()
    assert issued.card.redeemed_at is None


def test_a_page_read_with_a_form_header_that_is_not_utf8_is_still_shown(user):
    """Only a POST's form is read: a GET that carries the header (some proxies keep it) is
    answered as usual."""
    client = Client()
    client.force_login(user)
    response = client.get(
        "/wallet/", CONTENT_TYPE="application/x-www-form-urlencoded; charset=latin-1"
    )
    assert response.status_code == 200


# Query strings carry ids and terms too: a page number, the admin's search, sort and page.
QUERY_PAGES = ["/wallet/", "/orders/", "/"]
SHOP_PARAMETERS = ["page", "next"]
ADMIN_PARAMETERS = ["q", "p", "o", "e"]
QUERY_VALUES = ("letters", "nul", "negative", "huge", "long")


def _query_walk() -> list[str]:
    """Every list page (the shop's and every admin changelist) with every malformed value in
    every query parameter it reads: the requests that answered 500."""
    clients = _clients()
    staff, shopper = clients["staff"], clients["shopper"]
    changelists = [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
    ]
    # As in the id walk: PostgreSQL gets the values it answers otherwise than SQLite.
    on_postgresql = connection.vendor == "postgresql"
    values = [
        MALFORMED[name] for name in QUERY_VALUES if not on_postgresql or name in DATABASE_SENSITIVE
    ]
    failures = []
    for client, pages, parameters in (
        (shopper, QUERY_PAGES, SHOP_PARAMETERS),
        (staff, changelists, ADMIN_PARAMETERS),
    ):
        for page in pages:
            for parameter in parameters:
                for value in values:
                    url = f"{page}?{parameter}={value}"
                    if client.get(url, follow=True).status_code >= 500:
                        failures.append(url[:100])
    return failures


def test_malformed_values_in_query_strings_are_never_a_500():
    assert _query_walk() == []


# --- pages that show a balance, a code or an order are never cached -------------------------


def _no_store(response) -> bool:
    directives = {d.strip() for d in response.headers.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives


def test_balance_code_and_order_pages_are_private_and_never_stored(admin_client):
    shopper = UserFactory(region_id="US")
    order = order_make(shopper, (ProductFactory(), 1), card=APPROVED)
    card = issue_card()
    client = Client()
    client.force_login(shopper)
    shop = [
        "/wallet/",
        "/gift-cards/redeem/",
        "/checkout/",
        "/cart/",
        "/orders/",
        f"/orders/{order.number}/",
    ]
    posts = [
        ("/gift-cards/redeem/", {"code": "0000-000000-00000"}),
        ("/checkout/code/", {"code": "0000-000000-00000"}),
        ("/checkout/place-order/", {"idempotency_key": "x"}),
    ]
    staff = [
        "/admin/wallet/giftcard/",
        f"/admin/wallet/giftcard/{card.card.pk}/change/",
        "/admin/wallet/giftcard/code-search/",
        "/admin/wallet/account/",
        f"/admin/checkout/order/{order.pk}/change/",
    ]

    cached = [url for url in shop if not _no_store(client.get(url))]
    cached += [url for url, data in posts if not _no_store(client.post(url, data))]
    cached += [url for url in staff if not _no_store(admin_client.get(url))]
    posted = admin_client.post("/admin/wallet/giftcard/code-search/", {"code": card.code})
    cached += [] if _no_store(posted) else ["POST /admin/wallet/giftcard/code-search/"]

    assert cached == []


# --- the shop's own error pages ---------------------------------------------------------------


def test_the_404_page_is_the_shops_own_with_a_way_home_and_to_help():
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="not-found"' in html
    assert 'href="/"' in html
    assert 'href="/help/"' in html
    assert 'data-testid="nav-cart"' in html  # the shop's own layout


def test_the_500_page_renders_without_the_database_or_context_processors(
    django_assert_num_queries, rf
):
    with django_assert_num_queries(0):
        response = server_error(rf.get("/wallet/"))

    assert response.status_code == 500
    html = response.content.decode()
    assert 'data-testid="server-error"' in html
    assert 'href="/"' in html
    assert 'href="/help/"' in html


def test_database_connections_are_health_checked():
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
