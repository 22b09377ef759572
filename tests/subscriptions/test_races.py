"""Race tests for Subscribe & Save deliveries, on PostgreSQL with real threads.

Each test releases its threads together with a `threading.Barrier` (tests/wallet/test_races.py)
and asserts the outcome exactly. SQLite ignores `select_for_update`, so these tests prove
nothing there: they FAIL (never skip) on any other database.

    (a) 2 and 4 runs at once over 10 due subscriptions (7 shoppers, some with 2)
                              → one order per subscription and period, each debit once,
                                each card part captured once, the ledger clean
    (b) the shopper pauses / skips / cancels while a run places the delivery
                              → the order and the next period, or no order and no charge
    (c) the shopper's own checkout and a delivery at once, a balance for one of them
                              → never below zero; the checkout second is refused with
                                nothing charged, the delivery second paid by its card
    (d) a declined card (or a capture that fails) and two runs at once
                              → the failed attempt counted once, one e-mail

Run: `scripts/test-services.sh .venv/bin/python -m pytest -q tests/subscriptions/test_races.py`.

`serialized_rollback=True`: a transactional test ends by emptying every table, regions (a data
migration) included; Django restores the post-migration rows before each of these tests.
"""

import datetime
import functools
import io
import threading
import time
from collections import Counter

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.models import User
from catalog.models import Region
from catalog.regions import region_today
from checkout import payments
from checkout.exceptions import CardRequired, CheckoutChanged, EmptyCart
from checkout.models import Order, Payment, VoidedAuthorization
from checkout.payments import TestGateway
from checkout.selectors import checkout_quote_get
from checkout.services import cart_add, order_place
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.services import (
    deliveries,
    subscription_cancel,
    subscription_pause,
    subscription_resume,
    subscription_skip,
    subscriptions_run,
)
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import APPROVED, DECLINED
from tests.subscriptions.given import subscribable_product, subscription_give
from tests.wallet.test_races import JOIN_TIMEOUT, Outcome, run_together
from wallet.models import Account, Posting, Transfer
from wallet.selectors import wallet_balance_get
from wallet.services import system_account_get_or_create, wallet_credit

ROUNDS = range(1, 3)  # two rounds of the natural races: the module stays near a minute
PRICE = 1000  # $10.00; 5% off: $9.50 a unit, plus standard shipping

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


class CountingGateway(TestGateway):
    """The test gateway, also keeping every capture in order (its `captured` is a set: a
    second capture of one hold would not show)."""

    def __init__(self):
        super().__init__()
        self.captures: list[str] = []

    def capture(self, authorization):
        super().capture(authorization)
        with self._lock:
            self.captures.append(authorization.reference)

    def authorised(self) -> set[str]:
        return {a.reference for a in self._authorizations.values()}


@pytest.fixture
def gateway(monkeypatch, settings) -> CountingGateway:
    """A fresh gateway as the process's provider, holding only this test's calls."""
    assert settings.PAYMENT_PROVIDER == "checkout.payments.TestGateway"
    fresh = CountingGateway()
    monkeypatch.setattr(payments, "_provider", fresh)
    return fresh


@pytest.fixture
def today():
    return region_today(Region.objects.get(code="US"))


def shopper(*, balance: int) -> User:
    """A US shopper with `balance` on the wallet; the shop's purchases account made before
    the race, so the threads meet on row locks, not on a unique index."""
    user = UserFactory(region_id="US")
    if balance:
        wallet_credit(
            user=user, amount=balance, idempotency_key=f"fund:{user.pk}", description="fund"
        )
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")
    return user


def balance_of(user) -> int:
    return wallet_balance_get(user=user).amount


def customer_postings(user) -> list[Posting]:
    return list(
        Posting.objects.filter(account__user=user, account__kind=Account.Kind.CUSTOMER).order_by(
            "pk"
        )
    )


def run_call(today):
    return functools.partial(subscriptions_run, date=today)


