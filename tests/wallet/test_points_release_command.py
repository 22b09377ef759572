"""`python manage.py points_release` (docs/interface.md §13): moves the points past their
pending time to available, one summary line, exit 0, idempotent; `--now` for operators and
tests; a bad flag or date is a clear error with a non-zero exit, and nothing is released."""

import datetime
import io

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.utils import timezone

from config.jobs import job_enqueue, jobs_run_pending
from tests.accounts.factories import UserFactory
from wallet.models import PointsEarning
from wallet.services import points_order_settle
from wallet.tasks import points_release_due
from wallet.unit_selectors import points_balance_get

pytestmark = pytest.mark.django_db

DELIVERED = datetime.datetime(2026, 11, 2, 9, 30, tzinfo=datetime.UTC)
DUE = DELIVERED + datetime.timedelta(days=14)


def _earn(user, number: str, paid: int, *, delivered_at=DELIVERED) -> PointsEarning:
    return points_order_settle(
        user=user,
        reference=f"order:{number}",
        currency="USD",
        paid=paid,
        delivered_at=delivered_at,
    )


@pytest.fixture
def three_orders(db):
    """1,250 points of three orders, pending until DUE (and one more pending a day longer)."""
    ann, bob = UserFactory(), UserFactory()
    _earn(ann, "CP-AAAA0001", 50000)  # 500 points
    _earn(ann, "CP-AAAA0002", 25099)  # 250 points: never a part of a point
    _earn(bob, "CP-BBBB0001", 50000)  # 500 points
    _earn(bob, "CP-BBBB0002", 9900, delivered_at=DELIVERED + datetime.timedelta(days=1))
    return ann, bob


def _run(*args) -> str:
    out = io.StringIO()
    call_command("points_release", *args, stdout=out)
    return out.getvalue()


def _exit_code(*argv) -> int:
    """Run the command as `manage.py` does and return its exit status."""
    try:
        ManagementUtility(["manage.py", "points_release", *argv]).execute()
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_it_releases_what_is_due_once(three_orders):
    ann, bob = three_orders

    assert _run("--now", DUE.isoformat()) == "Released 1,250 points of 3 orders.\n"
    assert _run("--now", DUE.isoformat()) == "No points to release.\n"

    assert (points_balance_get(user=ann).available, points_balance_get(user=ann).pending) == (
        750,
        0,
    )
    assert (points_balance_get(user=bob).available, points_balance_get(user=bob).pending) == (
        500,
        99,
    )


def test_one_order_is_one_order(three_orders):
    _run("--now", DUE.isoformat())

    later = DUE + datetime.timedelta(days=1)
    assert _run("--now", later.isoformat()) == "Released 99 points of 1 order.\n"


def test_an_earning_taken_back_in_full_releases_no_points():
    user = UserFactory()
    _earn(user, "CP-GONE0001", 5000)
    points_order_settle(user=user, reference="order:CP-GONE0001", currency="USD", paid=0)

    assert _run("--now", DUE.isoformat()) == "No points to release.\n"
    assert points_balance_get(user=user).available == 0


def test_nothing_due_yet(three_orders, capsys):
    before = (DUE - datetime.timedelta(seconds=1)).isoformat()

    assert _run("--now", before) == "No points to release.\n"
    assert not PointsEarning.objects.filter(released_at__isnull=False).exists()
    # Last: run as manage.py runs it, which closes the database connection when done.
    assert _exit_code("--now", before) == 0
    assert capsys.readouterr().out == "No points to release.\n"


def _due_today_and_not():
    """One earning due a day ago by the real clock, one due tomorrow."""
    user, now = UserFactory(), timezone.now()
    _earn(user, "CP-NOW00001", 4200, delivered_at=now - datetime.timedelta(days=15))
    _earn(user, "CP-NOW00002", 9900, delivered_at=now - datetime.timedelta(days=13))
    return user


def test_without_now_it_releases_what_is_due_by_the_clock():
    user = _due_today_and_not()

    assert _run() == "Released 42 points of 1 order.\n"
    assert (points_balance_get(user=user).available, points_balance_get(user=user).pending) == (
        42,
        99,
    )


def test_a_now_without_an_offset_is_utc(three_orders):
    naive = DUE.replace(tzinfo=None).isoformat()  # "2026-11-16T09:30:00"

    assert _run("--now", naive) == "Released 1,250 points of 3 orders.\n"
    assert set(
        PointsEarning.objects.exclude(released_at=None).values_list("released_at", flat=True)
    ) == {DUE}


def test_a_bad_now_is_a_clear_error_and_releases_nothing(three_orders, capsys):
    with pytest.raises(CommandError, match="--now must be an ISO date and time"):
        _run("--now", "next tuesday")

    assert not PointsEarning.objects.filter(released_at__isnull=False).exists()
    assert _exit_code("--now", "2026-13-45") == 1  # last: it closes the connection
    assert "--now must be an ISO date and time" in capsys.readouterr().err


def test_an_unknown_flag_is_refused(three_orders, capsys):
    assert _exit_code("--everything") != 0
    assert "unrecognized arguments: --everything" in capsys.readouterr().err
    assert not PointsEarning.objects.filter(released_at__isnull=False).exists()


def test_the_periodic_task_releases_too():
    user = _due_today_and_not()

    job_enqueue(points_release_due)
    jobs_run_pending()

    assert points_balance_get(user=user).available == 42
