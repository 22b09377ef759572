"""Coin packs (docs/interface.md §13): the demo's packs in every region, the /coins/ page and
its "Add to cart", and a pack paid by card crediting its coins to the wallet exactly once."""

import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from catalog.demo import catalog_seed
from catalog.models import Price, Product
from checkout.exceptions import CardRequired
from checkout.models import Order
from checkout.payments import TestGateway
from checkout.services import paid
from checkout.services.coin_orders import (
    coins_credits_due,
    coins_credits_sweep,
    order_coins_credit,
)
from checkout.services.paid import order_paid
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.checkout.shopping import APPROVED, fund, order_make, shop_state
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import count_queries
from tests.wallet.units_given import coins_give
from wallet.models import Posting, Transfer
from wallet.unit_selectors import coins_balance_get

pytestmark = pytest.mark.django_db

CAPTURE_FAILS = TestGateway.CAPTURE_FAILS


def pack(slug: str, coins: int, bonus: int = 0, *, price: int) -> Product:
    """A coin pack priced `price` (same digits) in every region, as the demo prices them."""
    return ProductFactory(
        slug=slug,
        name=f"Coins, {coins}",
        category=CategoryFactory(slug="coins", name="Coins"),
        kind=Product.Kind.COIN_PACK,
        coins=coins,
        bonus_coins=bonus,
        prices=dict.fromkeys(["US", "GB", "FR", "DE", "JP"], price),
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_demo_sells_four_coin_packs_in_every_region_at_the_same_digits():
    catalog_seed()

    packs = Product.objects.filter(kind=Product.Kind.COIN_PACK, category__slug="coins")
    assert {p.slug: (p.coins, p.bonus_coins) for p in packs} == {
        "coins-500": (500, 0),
        "coins-1000": (1000, 0),
        "coins-2500": (2500, 0),
        "coins-5000": (5000, 500),
    }
    for region in ["US", "GB", "FR", "DE", "JP"]:
        prices = dict(
            Price.objects.filter(product__in=packs, region=region).values_list(
                "product__slug", "amount"
            )
        )
        # 4.75, 9.00, 21.25, 42.50 (JPY ¥475, ¥900, ¥2,125, ¥4,250).
        assert prices == {
            "coins-500": 475,
            "coins-1000": 900,
            "coins-2500": 2125,
            "coins-5000": 4250,
        }, region
    assert catalog_seed() == 0  # idempotent


def test_the_coins_page_lists_the_packs_with_bonus_price_and_saving():
    catalog_seed()
    user = UserFactory()
    coins_give(user, 120)

    response = signed_in(user).get("/coins/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    offers = hooks(response, "coin-pack")
    assert [o.attrs["data-slug"] for o in offers] == [
        "coins-500",
        "coins-1000",
        "coins-2500",
        "coins-5000",
    ]
    biggest = offers[-1].attrs
    assert (biggest["data-coins"], biggest["data-bonus-coins"]) == ("5000", "500")
    assert biggest["data-amount-minor"] == "4250"
    assert biggest["data-saving-minor"] == "1250"  # 5,500 coins pay $55.00
    assert [h.text for h in hooks(response, "coin-pack-price")] == [
        "$4.75",
        "$9.00",
        "$21.25",
        "$42.50",
    ]
    savings = [h.text for h in hooks(response, "coin-pack-saving")]
    assert savings[0].startswith("Save 5% per coin: $0.25 less than $5.00")
    assert savings[3].startswith("Save 22% per coin: $12.50 less than $55.00")
    assert "Bonus +500 coins" in hook(response, "coin-pack-bonus").text
    balance = hook(response, "coins-balance")
    assert balance.attrs["data-coins"] == "120"
    assert balance.text == "120 coins"
    assert len(hooks(response, "coin-pack-add")) == 4
    assert hook(response, "nav-coins").attrs["href"] == "/coins/"


def test_the_coins_page_prices_in_the_shoppers_currency():
    pack("coins-500", 500, price=475)

    response = signed_in(UserFactory(region_id="JP")).get("/coins/")

    assert hook(response, "coin-pack-price").text == "￥475"
    assert hook(response, "coins-balance").attrs["data-coins"] == "0"


def test_a_visitor_sees_the_packs_without_a_balance():
    pack("coins-500", 500, price=475)

    response = Client().get("/coins/")

    assert response.status_code == 200
    assert len(hooks(response, "coin-pack")) == 1
    assert hooks(response, "coins-balance") == []


def test_the_coins_page_counts_the_same_queries_with_more_packs():
    user = UserFactory()
    client = signed_in(user)
    pack("coins-500", 500, price=475)
    client.get("/coins/")  # the session and the user, read once before counting
    few = count_queries(lambda: client.get("/coins/"))
    pack("coins-1000", 1000, price=900)
    pack("coins-5000", 5000, 500, price=4250)
    coins_give(user, 500)

    assert count_queries(lambda: client.get("/coins/")) == few
    assert len(hooks(client.get("/coins/"), "coin-pack")) == 3


def test_add_to_cart_from_the_coins_page_puts_the_pack_in_the_cart():
    pack("coins-1000", 1000, price=900)
    user = UserFactory()
    client = signed_in(user)
    form = hook(client.get("/coins/"), "coin-pack-add")
    assert form is not None

    response = client.post("/cart/add/", {"product": "coins-1000", "quantity": "1"})

    assert response.status_code == 302
    cart = client.get("/cart/")
    line = hook(cart, "cart-line")
    assert (line.attrs["data-slug"], line.attrs["data-quantity"]) == ("coins-1000", "1")


# --- a pack paid: its coins credited once -----------------------------------------------------


def _coins(user) -> int:
    return coins_balance_get(user=user)


def test_a_pack_paid_by_card_credits_its_coins_and_bonus_once(django_capture_on_commit_callbacks):
    big = pack("coins-5000", 5000, 500, price=4250)
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        order = order_make(user, (big, 2), card=APPROVED)

    order.refresh_from_db()
    assert order.card_charged == 8500
    assert (order.balance_applied, order.coins_applied) == (0, 0)
    assert order.lines.get().pack_coins == 11000
    assert _coins(user) == 11000
    credit = Transfer.objects.get(idempotency_key=f"coins-pack:{order.number}")
    assert credit.kind == Transfer.Kind.COINS_PURCHASE
    assert credit.reference == f"order:{order.number}"

    # The hook again, the sweep, and the hook once more: nothing moves twice.
    postings = Posting.objects.count()
    assert order_coins_credit(order_id=order.pk) == 0
    assert coins_credits_due() == []
    assert coins_credits_sweep() == 0
    with django_capture_on_commit_callbacks(execute=True):
        order_paid(order_id=order.pk)
    assert _coins(user) == 11000
    assert Posting.objects.count() == postings
    (email,) = [m for m in mail.outbox if "coins" in m.subject]  # one, however often
    assert email.subject == "[Coinpurse] Your coins are in your wallet"
    assert email.to == [user.email]
    assert "11,000 coins" in email.body
    assert "/wallet/coins/" in email.body
    assert APPROVED not in email.body


def test_a_pack_is_not_credited_before_the_capture_nor_when_it_fails(
    django_capture_on_commit_callbacks,
):
    small = pack("coins-500", 500, price=475)
    user = UserFactory()

    order = order_make(user, (small, 1), card=APPROVED)  # authorised, not captured yet
    assert order_coins_credit(order_id=order.pk) == 0
    assert coins_credits_due() == []
    assert _coins(user) == 0

    with django_capture_on_commit_callbacks(execute=True):
        failed = order_make(user, (small, 1), card=CAPTURE_FAILS)
    failed.refresh_from_db()
    assert failed.status == Order.Status.PAYMENT_FAILED
    assert order_coins_credit(order_id=failed.pk) == 0
    assert _coins(user) == 0


def test_the_worker_sweep_credits_a_pack_whose_hook_failed(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.PERIODIC_TASKS = [("checkout.coin_tasks.coin_packs_due", 300)]
    small = pack("coins-500", 500, price=475)
    user = UserFactory()

    def down(**kwargs):
        raise RuntimeError("the ledger was busy")

    monkeypatch.setattr(paid, "order_coins_credit", down)  # logged by order_paid, not raised
    with django_capture_on_commit_callbacks(execute=True):
        order = order_make(user, (small, 1), card=APPROVED)
    monkeypatch.undo()
    assert _coins(user) == 0
    assert coins_credits_due() == [order.pk]

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_schedule", "--once", stdout=out, stderr=out)
        call_command("run_schedule", "--once", stdout=out, stderr=out)  # again: nothing more

    assert "ran the queue: 1 succeeded, 0 failed" in out.getvalue()
    assert _coins(user) == 500
    assert coins_credits_due() == []
    assert coins_credits_sweep() == 0


def test_a_pack_needs_a_card_never_the_balance_or_coins():
    small = pack("coins-500", 500, price=475)
    user = UserFactory()
    fund(user, 5000)
    coins_give(user, 1000)
    before = shop_state()

    with pytest.raises(CardRequired):
        order_make(user, (small, 1))

    after = shop_state()
    assert (after.ledger, after.orders, after.payments) == (
        before.ledger,
        before.orders,
        before.payments,
    )
    assert _coins(user) == 1000
