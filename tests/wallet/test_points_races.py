"""Race tests of reward points and coins, on PostgreSQL with real threads (see test_races.py).

    (a) 20 conversions of one shopper's points, distinct keys → exactly floor(points / 500)
    (b) one conversion key from 20 threads                     → one conversion for all
    (c) 20 spends of one coin balance                          → exactly floor(coins / k)
    (d) spends racing the take-back of the coin pack           → one or the other, never both
    (e) points_release run by 20 threads at once               → each earning released once
    (f) a refund's reversal racing conversions                 → never negative, shortfall exact
    (g) a release racing a reversal that makes a shortfall     → settled as in a serial order
    (h) refunds of an order racing its own release             → the same points either way
    (i) a conversion waiting on a region change                → credit in the new currency

The points and coins live on their own ledger accounts (units PTS / CNS), locked by
transfer_create like money: these tests prove the bounds hold with 20 tabs at once.
`serialized_rollback=True`: see test_races.py (the regions are a data migration).
"""

import datetime
import functools
import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import user_region_change
from catalog.models import Region
from tests.accounts.factories import UserFactory
from tests.wallet.test_races import JOIN_TIMEOUT, THREADS, Outcome, run_together
from tests.wallet.units_given import (
    UnitBalances,
    coins_give,
    paid_for,
    pending_kept,
    points_earn,
    points_give,
    unit_balances,
)
from wallet.exceptions import InsufficientFunds, PointsRefused
from wallet.models import Account, CreditLot, PointsEarning, PointsShortfall, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    coins_spend,
    coins_take_back,
    credit_account_get_or_create,
    points_convert,
    points_order_settle,
    points_release,
    system_account_get_or_create,
    unit_account_get_or_create,
)
from wallet.units import COINS, POINTS, POINTS_PENDING_DAYS

ROUNDS = range(1, 3)  # two rounds each: make test stays under its time

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def own_copy(user: User) -> User:
    """The user as a request of its own would load it (threads share no model instance)."""
    return User.objects.select_related("region").get(pk=user.pk)


def split(outcomes: list[Outcome], *expected: type[BaseException]) -> tuple[list, list]:
    """(values of the calls that succeeded, the expected errors); any other error fails."""
    unexpected = [o.error for o in outcomes if o.error and not isinstance(o.error, expected)]
    assert not unexpected, unexpected
    return [o.value for o in outcomes if o.error is None], [o.error for o in outcomes if o.error]


def assert_ledger_clean():
    report = ledger_reconcile()
    assert report.clean, report


def postings_after(user, kind: str) -> list[int]:
    """The balance after each posting of the shopper's `kind` account, in the order written."""
    return list(
        Posting.objects.filter(account__user=user, account__kind=kind)
        .order_by("pk")
        .values_list("balance_after", flat=True)
    )


def conversion_accounts_make(user) -> None:
    """The accounts a conversion writes to, made before the race (as a shopper who converted
    once before has them): the threads then meet on the row locks, not on unique indexes."""
    unit_account_get_or_create(user=user, kind=Account.Kind.CUSTOMER_POINTS)
    system_account_get_or_create(kind=Account.Kind.POINTS_CONVERTED, currency=POINTS)
    system_account_get_or_create(kind=Account.Kind.POINTS_CREDIT, currency="USD")
    credit_account_get_or_create(user_id=user.pk, currency="USD")


def convert_call(user, *, points: int, key: str):
    return functools.partial(
        points_convert, user=own_copy(user), points=points, idempotency_key=key
    )


# (a) twenty conversions of the same points -------------------------------------------------


@pytest.mark.parametrize(
    ("accounts", "round_"), [("made", 1), ("made", 2), ("first-conversion", 1)]
)
def test_twenty_conversions_convert_only_the_points_there_are(round_, accounts):
    user = UserFactory(region_id="US")
    points_give(user, 2750)
    if accounts == "made":
        conversion_accounts_make(user)
    # else the first conversions also race to make the credit and system accounts

    outcomes = run_together(
        [
            convert_call(user, points=500, key=f"points-convert:{user.pk}:{round_}:{n}")
            for n in range(THREADS)
        ]
    )

    converted, refused = split(outcomes, PointsRefused)
    assert len(converted) == 5  # floor(2750 / 500), whatever order the tabs were served in
    assert Counter(error.reason for error in refused) == {"too_few": THREADS - 5}
    assert all(not c.replayed and (c.points, c.credit) == (500, 500) for c in converted)
    assert unit_balances(user).available == 250
    assert postings_after(user, Account.Kind.CUSTOMER_POINTS) == [2750, 2250, 1750, 1250, 750, 250]
    lots = list(CreditLot.objects.filter(user=user))
    assert len(lots) == 5
    assert all(lot.never_expires and lot.amount == lot.remaining == 500 for lot in lots)
    assert {lot.grant_transfer_id for lot in lots} == {c.transfer.pk for c in converted}
    credit = Account.objects.get(user=user, kind=Account.Kind.CUSTOMER_CREDIT)
    assert (credit.currency, credit.balance) == ("USD", 2500)
    assert Transfer.objects.filter(kind=Transfer.Kind.POINTS_CONVERT).count() == 5
    assert_ledger_clean()


