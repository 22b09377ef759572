"""Refunds and coins (docs/points.md, "Refunds"): what coins paid goes back as coins, the
line's coins share first, exactly over all its units; a cancellation returns every coin left;
a refunded coin pack takes its coins back, or is refused when the shopper spent them."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from catalog.models import Product
from checkout.exceptions import RefundRefused
from checkout.models import Order, OrderGiftCard, Refund
from checkout.services import order_cancel, order_refund, order_refund_units
from checkout.services.refund_units import order_refund_units_preview
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.checkout.giftcard_buying import giftcard_fields, giftcard_order_make
from tests.checkout.shopping import APPROVED, balance, fund, new_key, order_make, shop_state
from tests.wallet.units_given import coins_give
from wallet.models import Transfer
from wallet.unit_selectors import coins_balance_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunder(db):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["refund_order", "view_order"])
    )
    return staff


@pytest.fixture
def app(db):
    return ProductFactory(name="Puzzle Quest", prices={"US": 999, "JP": 1500})


@pytest.fixture
def pack(db):
    return ProductFactory(
        slug="coins-500",
        name="Coins, 500",
        category=CategoryFactory(slug="coins", name="Coins"),
        kind=Product.Kind.COIN_PACK,
        coins=500,
        prices={"US": 475, "JP": 475},
    )


@pytest.fixture
def paid(django_capture_on_commit_callbacks):
    """Place an order and run what follows its commit (the capture, `order_paid`)."""

    def place(user, *lines, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            order = order_make(user, *lines, **kwargs)
        order.refresh_from_db()
        return order

    return place


def coins(user) -> int:
    return coins_balance_get(user=user)


def refund(order, by, *, coins_part=0, balance_part=0, card_part=0, key=None):
    return order_refund(
        order_id=order.pk,
        from_balance=balance_part,
        from_card=card_part,
        from_coins=coins_part,
        card_to_balance=False,
        reason="customer asked",
        idempotency_key=key or new_key(),
        by=by,
    )


def units(order, by, lines: dict, *, key=None):
    return order_refund_units(
        order_id=order.pk, units=lines, reason="returned", idempotency_key=key or new_key(), by=by
    )


# --- refunds by amounts ----------------------------------------------------------------------


def test_an_amount_refund_of_the_coins_part_returns_coins_once(user, app, refunder, paid):
    coins_give(user, 1000)
    order = paid(user, (app, 1))
    assert (order.coins_applied, order.card_charged) == (999, 0)
    assert coins(user) == 1

    key = new_key()
    first = refund(order, refunder, coins_part=500, key=key)
    again = refund(order, refunder, coins_part=500, key=key)

    assert again.pk == first.pk
    assert (first.from_coins, first.from_balance, first.from_card) == (500, 0, 0)
    assert first.coins_transfer.kind == Transfer.Kind.COINS_RETURN
    assert first.coins_transfer.idempotency_key == f"refund-coins:{key}"
    assert coins(user) == 501
    order.refresh_from_db()
    assert order.coins_refunded == 500
    assert order.status == Order.Status.PARTIALLY_REFUNDED

    refund(order, refunder, coins_part=499)
    order.refresh_from_db()
    assert (order.coins_refunded, order.status) == (999, Order.Status.REFUNDED)
    assert coins(user) == 1000


def test_a_refund_of_more_coins_than_are_left_is_refused_and_writes_nothing(
    user, app, refunder, paid
):
    coins_give(user, 1000)
    order = paid(user, (app, 1))
    refund(order, refunder, coins_part=900)
    before = shop_state()

    with pytest.raises(RefundRefused, match="more than is left to refund of the coins part"):
        refund(order, refunder, coins_part=100)

    assert shop_state() == before


def test_a_replay_with_another_coins_part_is_a_conflict(user, app, refunder, paid):
    coins_give(user, 1000)
    order = paid(user, (app, 1))
    key = new_key()
    refund(order, refunder, coins_part=100, key=key)
    before = shop_state()

    with pytest.raises(RefundRefused) as refused:
        refund(order, refunder, coins_part=200, key=key)

    assert refused.value.reason == "conflict"
    assert shop_state() == before


# --- refunds of units ------------------------------------------------------------------------


def test_a_unit_refund_of_a_line_coins_paid_in_part_returns_its_coins_share_first(
    user, app, refunder, paid
):
    coins_give(user, 1000)
    order = paid(user, (app, 3), card=APPROVED)  # $29.97: 1,000 coins and $19.97 by card
    line = order.lines.get()
    assert (line.coins, order.coins_applied, order.card_charged) == (1000, 1000, 1997)
    assert coins(user) == 0

    preview = order_refund_units_preview(order=order, units={line.pk: 1})
    first = units(order, refunder, {line.pk: 1})

    # One unit of three: floor(1000 * 1 / 3) = 333 coins, the rest of its $9.99 by card.
    assert (preview.from_coins, preview.from_card) == (333, 666)
    assert (first.from_coins, first.from_card, first.from_balance) == (333, 666, 0)
    assert coins(user) == 333

    order.refresh_from_db()
    second = units(order, refunder, {line.pk: 2})

    # The rest of the line: exactly the coins left (1000 - 333), the card the rest.
    assert (second.from_coins, second.from_card) == (667, 1331)
    order.refresh_from_db()
    assert (order.coins_refunded, order.card_refunded) == (1000, 1997)
    assert order.status == Order.Status.REFUNDED
    assert coins(user) == 1000


def test_coins_share_then_card_then_balance(user, app, refunder, paid):
    coins_give(user, 500)
    fund(user, 300)
    order = paid(user, (app, 2), card=APPROVED)  # $19.98: 500 coins, $3.00 balance, rest card
    assert (order.coins_applied, order.balance_applied, order.card_charged) == (500, 300, 1198)
    line = order.lines.get()

    first = units(order, refunder, {line.pk: 1})

    assert (first.from_coins, first.from_card, first.from_balance) == (250, 749, 0)
    order.refresh_from_db()
    second = units(order, refunder, {line.pk: 1})
    assert (second.from_coins, second.from_card, second.from_balance) == (250, 449, 300)
    assert coins(user) == 500
    assert balance(user) == 300


def test_cancelling_returns_every_coin_left(user, app, refunder, paid):
    book = ProductFactory(name="Book", kind=Product.Kind.PHYSICAL, prices={"US": 2000})
    coins_give(user, 800)
    order = paid(user, (app, 1), (book, 1), card=APPROVED)
    assert order.coins_applied == 800
    refund(order, refunder, coins_part=300)
    order.refresh_from_db()

    cancelled = order_cancel(
        order_id=order.pk, reason="changed mind", idempotency_key=new_key(), by=refunder
    )

    assert cancelled.from_coins == 500
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.coins_refunded == 800
    assert order.card_refunded == order.card_charged
    assert coins(user) == 800


# --- coin packs -----------------------------------------------------------------------------


def test_a_refunded_pack_takes_its_coins_back(user, pack, refunder, paid):
    order = paid(user, (pack, 2), card=APPROVED)
    assert coins(user) == 1000
    line = order.lines.get()

    key = new_key()
    refunded = units(order, refunder, {line.pk: 1}, key=key)

    assert (refunded.from_card, refunded.from_coins) == (475, 0)
    taken = Transfer.objects.get(idempotency_key=f"refund-pack:{key}")
    assert taken.kind == Transfer.Kind.COINS_REVERSAL
    assert coins(user) == 500
    assert units(order, refunder, {line.pk: 1}, key=key).pk == refunded.pk  # a replay
    assert coins(user) == 500


def test_a_pack_whose_coins_were_spent_is_refused_and_nothing_is_written(
    user, pack, app, refunder, paid
):
    order = paid(user, (pack, 1), card=APPROVED)
    paid(user, (app, 1), card=APPROVED)  # 500 coins pay for $5.00 of the app
    assert coins(user) == 0
    line = order.lines.get()
    before = shop_state()

    with pytest.raises(RefundRefused) as refused:
        units(order, refunder, {line.pk: 1})

    assert refused.value.reason == "coins_spent"
    assert shop_state() == before


def test_refunding_the_app_and_the_pack_together_returns_then_takes_back(
    user, pack, app, refunder, paid
):
    order = paid(user, (pack, 1), card=APPROVED)
    spent = paid(user, (app, 1), card=APPROVED)
    refund(spent, refunder, coins_part=500)  # the app's coins come back

    units(order, refunder, {order.lines.get().pk: 1})

    assert coins(user) == 0


def test_an_amount_refund_reaching_into_a_pack_must_be_everything_left(
    user, pack, app, refunder, paid
):
    order = paid(user, (pack, 1), (app, 1), card=APPROVED, use_balance=False)
    assert order.card_charged == 475 + 999
    before = shop_state()

    with pytest.raises(RefundRefused) as refused:
        refund(order, refunder, card_part=1000)
    assert refused.value.reason == "coin_pack_by_line"
    assert shop_state() == before

    everything = refund(order, refunder, card_part=order.card_left)

    assert everything.from_card == 1474
    assert coins(user) == 0
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    # The pack's units count as returned (an amount refund names no other line's units).
    assert order.lines.get(product=pack).refunded_quantity == 1
    assert Refund.objects.filter(order=order).get().units == {
        str(order.lines.get(product=pack).pk): 1
    }


def test_cancelling_an_order_with_a_pack_takes_its_coins_back(user, pack, refunder, paid):
    book = ProductFactory(name="Book", kind=Product.Kind.PHYSICAL, prices={"US": 2000})
    order = paid(user, (pack, 3), (book, 1), card=APPROVED)
    assert coins(user) == 1500
    units(order, refunder, {order.lines.get(product=pack).pk: 1})
    assert coins(user) == 1000

    order_cancel(order_id=order.pk, reason="fraud", idempotency_key=new_key(), by=refunder)

    assert coins(user) == 0
    order.refresh_from_db()
    assert (order.status, order.card_refunded) == (Order.Status.CANCELLED, order.card_charged)


# --- the admin's refund form ----------------------------------------------------------------


def test_the_admin_refund_form_refunds_the_coins_part(user, app, refunder, paid):
    coins_give(user, 1000)
    order = paid(user, (app, 1))
    client = login_staff(Client(), refunder)
    url = f"/admin/checkout/order/{order.pk}/refund/"

    form = client.get(url).content.decode()
    assert 'name="from_coins"' in form
    assert "$9.99</strong> of the part paid by coins" in form
    data = {
        "from_balance": "",
        "from_card": "",
        "from_coins": "4.00",
        "reason": "Did not start",
        "idempotency_key": new_key(),
    }
    confirm = client.post(url, data).content.decode()
    assert "Refund $4.00 of the coins part (back as coins) of order" in confirm
    assert coins(user) == 1  # nothing posted before the confirmation

    response = client.post(url, data | {"confirm": "Confirm"}, follow=True)

    assert (
        f"Refund of order {order.number} posted: $4.00 of the coins part (back as coins). "
        "Left to refund: $0.00 of the balance part, $0.00 of the card part, $5.99 of the "
        "coins part."
    ) in response.content.decode()
    assert coins(user) == 401
    assert Refund.objects.get().from_coins == 400


def test_the_admin_refuses_more_coins_than_are_left_and_writes_nothing(user, app, refunder, paid):
    coins_give(user, 1000)
    order = paid(user, (app, 1))
    client = login_staff(Client(), refunder)
    before = shop_state()

    response = client.post(
        f"/admin/checkout/order/{order.pk}/refund/",
        {"from_coins": "10.00", "reason": "x", "idempotency_key": new_key()},
    )

    assert "That is more than is left to refund of the coins part." in response.content.decode()
    assert shop_state() == before


def test_the_admin_form_asks_no_coins_of_an_order_coins_did_not_pay(user, app, refunder, paid):
    order = paid(user, (app, 1), card=APPROVED)

    form = login_staff(Client(), refunder).get(f"/admin/checkout/order/{order.pk}/refund/")

    assert 'name="from_coins"' not in form.content.decode()


def test_everything_left_of_an_order_with_a_gift_card_and_a_pack_refunds_both(user, pack, refunder):
    order = giftcard_order_make(user, giftcard_fields(amount=2500), lines=[(pack, 1)])
    assert order.card_charged == 2500 + 475
    assert coins(user) == 500

    everything = refund(order, refunder, card_part=order.card_left)

    gift_line = order.lines.exclude(product=pack).get()
    pack_line = order.lines.get(product=pack)
    assert everything.units == {str(gift_line.pk): 1, str(pack_line.pk): 1}
    assert everything.from_card == 2975
    assert coins(user) == 0
    assert OrderGiftCard.objects.get(order=order).status == OrderGiftCard.Status.REFUNDED


def test_the_admin_units_refund_names_the_coins_part_before_it_is_posted(user, app, refunder, paid):
    coins_give(user, 1000)
    order = paid(user, (app, 1))
    line = order.lines.get()
    client = login_staff(Client(), refunder)
    url = f"/admin/checkout/order/{order.pk}/refund-units/"
    key = client.get(url).context["form"].initial["idempotency_key"]
    data = {f"line_{line.pk}": "1", "reason": "Did not start", "idempotency_key": key}

    confirm = client.post(url, data).content.decode()

    assert "$9.99 of the coins part (as 999 coins) goes back?" in confirm
    assert coins(user) == 1  # nothing posted before the confirmation
    client.post(url, data | {"confirm": "Confirm"})
    assert coins(user) == 1000
    assert Refund.objects.get().amount == 999
