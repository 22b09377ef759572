"""A hypothesis state machine over the wallet services, checking the ledger as it goes
(tests/wallet/ledger_state.py `WalletMachine`: no balance below zero after every step, the
whole ledger every few steps and at the end).

Each example runs inside its own savepoint, rolled back in `teardown`: nothing has to be
deleted (PostgreSQL refuses to delete postings) or updated (nowhere allowed), and it works
the same on SQLite and PostgreSQL.
"""

from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from catalog.models import Region
from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import WalletMachine, machine_examples
from tests.wallet.units_machine import PointsCoinsMachine
from wallet.codes import ALPHABET, check_symbol, code_display
from wallet.exceptions import CodeRefused, IdempotencyConflict, InsufficientFunds
from wallet.models import Account, GiftCard
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_issue, giftcard_redeem, wallet_credit, wallet_debit
from wallet.shop_balances import account_balance_get

USER_REGIONS = ["US", "DE", "JP"]
CARD_REGIONS = ["US", "FR", "DE", "JP"]  # FR cards share DE's currency but not its store
CURRENCY = {"US": "USD", "FR": "EUR", "DE": "EUR", "JP": "JPY"}

amounts = st.integers(min_value=1, max_value=5_000)
shoppers = st.integers(min_value=0, max_value=len(USER_REGIONS) - 1)


@dataclass
class Card:
    code: str
    region: str
    amount: int
    redeemed: bool = False


@dataclass(frozen=True)
class Movement:
    """What an idempotency key was first used for."""

    shopper: int
    kind: str  # "credit" or "debit"
    amount: int


