"""Race tests for promotion usage (docs/interface.md §11), on PostgreSQL with real threads.

Each test starts 20 threads, releases them together with a `threading.Barrier` and asserts the
outcome exactly, two rounds each (ROUNDS). SQLite ignores `select_for_update`, so these tests prove
nothing there: they FAIL (never skip) on any other database.

    (a) 20 shoppers place orders at once with LIMITED1 (usable once in total), each with the
        figures the page showed them                     → 1 order discounted, 19 `changed`
    (b) one shopper, 20 tabs, WELCOME10 (once per shopper) → 1 order with it; and 20 claims
        of it for one shopper without the cart lock     → 1, the constraint refuses 19
    (c) a 100.00 budget, 20 orders of 15.00 off (service calls, no figures)
                                                        → six of 15.00, one trimmed to 10.00,
                                                          exactly 100.00 given
    (d) releases under concurrency: 20 releases of one order → released once; 10 orders
        released twice each while 10 shoppers claim     → the counts never below zero and
                                                          equal to the uses standing
    (e) 20 staff refund one unit each of a 3-unit order  → 3 refunds, together what was paid

Run: `scripts/test-services.sh .venv/bin/pytest tests/promotions/test_races.py -q`.

`serialized_rollback=True`: a transactional test ends by emptying every table, regions (a data
migration) included; Django restores the post-migration rows before each of these tests.
"""

import functools
from collections import Counter

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction

from accounts.models import User
from checkout.exceptions import CheckoutChanged, EmptyCart, RefundRefused
from checkout.models import Order
from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE, checkout_quote_get
from checkout.services import cart_add, order_place, order_refund_units
from promotions.engine import AppliedPromotion
from promotions.exceptions import PromotionNoLongerApplies
from promotions.models import Promotion, PromotionAmount, PromotionRedemption
from promotions.services import promotion_redemptions_claim, promotion_redemptions_release
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.promotions.factories import automatic_promotion, promotion_with_code
from tests.wallet.test_races import Outcome, run_together
from wallet.models import Account
from wallet.reconcile import ledger_reconcile
from wallet.services import system_account_get_or_create, wallet_credit

THREADS = 20
ROUNDS = range(1, 3)  # each race twice over (make test stays well under its time)
PRICE = 5000  # 50.00, a digital product: nothing ships, the figures are the item's own

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def product():
    return ProductFactory(prices={"US": PRICE})


def shopper(product, *, balance: int = 10_000, quantity: int = 1) -> User:
    """A US shopper with `balance` on the wallet and `product` in the saved cart. The shop's
    purchases account exists before the race, so threads meet on the row locks."""
    user = UserFactory(region_id="US")
    wallet_credit(user=user, amount=balance, idempotency_key=f"fund:{user.pk}", description="fund")
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")
    cart_add(user=user, session={}, slug=product.slug, quantity=quantity)
    return user


def own_copy(user: User) -> User:
    return User.objects.select_related("region").get(pk=user.pk)


def session_with(*codes) -> dict:
    return {SESSION_PROMO_CODES: list(codes), SESSION_USE_BALANCE: True}


def place_call(user: User, *, key: str, codes=(), agreed: bool):
    """One tab's place-order: with the figures its summary showed (`agreed`, as the page
    always sends them, priced before the race), or as a service call without them."""
    figures = {}
    if agreed:
        quote = checkout_quote_get(user=own_copy(user), session=session_with(*codes))
        figures = {"expected_total": quote.total, "expected_amount_due": quote.amount_due}
    return functools.partial(
        order_place,
        user=own_copy(user),
        session=session_with(*codes),
        idempotency_key=key,
        **figures,
    )


def split(outcomes: list[Outcome]) -> tuple[list, Counter]:
    return (
        [o.value for o in outcomes if o.error is None],
        Counter(type(o.error).__name__ for o in outcomes if o.error is not None),
    )


def assert_usage_consistent(promotion: Promotion) -> None:
    """The promotion's counters equal the uses standing: no update lost, none below zero."""
    promotion.refresh_from_db()
    standing = PromotionRedemption.objects.filter(promotion=promotion, released_at__isnull=True)
    assert promotion.uses_count == standing.count()
    assert promotion.uses_count >= 0
    for row in PromotionAmount.objects.filter(promotion=promotion, budget__isnull=False):
        assert row.budget_used == sum(r.amount for r in standing if r.currency == row.currency)
        assert 0 <= row.budget_used <= row.budget


def assert_ledger_clean() -> None:
    report = ledger_reconcile()
    assert report.clean, report


