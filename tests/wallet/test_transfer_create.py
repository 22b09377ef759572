"""transfer_create: the one writer of ledger postings (double entry, idempotent, guarded)."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import ledger_state
from wallet.exceptions import (
    IdempotencyConflict,
    InsufficientFunds,
    UnbalancedTransfer,
    WalletError,
)
from wallet.models import Account, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    Leg,
    system_account_get_or_create,
    transfer_create,
    wallet_account_get_or_create,
    wallet_credit,
)
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def adjustments():
    return system_account_get_or_create(kind=Account.Kind.ADJUSTMENTS, currency="USD")


@pytest.fixture
def purchases():
    return system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")


@pytest.fixture
def wallet(user):
    return wallet_account_get_or_create(user=user)


def _refused(error, **kwargs):
    """Call transfer_create expecting `error`. It joins the caller's transaction without a
    savepoint, so a refusal must be caught outside an atomic block of the caller's own."""
    with pytest.raises(error), transaction.atomic():
        transfer_create(**kwargs)


def _balance(account) -> int:
    return account_balance_get(account=account)


def test_transfer_moves_money_and_records_balance_after(adjustments, wallet, user):
    result = transfer_create(
        idempotency_key="t-1",
        kind=Transfer.Kind.CREDIT,
        description="Goodwill",
        legs=[Leg(adjustments.pk, -700), Leg(wallet.pk, 700)],
        created_by=user,
    )

    assert result.replayed is False
    transfer = Transfer.objects.get()
    assert result.transfer == transfer
    assert (transfer.idempotency_key, transfer.kind, transfer.description) == (
        "t-1",
        "credit",
        "Goodwill",
    )
    assert transfer.created_by == user
    postings = {p.account_id: p for p in Posting.objects.filter(transfer=transfer)}
    assert {pk: (p.amount, p.balance_after, p.currency) for pk, p in postings.items()} == {
        # A shop account's posting carries no running balance (docs/ledger.md "Shop accounts").
        adjustments.pk: (-700, None, "USD"),
        wallet.pk: (700, 700, "USD"),
    }
    assert _balance(wallet) == 700
    assert _balance(adjustments) == -700
    adjustments.refresh_from_db()
    assert adjustments.balance == 0  # never cached: derived from its postings
    assert result.balance_after(wallet.pk) == 700
    assert ledger_reconcile().clean


def test_balance_after_follows_the_running_balance(adjustments, purchases, wallet):
    steps = [500, 250, -600, 1000, -1150]
    expected = 0
    for number, amount in enumerate(steps):
        system = adjustments if amount > 0 else purchases
        result = transfer_create(
            idempotency_key=f"run-{number}",
            kind=Transfer.Kind.ADJUSTMENT,
            description="step",
            legs=[Leg(wallet.pk, amount), Leg(system.pk, -amount)],
        )
        expected += amount
        assert result.balance_after(wallet.pk) == expected
    assert _balance(wallet) == expected == 0
    afters = list(
        Posting.objects.filter(account=wallet)
        .order_by("pk")
        .values_list("balance_after", flat=True)
    )
    assert afters == [500, 750, 150, 1150, 0]
    assert ledger_reconcile().clean


def test_a_transfer_of_three_legs(adjustments, user, other_user):
    mine = wallet_account_get_or_create(user=user)
    theirs = wallet_account_get_or_create(user=other_user)

    transfer_create(
        idempotency_key="split",
        kind=Transfer.Kind.CREDIT,
        description="Split",
        legs=[Leg(adjustments.pk, -1000), Leg(mine.pk, 400), Leg(theirs.pk, 600)],
    )

    assert (_balance(mine), _balance(theirs), _balance(adjustments)) == (400, 600, -1000)
    assert Posting.objects.count() == 3
    assert ledger_reconcile().clean


def test_description_is_cut_to_the_column(adjustments, wallet):
    transfer_create(
        idempotency_key="long",
        kind=Transfer.Kind.CREDIT,
        description="x" * 500,
        legs=[Leg(adjustments.pk, -1), Leg(wallet.pk, 1)],
    )
    assert Transfer.objects.get().description == "x" * 200


def test_replay_returns_the_first_transfer_and_moves_nothing(adjustments, wallet):
    legs = [Leg(adjustments.pk, -300), Leg(wallet.pk, 300)]
    first = transfer_create(
        idempotency_key="once", kind=Transfer.Kind.CREDIT, description="a", legs=legs
    )
    before = ledger_state()

    again = transfer_create(
        idempotency_key="once",
        kind=Transfer.Kind.CREDIT,
        description="a",
        legs=list(reversed(legs)),  # the order of the legs does not matter
    )

    assert again.replayed is True
    assert again.transfer.pk == first.transfer.pk
    assert sorted(p.pk for p in again.postings) == sorted(p.pk for p in first.postings)
    assert again.balance_after(wallet.pk) == 300
    assert ledger_state() == before
    assert _balance(wallet) == 300


