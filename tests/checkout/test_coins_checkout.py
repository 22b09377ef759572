"""Coins at checkout (docs/points.md, docs/interface.md §13): coins pay the digital lines first,
after their discounts, in whole coins; the balance (credit, then money) and the card pay the
rest; coin packs, like gift cards, are paid by card only; POST /checkout/coins/ turns them
off and on. State is built through the real services (coins through `coins_credit`)."""

import re
import uuid

import pytest
from django.test import Client

from catalog.models import Product
from checkout.exceptions import CardRequired, CheckoutChanged
from checkout.models import Order, OrderLine, Payment
from checkout.selectors import SESSION_USE_COINS
from checkout.services import order_coins as order_coins_module
from checkout.services import order_place
from checkout.services.card_payments import order_payment_fail
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.giftcard_buying import giftcard_cart_add
from tests.checkout.shopping import APPROVED, balance, cart_fill, fund, new_key, shop_state
from tests.wallet.pages import hook, hooks
from wallet.models import Account, AuditEntry, Transfer
from wallet.services import coins_credit, coins_spend

pytestmark = pytest.mark.django_db

CHECKOUT = "/checkout/"
COINS = "/checkout/coins/"
PLACE = "/checkout/place-order/"
CAPTURE_FAILS = "4000 0000 0000 0341"

# Per region: a lamp that ships, an app (digital), a pack of 500 coins, and the standard
# shipping of a cart below the region's free-from threshold (docs/interface.md §10). Lamp and
# app stay below it (US 42.98 of 50.00); with the pack they would reach it (US 51.98), but coin
# packs count for no free shipping, so the lamp still ships.
REGIONS = {
    "US": {"currency": "USD", "lamp": 2999, "app": 1299, "pack": 900, "shipping": 599},
    "GB": {"currency": "GBP", "lamp": 2399, "app": 999, "pack": 700, "shipping": 399},
    "FR": {"currency": "EUR", "lamp": 2799, "app": 1499, "pack": 475, "shipping": 490},
    "JP": {"currency": "JPY", "lamp": 4500, "app": 1200, "pack": 475, "shipping": 600},
}


def _prices(name: str) -> dict[str, int]:
    return {code: figures[name] for code, figures in REGIONS.items()}


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", kind=Product.Kind.PHYSICAL, prices=_prices("lamp"))


@pytest.fixture
def app(db):
    return ProductFactory(name="Star Game", kind=Product.Kind.DIGITAL, prices=_prices("app"))


@pytest.fixture
def pack(db):
    return ProductFactory(
        name="500 coins", kind=Product.Kind.COIN_PACK, coins=500, prices=_prices("pack")
    )


def coins_give(user, coins: int) -> None:
    """`coins` in the shopper's coins account, as a paid coin pack would credit them."""
    coins_credit(
        user=user,
        coins=coins,
        idempotency_key=f"test-coins:{uuid.uuid4().hex}",
        description="Coins for the test",
    )


def coins_of(user) -> int:
    """The shopper's coins, read straight from the ledger's account."""
    account = Account.objects.filter(user=user, kind=Account.Kind.CUSTOMER_COINS).first()
    return account.balance if account else 0


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _amounts(response) -> dict[str, int]:
    return {
        name: int(hook(response, f"order-{name}").attrs["data-amount-minor"])
        for name in ("subtotal", "shipping", "coins-applied", "balance-applied", "amount-due")
    }


def _form_fields(response) -> dict[str, str]:
    """The place-order form's hidden fields as the page rendered them."""
    html = response.content.decode()
    return {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in (
            "idempotency_key",
            "expected_total",
            "expected_amount_due",
            "expected_balance",
            "expected_coins",
        )
    }


def _place_from_page(client, *, card: str = APPROVED):
    fields = _form_fields(client.get(CHECKOUT))
    return client.post(PLACE, {**fields, "card_number": card}), fields


