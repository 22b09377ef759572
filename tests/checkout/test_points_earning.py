"""Reward points earned on delivered orders (docs/points.md, docs/interface.md §13): what earns
(money paid for goods: card and gift card money, never promotional credit, coins, gift cards
or coin packs), pending for 14 days then released, taken back in proportion by refunds, never a
negative balance after a conversion (the shortfall is taken from the next release), and a
property: no sequence of purchases, deliveries and refunds leaves more points than the money
still paid for goods earns."""

import contextlib
import datetime
import io
import logging

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import Product
from checkout.exceptions import RefundRefused
from checkout.models import Order
from checkout.services import (
    cart_add,
    order_deliver,
    order_refund,
    order_refund_units,
    order_ship,
)
from checkout.services.order_points import (
    order_points_earn,
    order_points_earn_missed,
    order_points_paid,
)
from config.jobs import jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.gift_orders import gift_order, gift_product
from tests.checkout.shopping import APPROVED, fund, new_key, order_make
from tests.checkout.test_payment_faults import CAPTURE_FAILS
from tests.wallet.credit_factories import grant
from wallet.models import Account, PointsEarning, PointsShortfall
from wallet.services import coins_credit, points_convert, points_release
from wallet.unit_selectors import points_balance_get
from wallet.units import POINTS_PENDING_DAYS, points_earned

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def staff(db):
    person = UserFactory(is_staff=True)
    for codename in ("fulfil_order", "refund_order"):
        person.user_permissions.add(Permission.objects.get(codename=codename))
    return person


def _physical(price: int) -> Product:
    return ProductFactory(kind=Product.Kind.PHYSICAL, prices={"US": price})


def _digital(price: int) -> Product:
    return ProductFactory(prices={"US": price})


