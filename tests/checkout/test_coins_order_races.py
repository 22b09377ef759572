"""Race tests of coins at checkout, on PostgreSQL with real threads (see tests/wallet/
test_races.py for `run_together`).

A shopper has one cart and one coin balance, so twenty parallel orders of one shopper are
twenty tabs placing the same cart: the cart lock lets one through, and its coins are spent
once. What may race the order on the same coin balance is another movement of those coins:
the refund of the coin pack they came from (`coins_take_back`). Proven here:

    (a) 20 tabs, 20 keys, one cart paid by coins (all of it, or coins then the balance)
                                 → one order, one coins spend, coins never below zero
    (b) 10 tabs placing an order paid by exactly the pack's coins while 10 staff refunds of
        that pack take its coins back → the coins pay one of them, never both (left alone
        the refund wins; a variant lets the refunds start only once the order has spent the
        coins, before it commits, so the other outcome is proven too)
    (c) one form (one key) from 20 threads paying coins and a card whose capture fails
                                 → one order, payment_failed, its coins back exactly once

`serialized_rollback=True`: see tests/wallet/test_races.py.
"""

import functools
import threading

import pytest

from catalog.models import Product
from checkout import payments
from checkout.exceptions import CardRequired, CheckoutChanged, EmptyCart
from checkout.models import CartLine, Order, Payment
from checkout.payments import TestGateway
from checkout.services import cart_add, checkout_use_balance_set, order_place
from checkout.services import orders as orders_module
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.wallet.test_races import JOIN_TIMEOUT, THREADS, Outcome, run_together
from tests.wallet.units_given import coins_give, unit_balances
from wallet.exceptions import InsufficientFunds
from wallet.models import Account, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import coins_take_back, system_account_get_or_create, wallet_credit
from wallet.units import COINS

PRICE = 999  # the app, US cents: 999 coins pay it (1 coin = 1 cent)
CAPTURE_FAILS = "4000 0000 0000 0341"  # the test gateway authorises it, then fails its capture
REFUSED = {CheckoutChanged, EmptyCart, CardRequired}  # each refused before anything is charged

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def own_copy(user):
    """The user as a request of its own would load it (threads share no model instance)."""
    return type(user).objects.select_related("region").get(pk=user.pk)


def place_call(user, *, key: str, card_number: str = ""):
    session: dict = {}  # a tab's session: coins on by default, the balance switched on
    checkout_use_balance_set(session=session, use_balance=True)
    return functools.partial(
        order_place,
        user=own_copy(user),
        session=session,
        idempotency_key=key,
        card_number=card_number,
    )


def split(outcomes: list[Outcome], *expected) -> tuple[list, list]:
    """(values of the calls that succeeded, the expected errors); any other error fails."""
    unexpected = [o.error for o in outcomes if o.error and not isinstance(o.error, expected)]
    assert not unexpected, unexpected
    return [o.value for o in outcomes if o.error is None], [o.error for o in outcomes if o.error]


def coins_after(user) -> list[int]:
    return list(
        Posting.objects.filter(account__user=user, account__kind=Account.Kind.CUSTOMER_COINS)
        .order_by("pk")
        .values_list("balance_after", flat=True)
    )


def app_shopper(*, coins: int, money: int = 0):
    """A US shopper with `coins` (and `money` on the balance) and the app in the cart. The
    shop's accounts exist before the race: the threads meet on the row locks."""
    app = ProductFactory(name="Star Game", kind=Product.Kind.DIGITAL, prices={"US": PRICE})
    user = UserFactory(region_id="US")
    coins_give(user, coins)
    if money:
        wallet_credit(user=user, amount=money, idempotency_key=f"fund:{user.pk}", description="f")
    system_account_get_or_create(kind=Account.Kind.COINS_SPENT, currency=COINS)
    system_account_get_or_create(kind=Account.Kind.COINS_SOLD, currency=COINS)
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")
    cart_add(user=user, session={}, slug=app.slug, quantity=1)
    return user


def assert_ledger_clean():
    report = ledger_reconcile()
    assert report.clean, report


# (a) twenty tabs placing one cart paid by coins ------------------------------------------------


