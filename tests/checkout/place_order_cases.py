"""The cases whose queries tests/checkout/test_place_order_queries.py counts (docs/interface.md
§10, "Queries"): each puts one kind of order in a US shopper's cart through the real services,
and `history_grow` gives the shop and the shopper more of everything a count could grow with.

    case = CASES["balance_card"]
    case.fill(user)                       # the cart, the balance, the code, as the case needs
    with counted() as queries:            # every statement, on-commit callbacks included
        ...
    queries.by_kind(), queries.by_code()  # grouped: verb and table; the code that sent it
"""

import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection
from django.test import TestCase

from catalog.models import Product
from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE
from checkout.services import order_place
from tests.checkout.factories import ProductFactory
from tests.checkout.giftcard_buying import giftcard_cart_add
from tests.checkout.shopping import APPROVED, cart_fill, fund, new_key
from tests.promotions.factories import automatic_promotion, promotion_with_code
from tests.wallet.credit_factories import grant
from wallet.selectors import wallet_balance_get
from wallet.services import coins_credit
from wallet.unit_selectors import coins_balance_get
from wallet.units import coins_for_value

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
CODE = "SAVE10NOW"
_keys = itertools.count(1)


def products() -> dict[str, Product]:
    """The case's products (made once per test database): a lamp that ships, an app, a pack
    of 500 coins."""
    made = {p.slug: p for p in Product.objects.filter(slug__startswith="q-")}
    if not made:
        made = {
            "q-lamp": ProductFactory(
                slug="q-lamp", name="Desk Lamp", kind=Product.Kind.PHYSICAL, prices={"US": 2999}
            ),
            "q-app": ProductFactory(
                slug="q-app", name="Star Game", kind=Product.Kind.DIGITAL, prices={"US": 1299}
            ),
            "q-pack": ProductFactory(
                slug="q-pack",
                name="500 coins",
                kind=Product.Kind.COIN_PACK,
                coins=500,
                prices={"US": 900},
            ),
        }
        promotion_with_code(CODE, percent=10)
    return made


def coins_give(user, coins: int) -> None:
    coins_credit(
        user=user,
        coins=coins,
        idempotency_key=f"q-coins:{uuid.uuid4().hex}",
        description="Coins for the test",
    )


@dataclass(frozen=True)
class Case:
    """`fill(user)` readies the cart (and the balance, coins, credit: from none, what an
    earlier case left is spent first) and returns the session's keys (the balance switch, a
    code typed); `card`: the card number the shopper types."""

    ready: Callable[[object], dict]
    card: str = APPROVED

    def fill(self, user) -> dict:
        drain(user)
        return self.ready(user)


def _lamp(user, *more) -> None:
    cart_fill(user, (products()["q-lamp"], 1), *more)


def _card_only(user) -> dict:
    _lamp(user)
    return {SESSION_USE_BALANCE: False}


# The lamp and its standard shipping in the US (below the free-shipping threshold).
LAMP_SHIPPED = 2999 + 599


def _balance_all(user) -> dict:
    fund(user, LAMP_SHIPPED)
    _lamp(user)
    return {}


def _balance_all_digital(user) -> dict:
    fund(user, 1299)
    cart_fill(user, (products()["q-app"], 1))
    return {}


def _balance_card(user) -> dict:
    fund(user, 1000)
    _lamp(user)
    return {}


def _code_and_credit(user) -> dict:
    products()
    grant(user, 500)
    _lamp(user)
    return {SESSION_PROMO_CODES: [CODE]}


def _gift_card(user) -> dict:
    giftcard_cart_add(user, amount=5000)
    return {}


def _coins(user) -> dict:
    coins_give(user, coins_for_value(value=1299, currency="USD"))
    cart_fill(user, (products()["q-app"], 1))
    _lamp(user)
    return {SESSION_USE_BALANCE: False}


def _coin_pack(user) -> dict:
    cart_fill(user, (products()["q-pack"], 1))
    return {}