def assert_ledger_clean():
    out = io.StringIO()
    call_command("wallet_reconcile", stdout=out)  # raises CommandError (exit 1) when not clean
    assert out.getvalue().startswith("Ledger clean"), out.getvalue()


def assert_cards_once(gateway: CountingGateway) -> None:
    """Every order's card part was captured exactly once, its hold the only one kept; every
    other hold authorised was voided (and recorded) and nothing else captured."""
    references = list(Payment.objects.values_list("reference", flat=True))
    assert len(references) == len(set(references))
    assert sorted(gateway.captures) == sorted(references)
    assert gateway.voided == gateway.authorised() - set(references)
    assert set(VoidedAuthorization.objects.values_list("reference", flat=True)) == gateway.voided


def run_errors(outcomes: list[Outcome]) -> list:
    """Exceptions raised by a thread, and subscriptions a run counted as errors."""
    raised = [o.error for o in outcomes if o.error is not None]
    errored = [o.value.errors for o in outcomes if o.error is None and o.value.errors]
    return raised + errored


# (a) several runs at once over ten due subscriptions -----------------------------------------


@pytest.mark.parametrize(("runs", "round_"), [(2, 1), (2, 2), (4, 1)])
def test_runs_at_once_place_one_order_per_subscription_and_period(round_, runs, gateway, today):
    """Ten subscriptions of seven shoppers: three shoppers with two each (one whose balance
    pays both, one whose balance pays one and a half, one with no balance: the card pays),
    four with one. However many runs at once: one order each, each debit and capture once."""
    one = 2 * PRICE  # comfortably more than one delivery, less than two
    shoppers = {
        "pays-both": (shopper(balance=10 * PRICE), 2),
        "pays-part": (shopper(balance=one), 2),
        "card-only": (shopper(balance=0), 2),
        "pays-one": (shopper(balance=10 * PRICE), 1),
        "part-one": (shopper(balance=PRICE // 2), 1),
        "card-one": (shopper(balance=0), 1),
        "pays-one-b": (shopper(balance=10 * PRICE), 1),
    }
    funds = {user.pk: balance_of(user) for user, _ in shoppers.values()}
    subs = [
        subscription_give(user, subscribable_product(price=PRICE), card=APPROVED)
        for user, count in shoppers.values()
        for _ in range(count)
    ]
    assert len(subs) == 10

    outcomes = run_together([run_call(today) for _ in range(runs)])

    assert run_errors(outcomes) == []
    statuses = sum((o.value.outcomes for o in outcomes), Counter())
    assert set(statuses) <= {"placed", "not_due"}, statuses
    assert Order.objects.count() == len(subs)
    for sub in subs:
        sub.refresh_from_db()
        assert (sub.status, sub.period_index, sub.failed_attempts) == (
            Subscription.Status.ACTIVE,
            1,
            0,
        )
        period = SubscriptionPeriod.objects.get(subscription=sub)
        assert (period.index, period.status) == (0, SubscriptionPeriod.Status.PLACED)
        order = Order.objects.get(pk=period.order_id)
        assert order.user_id == sub.user_id
        # `…:0:0`, or `…:0:n` when the other delivery of the shopper's moved the balance (each
        # try refused so is counted: `Subscription.tries`).
        assert order.idempotency_key.startswith(f"subscription:{sub.pk}:0:")
        line = order.lines.get()
        assert (line.product_id, line.quantity, line.list_price, line.unit_price) == (
            sub.product_id,
            1,
            PRICE,
            PRICE * 95 // 100,
        )
        assert order.balance_applied + order.card_charged == order.total
    for user, _ in shoppers.values():
        orders = list(Order.objects.filter(user=user))
        spent = sum(o.total for o in orders)
        assert balance_of(user) == max(0, funds[user.pk] - spent)
        assert sum(o.balance_applied for o in orders) == min(funds[user.pk], spent)
        debits = Transfer.objects.filter(
            kind=Transfer.Kind.ORDER_PAYMENT, reference__in=[f"order:{o.number}" for o in orders]
        )
        assert debits.count() == sum(1 for o in orders if o.balance_applied)
        assert all(p.balance_after >= 0 for p in customer_postings(user))
        for order in orders:
            if order.card_charged:
                assert order.payment.amount == order.card_charged
            else:
                assert not Payment.objects.filter(order=order).exists()
    assert_cards_once(gateway)
    assert_ledger_clean()

    again = subscriptions_run(date=today)  # and later runs that day place nothing more
    assert (again.outcomes["placed"], Order.objects.count()) == (0, len(subs))


# (b) the shopper changes their mind while a run places the delivery --------------------------

ACTIONS = {
    "pause": lambda user, sub, day: subscription_pause(user=user, subscription_id=sub.pk),
    "skip": lambda user, sub, day: subscription_skip(
        user=user, subscription_id=sub.pk, due_date=day
    ),
    "cancel": lambda user, sub, day: subscription_cancel(user=user, subscription_id=sub.pk),
}


@pytest.fixture
def interleave(monkeypatch):
    """Force one of the two orders the shopper and the run can meet in.

    `shopper-first`: the run has read the subscription (active, due) and authorised the card
    part; before it takes the subscription's lock, the shopper's change commits.
    `run-first`: the run holds the subscription's lock (the order written, not committed) when
    the shopper's change starts; it waits for that lock.
    `natural`: no help, the barrier only.
    """

    def arrange(how: str):
        shopper_done = threading.Event()
        run_holds_lock = threading.Event()
        run_waits = threading.Event()  # read, priced, authorised; not locked yet
        if how == "shopper-first":
            real_lock = deliveries._lock_due

            def late_lock(**kwargs):
                run_waits.set()
                assert shopper_done.wait(timeout=JOIN_TIMEOUT), "the shopper never acted"
                real_lock(**kwargs)

            monkeypatch.setattr(deliveries, "_lock_due", late_lock)
        elif how == "run-first":
            real_placed = deliveries._placed

            def placed_then_wait(**kwargs):
                real_placed(**kwargs)
                run_holds_lock.set()
                time.sleep(0.3)  # the shopper's change is now waiting on the row lock

            monkeypatch.setattr(deliveries, "_placed", placed_then_wait)

        def before_shopper():
            if how == "run-first":
                assert run_holds_lock.wait(timeout=JOIN_TIMEOUT), "the run never locked"
            elif how == "shopper-first":
                assert run_waits.wait(timeout=JOIN_TIMEOUT), "the run never got to its lock"

        return before_shopper, shopper_done

    return arrange


@pytest.mark.parametrize(
    ("how", "round_"), [("natural", 1), ("natural", 2), ("shopper-first", 1), ("run-first", 1)]
)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_change_during_the_run_gets_the_order_and_the_next_period_or_nothing(
    round_, how, action, interleave, gateway, today
):
    """The balance pays part of the delivery, the saved card the rest (so a losing run holds
    an authorisation that must be voided)."""
    fund = PRICE // 2
    user = shopper(balance=fund)
    sub = subscription_give(user, subscribable_product(price=PRICE), card=APPROVED)
    before_shopper, shopper_done = interleave(how)

    def change():
        before_shopper()
        try:
            return ACTIONS[action](User.objects.get(pk=user.pk), sub, today)
        finally:
            shopper_done.set()

    run, changed = run_together([run_call(today), change])

    assert (run.error, changed.error) == (None, None)
    assert run.value.errors == 0
    sub.refresh_from_db()
    orders = list(Order.objects.filter(user=user))
    periods = {p.index: p for p in SubscriptionPeriod.objects.filter(subscription=sub)}
    expected_status = {
        "pause": Subscription.Status.PAUSED,
        "skip": Subscription.Status.ACTIVE,
        "cancel": Subscription.Status.CANCELLED,
    }[action]
    assert sub.status == expected_status
    if orders:  # the run locked first: the change applies from the next period
        assert how != "shopper-first"
        (order,) = orders
        assert list(periods) == [0]
        assert (periods[0].status, periods[0].order_id) == (
            SubscriptionPeriod.Status.PLACED,
            order.pk,
        )
        assert sub.period_index == 1  # a skip of the date already placed skips nothing more
        assert (order.balance_applied, order.card_charged) == (fund, order.total - fund)
        assert balance_of(user) == 0
        assert [p.balance_after for p in customer_postings(user)] == [fund, 0]
    else:  # the shopper locked first: nothing ordered, nothing charged
        assert how != "run-first"
        assert run.value.outcomes["placed"] == 0
        assert balance_of(user) == fund
        assert [p.balance_after for p in customer_postings(user)] == [fund]
        assert not Transfer.objects.filter(kind=Transfer.Kind.ORDER_PAYMENT).exists()
        assert gateway.captures == []
        if action == "skip":
            assert (periods[0].status, sub.period_index) == (SubscriptionPeriod.Status.SKIPPED, 1)
        else:
            assert (periods, sub.period_index) == ({}, 0)
    assert_cards_once(gateway)  # the losing run's hold, if it took one, is voided
    assert_ledger_clean()

    if action == "pause" and not orders:
        # Resumed the same day, the delivery is due again: the next run places it, once
        # (its card is authorised afresh, not answered with the hold voided above).
        subscription_resume(user=user, subscription_id=sub.pk)
        again = subscriptions_run(date=today)
        assert again.outcomes == Counter(placed=1), again
        order = Order.objects.get(user=user)
        # Under a later try than one whose hold was voided (that try was counted).
        assert order.idempotency_key.startswith(f"subscription:{sub.pk}:0:")
        assert (order.balance_applied, order.card_charged) == (fund, order.total - fund)
        assert order.status != Order.Status.PAYMENT_FAILED
        assert balance_of(user) == 0
        assert_cards_once(gateway)
        assert_ledger_clean()


# (c) the shopper's own checkout and a delivery at once ---------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("card_at_checkout", [False, True])
def test_own_checkout_and_a_delivery_at_once_never_overdraw(
    round_, card_at_checkout, gateway, today
):
    """The balance pays either the shopper's cart or the delivery, not both. The shopper's
    checkout that locks the cart second is refused with nothing charged (or, read after the
    delivery, pays the rest by card); the delivery that locks it second is priced again and
    its saved card pays: it is placed in this run either way."""
    product = subscribable_product(price=PRICE)
    cart_product = subscribable_product(price=PRICE)
    user = shopper(balance=0)
    sub = subscription_give(user, product, card=APPROVED)
    cart_add(user=user, session={}, slug=cart_product.slug, quantity=1)
    # The cart (catalog price, standard shipping) costs a little more than the delivery (5%
    # off): the balance is exactly the cart's cost, so it pays either one, never both.
    cost = checkout_quote_get(user=user, session={}).total
    wallet_credit(user=user, amount=cost, idempotency_key=f"fund:{user.pk}", description="fund")

    checkout = functools.partial(
        order_place,
        user=User.objects.get(pk=user.pk),
        session={},
        idempotency_key=f"tab-{round_}",
        card_number=APPROVED if card_at_checkout else "",
    )
    run, bought = run_together([run_call(today), checkout])

    assert run.error is None
    assert run.value.outcomes == Counter(placed=1), run.value
    delivery = SubscriptionPeriod.objects.get(subscription=sub, index=0).order
    assert delivery.idempotency_key.startswith(f"subscription:{sub.pk}:0:")
    own = Order.objects.filter(user=user, idempotency_key=f"tab-{round_}").first()
    if bought.error is not None:
        assert isinstance(bought.error, CheckoutChanged | CardRequired | EmptyCart), bought.error
        assert own is None
        assert Order.objects.filter(user=user).count() == 1
    else:
        assert own is not None
        assert bought.value.pk == own.pk
        assert own.balance_applied + own.card_charged == own.total
    assert delivery.balance_applied + delivery.card_charged == delivery.total
    assert delivery.status != Order.Status.PAYMENT_FAILED
    if delivery.balance_applied < delivery.total:  # the balance went to the cart
        assert delivery.payment.amount == delivery.card_charged
    postings = customer_postings(user)
    assert all(p.balance_after >= 0 for p in postings)
    orders = list(Order.objects.filter(user=user))
    spent = sum(o.balance_applied for o in orders)
    assert balance_of(user) == cost - spent >= 0
    # One debit per order the balance paid, each once.
    assert len(postings) == 1 + sum(1 for o in orders if o.balance_applied)
    sub.refresh_from_db()
    assert (sub.period_index, sub.status) == (1, Subscription.Status.ACTIVE)
    assert_cards_once(gateway)
    assert_ledger_clean()


# (d) a payment that fails, two runs at once ---------------------------------------------------


def subscription_mail(user) -> list:
    """The Subscribe & Save e-mails `user` got (a failed capture also sends checkout's own
    e-mail about the order)."""
    return [m for m in mail.outbox if m.to == [user.email] and "delivery" in m.subject]


@pytest.mark.parametrize("card", ["declined", "capture-fails"])
def test_a_failed_payment_with_two_runs_at_once_counts_once(card, gateway, today):
    number = DECLINED if card == "declined" else TestGateway.CAPTURE_FAILS
    fund = PRICE // 2  # the balance pays part: a failed capture must give it back, once
    user = shopper(balance=fund)
    sub = subscription_give(user, subscribable_product(price=PRICE), card=number)
    mail.outbox.clear()

    outcomes = run_together([run_call(today), run_call(today)])

    assert run_errors(outcomes) == []
    statuses = sum((o.value.outcomes for o in outcomes), Counter())
    # Both runs say `failed` (the second found the attempt recorded and recorded nothing);
    # with the capture failing, a run that replayed the order before its capture failed says
    # `placed` (a count only: the state below is the failure, recorded once).
    assert statuses["failed"] >= 1
    assert set(statuses) <= {"failed", "not_due", "placed"}, statuses
    sub.refresh_from_db()
    assert (sub.status, sub.failed_attempts, sub.period_index, sub.next_date) == (
        Subscription.Status.ACTIVE,
        1,
        0,
        today,
    )
    period = SubscriptionPeriod.objects.get(subscription=sub)
    assert (period.index, period.status, period.attempts) == (
        0,
        SubscriptionPeriod.Status.FAILED,
        1,
    )
    (failed_mail,) = subscription_mail(user)
    assert "Payment failed" in failed_mail.subject
    assert balance_of(user) == fund  # nothing kept from the balance
    assert gateway.captures == []
    if card == "declined":
        assert not Order.objects.exists()
        assert not Transfer.objects.filter(kind=Transfer.Kind.ORDER_PAYMENT).exists()
    else:
        order = Order.objects.get()
        assert order.status == Order.Status.PAYMENT_FAILED
        assert [p.balance_after for p in customer_postings(user)] == [fund, 0, fund]
        assert gateway.voided == {order.payment.reference}
        # Not checkout's own e-mail about the order's failed payment ("your items are back
        # in your cart" is not true of a delivery): the subscription's says it all.
        assert not [m for m in mail.outbox if order.number in m.subject]
    assert_ledger_clean()

    # Runs later the same day do not try again (one attempt a day); the next day's two runs
    # at once are the second attempt: counted once again.
    again = subscriptions_run(date=today)
    assert (again.outcomes["failed"], again.outcomes["not_due"]) == (0, 1)
    mail.outbox.clear()
    tomorrow = today + datetime.timedelta(days=1)
    outcomes = run_together([run_call(tomorrow), run_call(tomorrow)])
    assert run_errors(outcomes) == []
    sub.refresh_from_db()
    assert (sub.status, sub.failed_attempts) == (Subscription.Status.ACTIVE, 2)
    assert SubscriptionPeriod.objects.get(subscription=sub).attempts == 2
    assert len(subscription_mail(user)) == 1
    assert balance_of(user) == fund
    assert_ledger_clean()