class LedgerMachine(WalletMachine):
    cards = Bundle("cards")
    keys = Bundle("keys")

    def __init__(self):
        super().__init__()
        cache.clear()
        self.users = [UserFactory(region_id=region) for region in USER_REGIONS]
        self.regions = {region.code: region for region in Region.objects.all()}
        # The Python model of what the ledger should say.
        self.balances = [0] * len(self.users)
        self.outstanding = dict.fromkeys(CURRENCY.values(), 0)
        self.failures = [0] * len(self.users)
        self.movements: dict[str, Movement] = {}
        self.key_counter = 0
        self.issued = []

    def teardown(self):
        super().teardown()
        cache.clear()

    # --- helpers ------------------------------------------------------------------------------

    def _locked(self, shopper: int) -> bool:
        return self.failures[shopper] >= django_settings.REDEEM_LIMIT_PER_USER

    def _redeem_refused(self, shopper: int, code: str, reason: str) -> None:
        expected = "locked" if self._locked(shopper) else reason
        with pytest.raises(CodeRefused) as refusal:
            giftcard_redeem(user=self.users[shopper], code=code)
        assert refusal.value.reason == expected
        if expected != "locked":
            self.failures[shopper] += 1

    def _new_key(self, kind: str) -> str:
        self.key_counter += 1
        return f"{kind}-{self.key_counter}"

    # --- rules --------------------------------------------------------------------------------

    @initialize(target=cards, region=st.sampled_from(CARD_REGIONS), amount=amounts)
    def first_card(self, region, amount):
        return self.issue(region, amount)

    @rule(target=cards, region=st.sampled_from(CARD_REGIONS), amount=amounts)
    def issue(self, region, amount):
        issued = giftcard_issue(region=self.regions[region], amount=amount)
        self.outstanding[CURRENCY[region]] += amount
        card = Card(code=issued.code, region=region, amount=amount)
        self.issued.append(card)
        return card

    @rule(shopper=shoppers, card=cards, dashed=st.booleans())
    def redeem(self, shopper, card, dashed):
        code = code_display(card.code).lower() if dashed else card.code
        if self._locked(shopper):
            self._redeem_refused(shopper, code, "locked")
        elif card.redeemed:
            self._redeem_refused(shopper, code, "already_redeemed")
        elif card.region != USER_REGIONS[shopper]:
            self._redeem_refused(shopper, code, "wrong_region")
        else:
            redemption = giftcard_redeem(user=self.users[shopper], code=code)
            card.redeemed = True
            self.balances[shopper] += card.amount
            self.outstanding[CURRENCY[card.region]] -= card.amount
            assert redemption.balance == self.balances[shopper]

    @rule(
        shopper=shoppers,
        card=cards,
        position=st.integers(min_value=0, max_value=14),
        shift=st.integers(min_value=1, max_value=31),
    )
    def redeem_with_a_typo(self, shopper, card, position, shift):
        wrong = ALPHABET[(ALPHABET.index(card.code[position]) + shift) % 32]
        self._redeem_refused(
            shopper, card.code[:position] + wrong + card.code[position + 1 :], "typo"
        )

    @rule(shopper=shoppers, payload=st.text(alphabet=ALPHABET, min_size=14, max_size=14))
    def redeem_unknown(self, shopper, payload):
        code = payload + check_symbol(payload)
        if any(card.code == code for card in self.issued):  # 2^-70: a guess that hit
            return
        self._redeem_refused(shopper, code, "not_found")

    @rule(target=keys, shopper=shoppers, amount=amounts)
    def credit(self, shopper, amount):
        key = self._new_key("credit")
        result = wallet_credit(
            user=self.users[shopper], amount=amount, idempotency_key=key, description="credit"
        )
        assert result.replayed is False
        self.balances[shopper] += amount
        self.movements[key] = Movement(shopper, "credit", amount)
        return key

    @rule(target=keys, shopper=shoppers, amount=amounts)
    def debit(self, shopper, amount):
        key = self._new_key("debit")
        if amount > self.balances[shopper]:
            with pytest.raises(InsufficientFunds):
                wallet_debit(
                    user=self.users[shopper], amount=amount, idempotency_key=key, description="d"
                )
            return key  # refused: the key stays unused
        wallet_debit(user=self.users[shopper], amount=amount, idempotency_key=key, description="d")
        self.balances[shopper] -= amount
        self.movements[key] = Movement(shopper, "debit", amount)
        return key

    @rule(shopper=shoppers, extra=st.integers(min_value=1, max_value=5_000))
    def overdraw(self, shopper, extra):
        with pytest.raises(InsufficientFunds):
            wallet_debit(
                user=self.users[shopper],
                amount=self.balances[shopper] + extra,
                idempotency_key=self._new_key("overdraw"),
                description="too much",
            )

    @rule(key=keys)
    def replay(self, key):
        movement = self.movements.get(key)
        if movement is None:  # a refused debit's key: nothing to replay
            return
        service = wallet_credit if movement.kind == "credit" else wallet_debit
        result = service(
            user=self.users[movement.shopper],
            amount=movement.amount,
            idempotency_key=key,
            description="again",
        )
        assert result.replayed is True

    @rule(key=keys, delta=st.integers(min_value=1, max_value=100), flip=st.booleans())
    def conflicting_replay(self, key, delta, flip):
        movement = self.movements.get(key)
        if movement is None:
            return
        kind = movement.kind
        if flip:
            kind = "debit" if kind == "credit" else "credit"
        service = wallet_credit if kind == "credit" else wallet_debit
        with pytest.raises(IdempotencyConflict):
            service(
                user=self.users[movement.shopper],
                amount=movement.amount + (0 if flip else delta),
                idempotency_key=key,
                description="conflict",
            )

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def customer_balances_are_never_negative(self):
        assert not Account.objects.filter(kind=Account.Kind.CUSTOMER, balance__lt=0).exists()

    def whole_ledger_check(self):
        report = ledger_reconcile()
        assert report.clean, report
        # The balances and the gift card liability match the model.
        for user, expected in zip(self.users, self.balances, strict=True):
            assert wallet_balance_get(user=user).amount == expected
        for currency, expected in self.outstanding.items():
            account = Account.objects.filter(
                kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=currency
            ).first()
            assert (account_balance_get(account=account) if account else 0) == expected
        redeemed = sum(card.redeemed for card in self.issued)
        assert GiftCard.objects.filter(status=GiftCard.Status.REDEEMED).count() == redeemed


@pytest.mark.django_db
def test_ledger_state_machine():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=machine_examples(30),
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.django_db
def test_points_and_coins_state_machine():
    """Reward points and coins on the same ledger (tests/wallet/units_machine.py): every unit
    account stays at or above zero, the pending points are what the unreleased earnings keep,
    the model's balances are the ledger's, and the ledger reconciles, after every step."""
    run_state_machine_as_test(
        PointsCoinsMachine,
        settings=settings(
            max_examples=machine_examples(25),
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