def _committed():
    """Run the on-commit work (the capture, the points hooks) as a request would."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def _placed(user, *lines, card=APPROVED, use_balance=True) -> Order:
    with _committed():
        order = order_make(user, *lines, card=card, use_balance=use_balance)
    order.refresh_from_db()
    return order


def _delivered(order, staff) -> Order:
    with _committed():
        order_ship(order_id=order.pk, carrier="DHL", tracking_number="JD0123", by=staff)
        order_deliver(order_id=order.pk, by=staff)
    order.refresh_from_db()
    return order


def _refund(order, staff, *, card=0, balance=0) -> None:
    with _committed():
        order_refund(
            order_id=order.pk,
            from_balance=balance,
            from_card=card,
            card_to_balance=False,
            reason="returned",
            idempotency_key=new_key(),
            by=staff,
        )
    order.refresh_from_db()


def _earning(order) -> PointsEarning | None:
    return PointsEarning.objects.filter(reference=f"order:{order.number}").first()


def _points(user) -> tuple[int, int, int]:
    balance = points_balance_get(user=user)
    return balance.available, balance.pending, balance.owed


# --- what earns ---------------------------------------------------------------------------


def test_a_card_order_earns_when_delivered_and_not_before(user, staff):
    order = _placed(user, (_physical(2999), 2), use_balance=False)  # $59.98 by card
    assert _earning(order) is None  # paid, shipped nowhere yet: nothing earned

    order = _delivered(order, staff)

    earning = _earning(order)
    assert (earning.points, earning.currency, earning.user) == (59, "USD", user)
    assert earning.release_at == order.delivered_at + datetime.timedelta(days=14)
    assert _points(user) == (0, 59, 0)


def test_gift_card_money_on_the_balance_earns_and_promotional_credit_does_not(user, staff):
    fund(user, 2000)  # gift card money
    grant(user, 1500)  # promotional credit, spent first
    order = _placed(user, (_physical(10000), 1))  # 15.00 credit, 20.00 money, 65.00 card

    assert (order.credit_applied, order.balance_applied, order.card_charged) == (1500, 3500, 6500)
    _delivered(order, staff)

    assert _earning(order).points == 85  # 20.00 of gift card money + 65.00 by card
    assert _points(user) == (0, 85, 0)


def test_an_order_paid_only_with_credit_earns_nothing(user, staff):
    grant(user, 5000)
    order = _placed(user, (_physical(2999), 1), card="")

    _delivered(order, staff)

    assert order.credit_applied == order.total
    assert _earning(order) is None
    assert _points(user) == (0, 0, 0)


def test_a_digital_order_by_card_earns_once_the_card_is_captured(user):
    order = _placed(user, (_digital(4500), 1), use_balance=False)

    assert order.status == Order.Status.DELIVERED
    assert _earning(order).points == 45
    assert _earning(order).release_at == order.delivered_at + POINTS_PENDING_DAYS * DAY


def test_a_digital_order_paid_from_the_balance_earns_when_placed(user):
    fund(user, 5000)
    order = _placed(user, (_digital(2500), 1), card="")

    assert order.card_charged == 0
    assert _earning(order).points == 25


def test_yen_earn_a_point_per_100_yen():
    shopper = UserFactory(region_id="JP")
    order = _placed(shopper, (ProductFactory(prices={"JP": 4580}), 1), use_balance=False)

    assert (order.currency, order.total) == ("JPY", 4580)
    assert (_earning(order).points, _earning(order).currency) == (45, "JPY")


def test_an_order_whose_capture_failed_earns_nothing(user):
    order = _placed(user, (_digital(4500), 1), card=CAPTURE_FAILS, use_balance=False)

    assert order.status == Order.Status.PAYMENT_FAILED
    assert order_points_earn(order_id=order.pk) is None
    assert _earning(order) is None


def test_gift_cards_do_not_earn_the_goods_beside_them_do(user):
    gift_product()
    ebook = _digital(1999)
    cart_add(user=user, session={}, slug=ebook.slug, quantity=1)
    order = gift_order(user, {"amount": 5000, "recipient_email": "ann@example.com"})
    assert _earning(order) is None  # placed until the card is handed over

    jobs_run_pending()  # the gift card e-mail goes out: the order is delivered

    order.refresh_from_db()
    assert (order.status, order.card_charged) == (Order.Status.DELIVERED, 6999)
    assert order_points_paid(order) == 1999
    assert _earning(order).points == 19


def test_a_refunded_gift_card_leaves_the_goods_points_as_they_were(user, staff):
    gift_product()
    ebook = _digital(1999)
    cart_add(user=user, session={}, slug=ebook.slug, quantity=1)
    order = gift_order(user, {"amount": 5000, "recipient_email": "ann@example.com"})
    jobs_run_pending()
    assert _earning(order).points == 19
    gift_line = order.lines.get(gift_card__isnull=False)

    with _committed():
        order_refund_units(
            order_id=order.pk,
            units={gift_line.pk: 1},
            reason="not wanted",
            idempotency_key=new_key(),
            by=staff,
        )

    order.refresh_from_db()
    assert order.card_refunded == 5000
    assert order_points_paid(order) == 1999
    assert (_earning(order).kept, _points(user)) == (19, (0, 19, 0))


def test_coins_and_coin_packs_do_not_earn(user, staff):
    coins_credit(user=user, coins=1000, idempotency_key=new_key(), description="test coins")
    app = _digital(1500)  # 10.00 of coins, 5.00 by card
    order = _placed(user, (app, 1), use_balance=False)
    assert order.coins_applied == 1000
    assert _earning(order).points == 5

    pack = ProductFactory(kind=Product.Kind.COIN_PACK, coins=500, prices={"US": 475})
    packed = _placed(user, (pack, 1), (_digital(999), 1), use_balance=False)
    assert (packed.lines.get(product=pack).pack_coins, packed.coins_applied) == (500, 0)
    assert order_points_paid(packed) == 999
    assert _earning(packed).points == 9


def test_refunds_of_a_coin_pack_and_of_coins_leave_the_points_of_money(user, staff):
    coins_credit(user=user, coins=500, idempotency_key=new_key(), description="test coins")
    pack = ProductFactory(kind=Product.Kind.COIN_PACK, coins=500, prices={"US": 475})
    app = _digital(2500)  # 5.00 of coins, 20.00 by card
    order = _placed(user, (pack, 1), (app, 1), use_balance=False)
    assert (order.coins_applied, order.card_charged) == (500, 2475)
    assert _earning(order).points == 20
    lines = {line.product_id: line for line in order.lines.all()}

    with _committed():
        order_refund_units(
            order_id=order.pk,
            units={lines[pack.pk].pk: 1},
            reason="pack not wanted",
            idempotency_key=new_key(),
            by=staff,
        )
    order.refresh_from_db()
    assert order.card_refunded == 475
    assert _earning(order).kept == 20  # the pack's card money never earned

    with _committed():
        order_refund_units(
            order_id=order.pk,
            units={lines[app.pk].pk: 1},
            reason="app not wanted",
            idempotency_key=new_key(),
            by=staff,
        )
    order.refresh_from_db()
    assert (order.coins_refunded, order.card_refunded) == (500, 475 + 2000)
    assert (_earning(order).kept, _points(user)) == (0, (0, 0, 0))


# --- pending, released --------------------------------------------------------------------


def test_points_are_pending_14_days_then_released_once(user, staff):
    order = _delivered(_placed(user, (_physical(12500), 1), use_balance=False), staff)
    release_at = order.delivered_at + 14 * DAY

    assert points_release(now=release_at - datetime.timedelta(seconds=1)).earnings == 0
    assert _points(user) == (0, 125, 0)

    first = points_release(now=release_at)
    again = points_release(now=release_at + DAY)

    assert (first.earnings, first.points) == (1, 125)
    assert (again.earnings, again.points) == (0, 0)
    assert _points(user) == (125, 0, 0)
    assert _earning(order).released_at == release_at


def test_the_delivery_hook_twice_earns_once(user, staff):
    order = _delivered(_placed(user, (_physical(2999), 1), use_balance=False), staff)

    order_points_earn(order_id=order.pk)
    order_points_earn(order_id=order.pk)

    assert PointsEarning.objects.filter(user=user).count() == 1
    assert _points(user) == (0, 35, 0)  # 29.99 and 5.99 of shipping: shipping earns too


def test_a_failing_hook_is_logged_and_the_sweep_earns_later(user, staff, monkeypatch, caplog):
    import checkout.services.order_points as order_points

    def broken(**kwargs):
        raise RuntimeError("the ledger is away")

    waiting = _placed(user, (_physical(4999), 1), use_balance=False)  # never delivered
    monkeypatch.setattr(order_points, "points_order_settle", broken)
    order = _placed(user, (_physical(2999), 1), use_balance=False)
    with caplog.at_level(logging.ERROR):
        order = _delivered(order, staff)

    assert order.status == Order.Status.DELIVERED  # the delivery stands
    assert _earning(order) is None
    assert "points were not earned" in caplog.text

    monkeypatch.undo()
    assert order_points_earn_missed(now=order.delivered_at + 31 * DAY) == 0  # too old
    assert order_points_earn_missed() == 1
    assert order_points_earn_missed() == 0
    assert _earning(order).points == 35
    assert _earning(waiting) is None


def test_the_sweep_runs_in_the_worker(user, staff, monkeypatch, settings):
    import checkout.services.order_points as order_points

    settings.PERIODIC_TASKS = [("checkout.points_tasks.order_points_due", 3600)]
    monkeypatch.setattr(order_points, "points_order_settle", lambda **kwargs: None)
    order = _delivered(_placed(user, (_physical(5000), 1), use_balance=False), staff)
    monkeypatch.undo()
    assert _earning(order) is None

    out = io.StringIO()
    with _committed():
        call_command("run_schedule", "--once", stdout=out, stderr=out)

    assert "ran the queue: 1 succeeded, 0 failed" in out.getvalue()
    assert _earning(order).points == 50


# --- refunds ------------------------------------------------------------------------------


def test_refunds_take_points_back_in_proportion_while_pending(user, staff):
    order = _delivered(_placed(user, (_physical(10000), 1), use_balance=False), staff)
    assert _points(user) == (0, 100, 0)

    _refund(order, staff, card=2550)
    assert (_earning(order).kept, _points(user)) == (74, (0, 74, 0))  # floor(74.50)

    _refund(order, staff, card=7450)
    assert (_earning(order).kept, _points(user)) == (0, (0, 0, 0))
    assert order.status == Order.Status.REFUNDED
    # Nothing left to release: the release moves no points.
    assert points_release(now=order.delivered_at + 15 * DAY).points == 0
    assert _points(user) == (0, 0, 0)


def test_a_refund_after_release_takes_from_the_available_points(user, staff):
    order = _delivered(_placed(user, (_physical(10000), 1), use_balance=False), staff)
    points_release(now=order.delivered_at + 14 * DAY)

    _refund(order, staff, card=4000)

    assert _points(user) == (60, 0, 0)
    assert _earning(order).kept == 60


def test_a_refund_before_delivery_earns_on_the_net(user, staff):
    order = _placed(user, (_physical(5000), 2), use_balance=False)
    with _committed():
        order_ship(order_id=order.pk, carrier="DHL", tracking_number="JD1", by=staff)
    line = order.lines.get()
    with _committed():
        order_refund_units(
            order_id=order.pk,
            units={line.pk: 1},
            reason="one came back",
            idempotency_key=new_key(),
            by=staff,
        )
    assert _earning(order) is None  # a refund never earns

    with _committed():
        order_deliver(order_id=order.pk, by=staff)

    assert _earning(order).points == 50


def test_a_refund_of_the_balance_part_counts_credit_as_money(user, staff):
    fund(user, 3000)
    grant(user, 2000)
    order = _placed(user, (_physical(5000), 1), card="")  # 20.00 credit, 30.00 money
    _delivered(order, staff)
    assert _earning(order).points == 30

    _refund(order, staff, balance=2000)  # whichever part it was, 20.00 came back

    assert _earning(order).kept == 10


def test_a_refund_after_a_conversion_never_goes_below_zero(user, staff):
    order = _delivered(_placed(user, (_physical(60000), 1), use_balance=False), staff)
    points_release(now=order.delivered_at + 14 * DAY)
    points_convert(user=user, points=500, idempotency_key=new_key())
    assert _points(user) == (100, 0, 0)

    _refund(order, staff, card=60000)

    # 600 points taken back: the 100 left, and 500 owed (converted already).
    assert _points(user) == (0, 0, 500)
    shortfall = PointsShortfall.objects.get(user=user)
    assert (shortfall.reference, shortfall.owed) == (f"order:{order.number}", 500)
    assert Account.objects.get(user=user, kind=Account.Kind.CUSTOMER_POINTS).balance == 0

    # The next order's points pay the debt first, when they are released.
    nxt = _delivered(_placed(user, (_physical(70000), 1), use_balance=False), staff)
    assert _points(user) == (0, 700, 500)
    result = points_release(now=nxt.delivered_at + 14 * DAY)

    assert (result.earnings, result.points) == (1, 200)
    assert _points(user) == (200, 0, 0)


# --- the property -------------------------------------------------------------------------

PRICES = [2999, 15000, 45000, 99]
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("buy"),
            st.integers(0, len(PRICES) - 1),
            st.booleans(),  # physical (shipped, then delivered) or digital (delivered at once)
            st.booleans(),  # use the balance (credit, then gift card money) or card only
            st.integers(1, 2),  # units
        ),
        st.tuples(st.just("deliver"), st.integers(0, 5)),
        st.tuples(st.just("refund"), st.integers(0, 5), st.booleans(), st.integers(1, 100)),
        st.tuples(st.just("units"), st.integers(0, 5)),
        st.tuples(st.just("release"), st.integers(1, 20)),
        st.tuples(st.just("convert")),
    ),
    min_size=1,
    max_size=9,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_no_sequence_keeps_points_for_money_that_came_back(staff, steps):
    products = {}
    with transaction.atomic():
        try:
            _run_steps(staff, steps, products)
        finally:
            transaction.set_rollback(True)


def _run_steps(staff, steps, products):
    user = UserFactory()
    fund(user, 40000)
    grant(user, 5000)
    # Coins pay the digital lines first (they never earn).
    coins_credit(user=user, coins=2000, idempotency_key=new_key(), description="test coins")
    orders, converted, clock = [], 0, timezone.now()
    for step in steps:
        if step[0] == "buy":
            _, price, physical, use_balance, units = step
            key = (price, physical)
            if key not in products:
                make = _physical if physical else _digital
                products[key] = make(PRICES[price])
            orders.append(_placed(user, (products[key], units), use_balance=use_balance))
        elif step[0] == "deliver" and orders:
            order = orders[step[1] % len(orders)]
            order.refresh_from_db()
            if order.ships and order.shipped_at is None and order.status == "placed":
                _delivered(order, staff)
        elif step[0] == "refund" and orders:
            _, which, to_card, percent = step
            order = orders[which % len(orders)]
            order.refresh_from_db()
            left = order.card_left if to_card else order.balance_applied - order.balance_refunded
            if left:
                part = max(1, left * percent // 100)
                with contextlib.suppress(RefundRefused):  # refused: nothing written
                    _refund(order, staff, **({"card": part} if to_card else {"balance": part}))
        elif step[0] == "units" and orders:
            order = orders[step[1] % len(orders)]
            line = order.lines.get()
            if line.refunded_quantity < line.quantity:
                with contextlib.suppress(RefundRefused), _committed():
                    order_refund_units(
                        order_id=order.pk,
                        units={line.pk: 1},
                        reason="one came back",
                        idempotency_key=new_key(),
                        by=staff,
                    )
        elif step[0] == "release":
            clock += step[1] * DAY
            points_release(now=clock)
        elif step[0] == "convert" and points_balance_get(user=user).available >= 500:
            points_convert(user=user, points=500, idempotency_key=new_key())
            converted += 500
        _check(user, orders, converted)


def _check(user, orders, converted):
    """What the shopper holds of points, and has converted, less what they owe, is exactly
    what the money still paid for delivered goods earns: never more (never a negative
    balance either: the accounts' constraints refuse one)."""
    still_paid = 0
    for order in orders:
        order.refresh_from_db()
        if order.delivered_at is None or order.status == Order.Status.PAYMENT_FAILED:
            continue
        paid = order.total - order.credit_applied - order.coins_applied
        back = order.balance_refunded + order.card_refunded + order.card_withheld
        money = paid - back
        still_paid += points_earned(paid=money, currency=order.currency)
    balance = points_balance_get(user=user)
    held = balance.available + balance.pending + converted - balance.owed
    assert held <= still_paid
    assert held == still_paid
    assert min(balance.available, balance.pending, balance.owed) >= 0