@pytest.mark.parametrize(
    ("coins", "money", "round_"),
    [(PRICE, 0, 1), (PRICE, 0, 2), (PRICE + 300, 0, 1), (400, 1000, 1)],
    ids=["coins-exactly-1", "coins-exactly-2", "coins-to-spare", "coins-then-balance"],
)
def test_twenty_tabs_place_one_coin_paid_order_and_spend_its_coins_once(coins, money, round_):
    user = app_shopper(coins=coins, money=money)
    coins_part = min(coins, PRICE)

    outcomes = run_together(
        [place_call(user, key=f"coins-tab-{round_}-{n}") for n in range(THREADS)]
    )

    orders, refused = split(outcomes, *REFUSED)
    assert len(orders) == 1, refused
    assert len(refused) == THREADS - 1
    (order,) = orders
    assert Order.objects.get() == order
    assert (order.total, order.coins_applied, order.balance_applied, order.card_charged) == (
        PRICE,
        coins_part,
        PRICE - coins_part,
        0,
    )
    spend = Transfer.objects.get(kind=Transfer.Kind.COINS_SPEND)
    assert order.coins_transfer_id == spend.pk
    assert unit_balances(user).coins == coins - coins_part
    assert coins_after(user) == [coins, coins - coins_part]  # never below zero, spent once
    assert wallet_balance_get(user=user).amount == money - (PRICE - coins_part)
    assert order.lines.get().coins == coins_part
    assert not CartLine.objects.filter(cart__user=user).exists()
    assert not Payment.objects.exists()
    assert_ledger_clean()


# (b) the order racing the refund of the coin pack ---------------------------------------------


@pytest.mark.parametrize(
    ("first", "round_"), [("anyone", 1), ("anyone", 2), ("order", 1)], ids=["1", "2", "order-first"]
)
def test_an_order_racing_the_packs_refund_never_both_get_the_coins(first, round_, monkeypatch):
    """The shopper's 999 coins (one pack) pay the app exactly; staff refund that pack at
    the same moment. Either the order is placed and the take-back refused (the coins are
    spent), or the coins go back to the shop and no order is placed (nothing charged).

    Left alone the refund usually wins (placing an order prices the cart first). `order`:
    the refunds start once an order has spent the coins and before it commits, so they
    queue on the coins account behind it and must find the coins gone."""
    user = app_shopper(coins=PRICE)
    spent = threading.Event()
    if first == "order":
        spend = orders_module.order_coins_spend

        def spend_then_tell(**kwargs):
            result = spend(**kwargs)
            spent.set()
            return result

        monkeypatch.setattr(orders_module, "order_coins_spend", spend_then_tell)
    else:
        spent.set()

    def take_back(owner):
        assert spent.wait(timeout=JOIN_TIMEOUT)
        return coins_take_back(
            user=owner,
            coins=PRICE,
            idempotency_key=f"coins-take-back:{round_}",
            description="Coin pack refunded",
        )

    tabs = [place_call(user, key=f"vs-pack-{round_}-{n}") for n in range(10)]
    refunds = [functools.partial(take_back, own_copy(user)) for _ in range(10)]

    outcomes = run_together(tabs + refunds)

    orders, _ = split(outcomes[:10], *REFUSED)
    taken, _ = split(outcomes[10:], InsufficientFunds)
    assert (len(orders), len(taken)) in ((1, 0), (0, 10)), (orders, taken)
    if first == "order":
        assert len(orders) == 1
    assert unit_balances(user).coins == 0
    assert coins_after(user) == [PRICE, 0]  # one movement took the coins, once
    if orders:
        assert orders[0].coins_applied == PRICE
        assert not Transfer.objects.filter(kind=Transfer.Kind.COINS_REVERSAL).exists()
    else:
        assert not Order.objects.exists()
        assert CartLine.objects.filter(cart__user=user).exists()  # the cart is as it was
        assert not Transfer.objects.filter(kind=Transfer.Kind.COINS_SPEND).exists()
    assert not Payment.objects.exists()
    assert_ledger_clean()


# (c) one form paying coins and a card whose capture fails ----------------------------------


@pytest.fixture
def gateway(monkeypatch, settings) -> TestGateway:
    """A fresh test gateway as the process's provider (see tests/checkout/test_races.py)."""
    assert settings.PAYMENT_PROVIDER == "checkout.payments.TestGateway"
    fresh = TestGateway()
    monkeypatch.setattr(payments, "_provider", fresh)
    return fresh


def test_one_form_whose_capture_fails_gives_its_coins_back_once(gateway):
    """400 coins pay part of the app, the card the rest, and its capture fails: twenty
    submits of that one form make one order, failed, its 400 coins back once, the app back
    in the cart."""
    user = app_shopper(coins=400)

    outcomes = run_together(
        [place_call(user, key="fail-once", card_number=CAPTURE_FAILS) for _ in range(THREADS)]
    )

    orders, _ = split(outcomes)  # every submit lands on the one order
    order = Order.objects.get()
    assert {o.pk for o in orders} == {order.pk}
    order.refresh_from_db()
    assert (order.status, order.coins_applied, order.card_charged) == (
        Order.Status.PAYMENT_FAILED,
        400,
        PRICE - 400,
    )
    assert coins_after(user) == [400, 0, 400]  # spent once, given back once
    assert Transfer.objects.filter(kind=Transfer.Kind.COINS_RETURN).count() == 1
    assert unit_balances(user).coins == 400
    assert CartLine.objects.filter(cart__user=user).count() == 1
    assert gateway.captured == set()
    assert_ledger_clean()
