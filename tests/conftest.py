import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.test import Client

from catalog.models import Region
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff

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
