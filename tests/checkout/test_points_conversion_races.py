"""Race test of a conversion of points against a refund of an order whose points are released,
on PostgreSQL with real threads (see tests/wallet/test_races.py for `run_together`).

A refund moves the money back first (the shopper's balance and credit accounts), then lowers
the order's points (their points accounts); a conversion takes the points account and the
credit account in one statement, in primary-key order. When the shopper's credit account is
younger than their points account (their first credit came from converting points, the
natural way), the two take the same two rows in opposite orders.

`serialized_rollback=True`: see tests/wallet/test_races.py.
"""

import datetime
import threading

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from catalog.models import Product
from checkout.models import Order
from checkout.services import cart_add, checkout_use_balance_set, order_place, order_refund
from checkout.services import refunds as refunds_module
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.wallet.test_points_races import _blocked_on_a_lock, own_copy, split
from tests.wallet.test_races import JOIN_TIMEOUT, run_together
from tests.wallet.units_given import points_give, unit_balances
from wallet.models import Account, PointsEarning
from wallet.reconcile import ledger_reconcile
from wallet.services import points_convert, points_release, wallet_credit

PRICE = 2999  # the app, US cents: 500 of it paid by credit, 2,499 by money (24 points)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def shopper_with_a_released_order():
    """A US shopper who converted 500 points (their credit account is made then, after their
    points accounts), paid an app with that credit and gift card money, and whose 24 points
    for it are released. Returns the shopper and the order."""
    app = ProductFactory(name="Photo Editor", kind=Product.Kind.DIGITAL, prices={"US": PRICE})
    user = UserFactory(region_id="US")
    points_give(user, 1500)
    points_convert(user=user, points=500, idempotency_key=f"first-convert:{user.pk}")
    wallet_credit(user=user, amount=PRICE - 500, idempotency_key=f"fund:{user.pk}", description="f")
    cart_add(user=user, session={}, slug=app.slug, quantity=1)
    session: dict = {}
    checkout_use_balance_set(session=session, use_balance=True)
    order = order_place(user=own_copy(user), session=session, idempotency_key=f"app:{user.pk}")
    assert (order.credit_applied, order.balance_applied) == (500, PRICE)
    earning = PointsEarning.objects.get(reference=f"order:{order.number}")  # earned on commit
    assert earning.points == (PRICE - 500) // 100
    points_release(now=timezone.now() + datetime.timedelta(days=15))
    return user, order


def test_a_refund_and_a_conversion_at_once_both_go_through(monkeypatch):
    """Staff refund the whole order (its credit and money back, then its 24 points taken back
    from the available ones) while the shopper converts 500 of their 1,524 points. The refund
    has moved the money (the credit account is locked) when the conversion starts; the
    conversion locks the points account, then waits for the credit account; the refund then
    wants the points account. Both must go through, in either order."""
    user, order = shopper_with_a_released_order()
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    money_back = threading.Event()
    points_of = refunds_module.order_points_refunded

    def points_after_the_conversion_waits(**kwargs):
        money_back.set()
        _blocked_on_a_lock(timeout=5)  # the conversion is waiting on the credit account
        return points_of(**kwargs)

    monkeypatch.setattr(refunds_module, "order_points_refunded", points_after_the_conversion_waits)

    def refund():
        return order_refund(
            order_id=order.pk,
            from_balance=PRICE,
            from_card=0,
            card_to_balance=False,
            reason="race test",
            idempotency_key=f"refund:{order.pk}",
            by=own_copy(staff),
        )

    def convert(shopper):
        assert money_back.wait(timeout=JOIN_TIMEOUT)
        return points_convert(user=shopper, points=500, idempotency_key=f"convert:{user.pk}")

    outcomes = run_together([refund, lambda: convert(own_copy(user))])

    split(outcomes)  # neither fails (a deadlock would fail one of them)
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
    assert unit_balances(user).available == 1500 - 500 + 24 - 500 - 24
    credit = Account.objects.get(user=user, kind=Account.Kind.CUSTOMER_CREDIT)
    assert credit.balance == 500 + 500  # the refunded credit back, and the new conversion
    report = ledger_reconcile()
    assert report.clean, report
