"""Coin packs (docs/interface.md §13): the demo's packs in every region, the /coins/ page and
its "Add to cart", and a pack paid by card crediting its coins to the wallet exactly once."""

import pytest
from django.test import Client

from catalog.demo import catalog_seed
from catalog.models import Price, Product
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import count_queries
from tests.wallet.units_given import coins_give

pytestmark = pytest.mark.django_db


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
