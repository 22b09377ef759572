"""Race tests for the wallet's money services, on PostgreSQL with real threads.

Each test starts 20 threads (the guessing tests up to 100), releases them together with a
`threading.Barrier` and asserts the outcome exactly. SQLite ignores `select_for_update`, so
these tests prove nothing there: they FAIL (never skip) on any other database, so a mis-wired
CI stage cannot pass silently.

Run: `DATABASE_URL=postgres://… REDIS_URL=redis://… pytest tests/wallet/test_races.py`.

`serialized_rollback=True`: a transactional test ends by emptying every table, regions (a data
migration) included; Django restores the post-migration rows before each of these tests.
"""

import functools
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from wallet import guessing
from wallet.codes import ALPHABET, check_symbol, code_display
from wallet.exceptions import CodeRefused, InsufficientFunds
from wallet.models import Account, GiftCard, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import (
    giftcard_redeem,
    system_account_get_or_create,
    wallet_account_get_or_create,
    wallet_credit,
    wallet_debit,
)

THREADS = 20
ROUNDS = range(1, 3)  # each race twice over (make test stays well under its time)
JOIN_TIMEOUT = 60  # seconds; a deadlock shows up as a failure, not a hung suite

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    error: BaseException | None = None


def run_together(calls: list[Callable[[], Any]]) -> list[Outcome]:
    """Run each call in its own thread, all released at once; return what each one got.

    Every thread closes its own database connection at the end (Django opens one per thread
    and would otherwise leave it to the server to notice).
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome | None] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[index] = Outcome(value=call())
        except BaseException as exc:  # reported in the outcome, asserted by the test
            outcomes[index] = Outcome(error=exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(index, call), name=f"race-{index}", daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {JOIN_TIMEOUT}s (deadlock?): {stuck}"
    return outcomes  # type: ignore[return-value]


def refusal_reasons(outcomes: list[Outcome]) -> Counter:
    """`{reason: n}` over the CodeRefused outcomes; any other exception fails the test."""
    unexpected = [
        o.error for o in outcomes if o.error is not None and not isinstance(o.error, CodeRefused)
    ]
    assert not unexpected, f"unexpected errors: {unexpected!r}"
    return Counter(o.error.reason for o in outcomes if o.error is not None)


def wrong_code(n: int) -> str:
    """A code that passes the check symbol (so it reaches the database) and was never issued."""
    payload = f"{n:014d}".translate(str.maketrans("0123456789", ALPHABET[22:32]))
    return code_display(payload + check_symbol(payload))


def assert_ledger_clean():
    report = ledger_reconcile()
    assert report.clean, report


def funded_wallet(*, amount: int):
    """A new US shopper with `amount` on their balance, and the shop's purchases account made.

    Both accounts exist before the race: otherwise the threads would queue on the unique index
    while the first one creates the purchases account, and a missing row lock on the balance
    would go unnoticed.
    """
    user = UserFactory(region_id="US")
    wallet_credit(user=user, amount=amount, idempotency_key=f"fund:{user.pk}", description="fund")
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")
    return user


def customer_postings(user) -> list[Posting]:
    return list(
        Posting.objects.filter(account__user=user, account__kind=Account.Kind.CUSTOMER).order_by(
            "pk"
        )
    )


# (a) one code, twenty redemptions ---------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("redeemers", ["one-user", "twenty-users"])
def test_one_code_redeemed_by_twenty_threads_credits_once(round_, redeemers, settings):
    # The 19 losers are refusals and count as guesses; with one user they would reach the
    # account's lockout (10) half-way and turn some `already_redeemed` into `locked`
    # depending on timing. This test is about the card's row lock, so the guessing limits
    # are lifted out of its way (test (c) covers them).
    settings.REDEEM_LIMIT_PER_USER = settings.REDEEM_LIMIT_PER_IP = 1000
    if redeemers == "one-user":
        users = [UserFactory(region_id="US")] * THREADS
    else:
        users = [UserFactory(region_id="US") for _ in range(THREADS)]
    issued = issue_card(region="US", amount=2500)
    typed = issued.code.lower()

    outcomes = run_together(
        [
            functools.partial(giftcard_redeem, user=user, code=typed, ip=f"198.51.100.{i + 1}")
            for i, user in enumerate(users)
        ]
    )

    assert refusal_reasons(outcomes) == {"already_redeemed": THREADS - 1}
    (winner,) = [(users[i], o.value) for i, o in enumerate(outcomes) if o.error is None]
    winner_user, redemption = winner
    assert redemption.balance == 2500
    assert redemption.card.pk == issued.card.pk
    card = GiftCard.objects.get(pk=issued.card.pk)
    assert card.status == GiftCard.Status.REDEEMED
    assert card.redeemed_by_id == winner_user.pk
    assert Transfer.objects.filter(kind=Transfer.Kind.GIFTCARD_REDEEM).count() == 1
    balances = {user.pk: wallet_balance_get(user=user).amount for user in set(users)}
    assert balances[winner_user.pk] == 2500
    assert sum(balances.values()) == 2500
    assert customer_postings(winner_user)[-1].balance_after == 2500
    assert_ledger_clean()


# (b) twenty codes, one wallet --------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("wallet", ["new", "existing"])
def test_twenty_codes_redeemed_into_one_wallet_all_land(round_, wallet, monkeypatch):
    # Ten of the twenty wait for one of the account's ten guessing slots while the others
    # redeem one at a time on the balance's row; on a loaded machine that can take longer
    # than the 2 s a shopper waits, which would be a `locked` refusal, not a lost redemption.
    monkeypatch.setattr(guessing, "SLOT_WAIT_SECONDS", JOIN_TIMEOUT / 2)
    user = UserFactory(region_id="US")
    if wallet == "existing":  # the threads meet on the balance's row lock
        wallet_account_get_or_create(user=user)
    # else the first redemptions also race to create the account (one unique index winner)
    amounts = [100 * (i + 1) for i in range(THREADS)]
    codes = [issue_card(region="US", amount=amount).code for amount in amounts]

    outcomes = run_together(
        [
            functools.partial(giftcard_redeem, user=user, code=code, ip="203.0.113.7")
            for code in codes
        ]
    )

    assert refusal_reasons(outcomes) == {}
    total = sum(amounts)  # 21000
    assert wallet_balance_get(user=user).amount == total
    assert Account.objects.filter(user=user, kind=Account.Kind.CUSTOMER).count() == 1
    assert Transfer.objects.filter(kind=Transfer.Kind.GIFTCARD_REDEEM).count() == THREADS
    assert not GiftCard.objects.exclude(status=GiftCard.Status.REDEEMED).exists()
    # The redemptions were serialised on the account row: each posting's balance-after is the
    # running sum, and each thread was told the balance right after its own redemption.
    postings = customer_postings(user)
    running = 0
    for posting in postings:
        running += posting.amount
        assert posting.balance_after == running
    assert sorted(o.value.balance for o in outcomes) == [p.balance_after for p in postings]
    assert_ledger_clean()


# (c) parallel guesses: reserve, then check ------------------------------------------------


@pytest.fixture(params=["settings-cache", "locmem"])
def guess_cache(request, settings):
    """The cache the counters live in: the configured one (Redis when REDIS_URL is set), and
    always a process-local LocMemCache too, which the threads of this process share.

    In memory a read-modify-write has no I/O to yield the GIL in the middle of, so a lost
    update would almost never show; a 1 µs switch interval makes the interpreter hop between
    threads inside the counting code, so a non-atomic counter fails here too.
    """
    switch_interval = sys.getswitchinterval()
    if request.param == "locmem":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"race-guessing-{os.getpid()}",
            }
        }
        assert isinstance(caches["default"], LocMemCache)
        sys.setswitchinterval(1e-6)
    elif os.environ.get("REDIS_URL"):
        assert isinstance(caches["default"], RedisCache)
    caches["default"].clear()
    yield type(caches["default"]).__name__
    sys.setswitchinterval(switch_interval)


@pytest.fixture
def lookups(monkeypatch):
    """Counts every look-up of a code in the card table, from any thread. Each one takes 50 ms,
    so every guess that got past the limits is still being answered when the others arrive:
    the interleaving in which checking a lock first and counting the failure after let 16 of
    20 guesses through."""
    import wallet.services.giftcards as giftcards_module

    counted = Counter()
    guard = threading.Lock()
    real = giftcards_module.redemption_rows_select_for_update

    def counting(**kwargs):
        with guard:
            counted["lookups"] += 1
        time.sleep(0.05)
        return real(**kwargs)

    monkeypatch.setattr(giftcards_module, "redemption_rows_select_for_update", counting)
    return counted


def _address(i: int) -> str:
    return f"198.51.{100 + i // 250}.{i % 250 + 1}"


def assert_locked_and_nothing_written(user, *, ip: str | None):
    """The account (or address) is locked out: a valid code is refused too, nothing written."""
    valid = issue_card(region="US", amount=2500)
    with pytest.raises(CodeRefused) as refused:
        giftcard_redeem(user=user, code=valid.code, ip=ip)
    assert refused.value.reason == "locked"
    assert wallet_balance_get(user=user).amount == 0
    assert GiftCard.objects.get(pk=valid.card.pk).status == GiftCard.Status.ACTIVE
    assert not Transfer.objects.filter(kind=Transfer.Kind.GIFTCARD_REDEEM).exists()


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("guesses", [20, 50, 100])
def test_parallel_wrong_guesses_from_one_account_look_up_exactly_ten_codes(
    round_, guesses, guess_cache, lookups
):
    """Each guess from its own address, so only the account's limit (10) applies."""
    user = UserFactory(region_id="US")

    outcomes = run_together(
        [
            functools.partial(giftcard_redeem, user=user, code=wrong_code(i), ip=_address(i))
            for i in range(guesses)
        ]
    )

    assert lookups["lookups"] == 10
    assert refusal_reasons(outcomes) == {"not_found": 10, "locked": guesses - 10}
    assert guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"] == 10
    assert guessing.redemption_is_locked(user_id=user.pk, ip=None)
    assert_locked_and_nothing_written(user, ip="192.0.2.1")


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("guesses", [50, 100])
def test_parallel_wrong_guesses_from_one_address_look_up_exactly_thirty_codes(
    round_, guesses, guess_cache, lookups
):
    """Many accounts (two guesses each, under their own limit) behind one address (30)."""
    ip = "203.0.113.9"
    accounts = [UserFactory(region_id="US") for _ in range(guesses // 2)]

    outcomes = run_together(
        [
            functools.partial(giftcard_redeem, user=accounts[i // 2], code=wrong_code(i), ip=ip)
            for i in range(guesses)
        ]
    )

    assert lookups["lookups"] == 30
    assert refusal_reasons(outcomes) == {"not_found": 30, "locked": guesses - 30}
    assert guessing.redemption_failure_count(user_id=accounts[0].pk, ip=ip)[f"ip:{ip}"] == 30
    assert_locked_and_nothing_written(UserFactory(region_id="US"), ip=ip)
    # The same accounts from another address are under their own limits only.
    assert giftcard_redeem(user=accounts[0], code=issue_card().code, ip="192.0.2.1").balance


@pytest.mark.parametrize("round_", ROUNDS)
def test_parallel_valid_and_wrong_codes_a_success_gives_its_slot_back(round_, guess_cache, lookups):
    """20 at once from one account: 5 real cards and 15 wrong codes. At most 10 codes are
    refused after a look-up; each success hands its slot back (and is looked up as well)."""
    user = UserFactory(region_id="US")
    valid = [issue_card(region="US", amount=1000).code for _ in range(5)]
    codes = valid + [wrong_code(i) for i in range(15)]

    outcomes = run_together(
        [
            functools.partial(giftcard_redeem, user=user, code=code, ip=_address(i))
            for i, code in enumerate(codes)
        ]
    )

    reasons = refusal_reasons(outcomes)
    redeemed = sum(o.error is None for o in outcomes)
    assert set(reasons) <= {"not_found", "locked"}
    assert reasons["not_found"] <= 10
    assert lookups["lookups"] == reasons["not_found"] + redeemed
    assert (
        guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"]
        == (reasons["not_found"])
    )
    assert wallet_balance_get(user=user).amount == 1000 * redeemed
    assert_ledger_clean()


# (d) twenty debits of the whole balance -----------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_debits_of_the_whole_balance_only_one_succeeds(round_):
    user = funded_wallet(amount=5000)

    outcomes = run_together(
        [
            functools.partial(
                wallet_debit,
                user=user,
                amount=5000,
                idempotency_key=f"spend-all:{user.pk}:{i}",
                description="spend it all",
            )
            for i in range(THREADS)
        ]
    )

    errors = [o.error for o in outcomes if o.error is not None]
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, InsufficientFunds) for error in errors), errors
    (result,) = [o.value for o in outcomes if o.error is None]
    assert result.balance_after(wallet_account_get_or_create(user=user).pk) == 0
    assert wallet_balance_get(user=user).amount == 0
    assert Transfer.objects.filter(kind=Transfer.Kind.DEBIT).count() == 1
    postings = customer_postings(user)
    assert [p.balance_after for p in postings] == [5000, 0]
    assert all(p.balance_after >= 0 for p in postings)
    assert_ledger_clean()


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_replays_of_one_debit_move_money_once(round_):
    """Same idempotency key from 20 threads (a double-clicked "Pay"): one debit, 19 replays."""
    user = funded_wallet(amount=5000)
    key = f"order-pay:{user.pk}"

    outcomes = run_together(
        [
            functools.partial(
                wallet_debit, user=user, amount=1200, idempotency_key=key, description="order"
            )
            for _ in range(THREADS)
        ]
    )

    assert [o.error for o in outcomes if o.error is not None] == []
    results = [o.value for o in outcomes]
    assert sum(not r.replayed for r in results) == 1
    assert {r.transfer.pk for r in results} == {Transfer.objects.get(idempotency_key=key).pk}
    assert wallet_balance_get(user=user).amount == 3800
    assert Transfer.objects.filter(kind=Transfer.Kind.DEBIT).count() == 1
    assert_ledger_clean()