# (b) one conversion key from twenty threads ----------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_one_conversion_key_from_twenty_threads_converts_once(round_):
    user = UserFactory(region_id="US")
    points_give(user, 2750)
    conversion_accounts_make(user)
    key = f"points-convert:{user.pk}:double-click-{round_}"

    outcomes = run_together([convert_call(user, points=1000, key=key) for _ in range(THREADS)])

    converted, _ = split(outcomes)  # every tab gets the one conversion, none an error
    assert len(converted) == THREADS
    assert sorted(c.replayed for c in converted) == [False] + [True] * (THREADS - 1)
    assert {c.transfer.pk for c in converted} == {converted[0].transfer.pk}
    assert {c.lot.pk for c in converted} == {converted[0].lot.pk}
    assert unit_balances(user).available == 1750
    assert CreditLot.objects.filter(user=user).count() == 1
    assert Account.objects.get(user=user, kind=Account.Kind.CUSTOMER_CREDIT).balance == 1000
    assert_ledger_clean()


# (c) twenty spends of one coin balance -----------------------------------------------------------


def coins_shopper(coins: int) -> User:
    user = UserFactory(region_id="US")
    coins_give(user, coins)
    system_account_get_or_create(kind=Account.Kind.COINS_SPENT, currency=COINS)
    return user


def spend_call(user, *, coins: int, key: str):
    return functools.partial(
        coins_spend, user=own_copy(user), coins=coins, idempotency_key=key, description="App"
    )