# (a) LIMITED1: usable once in total ---------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_shoppers_with_limited1_exactly_one_order_is_discounted(round_, product):
    limited = promotion_with_code("LIMITED1", percent=15, total_limit=1, regions=["US"])
    shoppers = [shopper(product) for _ in range(THREADS)]
    calls = [
        place_call(user, key=f"limited-{round_}-{i}", codes=["LIMITED1"], agreed=True)
        for i, user in enumerate(shoppers)
    ]

    orders, refused = split(run_together(calls))

    # The one that got the use is placed with it; every other tab had agreed to the
    # discounted figures, so it is refused `changed` (nothing charged), never placed dearer.
    assert len(orders) == 1, refused
    assert refused == Counter({CheckoutChanged.__name__: THREADS - 1})
    (order,) = orders
    assert (order.discount, order.total, order.balance_applied) == (750, 4250, 4250)
    redemption = PromotionRedemption.objects.get()
    assert (redemption.promotion_id, redemption.order_number, redemption.amount) == (
        limited.pk,
        order.number,
        750,
    )
    assert Order.objects.count() == 1
    assert_usage_consistent(limited)
    assert limited.uses_count == 1
    assert_ledger_clean()


# (b) WELCOME10: once per shopper ------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_one_shopper_twenty_tabs_with_welcome10_exactly_one_use(round_, product):
    welcome = promotion_with_code("WELCOME10", percent=10, per_shopper_limit=1)
    user = shopper(product)
    calls = [
        place_call(user, key=f"welcome-{round_}-{i}", codes=["WELCOME10"], agreed=True)
        for i in range(THREADS)
    ]

    orders, refused = split(run_together(calls))

    assert len(orders) == 1, refused
    assert sum(refused.values()) == THREADS - 1
    # The tabs queue on the cart: the later ones find it emptied (or priced otherwise).
    assert set(refused) <= {CheckoutChanged.__name__, EmptyCart.__name__}, refused
    (order,) = orders
    assert order.discount == 500
    assert PromotionRedemption.objects.get().order_number == order.number
    assert_usage_consistent(welcome)
    assert welcome.uses_count == 1
    assert_ledger_clean()


def _claim_alone(user: User, promotion: Promotion, number: str):
    """One claim of `promotion` in a transaction of its own, without the cart lock that
    `order_place` holds: only the locks and the constraint stand between the claims."""
    applied = AppliedPromotion(
        promotion_id=promotion.pk,
        slug=promotion.slug,
        code=promotion.code,
        code_id=None,
        label=promotion.code,
        amount=100,
        unit_allocations={1: (100,)},
    )

    def call():
        with transaction.atomic():
            return promotion_redemptions_claim(
                user=own_copy(user),
                order_number=number,
                currency="USD",
                applied=[applied],
                specs=[],
            )

    return call


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_claims_of_a_once_per_shopper_promotion_without_the_cart_lock(round_, product):
    """The per-shopper count is read under the cart lock; without it, every claim reads 0 —
    and the once-per-shopper constraint still lets exactly one through."""
    welcome = promotion_with_code("WELCOME10", percent=10, per_shopper_limit=1)
    user = UserFactory(region_id="US")

    outcomes = run_together(
        [_claim_alone(user, welcome, f"CP-R{round_}T{i:02d}") for i in range(THREADS)]
    )

    claimed, refused = split(outcomes)
    assert len(claimed) == 1
    assert refused == Counter({PromotionNoLongerApplies.__name__: THREADS - 1})
    assert PromotionRedemption.objects.filter(promotion=welcome, user=user).count() == 1
    assert_usage_consistent(welcome)
    assert welcome.uses_count == 1


# (c) a budget trims the last use ------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_100_budget_with_twenty_orders_of_15_off_gives_exactly_100(round_, product):
    offer = automatic_promotion(kind="fixed", amount_off=1500, budget=10_000)
    shoppers = [shopper(product) for _ in range(THREADS)]
    calls = [
        place_call(user, key=f"budget-{round_}-{i}", agreed=False)
        for i, user in enumerate(shoppers)
    ]

    orders, refused = split(run_together(calls))

    # Service calls (no figures agreed): a use the budget pays in part is trimmed and the rest
    # paid from the balance; a tab whose offer vanished under the lock is `changed`; one that
    # was priced after the budget was gone is placed at full price.
    assert set(refused) <= {CheckoutChanged.__name__}, refused
    assert len(orders) + refused[CheckoutChanged.__name__] == THREADS
    amounts = sorted(PromotionRedemption.objects.values_list("amount", flat=True))
    assert amounts == [1000] + [1500] * 6  # the last use trimmed to what was left
    assert sum(amounts) == 10_000
    discounted = sorted(o.discount for o in orders if o.discount)
    assert discounted == amounts
    for order in orders:  # paid in full, from the balance, never more than it had
        assert order.balance_applied == PRICE - order.discount
        assert order.card_charged == 0
    print(  # the figures of the round, for the report (pytest -s)
        f"budget round {round_}: {len(discounted)} discounted, "
        f"{len(orders) - len(discounted)} placed at full price, "
        f"{refused[CheckoutChanged.__name__]} changed"
    )
    trimmed = next(o for o in orders if o.discount == 1000)
    assert trimmed.lines.get().unit_discounts == [1000]
    assert PromotionAmount.objects.get(promotion=offer).budget_used == 10_000
    assert_usage_consistent(offer)
    assert_ledger_clean()