# --- a mixed cart splits exactly in every region's currency ---------------------------------


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_a_mixed_cart_splits_exactly_coins_on_digital_balance_then_card_on_the_rest(
    region, lamp, app, pack
):
    figures = REGIONS[region]
    user = UserFactory(region_id=region)
    fund(user, 1000)
    coins_give(user, 5000)
    cart_fill(user, (lamp, 1), (app, 1), (pack, 1))
    client = _client_for(user)
    app_part = figures["app"]
    goods = figures["lamp"] + figures["shipping"]
    card = goods - 1000 + figures["pack"]

    page = client.get(CHECKOUT)

    assert _amounts(page) == {
        "subtotal": figures["lamp"] + app_part + figures["pack"],
        "shipping": figures["shipping"],
        "coins-applied": app_part,
        "balance-applied": 1000,
        "amount-due": card,
    }
    assert hook(page, "order-coins-applied").attrs["data-coins"] == str(app_part)
    assert hook(page, "checkout-coins-balance").attrs["data-coins"] == "5000"
    assert hook(page, "coinpack-paid-by-card").attrs["data-amount-minor"] == str(figures["pack"])

    response, _ = _place_from_page(client)

    order = Order.objects.get(user=user)
    assert response.status_code == 302
    assert response.url == f"/orders/{order.number}/"
    assert order.currency == figures["currency"]
    assert (order.coins_applied, order.balance_applied, order.card_charged) == (
        app_part,
        1000,
        card,
    )
    assert order.subtotal + order.shipping - order.discount == app_part + 1000 + card
    lines = {line.product_id: line for line in OrderLine.objects.filter(order=order)}
    assert {pid: (line.coins, line.pack_coins) for pid, line in lines.items()} == {
        lamp.pk: (0, 0),
        app.pk: (app_part, 0),
        pack.pk: (0, 500),
    }
    # 1 coin = 1 minor unit in every currency today: 5,000 coins less the app's price.
    assert coins_of(user) == 5000 - app_part
    assert order.coins_transfer.kind == Transfer.Kind.COINS_SPEND
    assert order.coins_transfer.idempotency_key == f"order-coins:{order.idempotency_key}"
    assert order.coins_transfer.reference == f"order:{order.number}"
    assert balance(user) == 0


def test_the_summary_states_the_coins_part_in_coins_and_money(user, app):
    coins_give(user, 5000)
    cart_fill(user, (app, 1))

    row = hook(_client_for(user).get(CHECKOUT), "order-coins-applied")

    assert row.text == "\u22121,299 coins ($12.99)"


# --- the switch ---------------------------------------------------------------------------------


def test_turning_coins_off_pays_the_app_from_the_balance_and_card_then_on_again(user, app):
    fund(user, 500)
    coins_give(user, 5000)
    cart_fill(user, (app, 1))
    client = _client_for(user)

    off = client.post(COINS, {"use_coins": "off"}, follow=True)

    assert off.redirect_chain == [(CHECKOUT, 302)]
    assert "Your coins will not be used." in hook(off, "message").text
    assert client.session[SESSION_USE_COINS] is False
    assert "checked" not in hook(off, "use-coins").attrs
    amounts = _amounts(off)
    assert (amounts["coins-applied"], amounts["balance-applied"], amounts["amount-due"]) == (
        0,
        500,
        799,
    )
    _place_from_page(client)
    order = Order.objects.get()
    assert (order.coins_applied, order.balance_applied, order.card_charged) == (0, 500, 799)
    assert order.coins_transfer is None
    assert coins_of(user) == 5000

    cart_fill(user, (app, 1))
    on = client.post(COINS, {"use_coins": "on"}, follow=True)

    assert "Your coins will pay for digital items first." in [m.text for m in hooks(on, "message")]
    assert client.session[SESSION_USE_COINS] is True
    assert _amounts(on)["coins-applied"] == 1299
    assert _amounts(on)["amount-due"] == 0


@pytest.mark.parametrize("value", ["", "maybe", "OFF", "1"])
def test_a_bad_use_coins_value_is_refused_with_a_400_and_changes_nothing(user, app, value):
    coins_give(user, 5000)
    cart_fill(user, (app, 1))
    client = _client_for(user)
    before = shop_state()

    response = client.post(COINS, {"use_coins": value})

    assert response.status_code == 400
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "invalid"
    assert error.text == "Choose whether to use your coins: on or off."
    assert SESSION_USE_COINS not in client.session
    assert _amounts(response)["coins-applied"] == 1299  # still on, as before
    assert shop_state() == before