CASES = {
    "card_only": Case(_card_only),
    "balance_all": Case(_balance_all, card=""),
    "balance_all_digital": Case(_balance_all_digital, card=""),
    "balance_card": Case(_balance_card),
    "code_and_credit": Case(_code_and_credit),
    "gift_card": Case(_gift_card),
    "coins": Case(_coins),
    "coin_pack": Case(_coin_pack),
}


def place(user, session: dict, card: str):
    """`order_place` as the page calls it, its on-commit work (capture, hooks) run after."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return order_place(user=user, session=session, idempotency_key=new_key(), card_number=card)


def history_grow(user, *, rounds: int = 1) -> None:
    """More of what a count could grow with: past orders of the shopper (one of each case a
    round), more wallet rows (gift cards redeemed, credit lots, coins), more products and
    promotions that do not apply to the cases' carts. Ends with the shopper's balance and
    coins spent (`drain`): each case then starts from the same figures, with more behind them."""
    for _ in range(rounds):
        for case in CASES.values():
            session = {SESSION_USE_BALANCE: True, **case.fill(user)}
            place(user, session, case.card)
        for _ in range(3):
            fund(user, 100)
            grant(user, 100, key=f"q-history:{next(_keys)}")
            coins_give(user, 100)
        for n in range(5):
            ProductFactory(slug=f"q-more-{next(_keys)}-{n}", kind=Product.Kind.PHYSICAL)
        other = ProductFactory(slug=f"q-other-{next(_keys)}", prices={"US": 100})
        automatic_promotion(target="items", products=[other], percent=15)
        promotion_with_code(f"OTHER{next(_keys)}", percent=5, products=[other], target="items")
    drain(user)


def drain(user) -> None:
    """Spend the shopper's whole balance (credit, money) and coins in orders paid by card."""
    made = products()
    for _ in range(10):
        held = wallet_balance_get(user=user).amount
        coins = coins_balance_get(user=user)
        if not held and not coins:
            return
        apps = 99 if coins else 1
        lamps = min(99, 1 + held // 2999)
        cart_fill(user, (made["q-app"], apps), (made["q-lamp"], lamps))
        place(user, {SESSION_USE_BALANCE: True}, APPROVED)
    raise AssertionError("the balance or coins could not be spent")


# --- counting ---------------------------------------------------------------------------


class Counted:
    """Every statement sent inside `counted()`: its SQL and the innermost frame of the
    project's own code that sent it (not Django's, not the tests')."""

    def __init__(self):
        self.queries: list[tuple[str, str]] = []

    def __call__(self, execute, sql, params, many, context):
        self.queries.append((sql, _where()))
        return execute(sql, params, many, context)

    def __len__(self):
        return len(self.queries)

    @property
    def statements(self) -> int:
        """Every statement but transaction control and savepoints."""
        return sum(1 for sql, _ in self.queries if _kind(sql) not in _CONTROL)

    @property
    def savepoints(self) -> int:
        return sum(1 for sql, _ in self.queries if _kind(sql) == "SAVEPOINT")

    def by_kind(self) -> Counter:
        return Counter(_kind(sql) for sql, _ in self.queries)

    def by_code(self) -> Counter:
        return Counter(f"{_kind(sql)} ← {where}" for sql, where in self.queries)

    def report(self) -> str:
        lines = [f"{len(self)} queries:"]
        lines += [f"  {n:3}  {what}" for what, n in sorted(self.by_code().items())]
        return "\n".join(lines)


@contextmanager
def counted():
    counter = Counted()
    with connection.execute_wrapper(counter):
        yield counter


def _where() -> str:
    """The project's own code (not Django's, not the tests') that sent the statement."""
    from bench._measure import code_location

    return code_location(skip="tests")[1]


def _kind(sql: str) -> str:
    # The statement's verb and main table, as the benchmarks group them.
    from bench._measure import statement_kind

    return statement_kind(sql)
