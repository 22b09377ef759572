"""Subscribe & Save's demo data (subscriptions/demo.py), loaded by `seed_demo` through the
DEMO_SEEDERS setting: the demo shopper's saved test card and one monthly coffee subscription,
once, however often the demo is seeded."""

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from accounts.models import User
from checkout.models import SavedCard
from checkout.payments import TestGateway
from checkout.services.auto_reloads import auto_reload_settings_save
from subscriptions.models import Subscription
from subscriptions.services import subscription_cancel
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import DECLINED
from tests.db_template import sqlite_template

pytestmark = pytest.mark.django_db

DEMO_EMAIL = "demo@example.com"


@pytest.fixture
def seed(settings, tmp_path):
    settings.DEBUG = True  # seed_demo refuses to run without it

    def run() -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "seed_demo", "--code-file", str(tmp_path / "codes.csv"), stdout=out, stderr=err
        )
        return out.getvalue(), err.getvalue()

    return run


def _rows():
    return (
        list(Subscription.objects.order_by("pk").values()),
        list(SavedCard.objects.order_by("pk").values()),
    )


def test_the_demo_shopper_gets_a_saved_card_and_one_monthly_coffee_subscription(seed):
    out, err = seed()

    shopper = User.objects.get(email=DEMO_EMAIL)
    (card,) = SavedCard.objects.filter(user=shopper)
    assert card.card_last4 == "4242"
    assert TestGateway.APPROVED not in card.token
    (sub,) = Subscription.objects.filter(user=shopper)
    assert (sub.product.slug, sub.quantity, sub.every, sub.status) == (
        "coffee-beans-1kg",
        1,
        1,
        "active",
    )
    assert sub.card == card
    assert sub.address is not None
    assert sub.address.is_default
    assert sub.region_id == shopper.region_id
    assert out.count("\n") == 1  # one summary line
    assert "1 demo subscription(s) and 1 saved card(s) created" in out
    for number in (TestGateway.APPROVED, "4242 4242 4242 4242"):
        assert number not in out + err


def test_seeding_twice_makes_one_subscription_and_one_card(seed):
    seed()
    before = _rows()

    out, _ = seed()

    assert _rows() == before
    assert Subscription.objects.count() == 1
    assert SavedCard.objects.count() == 1
    assert "0 demo subscription(s) and 0 saved card(s) created" in out
    assert out.count("\n") == 1


def test_the_demo_shoppers_own_subscriptions_are_left_as_they_are(seed):
    seed()
    shopper = User.objects.get(email=DEMO_EMAIL)
    subscription_cancel(user=shopper, subscription_id=Subscription.objects.get().pk)
    before = _rows()

    seed()

    assert _rows() == before  # still the one, cancelled: not started again
    assert Subscription.objects.get().status == "cancelled"


def test_a_card_the_demo_shopper_saved_is_kept_and_used(seed):
    # The demo shopper signed up before the demo was seeded and saved a card for auto-reload.
    shopper = UserFactory(email=DEMO_EMAIL, region_id="US")
    auto_reload_settings_save(
        user=shopper, enabled=True, threshold=1000, amount=2500, card_number=DECLINED
    )
    (own,) = SavedCard.objects.all()

    out, _ = seed()

    assert list(SavedCard.objects.all()) == [own]
    assert Subscription.objects.get(user=shopper).card == own
    assert "1 demo subscription(s) and 0 saved card(s) created" in out


def test_make_runs_flow_migrates_and_seeds_a_fresh_database(tmp_path):
    """`make run`: `migrate` then `seed_demo` with DEBUG on, on a new SQLite file, twice.

    The file is a copy of the test template, which `manage.py migrate` made from nothing for
    this run's migrations (tests/db_template.py): migrating an empty file again here cost
    13 s of CPU and proved the same. This `migrate` still runs with `make run`'s settings and
    finds nothing left to do."""
    database = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template(), database)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": "",
    }

    def manage(*args) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603  (our own manage.py, fixed arguments)
            [sys.executable, "manage.py", *args],
            cwd=Path(settings.BASE_DIR),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    migrated = manage("migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    codes = str(tmp_path / "codes.csv")
    first = manage("seed_demo", "--code-file", codes)
    again = manage("seed_demo", "--code-file", codes)

    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert first.stdout.count("\n") == 1
    assert "1 demo subscription(s) and 1 saved card(s) created" in first.stdout
    assert "0 demo subscription(s) and 0 saved card(s) created" in again.stdout
    with sqlite3.connect(database) as db:
        subs = db.execute(
            "SELECT s.status, s.quantity, s.every, p.slug FROM subscriptions_subscription s "
            "JOIN catalog_product p ON p.id = s.product_id"
        ).fetchall()
        (cards,) = db.execute("SELECT COUNT(*) FROM checkout_savedcard").fetchone()
    assert subs == [("active", 1, 1, "coffee-beans-1kg")]
    assert cards == 1