def test_the_coins_switch_needs_the_csrf_token_and_a_signed_in_shopper(user, app):
    cart_fill(user, (app, 1))
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(user)

    assert guarded.post(COINS, {"use_coins": "off"}).status_code == 403
    assert SESSION_USE_COINS not in guarded.session
    visitor = Client().post(COINS, {"use_coins": "off"})
    assert visitor.status_code == 302
    assert visitor.url.startswith("/accounts/login/")


def test_the_coins_part_shows_only_with_coins_or_a_digital_item(user, lamp, app):
    cart_fill(user, (lamp, 1))
    client = _client_for(user)

    assert hooks(client.get(CHECKOUT), "use-coins") == []
    assert hooks(client.get(CHECKOUT), "order-coins-applied") == []

    cart_fill(user, (app, 1))
    with_app = client.get(CHECKOUT)
    assert len(hooks(with_app, "use-coins")) == 1
    assert hook(with_app, "order-coins-applied").attrs["data-amount-minor"] == "0"


def test_an_app_paid_in_full_by_coins_needs_no_card_and_is_delivered(user, app):
    coins_give(user, 2000)
    cart_fill(user, (app, 1))
    client = _client_for(user)

    page = client.get(CHECKOUT)

    assert 'name="card_number"' not in page.content.decode()
    assert hook(page, "place-order").text == "Place order, paid with your coins"
    response, _ = _place_from_page(client, card="")
    order = Order.objects.get()
    assert response.url == f"/orders/{order.number}/"
    assert (order.coins_applied, order.balance_applied, order.card_charged) == (1299, 0, 0)
    assert order.status == Order.Status.DELIVERED
    assert not Payment.objects.filter(order=order).exists()
    assert coins_of(user) == 701


# --- not enough coins -----------------------------------------------------------------------


def test_coins_short_of_the_digital_lines_pay_them_in_the_carts_order(user, app):
    second = ProductFactory(name="Puzzle Pack", kind=Product.Kind.DIGITAL, prices={"US": 999})
    fund(user, 300)
    coins_give(user, 1500)
    cart_fill(user, (app, 1), (second, 1))

    order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)

    # 1,299 of the app and 201 of the puzzles by coins; 300 balance; the card the rest.
    assert (order.coins_applied, order.balance_applied, order.card_charged) == (1500, 300, 498)
    assert dict(OrderLine.objects.filter(order=order).values_list("product_id", "coins")) == {
        app.pk: 1299,
        second.pk: 201,
    }
    assert coins_of(user) == 0


# --- coin packs: card only -------------------------------------------------------------------


def test_a_coin_pack_needs_a_card_whatever_the_balance_and_coins_hold(user, pack):
    fund(user, 10_000)
    coins_give(user, 10_000)
    cart_fill(user, (pack, 2))
    before = shop_state()

    with pytest.raises(CardRequired) as refused:
        order_place(user=user, session={}, idempotency_key=new_key())

    assert str(refused.value) == (
        "Coin packs are paid by card, never from the balance, promotional credit or coins: "
        "enter a card number to pay $18.00 of coin packs."
    )
    assert refused.value.reason == "card_required"
    assert shop_state() == before


def test_a_coin_pack_is_charged_to_the_card_in_full(user, pack):
    fund(user, 10_000)
    coins_give(user, 10_000)
    cart_fill(user, (pack, 2))

    order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)

    assert (order.coins_applied, order.balance_applied, order.card_charged) == (0, 0, 1800)
    line = OrderLine.objects.get(order=order)
    assert (line.coins, line.pack_coins, line.is_digital) == (0, 1000, False)
    assert order.shipping_method == ""  # nothing ships
    assert (balance(user), coins_of(user)) == (10_000, 10_000)


def test_coins_never_pay_what_ships_gift_cards_or_coin_packs(user, lamp, pack):
    coins_give(user, 100_000)
    cart_fill(user, (lamp, 1), (pack, 1))
    giftcard_cart_add(user, amount=5000)
    client = _client_for(user)

    page = client.get(CHECKOUT)

    assert _amounts(page)["coins-applied"] == 0
    assert hook(page, "checkout-coins-balance").attrs["data-coins"] == "100000"
    _place_from_page(client)
    order = Order.objects.get()
    assert (order.coins_applied, order.coins_transfer) == (0, None)
    assert order.card_charged == 2999 + 599 + 900 + 5000
    assert set(OrderLine.objects.filter(order=order).values_list("coins", flat=True)) == {0}
    assert coins_of(user) == 100_000


