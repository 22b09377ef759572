"""Race tests for checkout's money services, on PostgreSQL with real threads.

Each test starts 20 threads, releases them together with a `threading.Barrier` and asserts the
outcome exactly, two rounds each (ROUNDS). SQLite ignores `select_for_update`, so these tests prove
nothing there: they FAIL (never skip) on any other database.

    (a) 20 orders at once, each costing the whole balance     → one paid, 19 refused
    (b) 20 refunds at once on one order                        → never more than was paid
    (c) one idempotency key from 20 threads placing one order  → one order for all
    (d) captures that fail: 20 shoppers, one key from 20 threads, 20 reports of one failure
                                                               → each balance part back once

Run: `scripts/test-services.sh .venv/bin/pytest tests/checkout/test_races.py -q`.

`serialized_rollback=True`: a transactional test ends by emptying every table, regions (a data
migration) included; Django restores the post-migration rows before each of these tests.
"""

import functools
import io
import threading
from collections import Counter

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from catalog.demo import catalog_seed
from catalog.models import Price
from checkout import payments
from checkout.exceptions import CardRequired, CheckoutChanged, EmptyCart, RefundRefused
from checkout.models import CartLine, Order, Payment, Refund, ShippingRate, VoidedAuthorization
from checkout.payments import TestGateway
from checkout.services import (
    card_payments,
    cart_add,
    checkout_use_balance_set,
    order_place,
    order_refund,
)
from checkout.services import orders as checkout_services
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import address_give
from tests.wallet.test_races import JOIN_TIMEOUT, Outcome, run_together
from wallet.models import Account, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import system_account_get_or_create, wallet_credit

THREADS = 20
ROUNDS = range(1, 3)  # each race twice over (make test stays well under its time)
PRODUCT = "django-in-depth"  # $39.99 in the demo catalog's US store
APPROVED_CARD = "4242 4242 4242 4242"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def gateway(monkeypatch, settings) -> TestGateway:
    """A fresh test gateway as the process's provider, so its captured/voided sets hold only
    this test's calls (the real one is a per-process singleton)."""
    assert settings.PAYMENT_PROVIDER == "checkout.payments.TestGateway"
    fresh = TestGateway()
    monkeypatch.setattr(payments, "_provider", fresh)
    return fresh


@pytest.fixture
def price() -> int:
    """Seeds the demo catalog; returns what one `PRODUCT` costs a US shopper in cents: its
    price and standard shipping (the product is shipped; below the free threshold)."""
    catalog_seed()
    shipping = ShippingRate.objects.get(region_id="US", method="standard").amount
    return Price.objects.get(product__slug=PRODUCT, region_id="US").amount + shipping


def shopper_with_cart(*, balance: int) -> User:
    """A US shopper with `balance` on the wallet and one `PRODUCT` in the saved cart.

    The shop's purchases account exists before the race, so the threads meet on the row locks
    (cart, wallet account) and not on a unique index while the first creates that account.
    """
    user = UserFactory(region_id="US")
    wallet_credit(user=user, amount=balance, idempotency_key=f"fund:{user.pk}", description="fund")
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")
    address_give(user)  # the product ships
    cart_add(user=user, session={}, slug=PRODUCT, quantity=1)
    return user


def own_copy(user: User) -> User:
    """The user as a request of its own would load it (threads share no model instance)."""
    return User.objects.select_related("region").get(pk=user.pk)


def own_session() -> dict:
    """A tab's session: any dict-like works; the balance switch on, as by default."""
    session: dict = {}
    checkout_use_balance_set(session=session, use_balance=True)
    return session


def place_order_call(user: User, *, key: str, card_number: str = ""):
    return functools.partial(
        order_place,
        user=own_copy(user),
        session=own_session(),
        idempotency_key=key,
        card_number=card_number,
    )


