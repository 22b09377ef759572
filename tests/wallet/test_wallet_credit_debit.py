"""wallet_credit and wallet_debit: money into and out of a shopper's balance."""

import pytest

from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import ledger_state
from wallet.exceptions import IdempotencyConflict, InsufficientFunds, WalletError
from wallet.models import Account, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import wallet_credit, wallet_debit
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db


def _system_balance(kind: str, currency: str = "USD") -> int:
    return account_balance_get(account=Account.objects.get(kind=kind, currency=currency))


def test_credit_adds_to_the_balance_from_adjustments(user, other_user):
    result = wallet_credit(
        user=user,
        amount=1250,
        idempotency_key="goodwill-1",
        description="Sorry for the delay",
        created_by=other_user,
    )

    assert result.replayed is False
    assert wallet_balance_get(user=user).amount == 1250
    account = Account.objects.get(user=user)
    assert (account.kind, account.currency, account.balance) == ("customer", "USD", 1250)
    assert result.balance_after(account.pk) == 1250
    assert _system_balance(Account.Kind.ADJUSTMENTS) == -1250
    transfer = result.transfer
    assert (transfer.kind, transfer.description, transfer.created_by) == (
        Transfer.Kind.CREDIT,
        "Sorry for the delay",
        other_user,
    )
    assert transfer.postings.count() == 2
    assert ledger_reconcile().clean


def test_credit_from_another_source_account(user):
    wallet_credit(
        user=user,
        amount=100,
        idempotency_key="refund",
        description="Refund",
        source=Account.Kind.PURCHASES,
    )
    assert _system_balance(Account.Kind.PURCHASES) == -100
    assert not Account.objects.filter(kind=Account.Kind.ADJUSTMENTS).exists()


def test_credits_add_up(user):
    for number in range(5):
        wallet_credit(user=user, amount=100, idempotency_key=f"c{number}", description="x")
    assert wallet_balance_get(user=user).amount == 500
    assert Posting.objects.filter(account__user=user).count() == 5


def test_credit_replay_returns_the_first_transfer(user):
    first = wallet_credit(user=user, amount=700, idempotency_key="same", description="x")
    before = ledger_state()

    again = wallet_credit(user=user, amount=700, idempotency_key="same", description="x")

    assert again.replayed is True
    assert again.transfer.pk == first.transfer.pk
    assert ledger_state() == before
    assert wallet_balance_get(user=user).amount == 700


@pytest.mark.parametrize("other", ["amount", "user", "debit"])
def test_credit_key_reused_for_another_movement_raises(user, other_user, other):
    wallet_credit(user=user, amount=700, idempotency_key="same", description="x")
    wallet_credit(user=user, amount=5000, idempotency_key="funds", description="x")
    before = ledger_state()

    service, kwargs = {
        "amount": (wallet_credit, {"user": user, "amount": 701}),
        "user": (wallet_credit, {"user": other_user, "amount": 700}),
        "debit": (wallet_debit, {"user": user, "amount": 700}),
    }[other]

    with pytest.raises(IdempotencyConflict):
        service(idempotency_key="same", description="x", **kwargs)

    assert ledger_state() == before


@pytest.mark.parametrize("amount", [0, -1, -2500])
def test_credit_of_a_non_positive_amount_is_refused(user, amount):
    before = ledger_state()
    with pytest.raises(WalletError):
        wallet_credit(user=user, amount=amount, idempotency_key="k", description="x")
    assert ledger_state() == before
    assert not Account.objects.exists()


def test_debit_takes_from_the_balance_to_purchases(user):
    wallet_credit(user=user, amount=1000, idempotency_key="c", description="x")

    result = wallet_debit(user=user, amount=300, idempotency_key="order-1", description="Order 1")

    assert result.replayed is False
    assert result.transfer.kind == Transfer.Kind.DEBIT
    assert wallet_balance_get(user=user).amount == 700
    assert _system_balance(Account.Kind.PURCHASES) == 300
    wallet_account = Account.objects.get(user=user)
    assert result.balance_after(wallet_account.pk) == 700
    assert ledger_reconcile().clean


