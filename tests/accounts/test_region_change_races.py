"""Race tests for `user_region_change`, on PostgreSQL with real threads (released together by a
barrier, five rounds each). SQLite ignores `select_for_update`: these FAIL there, never skip.

    (a) 20 changes of one shopper to one region at once      → one change, one audit entry
    (b) 10 region changes racing 10 placements of one order  → one order, every change refused,
                                                               no deadlock (the user row is
                                                               locked FOR NO KEY UPDATE)

Run: `scripts/test-services.sh .venv/bin/pytest tests/accounts/test_region_change_races.py -q`.
"""

import functools
import uuid
from collections import Counter

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from accounts.services import user_region_change
from catalog.models import Region
from checkout.models import Order
from tests.accounts.factories import UserFactory
from tests.checkout.test_races import place_order_call, price, shopper_with_cart  # noqa: F401
from tests.wallet.test_races import Outcome, run_together
from wallet.models import AuditEntry
from wallet.reconcile import ledger_reconcile

ROUNDS = range(1, 3)  # each race twice over (make test stays well under its time)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def staff() -> User:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_user"))
    return User.objects.get(pk=user.pk)


def _change_call(user: User, code: str, by: User):
    return functools.partial(
        user_region_change,
        user=User.objects.get(pk=user.pk),  # each thread its own copy, as a request would
        region=Region.objects.get(code=code),
        by=User.objects.get(pk=by.pk),
    )


def _errors(outcomes: list[Outcome]) -> Counter:
    return Counter(type(o.error).__name__ for o in outcomes if o.error is not None)


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_identical_changes_make_one_change_and_one_audit_entry(staff, round_):
    shopper = UserFactory(region_id="US")

    outcomes = run_together([_change_call(shopper, "JP", staff) for _ in range(20)])

    assert _errors(outcomes) == Counter()
    assert User.objects.get(pk=shopper.pk).region_id == "JP"
    # The lock, then the check: every thread after the first sees JP already and writes nothing.
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REGION_CHANGED).count() == 1


@pytest.mark.parametrize("round_", ROUNDS)
def test_region_changes_racing_an_order_never_deadlock_and_never_strand_it(
    staff,
    price,  # noqa: F811
    round_,
):
    shopper = shopper_with_cart(balance=price)
    key = uuid.uuid4().hex
    calls = []
    for _ in range(10):
        calls.append(_change_call(shopper, "JP", staff))
        calls.append(place_order_call(shopper, key=key))

    outcomes = run_together(calls)

    changes, orders = outcomes[0::2], outcomes[1::2]
    # Before the order the cart stops the change, after it the open order does; a change that
    # meets an order being placed waits for its cart lock and then sees the order.
    assert _errors(changes) == Counter({"RegionChangeRefused": 10})
    assert _errors(orders) == Counter()
    assert len({o.value.pk for o in orders}) == 1
    assert Order.objects.filter(user=shopper).count() == 1
    assert User.objects.get(pk=shopper.pk).region_id == "US"
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REGION_CHANGED).exists()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED).count() == 10
    assert ledger_reconcile().clean


def test_a_region_change_waits_for_a_first_redemption_and_then_refuses(staff):
    """(c) A shopper's first redemption (no wallet account yet) paused after its writes, before
    its commit; a region change meanwhile must not slip past it and hide the new balance in
    the old currency. The redemption holds the shopper's row, so the change waits, then sees
    the balance and refuses."""
    import threading

    from django.db import close_old_connections

    import wallet.services.giftcards as giftcards
    from accounts.exceptions import RegionChangeRefused
    from tests.wallet.factories import issue_card
    from wallet.models import Account

    shopper = UserFactory(region_id="US")
    code = issue_card(amount=2500).code
    written, release = threading.Event(), threading.Event()
    real_transfer = giftcards.transfer_create

    def transfer_then_wait(**kwargs):
        result = real_transfer(**kwargs)
        written.set()
        release.wait(timeout=20)
        return result

    outcome = {}

    def redeem():
        try:
            giftcards.giftcard_redeem(user=User.objects.get(pk=shopper.pk), code=code)
            outcome["redeem"] = "redeemed"
        finally:
            close_old_connections()

    def change():
        try:
            _change_call(shopper, "GB", staff)()
            outcome["change"] = "changed"
        except RegionChangeRefused:
            outcome["change"] = "refused"
        finally:
            close_old_connections()

    giftcards.transfer_create = transfer_then_wait
    try:
        redeemer = threading.Thread(target=redeem)
        redeemer.start()
        assert written.wait(timeout=20)
        changer = threading.Thread(target=change)
        changer.start()
        changer.join(timeout=1)
        assert changer.is_alive(), "the region change did not wait for the redemption"
        release.set()
        redeemer.join(timeout=20)
        changer.join(timeout=20)
    finally:
        release.set()
        giftcards.transfer_create = real_transfer

    assert outcome == {"redeem": "redeemed", "change": "refused"}
    assert User.objects.get(pk=shopper.pk).region_id == "US"
    assert Account.objects.get(user=shopper, kind=Account.Kind.CUSTOMER).balance == 2500
    assert ledger_reconcile().clean
