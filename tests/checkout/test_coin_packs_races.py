"""Coin packs under concurrency, on PostgreSQL with real threads released by a barrier (they
FAIL on SQLite, which ignores row locks):

    (a) the hook and the sweep crediting one paid order at once, 20 times → credited once
    (b) 20 refunds of one unit each of a line of 3 packs at once           → exactly 3 refunded,
        each taking its pack's coins back once; the coins never below zero
    (c) 20 refunds of a spent pack at once                                 → all refused
"""

import functools
from collections import Counter

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from catalog.models import Product
from checkout import payments
from checkout.exceptions import RefundRefused
from checkout.models import Order, Refund
from checkout.payments import TestGateway
from checkout.services import cart_add, order_place, order_refund_units, paid
from checkout.services.coin_orders import order_coins_credit
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.checkout.test_races import assert_ledger_clean, own_copy, own_session, split
from tests.wallet.test_races import run_together
from tests.wallet.units_given import coins_give
from wallet.models import Account, Posting, Transfer
from wallet.services import coins_spend, system_account_get_or_create
from wallet.units import COINS

THREADS = 20

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def gateway(monkeypatch) -> TestGateway:
    fresh = TestGateway()
    monkeypatch.setattr(payments, "_provider", fresh)
    return fresh


def pack_order(user: User, quantity: int) -> Order:
    """A paid order of `quantity` packs of 500 coins ($4.75 each), its hook held back."""
    product = ProductFactory(
        slug="coins-500",
        name="Coins, 500",
        category=CategoryFactory(slug="coins", name="Coins"),
        kind=Product.Kind.COIN_PACK,
        coins=500,
        prices={"US": 475},
    )
    for kind in (Account.Kind.COINS_SOLD, Account.Kind.COINS_SPENT):
        system_account_get_or_create(kind=kind, currency=COINS)
    cart_add(user=user, session={}, slug=product.slug, quantity=quantity)
    held = paid.order_coins_credit
    paid.order_coins_credit = lambda **kwargs: 0  # the hook missed: the race credits it
    try:
        order = order_place(
            user=own_copy(user),
            session=own_session(),
            idempotency_key=f"packs:{user.pk}",
            card_number=TestGateway.APPROVED,
        )
    finally:
        paid.order_coins_credit = held
    order.refresh_from_db()
    assert order.payment.status == "captured"
    return order


def coins_of(user) -> int:
    account = Account.objects.filter(user=user, kind=Account.Kind.CUSTOMER_COINS).first()
    return account.balance if account else 0


def refunder() -> User:
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return staff


def test_twenty_credits_of_one_paid_order_credit_it_once():
    user = UserFactory()
    order = pack_order(user, 2)
    coins_give(user, 1)  # the account exists: the threads meet on its row lock

    outcomes = run_together(
        [functools.partial(order_coins_credit, order_id=order.pk) for _ in range(THREADS)]
    )

    credited, refused = split(outcomes)
    assert refused == Counter()
    assert sorted(credited) == [0] * (THREADS - 1) + [1000]
    assert coins_of(user) == 1001
    assert Transfer.objects.filter(idempotency_key=f"coins-pack:{order.number}").count() == 1
    assert_ledger_clean()


def test_twenty_refunds_of_single_packs_at_once_refund_the_three_there_are():
    user = UserFactory()
    order = pack_order(user, 3)
    order_coins_credit(order_id=order.pk)
    line = order.lines.get()
    staff = refunder()

    outcomes = run_together(
        [
            functools.partial(
                order_refund_units,
                order_id=order.pk,
                units={line.pk: 1},
                reason="race",
                idempotency_key=f"pack-refund-{i}",
                by=own_copy(staff),
            )
            for i in range(THREADS)
        ]
    )

    refunds, refused = split(outcomes)
    assert len(refunds) == 3
    assert refused == {RefundRefused.__name__: THREADS - 3}
    assert coins_of(user) == 0
    order.refresh_from_db()
    assert (order.card_refunded, order.status) == (1425, Order.Status.REFUNDED)
    assert Transfer.objects.filter(kind=Transfer.Kind.COINS_REVERSAL).count() == 3
    after = Posting.objects.filter(account__user=user, account__kind=Account.Kind.CUSTOMER_COINS)
    assert min(after.values_list("balance_after", flat=True)) >= 0
    assert_ledger_clean()


def test_twenty_refunds_of_a_spent_pack_are_all_refused():
    user = UserFactory()
    order = pack_order(user, 1)
    order_coins_credit(order_id=order.pk)
    coins_spend(user=user, coins=1, idempotency_key="spent-one", description="an app")
    line = order.lines.get()
    staff = refunder()

    outcomes = run_together(
        [
            functools.partial(
                order_refund_units,
                order_id=order.pk,
                units={line.pk: 1},
                reason="race",
                idempotency_key=f"spent-refund-{i}",
                by=own_copy(staff),
            )
            for i in range(THREADS)
        ]
    )

    _, refused = split(outcomes)
    assert refused == {RefundRefused.__name__: THREADS}
    assert all(o.error.reason == "coins_spent" for o in outcomes)
    assert coins_of(user) == 499
    assert not Refund.objects.filter(order=order).exists()
    assert_ledger_clean()
