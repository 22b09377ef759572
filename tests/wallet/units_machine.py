"""A hypothesis state machine over reward points and coins: orders earning points on delivery,
the clock moving, releases, refunds lowering what an order earns (before and after release,
after the points were converted), conversions, replays of their keys, and coins bought,
spent, returned and taken back, in any order. The ledger must say what the Python model says,
and reconcile: checked every few steps and at the end (tests/wallet/ledger_state.py
`WalletMachine`); no account goes below zero after any step.

Run by tests/wallet/test_ledger_state_machine.py (each example in its own savepoint, rolled
back in `teardown`, as the money machine there).
"""

import datetime
import itertools
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    initialize,
    invariant,
    multiple,
    rule,
)

from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import WalletMachine, ledger_state
from wallet.exceptions import IdempotencyConflict, InsufficientFunds, PointsRefused
from wallet.models import Account, CreditLot, PointsEarning, PointsShortfall
from wallet.models.credit import CREDIT_NO_EXPIRY_ON
from wallet.models.ledger import CUSTOMER_KINDS
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    coins_credit,
    coins_return,
    coins_spend,
    coins_take_back,
    points_convert,
    points_order_settle,
    points_release,
)
from wallet.unit_selectors import coins_balance_get, points_balance_get
from wallet.units import COINS, POINTS, POINTS_PENDING_DAYS, points_credit_value, points_earned

REGIONS = ["US", "JP"]  # two shoppers: their points and coins meet often enough
CURRENCY = {"US": "USD", "JP": "JPY"}
shoppers = st.integers(min_value=0, max_value=len(REGIONS) - 1)
# What an order paid: up to 2,500 points' worth, minor units over earning nothing; the
# sampled figures cross the thresholds (no point, one conversion step, several).
paid_amounts = st.one_of(
    st.sampled_from([0, 99, 50_000, 100_099, 150_000, 250_000]),
    st.builds(lambda points, over: points * 100 + over, st.integers(0, 2_500), st.integers(0, 99)),
)
days_ago = st.one_of(st.sampled_from([0, 13, 14, 30]), st.integers(0, 30))
coin_amounts = st.integers(min_value=1, max_value=3_000)
# How an example starts (converted, refunded): owing points first, as hypothesis tries the
# first of a sampled list most.
START = [(True, True), (True, False), (False, True), (False, False)]
WINDOW = datetime.timedelta(days=POINTS_PENDING_DAYS)


@dataclass
class Earning:
    """The model of one order's `PointsEarning`."""

    shopper: int
    points: int
    release_at: datetime.datetime
    order: int  # creation order: the release goes by (release_at, id)
    reversed: int = 0
    released: bool = False

    @property
    def kept(self) -> int:
        return self.points - self.reversed


@dataclass
class Shortfall:
    shopper: int
    points: int
    settled: int = 0

    @property
    def owed(self) -> int:
        return self.points - self.settled


@dataclass
class Pack:
    shopper: int
    coins: int
    taken_back: bool = False


@dataclass(frozen=True)
class Movement:
    """What a key was first used for (a conversion, or a movement of coins)."""

    shopper: int
    kind: str  # "convert", "spend", "return"
    amount: int