@pytest.mark.parametrize(
    "change",
    ["amount", "account", "extra_leg"],
)
def test_a_conflicting_replay_raises_and_writes_nothing(adjustments, purchases, wallet, change):
    transfer_create(
        idempotency_key="key",
        kind=Transfer.Kind.CREDIT,
        description="a",
        legs=[Leg(adjustments.pk, -300), Leg(wallet.pk, 300)],
    )
    before = ledger_state()
    legs = {
        "amount": [Leg(adjustments.pk, -301), Leg(wallet.pk, 301)],
        "account": [Leg(purchases.pk, -300), Leg(wallet.pk, 300)],
        "extra_leg": [Leg(adjustments.pk, -300), Leg(wallet.pk, 200), Leg(purchases.pk, 100)],
    }[change]

    _refused(
        IdempotencyConflict,
        idempotency_key="key",
        kind=Transfer.Kind.CREDIT,
        description="a",
        legs=legs,
    )

    assert ledger_state() == before


def test_insufficient_funds_is_refused_and_nothing_written(adjustments, purchases, wallet, user):
    wallet_credit(user=user, amount=500, idempotency_key="c", description="seed")
    before = ledger_state()

    _refused(
        InsufficientFunds,
        idempotency_key="too-much",
        kind=Transfer.Kind.DEBIT,
        description="b",
        legs=[Leg(wallet.pk, -501), Leg(purchases.pk, 501)],
    )

    assert ledger_state() == before
    assert _balance(wallet) == 500
    assert not Transfer.objects.filter(idempotency_key="too-much").exists()


def test_spending_exactly_the_balance_leaves_zero(purchases, wallet, user):
    wallet_credit(user=user, amount=500, idempotency_key="c", description="seed")

    transfer_create(
        idempotency_key="all",
        kind=Transfer.Kind.DEBIT,
        description="b",
        legs=[Leg(wallet.pk, -500), Leg(purchases.pk, 500)],
    )

    assert _balance(wallet) == 0


def test_a_refused_key_stays_free_for_a_later_transfer(purchases, wallet, user):
    _refused(
        InsufficientFunds,
        idempotency_key="k",
        kind=Transfer.Kind.DEBIT,
        description="b",
        legs=[Leg(wallet.pk, -100), Leg(purchases.pk, 100)],
    )
    wallet_credit(user=user, amount=100, idempotency_key="c", description="seed")

    result = transfer_create(
        idempotency_key="k",
        kind=Transfer.Kind.DEBIT,
        description="b",
        legs=[Leg(wallet.pk, -100), Leg(purchases.pk, 100)],
    )

    assert result.replayed is False
    assert _balance(wallet) == 0


def test_system_accounts_may_go_negative(adjustments, purchases):
    transfer_create(
        idempotency_key="sys",
        kind=Transfer.Kind.ADJUSTMENT,
        description="between the shop's own accounts",
        legs=[Leg(adjustments.pk, -5), Leg(purchases.pk, 5)],
    )
    assert _balance(adjustments) == -5


@pytest.mark.parametrize(
    "legs_of",
    [
        pytest.param(lambda a, w, e: [Leg(a, -100), Leg(w, 99)], id="sum-not-zero"),
        pytest.param(lambda a, w, e: [Leg(a, -100)], id="one-leg"),
        pytest.param(lambda a, w, e: [], id="no-legs"),
        pytest.param(lambda a, w, e: [Leg(a, 0), Leg(w, 0)], id="zero-legs"),
        pytest.param(lambda a, w, e: [Leg(a, -100), Leg(w, 100), Leg(w, 0)], id="a-zero-leg"),
        pytest.param(lambda a, w, e: [Leg(a, -100), Leg(e, 100)], id="across-currencies"),
        pytest.param(
            lambda a, w, e: [Leg(a, -100), Leg(w, 100), Leg(e, 100), Leg(a, -100)],
            id="one-currency-off",
        ),
    ],
)
def test_unbalanced_legs_are_refused_and_nothing_written(adjustments, wallet, user, legs_of):
    euros = wallet_account_get_or_create(user=user, currency="EUR")
    before = ledger_state()

    _refused(
        UnbalancedTransfer,
        idempotency_key="bad",
        kind=Transfer.Kind.ADJUSTMENT,
        description="bad",
        legs=legs_of(adjustments.pk, wallet.pk, euros.pk),
    )

    assert ledger_state() == before