def split(outcomes: list[Outcome]) -> tuple[list, Counter]:
    """(values of the calls that succeeded, {exception class name: n} of those that failed)."""
    return (
        [o.value for o in outcomes if o.error is None],
        Counter(type(o.error).__name__ for o in outcomes if o.error is not None),
    )


def customer_postings(user) -> list[Posting]:
    return list(
        Posting.objects.filter(account__user=user, account__kind=Account.Kind.CUSTOMER).order_by(
            "pk"
        )
    )


def assert_ledger_clean():
    report = ledger_reconcile()
    assert report.clean, report
    out = io.StringIO()
    call_command("wallet_reconcile", stdout=out)  # raises CommandError (exit 1) when not clean
    assert out.getvalue().startswith("Ledger clean"), out.getvalue()


# (a) twenty orders at once, each costing the whole balance ---------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_orders_paid_by_the_whole_balance_only_one_is_placed(round_, price, gateway):
    user = shopper_with_cart(balance=price)  # the order costs exactly the balance

    outcomes = run_together(
        [place_order_call(user, key=f"tab-{round_}-{i}") for i in range(THREADS)]
    )

    orders, refused = split(outcomes)
    assert len(orders) == 1, refused
    assert sum(refused.values()) == THREADS - 1
    # A tab that read the cart before the winner committed and the balance after it sees a
    # cart it must pay by card (CardRequired): refused too, before anything is charged.
    assert set(refused) <= {
        CheckoutChanged.__name__,
        EmptyCart.__name__,
        CardRequired.__name__,
    }, refused
    (order,) = orders
    assert Order.objects.get() == order
    assert (order.status, order.total, order.balance_applied, order.card_charged) == (
        Order.Status.PLACED,
        price,
        price,
        0,
    )
    assert order.lines.get().product.slug == PRODUCT
    debit = Transfer.objects.get(kind=Transfer.Kind.ORDER_PAYMENT)
    assert order.balance_transfer_id == debit.pk
    assert wallet_balance_get(user=user).amount == 0
    postings = customer_postings(user)
    assert [p.balance_after for p in postings] == [price, 0]  # the fund, the one order
    assert all(p.balance_after >= 0 for p in postings)
    assert not CartLine.objects.filter(cart__user=user).exists()
    assert not Payment.objects.exists()
    assert gateway.captured == gateway.voided == set()  # nothing was due on a card
    assert_ledger_clean()


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_orders_part_paid_by_card_void_every_losers_hold(round_, price, gateway):
    """Each tab would pay 25.00 from the balance and the rest by card: the card is authorised
    before the locks, so every loser holds an authorisation that must be voided."""
    balance = 2500
    user = shopper_with_cart(balance=balance)

    outcomes = run_together(
        [
            place_order_call(user, key=f"tab-{round_}-{i}", card_number=APPROVED_CARD)
            for i in range(THREADS)
        ]
    )

    orders, refused = split(outcomes)
    assert len(orders) == 1, refused
    assert sum(refused.values()) == THREADS - 1
    assert set(refused) <= {CheckoutChanged.__name__, EmptyCart.__name__}, refused
    (order,) = orders
    assert (order.balance_applied, order.card_charged) == (balance, price - balance)
    payment = Payment.objects.get()
    assert (payment.order_id, payment.amount, payment.card_last4) == (
        order.pk,
        price - balance,
        "4242",
    )
    # Threads refused before the card call (they saw the cart already empty) authorised
    # nothing; every one that authorised and lost (CheckoutChanged) had its hold voided.
    authorised = {a.reference for a in gateway._authorizations.values()}
    assert gateway.captured == {payment.reference}
    assert gateway.voided == authorised - {payment.reference}
    assert len(gateway.voided) == refused[CheckoutChanged.__name__]
    assert Transfer.objects.filter(kind=Transfer.Kind.ORDER_PAYMENT).count() == 1
    assert wallet_balance_get(user=user).amount == 0
    assert [p.balance_after for p in customer_postings(user)] == [balance, 0]
    assert not CartLine.objects.filter(cart__user=user).exists()
    assert_ledger_clean()


