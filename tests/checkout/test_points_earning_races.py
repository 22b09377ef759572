"""Races on an order's reward points, on PostgreSQL with real threads (20, released together by
a barrier; one round each). SQLite ignores `select_for_update`: these FAIL there, never skip.

    (a) 20 earns of one delivered order at once (hooks, the sweep)  → one earning, once
    (b) 10 refunds and 10 earns of one delivered order at once     → one earning, on the net

The order's row lock is what they queue on (`order_points_earn` takes it; refunds hold it).
"""

import pytest
from django.contrib.auth.models import Permission

import checkout.services.order_points as order_points
from catalog.models import Product
from checkout.models import Order
from checkout.services import order_deliver, order_refund, order_ship
from checkout.services.order_points import order_points_earn, order_points_earn_missed
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, new_key, order_make
from tests.wallet.test_races import run_together
from wallet.models import Account, PointsEarning
from wallet.reconcile import ledger_reconcile
from wallet.services import system_account_get_or_create, unit_account_get_or_create
from wallet.units import POINTS

THREADS = 20
ROUNDS = range(1, 2)  # one round each: the suite stays under its time

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def staff():
    person = UserFactory(is_staff=True)
    for codename in ("fulfil_order", "refund_order"):
        person.user_permissions.add(Permission.objects.get(codename=codename))
    return person


def _delivered_without_points(staff, monkeypatch, price: int) -> Order:
    """A card order shipped and delivered whose points hook did not run (the threads earn)."""
    user = UserFactory(region_id="US")
    # The accounts exist before the race: the threads meet on the row locks, not on a unique
    # index while the first creates them.
    for kind in (Account.Kind.CUSTOMER_POINTS, Account.Kind.CUSTOMER_POINTS_PENDING):
        unit_account_get_or_create(user=user, kind=kind)
    system_account_get_or_create(kind=Account.Kind.POINTS_ISSUED, currency=POINTS)
    lamp = ProductFactory(kind=Product.Kind.PHYSICAL, prices={"US": price})
    order = order_make(user, (lamp, 1), card=APPROVED, use_balance=False)
    order_ship(order_id=order.pk, carrier="DHL", tracking_number="JD1", by=staff)
    with monkeypatch.context() as patch:
        patch.setattr(order_points, "points_order_settle", lambda **kwargs: None)
        order_deliver(order_id=order.pk, by=staff)
    order.refresh_from_db()
    assert order.delivered_at is not None
    assert not PointsEarning.objects.exists()
    return order


def _pending(order) -> int:
    return Account.objects.get(user=order.user, kind=Account.Kind.CUSTOMER_POINTS_PENDING).balance


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_earns_of_one_order_earn_once(staff, monkeypatch, round_):
    order = _delivered_without_points(staff, monkeypatch, 12345)
    calls = [
        (lambda: order_points_earn(order_id=order.pk))
        if index % 2
        else (lambda: order_points_earn_missed())
        for index in range(THREADS)
    ]

    outcomes = run_together(calls)

    assert [o.error for o in outcomes if o.error is not None] == []
    earning = PointsEarning.objects.get()
    assert (earning.points, earning.reversed) == (123, 0)
    assert _pending(order) == 123
    assert ledger_reconcile().clean


@pytest.mark.parametrize("round_", ROUNDS)
def test_refunds_racing_the_earn_leave_the_points_of_the_net(staff, monkeypatch, round_):
    order = _delivered_without_points(staff, monkeypatch, 30000)  # 300 points before refunds

    def refund():
        return order_refund(
            order_id=order.pk,
            from_balance=0,
            from_card=1000,
            card_to_balance=False,
            reason="returned",
            idempotency_key=new_key(),
            by=staff,
        )

    calls = [
        refund if index % 2 else (lambda: order_points_earn(order_id=order.pk))
        for index in range(THREADS)
    ]

    outcomes = run_together(calls)

    assert [o.error for o in outcomes if o.error is not None] == []
    order.refresh_from_db()
    assert order.card_refunded == 10 * 1000
    earning = PointsEarning.objects.get()
    # Whoever came first, the order's points end at what it still pays: 200.00 → 200.
    assert earning.kept == 200
    assert _pending(order) == 200
    assert ledger_reconcile().clean