@pytest.mark.parametrize(
    ("coins", "price", "round_"), [(1000, 150, 1), (1000, 150, 2), (475, 475, 1)]
)
def test_twenty_coin_spends_spend_exactly_what_the_coins_pay_for(round_, coins, price):
    user = coins_shopper(coins)

    outcomes = run_together(
        [spend_call(user, coins=price, key=f"coins-race:{round_}:{n}") for n in range(THREADS)]
    )

    spent, refused = split(outcomes, InsufficientFunds)
    assert len(spent) == coins // price
    assert len(refused) == THREADS - coins // price
    assert unit_balances(user).coins == coins % price
    after = postings_after(user, Account.Kind.CUSTOMER_COINS)
    assert after == [coins - price * n for n in range(coins // price + 1)]  # never below zero
    assert Transfer.objects.filter(kind=Transfer.Kind.COINS_SPEND).count() == coins // price
    assert_ledger_clean()


@pytest.mark.parametrize("round_", ROUNDS)
def test_one_coin_spend_key_from_twenty_threads_spends_once(round_):
    user = coins_shopper(1000)

    outcomes = run_together(
        [spend_call(user, coins=300, key=f"coins-once:{round_}") for _ in range(THREADS)]
    )

    spent, _ = split(outcomes)
    assert sorted(r.replayed for r in spent) == [False] + [True] * (THREADS - 1)
    assert {r.transfer.pk for r in spent} == {spent[0].transfer.pk}
    assert unit_balances(user).coins == 700
    assert_ledger_clean()


# (d) spends racing the coin pack's refund ----------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_spends_racing_the_take_back_of_the_pack_never_both(round_):
    """A coin pack of 1,000 refunded while the shopper spends its coins in other tabs: the
    take-back (one key: one refund) takes all 1,000 or is refused because some are spent."""
    user = coins_shopper(1000)
    take_back = [
        functools.partial(
            coins_take_back,
            user=own_copy(user),
            coins=1000,
            idempotency_key=f"coins-take-back:{round_}",
            description="Coin pack refunded",
        )
        for _ in range(10)
    ]
    calls = [spend_call(user, coins=300, key=f"coins-vs:{round_}:{n}") for n in range(10)]
    calls += take_back

    outcomes = run_together(calls)

    spends, _ = split(outcomes[:10], InsufficientFunds)
    taken, _ = split(outcomes[10:], InsufficientFunds)
    if taken:  # the refund came first: every tab after it found no coins
        assert (len(spends), len(taken)) == (0, 10)
        assert unit_balances(user).coins == 0
    else:  # a spend came first: the pack's coins are no longer all there
        assert len(spends) == 3
        assert unit_balances(user).coins == 100
    assert Transfer.objects.filter(kind=Transfer.Kind.COINS_REVERSAL).count() == (1 if taken else 0)
    assert all(after >= 0 for after in postings_after(user, Account.Kind.CUSTOMER_COINS))
    assert_ledger_clean()


# (e) points_release run by twenty threads at once ----------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_points_release_run_at_once_releases_each_earning_once(round_):
    now = timezone.now()
    delivered = now - datetime.timedelta(days=POINTS_PENDING_DAYS, minutes=1)
    owing, other = UserFactory(region_id="US"), UserFactory(region_id="JP")
    # `owing` converted 1,000 points, then their order was refunded for 300 of them.
    first = points_give(owing, 1000)
    points_convert(user=owing, points=1000, idempotency_key=f"convert:{owing.pk}")
    points_order_settle(
        user=owing, reference=first.reference, currency="USD", paid=paid_for(700, "USD")
    )
    assert unit_balances(owing).owed == 300
    due = [points_earn(owing, p, delivered_at=delivered) for p in (200, 400, 50)]
    due += [points_earn(other, p, delivered_at=delivered) for p in (120, 80)]
    not_yet = points_earn(other, 999, delivered_at=now)

    outcomes = run_together([functools.partial(points_release, now=now)] * THREADS)

    results, _ = split(outcomes)
    # Released once each; the 200 all paid what was owed: closed, not counted as released.
    assert sum(r.earnings for r in results) == len(due) - 1
    assert sum(r.points for r in results) == 650 - 300 + 200  # what owing was owed is kept
    assert unit_balances(owing) == UnitBalances(available=350, pending=0, owed=0, coins=0)
    assert (unit_balances(other).available, unit_balances(other).pending) == (200, 999)
    for earning in PointsEarning.objects.filter(pk__in=[e.pk for e in due]):
        assert earning.released_at == now
        assert earning.release_transfer_id is not None
    assert PointsEarning.objects.get(pk=not_yet.pk).released_at is None
    assert Transfer.objects.filter(kind=Transfer.Kind.POINTS_RELEASE).count() == 1 + len(due)
    assert PointsShortfall.objects.get(user=owing).settled == 300
    assert pending_kept(owing) == unit_balances(owing).pending
    assert_ledger_clean()


# (f) a refund's reversal racing conversions --------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_reversal_racing_conversions_never_negative_and_the_shortfall_is_exact(round_):
    """1,000 points available from one order; 10 tabs convert 500 each while 10 refunds of
    that order bring its points to 200 (one reversal of 800, target-based). Whatever the
    order, the shopper ends with what a serial order gives: k conversions (0, 1 or 2) before
    the reversal, the reversal taking what is left and owing only the rest."""
    user = UserFactory(region_id="US")
    earning = points_give(user, 1000)
    conversion_accounts_make(user)
    refunds = [
        functools.partial(
            points_order_settle,
            user=own_copy(user),
            reference=earning.reference,
            currency="USD",
            paid=paid_for(200, "USD"),
        )
        for _ in range(10)
    ]
    calls = [convert_call(user, points=500, key=f"vs-refund:{round_}:{n}") for n in range(10)]
    calls += refunds

    outcomes = run_together(calls)

    converted, refused = split(outcomes[:10], PointsRefused)
    split(outcomes[10:])  # no refund fails
    assert {error.reason for error in refused} <= {"too_few"}
    k = len(converted)
    assert k in (0, 1, 2)
    left = 1000 - 500 * k  # available when the reversal ran
    balances = unit_balances(user)
    assert balances.available == max(0, left - 800)
    assert balances.owed == max(0, 800 - left)
    assert balances.available - balances.owed == 200 - 500 * k
    assert PointsEarning.objects.get(pk=earning.pk).reversed == 800
    assert PointsShortfall.objects.filter(user=user).count() == (1 if balances.owed else 0)
    reversals = Transfer.objects.filter(kind=Transfer.Kind.POINTS_REVERSAL).count()
    assert reversals == (1 if left else 0)  # nothing to take back: only the shortfall
    assert all(after >= 0 for after in postings_after(user, Account.Kind.CUSTOMER_POINTS))
    assert Account.objects.get(user=user, kind=Account.Kind.CUSTOMER_CREDIT).balance == 500 * k
    assert_ledger_clean()


# (g) a release racing a reversal that makes a shortfall --------------------------------------


def _blocked_on_a_lock(timeout: float) -> bool:
    """Whether another backend of this database waits on a lock, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # pg_locks is read live (pg_stat_activity is a snapshot per transaction).
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


def test_a_release_waiting_on_a_reversal_settles_the_shortfall_it_made():
    """A refund of a released order (the shopper converted its points: 1,000 owed) commits
    while points_release is releasing another order's 400 of theirs. In either serial order
    the 400 pay part of the debt (0 available, 600 owed); a release that read the shortfalls
    before the refund committed would make the 400 available and leave 1,000 owed."""
    now = timezone.now()
    user = UserFactory(region_id="US")
    first = points_give(user, 1000)
    points_convert(user=user, points=1000, idempotency_key=f"convert:{user.pk}")
    due = points_earn(
        user, 400, delivered_at=now - datetime.timedelta(days=POINTS_PENDING_DAYS, minutes=1)
    )
    reversed_ = threading.Event()
    release_waits = threading.Event()

    def refund():
        with transaction.atomic():
            points_order_settle(
                user=own_copy(user), reference=first.reference, currency="USD", paid=0
            )
            reversed_.set()
            # Hold the refund's locks until the release is waiting on one of them.
            if _blocked_on_a_lock(timeout=5):
                release_waits.set()
        return "refunded"

    def release():
        assert reversed_.wait(timeout=JOIN_TIMEOUT)
        return points_release(now=now)

    outcomes = run_together([refund, release])

    (_, result), _ = split(outcomes)
    balances = unit_balances(user)
    assert (balances.available, balances.owed) == (0, 600), (
        f"release waited on the refund: {release_waits.is_set()}; {result}"
    )
    assert PointsEarning.objects.get(pk=due.pk).released_at == now
    assert_ledger_clean()


# (h) refunds of an order racing its own release ----------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_refunds_racing_the_release_of_their_order_end_the_same_either_way(round_):
    """An order's 1,000 pending points are due; 10 runs of points_release and 10 refunds
    bringing its points to 300 at once. Reversed while pending (then 300 released) or
    released (then 700 taken from the available points): 300 available, nothing owed."""
    now = timezone.now()
    user = UserFactory(region_id="US")
    earning = points_earn(
        user, 1000, delivered_at=now - datetime.timedelta(days=POINTS_PENDING_DAYS, minutes=1)
    )
    unit_account_get_or_create(user=user, kind=Account.Kind.CUSTOMER_POINTS)
    releases = [functools.partial(points_release, now=now)] * 10
    refunds = [
        functools.partial(
            points_order_settle,
            user=own_copy(user),
            reference=earning.reference,
            currency="USD",
            paid=paid_for(300, "USD"),
        )
        for _ in range(10)
    ]

    outcomes = run_together(releases + refunds)

    results, _ = split(outcomes)
    assert sum(r.earnings for r in results[:10]) == 1
    assert sum(r.points for r in results[:10]) in (300, 1000)  # after or before the refund
    assert unit_balances(user) == UnitBalances(available=300, pending=0, owed=0, coins=0)
    earning.refresh_from_db()
    assert (earning.kept, earning.released_at) == (300, now)
    assert Transfer.objects.filter(kind=Transfer.Kind.POINTS_REVERSAL).count() == 1
    assert all(after >= 0 for after in postings_after(user, Account.Kind.CUSTOMER_POINTS))
    assert_ledger_clean()


# (i) a conversion waiting on a region change ---------------------------------------------------


def test_a_conversion_waiting_on_a_region_change_credits_no_hidden_currency():
    """The shopper converts on a page loaded in the US store while staff move them to Japan
    (points move with them): the region change checks the USD accounts are empty (its guard
    locks them) and commits; a conversion that waited behind it must not then put USD credit
    on a JP shopper, which no page of the JP store would show (docs/points.md)."""
    user = UserFactory(region_id="US")
    points_give(user, 1000)
    conversion_accounts_make(user)  # the USD credit account exists (0): the guard locks it
    page_user = own_copy(user)  # the request's user, loaded in the US store
    changed = threading.Event()

    def region_change():
        with transaction.atomic():
            user_region_change(user=own_copy(user), region=Region.objects.get(code="JP"), by=user)
            changed.set()
            _blocked_on_a_lock(timeout=5)  # the conversion queues behind the guard's locks
        return "moved"

    def convert():
        assert changed.wait(timeout=JOIN_TIMEOUT)
        return points_convert(user=page_user, points=500, idempotency_key="convert:moved")

    outcomes = run_together([region_change, convert])

    values, refused = split(outcomes, PointsRefused)
    assert User.objects.get(pk=user.pk).region_id == "JP"
    hidden = Account.objects.filter(user=user, currency="USD", balance__gt=0)
    assert not hidden.exists(), list(hidden.values_list("kind", "balance"))
    if not refused:  # converted at the new region's rate, in its currency
        assert values[1].currency == "JPY"
    assert_ledger_clean()