# --- faults: a failed capture, coins spent elsewhere, a replayed form ------------------------


def test_a_failed_capture_gives_the_coins_back_once(
    user, app, lamp, django_capture_on_commit_callbacks
):
    coins_give(user, 5000)
    cart_fill(user, (app, 1), (lamp, 1))

    with django_capture_on_commit_callbacks(execute=True):
        order_place(user=user, session={}, idempotency_key=new_key(), card_number=CAPTURE_FAILS)

    order = Order.objects.get()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.coins_applied == 1299
    assert coins_of(user) == 5000
    returned = Transfer.objects.get(kind=Transfer.Kind.COINS_RETURN)
    assert returned.idempotency_key == f"order-coins-failed:{order.idempotency_key}"
    assert returned.reference == f"order:{order.number}"
    audit = AuditEntry.objects.get(action=AuditEntry.Action.PAYMENT_FAILED)
    assert audit.detail.endswith(", 1,299 coins to the coins")

    # Reported again (a retry of the failed capture): nothing more comes back.
    order_payment_fail(order_id=order.pk, authorization=None)
    assert coins_of(user) == 5000
    assert Transfer.objects.filter(kind=Transfer.Kind.COINS_RETURN).count() == 1


def test_coins_spent_in_another_tab_refuse_the_order_and_nothing_is_charged(user, app):
    coins_give(user, 1299)
    cart_fill(user, (app, 1))
    client = _client_for(user)
    fields = _form_fields(client.get(CHECKOUT))
    coins_spend(user=user, coins=1000, idempotency_key="elsewhere", description="Another tab")
    before = shop_state()

    response = client.post(PLACE, fields)

    assert hook(response, "form-error").attrs["data-reason"] == "changed"
    assert shop_state() == before


@pytest.mark.parametrize("switched", ["off", "on"])
def test_the_coins_switch_turned_in_another_tab_refuses_the_order_and_nothing_is_charged(
    user, app, switched
):
    """The card part stays the same (the balance pays what coins no longer do, or the other
    way round), so only the summary's balance and coins parts tell the form is stale."""
    coins_give(user, 501)
    fund(user, 2500)
    cart_fill(user, (app, 1))
    client = _client_for(user)
    if switched == "on":
        client.post(COINS, {"use_coins": "off"})
    fields = _form_fields(client.get(CHECKOUT))
    assert fields["expected_amount_due"] == "0"
    client.post(COINS, {"use_coins": switched})  # another tab
    before = shop_state()

    response = client.post(PLACE, fields)

    assert hook(response, "form-error").attrs["data-reason"] == "changed"
    assert shop_state() == before
    assert not Order.objects.exists()


def test_coins_gone_under_the_lock_refuse_the_order_changed_and_nothing_is_written(
    user, app, monkeypatch
):
    coins_give(user, 1299)
    cart_fill(user, (app, 1))
    real = order_coins_module.coins_spend

    def another_order_first(**kwargs):
        # Another order of the shopper spends the coins just before this one does.
        real(user=user, coins=500, idempotency_key="first", description="Another order")
        return real(**kwargs)

    monkeypatch.setattr(order_coins_module, "coins_spend", another_order_first)
    before = shop_state()

    with pytest.raises(CheckoutChanged, match="Your coins changed while you were paying"):
        order_place(user=user, session={}, idempotency_key=new_key())

    assert shop_state() == before
    assert coins_of(user) == 1299


def test_a_replayed_form_spends_the_coins_once(user, app, lamp):
    fund(user, 1000)
    coins_give(user, 5000)
    cart_fill(user, (app, 1), (lamp, 1))
    client = _client_for(user)
    fields = _form_fields(client.get(CHECKOUT))

    first = client.post(PLACE, {**fields, "card_number": APPROVED})
    again = client.post(PLACE, {**fields, "card_number": APPROVED})

    order = Order.objects.get()
    assert first.url == again.url == f"/orders/{order.number}/"
    assert coins_of(user) == 5000 - 1299
    assert Transfer.objects.filter(kind=Transfer.Kind.COINS_SPEND).count() == 1
    assert balance(user) == 0