def test_debit_of_the_whole_balance_leaves_zero(user):
    wallet_credit(user=user, amount=1000, idempotency_key="c", description="x")
    wallet_debit(user=user, amount=1000, idempotency_key="d", description="x")
    assert wallet_balance_get(user=user).amount == 0


@pytest.mark.parametrize(("balance", "debit"), [(1000, 1001), (1, 2), (0, 1), (1000, 10**12)])
def test_debit_beyond_the_balance_is_refused_and_nothing_written(user, balance, debit):
    if balance:
        wallet_credit(user=user, amount=balance, idempotency_key="c", description="x")
    before = ledger_state()

    with pytest.raises(InsufficientFunds):
        wallet_debit(user=user, amount=debit, idempotency_key="d", description="x")

    assert ledger_state() == before
    assert wallet_balance_get(user=user).amount == balance
    assert not Transfer.objects.filter(idempotency_key="d").exists()


def test_a_refused_debit_creates_no_account(user):
    with pytest.raises(InsufficientFunds):
        wallet_debit(user=user, amount=1, idempotency_key="d", description="x")
    assert not Account.objects.exists()


def test_debit_replay_returns_the_first_transfer_even_once_the_balance_is_short(user):
    wallet_credit(user=user, amount=1000, idempotency_key="c", description="x")
    first = wallet_debit(user=user, amount=600, idempotency_key="order-1", description="x")
    before = ledger_state()

    # 400 left: a second real debit of 600 would be refused, but this is the same debit again.
    again = wallet_debit(user=user, amount=600, idempotency_key="order-1", description="x")

    assert again.replayed is True
    assert again.transfer.pk == first.transfer.pk
    assert ledger_state() == before
    assert wallet_balance_get(user=user).amount == 400


def test_debit_key_reused_for_a_different_amount_raises(user):
    wallet_credit(user=user, amount=1000, idempotency_key="c", description="x")
    wallet_debit(user=user, amount=600, idempotency_key="order-1", description="x")
    before = ledger_state()

    with pytest.raises(IdempotencyConflict):
        wallet_debit(user=user, amount=300, idempotency_key="order-1", description="x")

    assert ledger_state() == before


@pytest.mark.parametrize("amount", [0, -5])
def test_debit_of_a_non_positive_amount_is_refused(user, amount):
    wallet_credit(user=user, amount=1000, idempotency_key="c", description="x")
    before = ledger_state()
    with pytest.raises(WalletError):
        wallet_debit(user=user, amount=amount, idempotency_key="d", description="x")
    assert ledger_state() == before


def test_balances_of_two_shoppers_are_separate(user, other_user):
    wallet_credit(user=user, amount=1000, idempotency_key="c1", description="x")
    wallet_credit(user=other_user, amount=50, idempotency_key="c2", description="x")

    with pytest.raises(InsufficientFunds):
        wallet_debit(user=other_user, amount=51, idempotency_key="d", description="x")

    assert wallet_balance_get(user=user).amount == 1000
    assert wallet_balance_get(user=other_user).amount == 50


def test_yen_amounts_are_whole_yen():
    shopper = UserFactory(region_id="JP")
    wallet_credit(user=shopper, amount=3000, idempotency_key="c", description="x")
    wallet_debit(user=shopper, amount=1, idempotency_key="d", description="x")
    balance = wallet_balance_get(user=shopper)
    assert (balance.amount, balance.currency) == (2999, "JPY")
    assert _system_balance(Account.Kind.PURCHASES, "JPY") == 1


def test_a_balance_in_another_currency_is_kept_apart(user):
    wallet_credit(user=user, amount=900, idempotency_key="eur", description="x", currency="EUR")

    assert wallet_balance_get(user=user).amount == 0  # the shopper's region is US
    assert Account.objects.get(user=user, currency="EUR").balance == 900
    with pytest.raises(InsufficientFunds):
        wallet_debit(user=user, amount=1, idempotency_key="d", description="x")
    wallet_debit(user=user, amount=900, idempotency_key="d2", description="x", currency="EUR")
    assert Account.objects.get(user=user, currency="EUR").balance == 0
    assert ledger_reconcile().clean