# (d) releases under concurrency -------------------------------------------------------------


def _placed_with(promotion_code: str, product, n: int) -> list[Order]:
    orders = []
    for i in range(n):
        user = shopper(product)
        orders.append(
            order_place(
                user=own_copy(user),
                session=session_with(promotion_code),
                idempotency_key=f"setup-{user.pk}-{i}",
            )
        )
    return orders


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_releases_of_one_order_release_it_once(round_, product):
    save = promotion_with_code("SAVE5", kind="fixed", amount_off=500, total_limit=3, budget=5000)
    (order,) = _placed_with("SAVE5", product, 1)

    outcomes = run_together(
        [
            functools.partial(promotion_redemptions_release, order_number=order.number)
            for _ in range(THREADS)
        ]
    )

    released, refused = split(outcomes)
    assert refused == Counter()
    assert sorted(len(r) for r in released) == [0] * (THREADS - 1) + [1]
    assert_usage_consistent(save)
    assert save.uses_count == 0
    assert PromotionAmount.objects.get(promotion=save).budget_used == 0


@pytest.mark.parametrize("round_", ROUNDS)
def test_releases_and_claims_at_once_keep_the_counts_exact(round_, product):
    """10 orders hold all 10 uses; each is released twice while 10 new shoppers try to use
    the code: every release happens once, and a new order gets a use only once one was
    given back — the counts always equal the uses standing, never below zero."""
    save = promotion_with_code("SAVE5", kind="fixed", amount_off=500, total_limit=10, budget=5000)
    placed = _placed_with("SAVE5", product, 10)
    newcomers = [shopper(product) for _ in range(10)]
    calls = [
        functools.partial(promotion_redemptions_release, order_number=order.number)
        for order in placed
        for _ in range(2)
    ]
    calls += [
        place_call(user, key=f"new-{round_}-{i}", codes=["SAVE5"], agreed=False)
        for i, user in enumerate(newcomers)
    ]
    # 30 threads: the 20 releases and the 10 places released together.
    outcomes = run_together(calls)

    releases, placements = outcomes[:20], outcomes[20:]
    assert all(o.error is None for o in releases), releases
    assert sum(len(o.value) for o in releases) == 10  # each order released exactly once
    assert (
        PromotionRedemption.objects.filter(
            order_number__in=[o.number for o in placed], released_at__isnull=False
        ).count()
        == 10
    )
    new_orders, refused = split(placements)
    assert set(refused) <= {CheckoutChanged.__name__}, refused
    with_code = [o for o in new_orders if o.discount == 500]
    assert len(with_code) <= 10
    assert_usage_consistent(save)
    assert save.uses_count == len(with_code)
    print(  # the figures of the round, for the report (pytest -s)
        f"release round {round_}: {len(with_code)} new orders got a use back, "
        f"{len(new_orders) - len(with_code)} placed without, {sum(refused.values())} changed"
    )
    assert_ledger_clean()


# (e) refunds of units at once ---------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_twenty_units_refunds_of_one_order_never_return_more_than_was_bought(round_, product):
    """Three units bought with 7.00 off; twenty staff refund one unit each at once: exactly
    three refunds, which together return what was paid, and the use is released once."""
    save = promotion_with_code("SAVE7", kind="fixed", amount_off=700, total_limit=5)
    user = shopper(product, balance=20_000, quantity=3)
    order = order_place(
        user=own_copy(user), session=session_with("SAVE7"), idempotency_key=f"units-{round_}"
    )
    line = order.lines.get()
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    calls = [
        functools.partial(
            order_refund_units,
            order_id=order.pk,
            units={line.pk: 1},
            reason="race",
            idempotency_key=f"units-{round_}-{i}",
            by=User.objects.get(pk=staff.pk),
        )
        for i in range(THREADS)
    ]

    refunds, refused = split(run_together(calls))

    assert len(refunds) == 3
    assert refused == Counter({RefundRefused.__name__: THREADS - 3})
    assert sum(r.amount for r in refunds) == order.total == 3 * PRICE - 700
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.lines.get().refunded_quantity == 3
    assert_usage_consistent(save)
    assert save.uses_count == 0
    assert_ledger_clean()
