import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.test import Client

from catalog.models import Region
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.db_template import install as db_template_install
from tests.fast_restore import install as fast_serialized_rollback_install

# Each transactional test (serialized_rollback=True) reloads the migrations' rows in one INSERT
# per table, not one save() per row (tests/fast_restore.py).
fast_serialized_rollback_install()
# Each test database is a copy of one migrated once (tests/db_template.py), not migrated again.
db_template_install()

# Rows that data migrations create. A transactional test (race tests, browser tests) ends by
# emptying every table, and the tests after it would then run without regions or staff groups.
_REGIONS = importlib.import_module("catalog.migrations.0002_regions").REGIONS
_TIME_ZONES = importlib.import_module("catalog.migrations.0004_region_time_zone").TIME_ZONES
_GROUPS = {
    **importlib.import_module("wallet.migrations.0005_staff_groups").GROUPS,
    **importlib.import_module("promotions.migrations.0002_staff_groups").GROUPS,
    **importlib.import_module("checkout.migrations.0007_bought_giftcard_support").GROUPS,
}
_RATES = importlib.import_module("checkout.migrations.0003_shipping_and_progress").RATES


def _data_migration_rows_restore() -> None:
    for code, name, currency, locale in _REGIONS:
        Region.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "currency": currency,
                "locale": locale,
                "time_zone": _TIME_ZONES[code],
            },
        )
    from checkout.models import ShippingRate

    for region, method, amount, free_from, days in _RATES:
        ShippingRate.objects.get_or_create(
            region_id=region,
            method=method,
            defaults={"amount": amount, "free_from": free_from, "delivery_days": days},
        )
    for name, perms in _GROUPS.items():
        group, created = Group.objects.get_or_create(name=name)
        if created:
            group.permissions.set(
                Permission.objects.get(
                    content_type__app_label=app_label, content_type__model=model, codename=codename
                )
                for app_label, model, codename in perms
            )


@pytest.fixture(autouse=True)
def _data_migration_rows(request):
    """Every database test starts with the regions and groups the migrations made, whatever
    an earlier transactional test's flush left behind."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    transactional = (
        "transactional_db" in names
        or "live_server" in names
        or (marker is not None and marker.kwargs.get("transaction"))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
    elif marker is not None or "db" in names:
        request.getfixturevalue("db")
    else:
        return
    if Region.objects.count() < len(_REGIONS):
        _data_migration_rows_restore()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def shopper_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user):
    """pytest-django's `admin_client`, with the second factor value-moving staff need for
    /admin/. Other staff clients: `login_staff(client, user)` (tests/accounts/two_factor.py)."""
    return login_staff(Client(), admin_user)


# Presentation tests: what pages, forms and e-mails show (templates, hooks, messages, page
# query counts, pure pricing and promotion arithmetic). The database does nothing in them that
# SQLite does not do the same way, so they run once, in the SQLite stage; the PostgreSQL stage
# keeps everything that reaches the data layer (services, constraints, locks, races, commands)
# and the walks of tests/test_edges.py, which send every URL (the admin's too) the shapes
# PostgreSQL alone refuses (a NUL byte, an id beyond a bigint). The admin's pages call the same
# services those tests prove on PostgreSQL, so they too run once, on SQLite (issue 13: make
# test under 10 minutes). docs/interface.md §1.
RUN_ON_SQLITE_ONLY = (
    "tests/accounts/test_admin_sign_in.py",
    "tests/accounts/test_bootstrap_forms.py",
    "tests/accounts/test_login_logout.py",
    "tests/accounts/test_mfa.py",
    "tests/accounts/test_network.py",
    "tests/accounts/test_pages.py",
    "tests/accounts/test_password_reset.py",
    "tests/accounts/test_signup.py",
    "tests/accounts/test_staff_two_factor.py",
    "tests/catalog/test_money.py",
    "tests/catalog/test_shopper_pages.py",
    "tests/catalog/test_views.py",
    "tests/checkout/test_admin.py",
    "tests/checkout/test_checkout_page.py",
    "tests/checkout/test_coins_order_page.py",
    "tests/checkout/test_email_base.py",
    "tests/checkout/test_emails_promotions.py",
    "tests/checkout/test_giftcard_bonus_pages.py",
    "tests/checkout/test_giftcard_buy.py",
    "tests/checkout/test_giftcard_delivery_admin.py",
    "tests/checkout/test_giftcard_print.py",
    "tests/checkout/test_orders.py",
    "tests/checkout/test_payment_admin.py",
    "tests/checkout/test_pricing.py",
    "tests/checkout/test_promo_pages.py",
    "tests/promotions/test_admin.py",
    "tests/promotions/test_allocation.py",
    "tests/promotions/test_codes_shown_pages.py",
    "tests/promotions/test_engine.py",
    "tests/promotions/test_engine_insiders_box.py",
    "tests/promotions/test_giftcard_bonus_admin.py",
    "tests/promotions/test_stacking.py",
    "tests/subscriptions/test_admin.py",
    # The demo data is what `make run` loads, on SQLite; its make-run flow test migrates and
    # seeds a fresh SQLite file of its own whatever the stage.
    "tests/subscriptions/test_demo.py",
    "tests/subscriptions/test_emails.py",
    "tests/subscriptions/test_pages.py",
    "tests/subscriptions/test_periods.py",
    "tests/subscriptions/test_product_subscribe_form.py",
    # Real `manage.py` processes on a database of their own (never migrated, or none at all).
    "tests/test_commands_database.py",
    "tests/test_csp.py",
    "tests/test_leaks.py",
    # scripts/test.sh itself, with a stand-in for the installs, and a gunicorn of its own on a
    # SQLite file: no test database.
    "tests/test_gunicorn_config.py",
    "tests/test_make_test.py",
    "tests/test_private_pages.py",
    "tests/wallet/test_admin.py",
    "tests/wallet/test_admin_money.py",
    "tests/wallet/test_codes.py",
    "tests/wallet/test_coins_pages.py",
    "tests/wallet/test_credit_pages.py",
    "tests/wallet/test_help.py",
    # Real `manage.py` processes on a SQLite file of their own, whatever the stage's database.
    "tests/wallet/test_issue_giftcards_cli.py",
    "tests/wallet/test_points_admin.py",
    "tests/wallet/test_points_pages.py",
    "tests/wallet/test_views.py",
    "tests/wallet/test_wallet_rows.py",
)


def pytest_runtest_setup(item):
    """A test marked `postgres` (a race, a PostgreSQL trigger) fails, never skips, on another
    database: a race that quietly ran on SQLite would prove nothing. (`make test` runs them in
    the PostgreSQL stage; the SQLite stage deselects them.)"""
    if item.get_closest_marker("postgres") is None:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail(
            f"this test needs PostgreSQL, got {connection.vendor!r}: run it with "
            "DATABASE_URL=postgres://… (scripts/test-services.sh)",
            pytrace=False,
        )


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, leave the presentation tests to the SQLite stage (RUN_ON_SQLITE_ONLY);
    they are deselected, not skipped: the `all-ran` stage still sees each of them pass."""
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return
    kept, left = [], []
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        (left if path in RUN_ON_SQLITE_ONLY else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