class PointsCoinsMachine(WalletMachine):
    orders = Bundle("orders")  # references of orders, earned or not
    keys = Bundle("keys")  # keys of conversions and coin movements that went through
    packs = Bundle("packs")  # keys of coin packs credited

    def __init__(self):
        super().__init__()
        self.users = [UserFactory(region_id=region) for region in REGIONS]
        self.now = timezone.now().replace(microsecond=0)
        self.owner: dict[str, int] = {}  # order reference → shopper
        self.paid: dict[str, int] = {}  # order reference → what it paid, as last settled
        self.earnings: dict[str, Earning] = {}
        self.shortfalls: list[Shortfall] = []
        self.available = [0] * len(REGIONS)
        self.credit = [0] * len(REGIONS)
        self.coins = [0] * len(REGIONS)
        self.spent = [0] * len(REGIONS)  # coins spent and not returned: what can come back
        self.movements: dict[str, Movement] = {}
        self.pack_of: dict[str, Pack] = {}
        self.counter = itertools.count(1)

    # --- helpers ------------------------------------------------------------------------------

    def _refused(self, error, call, reason: str | None = None):
        """`call` raises `error` (with `reason`) and writes nothing."""
        before = ledger_state()
        with pytest.raises(error) as refusal, transaction.atomic():
            call()
        if reason is not None:
            assert refusal.value.reason == reason
        assert ledger_state() == before

    def _settle(self, reference: str, paid: int, delivered_at):
        shopper = self.owner[reference]
        return points_order_settle(
            user=self.users[shopper],
            reference=reference,
            currency=CURRENCY[REGIONS[shopper]],
            paid=paid,
            delivered_at=delivered_at,
        )

    def _model_settle(self, reference: str, paid: int, delivered_at) -> None:
        """What `points_order_settle` must do, on the model."""
        shopper = self.owner[reference]
        target = points_earned(paid=paid, currency=CURRENCY[REGIONS[shopper]])
        earning = self.earnings.get(reference)
        if earning is None:
            if delivered_at is not None and target > 0:
                self.earnings[reference] = Earning(
                    shopper, target, delivered_at + WINDOW, next(self.counter)
                )
            return
        if target >= earning.kept:
            return  # points never rise
        points = earning.kept - target
        earning.reversed += points
        if earning.released:
            taken = min(points, self.available[shopper])
            self.available[shopper] -= taken
            if points - taken:
                self.shortfalls.append(Shortfall(shopper, points - taken))

    def _new_order(self, shopper: int, paid: int) -> str:
        reference = f"order:CP-M{next(self.counter):07d}"
        self.owner[reference] = shopper
        self.paid[reference] = paid
        return reference

    # --- points -------------------------------------------------------------------------------

    @initialize(
        target=orders,
        shopper=shoppers,
        points=st.sampled_from([1_750, 500, 1_000, 2_500]),
        start=st.sampled_from(START),
    )
    def points_to_start_with(self, shopper, points, start):
        """An order delivered past its return window and released, its points converted or
        not, then refunded by half or not (converted: half of them owed), and one due
        tomorrow (to refund, or to settle a debt once the clock moves)."""
        converted, refunded = start
        released = self.deliver_an_order(shopper, points * 100, POINTS_PENDING_DAYS)
        self.release()
        if converted:
            self.convert(shopper, points // 500 * 500)
        if refunded:
            self.refund(released, 50)
        pending = self.deliver_an_order(shopper, 60_000, POINTS_PENDING_DAYS - 1)
        return multiple(released, pending)

    @rule(target=orders, shopper=shoppers, paid=paid_amounts, days_ago=days_ago)
    def deliver_an_order(self, shopper, paid, days_ago):
        reference = self._new_order(shopper, paid)
        delivered_at = self.now - datetime.timedelta(days=days_ago)
        earning = self._settle(reference, paid, delivered_at)
        self._model_settle(reference, paid, delivered_at)
        expected = self.earnings.get(reference)
        if expected is None:  # less than one point paid: nothing earned
            assert earning is None
        else:
            assert (earning.points, earning.release_at) == (expected.points, expected.release_at)
        return reference

    @rule(target=orders, shopper=shoppers, paid=paid_amounts)
    def place_an_order_not_delivered(self, shopper, paid):
        reference = self._new_order(shopper, paid)
        before = ledger_state()
        assert self._settle(reference, paid, None) is None
        assert ledger_state() == before  # earns nothing until delivered
        return reference

    @rule(order=orders, more=st.integers(min_value=0, max_value=50_000), delivered=st.booleans())
    def settle_again(self, order, more, delivered):
        """A retry of the order's settlement, or its late delivery (a not-delivered order earns
        now), with a paid figure no lower than the last: the points never rise."""
        paid = self.paid[order] + more
        delivered_at = self.now if delivered else None
        self._settle(order, paid, delivered_at)
        self._model_settle(order, paid, delivered_at)
        self.paid[order] = paid

    @rule(order=orders, share=st.integers(min_value=0, max_value=99))
    def refund(self, order, share):
        """A refund leaving `share` % of what the order paid: its points go down (from the
        pending ones, or the available ones once released, the rest owed)."""
        paid = self.paid[order] * share // 100
        self._settle(order, paid, None)
        self._model_settle(order, paid, None)
        self.paid[order] = paid

    @rule(days=st.integers(min_value=1, max_value=20))
    def time_passes(self, days):
        self.now += datetime.timedelta(days=days)

    @rule(days=st.sampled_from([1, 0, 14]))
    def release(self, days=0):
        """The release job, `days` after the last step (the clock moves, or it runs twice)."""
        self.now += datetime.timedelta(days=days)
        result = points_release(now=self.now)
        due = sorted(
            (e for e in self.earnings.values() if not e.released and e.release_at <= self.now),
            key=lambda e: (e.release_at, e.order),
        )
        counted, points = 0, 0
        for earning in due:
            settled = 0
            for shortfall in self.shortfalls:
                if shortfall.shopper == earning.shopper and shortfall.owed:
                    part = min(shortfall.owed, earning.kept - settled)
                    shortfall.settled += part
                    settled += part
            self.available[earning.shopper] += earning.kept - settled
            points += earning.kept - settled
            # Counted as released when it made points available (not all taken back or owed).
            counted += earning.kept - settled > 0
            earning.released = True
        assert (result.earnings, result.points) == (counted, points)

    @rule(target=keys, shopper=shoppers, points=st.integers(0, 12).map(lambda n: n * 250))
    def convert(self, shopper, points):
        user = self.users[shopper]
        key = f"points-convert:{next(self.counter)}"

        def call():
            return points_convert(user=user, points=points, idempotency_key=key)

        if points <= 0 or points % 500:
            self._refused(PointsRefused, call, "not_multiple")
            return multiple()
        if points > self.available[shopper]:
            self._refused(PointsRefused, call, "too_few")
            return multiple()
        result = call()
        currency = CURRENCY[REGIONS[shopper]]
        credit = points_credit_value(points=points, currency=currency)
        assert (result.points, result.credit, result.currency) == (points, credit, currency)
        assert result.replayed is False
        assert result.lot.never_expires
        self.available[shopper] -= points
        self.credit[shopper] += credit
        self.movements[key] = Movement(shopper, "convert", points)
        return key

    @rule(target=keys, shopper=shoppers, steps=st.integers(min_value=1, max_value=4))
    def convert_what_fits(self, shopper, steps):
        """A conversion of up to `steps` steps of 500 that the available points can pay for."""
        points = min(steps, self.available[shopper] // 500) * 500
        if not points:
            return multiple()
        return self.convert(shopper, points)

    # --- coins --------------------------------------------------------------------------------

    @rule(target=packs, shopper=shoppers, coins=st.integers(min_value=1, max_value=5_500))
    def buy_a_coin_pack(self, shopper, coins):
        key = f"coins-pack:{next(self.counter)}"
        result = coins_credit(
            user=self.users[shopper], coins=coins, idempotency_key=key, description="Coin pack"
        )
        assert result.replayed is False
        self.coins[shopper] += coins
        self.pack_of[key] = Pack(shopper, coins)
        return key

    @rule(target=keys, shopper=shoppers, coins=coin_amounts)
    def spend_coins(self, shopper, coins):
        key = f"coins-spend:{next(self.counter)}"

        def call():
            return coins_spend(
                user=self.users[shopper], coins=coins, idempotency_key=key, description="App"
            )

        if coins > self.coins[shopper]:
            self._refused(InsufficientFunds, call)
            return multiple()
        assert call().replayed is False
        self.coins[shopper] -= coins
        self.spent[shopper] += coins
        self.movements[key] = Movement(shopper, "spend", coins)
        return key

    @rule(target=keys, shopper=shoppers, share=st.integers(min_value=1, max_value=100))
    def return_coins(self, shopper, share):
        """A refund of a coin-paid line (or a failed capture): up to what was spent."""
        coins = self.spent[shopper] * share // 100
        if not coins:
            return multiple()
        key = f"coins-return:{next(self.counter)}"
        coins_return(user=self.users[shopper], coins=coins, idempotency_key=key, description="R")
        self.coins[shopper] += coins
        self.spent[shopper] -= coins
        self.movements[key] = Movement(shopper, "return", coins)
        return key

    @rule(pack=packs)
    def take_back_a_pack(self, pack):
        """A refunded coin pack: its coins back to the shop, refused once they are spent."""
        bought = self.pack_of[pack]

        def call():
            return coins_take_back(
                user=self.users[bought.shopper],
                coins=bought.coins,
                idempotency_key=f"coins-take-back:{pack}",
                description="Coin pack refunded",
            )

        if bought.taken_back:
            before = ledger_state()
            assert call().replayed is True
            assert ledger_state() == before
        elif bought.coins > self.coins[bought.shopper]:
            self._refused(InsufficientFunds, call)
        else:
            assert call().replayed is False
            bought.taken_back = True
            self.coins[bought.shopper] -= bought.coins

    # --- replays ------------------------------------------------------------------------------

    @rule(key=keys, same=st.booleans())
    def replay(self, key, same):
        """The same key again: the first movement, nothing more; other figures: refused."""
        movement = self.movements[key]
        user = self.users[movement.shopper]
        amount = movement.amount if same else movement.amount + 500
        if movement.kind == "convert":

            def call():
                return points_convert(user=user, points=amount, idempotency_key=key)

            error, reason = PointsRefused, "conflict"
        else:
            service = coins_spend if movement.kind == "spend" else coins_return

            def call():
                return service(user=user, coins=amount, idempotency_key=key, description="again")

            error, reason = IdempotencyConflict, None
        if not same:
            self._refused(error, call, reason)
            return
        before = ledger_state()
        assert call().replayed is True
        assert ledger_state() == before

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def no_customer_account_below_zero(self):
        assert not Account.objects.filter(kind__in=CUSTOMER_KINDS, balance__lt=0).exists()

    def whole_ledger_check(self):
        report = ledger_reconcile()  # the pending points against their earnings, among others
        assert report.clean, report
        self._the_ledger_says_what_the_model_says()

    def _the_ledger_says_what_the_model_says(self):
        """Every earning, shortfall, unit and credit balance and lot as the model has them
        (a few queries for all shoppers), and one shopper's reads through the selectors."""
        earnings = {
            reference: (points, reversed_, released_at is not None)
            for reference, points, reversed_, released_at in PointsEarning.objects.values_list(
                "reference", "points", "reversed", "released_at"
            )
        }
        assert earnings == {
            reference: (e.points, e.reversed, e.released) for reference, e in self.earnings.items()
        }
        shortfalls = list(PointsShortfall.objects.order_by("pk").values_list("points", "settled"))
        assert shortfalls == [(s.points, s.settled) for s in self.shortfalls]
        balances = {
            (user_id, kind, currency): balance
            for user_id, kind, currency, balance in Account.objects.filter(
                user__in=self.users
            ).values_list("user_id", "kind", "currency", "balance")
        }
        for shopper, user in enumerate(self.users):
            currency = CURRENCY[REGIONS[shopper]]
            expected = {
                (user.pk, Account.Kind.CUSTOMER_POINTS, POINTS): self.available[shopper],
                (user.pk, Account.Kind.CUSTOMER_POINTS_PENDING, POINTS): self._pending(shopper),
                (user.pk, Account.Kind.CUSTOMER_COINS, COINS): self.coins[shopper],
                (user.pk, Account.Kind.CUSTOMER_CREDIT, currency): self.credit[shopper],
            }
            assert {key: balances.get(key, 0) for key in expected} == expected
        lots = list(CreditLot.objects.values_list("expires_on", flat=True))
        assert len(lots) == sum(m.kind == "convert" for m in self.movements.values())
        assert all(expires_on == CREDIT_NO_EXPIRY_ON for expires_on in lots)
        self._selectors_agree(next(self.counter) % len(self.users))

    def _pending(self, shopper: int) -> int:
        """Σ kept of the shopper's unreleased earnings: what their pending account holds."""
        return sum(
            e.kept for e in self.earnings.values() if e.shopper == shopper and not e.released
        )

    def _selectors_agree(self, shopper: int) -> None:
        user = self.users[shopper]
        read = points_balance_get(user=user)
        owed = sum(s.owed for s in self.shortfalls if s.shopper == shopper)
        assert (read.available, read.pending, read.owed) == (
            self.available[shopper],
            self._pending(shopper),
            owed,
        )
        assert sum(lot.points for lot in read.pending_lots) == self._pending(shopper)
        assert coins_balance_get(user=user) == self.coins[shopper]