def test_a_balanced_transfer_across_currencies_is_accepted(user):
    usd_wallet = wallet_account_get_or_create(user=user, currency="USD")
    eur_wallet = wallet_account_get_or_create(user=user, currency="EUR")
    usd = system_account_get_or_create(kind=Account.Kind.ADJUSTMENTS, currency="USD")
    eur = system_account_get_or_create(kind=Account.Kind.ADJUSTMENTS, currency="EUR")

    transfer_create(
        idempotency_key="fx",
        kind=Transfer.Kind.ADJUSTMENT,
        description="two currencies, each summing to zero",
        legs=[Leg(usd.pk, -100), Leg(usd_wallet.pk, 100), Leg(eur.pk, -90), Leg(eur_wallet.pk, 90)],
    )

    assert (_balance(usd_wallet), _balance(eur_wallet)) == (100, 90)
    assert ledger_reconcile().clean


def test_an_unknown_account_is_refused(adjustments):
    before = ledger_state()
    _refused(
        WalletError,
        idempotency_key="ghost",
        kind=Transfer.Kind.ADJUSTMENT,
        description="x",
        legs=[Leg(adjustments.pk, -1), Leg(10**9, 1)],
    )
    assert ledger_state() == before


def test_a_refusal_aborts_the_callers_transaction_too(adjustments, purchases, wallet):
    """Documented: no savepoint of its own, so the caller's earlier writes roll back as well."""
    with transaction.atomic():
        transfer_create(
            idempotency_key="earlier",
            kind=Transfer.Kind.CREDIT,
            description="a",
            legs=[Leg(adjustments.pk, -100), Leg(wallet.pk, 100)],
        )
        with pytest.raises(InsufficientFunds):
            transfer_create(
                idempotency_key="later",
                kind=Transfer.Kind.DEBIT,
                description="b",
                legs=[Leg(wallet.pk, -101), Leg(purchases.pk, 101)],
            )
    assert not Transfer.objects.exists()
    assert _balance(wallet) == 0


def test_postings_cannot_be_updated(adjustments, wallet):
    transfer_create(
        idempotency_key="t",
        kind=Transfer.Kind.CREDIT,
        description="a",
        legs=[Leg(adjustments.pk, -100), Leg(wallet.pk, 100)],
    )
    posting = Posting.objects.get(account=wallet)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).update(amount=1_000_000)
    posting.balance_after = 1_000_000
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        posting.save()

    posting.refresh_from_db()
    assert (posting.amount, posting.balance_after) == (100, 100)


def test_transfers_cannot_be_updated(adjustments, wallet):
    transfer_create(
        idempotency_key="t",
        kind=Transfer.Kind.CREDIT,
        description="a",
        legs=[Leg(adjustments.pk, -100), Leg(wallet.pk, 100)],
    )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Transfer.objects.update(idempotency_key="rewritten")
    assert Transfer.objects.get().idempotency_key == "t"


@pytest.mark.postgres  # the DELETE guard is a PostgreSQL trigger (SQLite test teardown deletes)
def test_postings_cannot_be_deleted_on_postgresql(adjustments, wallet):
    assert connection.vendor == "postgresql"
    transfer_create(
        idempotency_key="t",
        kind=Transfer.Kind.CREDIT,
        description="a",
        legs=[Leg(adjustments.pk, -100), Leg(wallet.pk, 100)],
    )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.filter(account=wallet).delete()
    assert Posting.objects.count() == 2


def test_a_customer_balance_below_zero_is_refused_by_the_database(wallet, user):
    """The CheckConstraint is the last guard, even for code that bypasses the services."""
    wallet_credit(user=user, amount=100, idempotency_key="c", description="seed")

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=wallet.pk).update(balance=-1)

    assert _balance(wallet) == 100


def test_a_zero_posting_is_refused_by_the_database(adjustments, wallet):
    transfer = Transfer.objects.create(idempotency_key="raw", kind="adjustment", description="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(
            transfer=transfer, account=wallet, currency="USD", amount=0, balance_after=0
        )


def test_idempotency_keys_are_unique_in_the_database():
    Transfer.objects.create(idempotency_key="dup", kind="adjustment", description="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(idempotency_key="dup", kind="adjustment", description="y")


def test_one_customer_account_per_user_and_currency(user):
    first = wallet_account_get_or_create(user=user)
    assert wallet_account_get_or_create(user=user) == first
    assert wallet_account_get_or_create(user=user, currency="USD") == first
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind=Account.Kind.CUSTOMER, user=user, currency="USD")


def test_a_system_account_has_no_user_and_a_customer_account_has_one(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind=Account.Kind.CUSTOMER, user=None, currency="USD")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind=Account.Kind.ADJUSTMENTS, user=user, currency="USD")
    with pytest.raises(ValueError, match="customer"):
        system_account_get_or_create(kind=Account.Kind.CUSTOMER, currency="USD")


def test_wallet_account_defaults_to_the_region_currency():
    shopper = UserFactory(region_id="JP")
    assert wallet_account_get_or_create(user=shopper).currency == "JPY"
