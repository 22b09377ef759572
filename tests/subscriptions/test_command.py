"""`manage.py subscriptions_run`: one summary line; a bad `--date` is a CommandError (a
non-zero exit) and writes nothing; without `--date` each region runs on its own today."""

import io

import pytest
from django.core.management import CommandError, call_command

from checkout.models import Order
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import fund
from tests.subscriptions.given import subscription_give
from tests.subscriptions.services_state import at, clock_set, everything, gateway  # noqa: F401

pytestmark = pytest.mark.django_db


def _call(*args) -> str:
    out = io.StringIO()
    call_command("subscriptions_run", *args, stdout=out)
    return out.getvalue()


def test_a_given_date_places_what_is_due_and_says_so_in_one_line(
    django_capture_on_commit_callbacks,
):
    shopper = UserFactory(region_id="US")
    fund(shopper, 5000)
    subscription_give(shopper, due=at(2027, 1, 1).date())
    with django_capture_on_commit_callbacks(execute=True):
        out = _call("--date", "2027-01-01")
    assert out.count("\n") == 1
    assert out.startswith("subscriptions_run 2027-01-01: 1 due, 1 placed,")
    assert "0 error(s)" in out
    assert Order.objects.filter(user=shopper).count() == 1


@pytest.mark.parametrize(
    "day", ["2027-13-01", "abc", "", "2027-01-01\x00", "2027-02-30", "20270101", "2027-W01-1"]
)
def test_a_bad_date_is_refused_and_writes_nothing(day):
    subscription_give(UserFactory(region_id="US"), due=at(2027, 1, 1).date())
    before = everything()
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        _call("--date", day)
    assert everything() == before


def test_without_a_date_it_runs_for_today(monkeypatch, django_capture_on_commit_callbacks):
    clock_set(monkeypatch, at(2027, 1, 1, 12))
    shopper = UserFactory(region_id="US")
    fund(shopper, 5000)
    subscription_give(shopper)  # due today
    with django_capture_on_commit_callbacks(execute=True):
        out = _call()
    assert out.startswith("subscriptions_run 2027-01-01: 1 due, 1 placed,")
    assert Order.objects.filter(user=shopper).count() == 1