# (b) twenty refunds at once on one order -----------------------------------------------------


def refunder() -> User:
    """A staff member holding only the permission to refund orders."""
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return staff


def paid_order(price: int) -> Order:
    """An order of `PRODUCT` paid entirely from the balance (so the balance is then 0)."""
    user = shopper_with_cart(balance=price)
    order = order_place(user=user, session=own_session(), idempotency_key=f"paid:{user.pk}")
    assert wallet_balance_get(user=user).amount == 0
    return order


def refund_call(order: Order, staff: User, *, amount: int, key: str):
    return functools.partial(
        order_refund,
        order_id=order.pk,
        from_balance=amount,
        from_card=0,
        card_to_balance=False,
        reason="race test",
        idempotency_key=key,
        by=own_copy(staff),
    )


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_refunds_at_once_never_exceed_what_was_paid(round_, price):
    order = paid_order(price)
    staff = refunder()
    part = price * 30 // 100  # 30 %: three fit in what was paid, a fourth would not

    outcomes = run_together(
        [refund_call(order, staff, amount=part, key=f"refund-{round_}-{i}") for i in range(THREADS)]
    )

    refunds, refused = split(outcomes)
    assert len(refunds) == 100 // 30
    assert refused == {RefundRefused.__name__: THREADS - 100 // 30}
    refunded = part * len(refunds)
    assert refunded <= order.balance_applied
    order.refresh_from_db()
    assert (order.balance_refunded, order.card_refunded, order.status) == (
        refunded,
        0,
        Order.Status.PARTIALLY_REFUNDED,
    )
    assert Refund.objects.filter(order=order).count() == len(refunds)
    assert Transfer.objects.filter(kind=Transfer.Kind.REFUND).count() == len(refunds)
    assert wallet_balance_get(user=order.user).amount == refunded
    # Serialised on the order's row lock: each refund's posting adds one part to the last.
    assert [p.balance_after for p in customer_postings(order.user)] == [
        price,
        0,
        *(part * n for n in range(1, len(refunds) + 1)),
    ]
    assert_ledger_clean()


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("share", [30, 100])
def test_one_refund_key_from_twenty_threads_refunds_once(round_, share, price):
    """Twenty submits of one refund form (a double click, a retried request): one refund,
    and every thread is answered with it, also when it refunded everything there was."""
    order = paid_order(price)
    staff = refunder()
    part = price * share // 100
    key = f"refund-{round_}-once"

    outcomes = run_together(
        [refund_call(order, staff, amount=part, key=key) for _ in range(THREADS)]
    )

    refunds, refused = split(outcomes)
    assert refused == Counter()
    refund = Refund.objects.get()
    assert {r.pk for r in refunds} == {refund.pk}
    assert (refund.from_balance, refund.idempotency_key) == (part, key)
    order.refresh_from_db()
    assert order.balance_refunded == part
    assert order.status == (
        Order.Status.REFUNDED if share == 100 else Order.Status.PARTIALLY_REFUNDED
    )
    assert Transfer.objects.filter(kind=Transfer.Kind.REFUND).count() == 1
    assert wallet_balance_get(user=order.user).amount == part
    assert_ledger_clean()


# (c) one idempotency key from twenty threads ------------------------------------------------


@pytest.fixture
def late_quotes(monkeypatch):
    """Inject the worst interleaving for a replay: every thread but the first looks up the
    key (and finds nothing), then reads the cart only once the first thread's order has
    committed, so it finds the cart already emptied by its own order."""
    real_quote = checkout_services.checkout_quote_get
    real_send = checkout_services.order_placed_mail_send
    first = threading.Lock()
    committed = threading.Event()
    seen = threading.local()

    def quote(**kwargs):
        if not getattr(seen, "once", False):  # the look before the locks, not the re-price
            seen.once = True
            if not first.acquire(blocking=False):
                assert committed.wait(timeout=JOIN_TIMEOUT), "the first order never committed"
        return real_quote(**kwargs)

    def send(*, order_id):  # an on_commit callback: the first order has committed
        committed.set()
        real_send(order_id=order_id)

    monkeypatch.setattr(checkout_services, "checkout_quote_get", quote)
    monkeypatch.setattr(checkout_services, "order_placed_mail_send", send)


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("paid_by", ["balance", "balance-and-card"])
@pytest.mark.parametrize("interleaving", ["natural", "late-quotes"])
def test_one_order_key_from_twenty_threads_places_one_order(
    round_, paid_by, interleaving, price, gateway, request
):
    """Twenty submits of one checkout form (double click, replayed POST, a second tab with
    the same page): one order, one debit, one capture, and every thread lands on it."""
    if interleaving == "late-quotes":
        request.getfixturevalue("late_quotes")
    balance = price if paid_by == "balance" else 2500
    card_number = "" if paid_by == "balance" else APPROVED_CARD
    user = shopper_with_cart(balance=balance)
    key = f"checkout-{round_}-once"

    outcomes = run_together(
        [place_order_call(user, key=key, card_number=card_number) for _ in range(THREADS)]
    )

    orders, refused = split(outcomes)
    assert refused == Counter()
    order = Order.objects.get()
    assert {o.pk for o in orders} == {order.pk}
    assert {o.number for o in orders} == {order.number}
    assert (order.idempotency_key, order.balance_applied, order.card_charged) == (
        key,
        balance,
        price - balance,
    )
    debit = Transfer.objects.get(kind=Transfer.Kind.ORDER_PAYMENT)
    assert order.balance_transfer_id == debit.pk
    assert wallet_balance_get(user=user).amount == 0
    assert [p.balance_after for p in customer_postings(user)] == [balance, 0]
    if paid_by == "balance":
        assert not Payment.objects.exists()
        assert gateway.captured == gateway.voided == set()
    else:
        # One capture, the order's; any other hold a replay took is released, none is left.
        payment = Payment.objects.get()
        authorised = {a.reference for a in gateway._authorizations.values()}
        assert payment.reference in authorised
        assert gateway.captured == {payment.reference}
        assert gateway.voided == authorised - {payment.reference}
    assert not CartLine.objects.filter(cart__user=user).exists()
    assert_ledger_clean()


# (d) captures that fail, twenty at once ----------------------------------------------------

CAPTURE_FAILS_CARD = "4000 0000 0000 0341"


def assert_failed_and_returned(order: Order, *, balance: int) -> None:
    """`order` failed its payment: the balance part came back exactly once, the hold is
    released and recorded, the item is back in the cart."""
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.payment.status == Payment.Status.FAILED
    assert wallet_balance_get(user=order.user).amount == balance
    assert [p.balance_after for p in customer_postings(order.user)] == [balance, 0, balance]
    assert (
        Transfer.objects.filter(
            kind=Transfer.Kind.REVERSAL,
            idempotency_key=f"order-payment-failed:{order.idempotency_key}",
        ).count()
        == 1
    )
    assert order.balance_return_transfer_id is not None
    hold = VoidedAuthorization.objects.get(order=order)
    assert (hold.reference, hold.status) == (
        order.payment.reference,
        VoidedAuthorization.Status.VOIDED,
    )
    assert list(CartLine.objects.filter(cart__user=order.user).values_list("quantity")) == [(1,)]


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_shoppers_whose_captures_fail_each_get_their_balance_back_once(
    round_, price, gateway
):
    """Twenty shoppers pay 25.00 from the balance and the rest with the card whose capture
    fails, all at once: they meet on the shop's purchases account, each returning transfer
    moves exactly that shopper's part back."""
    balance = 2500
    shoppers = [shopper_with_cart(balance=balance) for _ in range(THREADS)]

    outcomes = run_together(
        [
            place_order_call(user, key=f"fail-{round_}-{i}", card_number=CAPTURE_FAILS_CARD)
            for i, user in enumerate(shoppers)
        ]
    )

    orders, refused = split(outcomes)
    assert refused == Counter()
    assert len(orders) == THREADS
    assert {o.status for o in orders} == {Order.Status.PAYMENT_FAILED}  # as the caller saw it
    for order in orders:
        assert_failed_and_returned(order, balance=balance)
    assert Transfer.objects.filter(kind=Transfer.Kind.REVERSAL).count() == THREADS
    purchases = system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")
    purchases.refresh_from_db()
    assert purchases.balance == 0  # every part it took, it gave back
    assert gateway.captured == set()
    assert gateway.voided == {o.payment.reference for o in orders}
    assert_ledger_clean()


def test_a_submit_that_read_the_cart_before_its_twin_committed_lands_on_the_order(
    price, gateway, monkeypatch
):
    """Deterministic: a second submit of one form reads the cart, then its twin commits the
    order (spending the balance and emptying the cart), then it reads the balance: nothing
    left, so the card would be required. It must replay the twin's order instead."""
    from checkout import selectors as checkout_selectors

    user = shopper_with_cart(balance=price)
    real_balance_get = checkout_selectors.wallet_balance_get
    twin = {}

    def balance_after_the_twin_commits(**kwargs):
        if not twin:
            twin["order"] = None

            def place_the_twin():
                try:
                    twin["order"] = place_order_call(user, key="one-form")()
                finally:
                    connection.close()

            thread = threading.Thread(target=place_the_twin)
            thread.start()
            thread.join(JOIN_TIMEOUT)
        return real_balance_get(**kwargs)

    monkeypatch.setattr(checkout_selectors, "wallet_balance_get", balance_after_the_twin_commits)
    order = place_order_call(user, key="one-form")()
    assert twin["order"] is not None
    assert order.pk == twin["order"].pk
    assert Order.objects.get() == order
    assert wallet_balance_get(user=user).amount == 0
    assert_ledger_clean()


@pytest.mark.parametrize("round_", ROUNDS)
def test_one_order_key_from_twenty_threads_whose_capture_fails_returns_once(round_, price, gateway):
    """Twenty submits of one form paying with the failing card: one order, failed, its
    balance part returned once; every thread lands on that order (none is a 500)."""
    balance = 2500
    user = shopper_with_cart(balance=balance)
    key = f"fail-once-{round_}"

    outcomes = run_together(
        [place_order_call(user, key=key, card_number=CAPTURE_FAILS_CARD) for _ in range(THREADS)]
    )

    orders, refused = split(outcomes)
    assert refused == Counter()
    order = Order.objects.get()
    assert {o.pk for o in orders} == {order.pk}
    assert_failed_and_returned(order, balance=balance)
    assert Payment.objects.count() == 1
    assert gateway.captured == set()
    assert gateway.voided == {order.payment.reference}
    assert_ledger_clean()


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_reports_of_one_failed_capture_return_the_balance_once(round_, price, gateway):
    """A provider that reports one failed capture twenty times at once (retried webhooks,
    a job run twice): the order's row lock makes the return happen once."""
    balance = 2500
    user = shopper_with_cart(balance=balance)
    order = order_place(
        user=own_copy(user),
        session=own_session(),
        idempotency_key=f"paid-{round_}",
        card_number=APPROVED_CARD,
    )
    # Captured on commit already: make it look authorised again, as if the capture failed.
    Payment.objects.filter(order=order).update(status=Payment.Status.AUTHORIZED)
    authorization = gateway._authorizations[f"order:{order.idempotency_key}"]

    outcomes = run_together(
        [
            functools.partial(
                card_payments.order_payment_fail, order_id=order.pk, authorization=authorization
            )
            for _ in range(THREADS)
        ]
    )

    _, refused = split(outcomes)
    assert refused == Counter()
    assert_failed_and_returned(order, balance=balance)
    assert Transfer.objects.filter(kind=Transfer.Kind.REVERSAL).count() == 1
    assert_ledger_clean()
