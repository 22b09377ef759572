"""Promotional credit in the ledger: grant, spend, return, expiry, reconcile
(docs/ledger.md, "Promotional credit")."""

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from accounts.exceptions import RegionChangeRefused
from accounts.services import user_region_change
from catalog.models import Region
from catalog.regions import region_day_end
from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import credit_state, days_from_today, fund, grant
from wallet.exceptions import IdempotencyConflict, InsufficientFunds, WalletError
from wallet.models import Account, CreditLot, CreditLotSpend, Transfer, WalletSpend
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import (
    wallet_credit_grant,
    wallet_debit,
    wallet_expire_credit,
    wallet_spend,
    wallet_spend_return,
)
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db

ANY = {None: 10**9}


def shop_balance(kind: str, currency: str = "USD") -> int:
    """A shop account's balance: the sum of its postings (docs/ledger.md "Shop accounts")."""
    return account_balance_get(account=Account.objects.get(kind=kind, currency=currency))


def spend(user, amount, *, key="spend-1", payable=None):
    return wallet_spend(
        user=user,
        amount=amount,
        payable_by_category=ANY if payable is None else payable,
        idempotency_key=key,
        description="Order CP-TEST0001",
        reference="order:CP-TEST0001",
    )


def give_back(transfer, amount, *, key):
    return wallet_spend_return(
        transfer=transfer, amount=amount, idempotency_key=key, description="Refund", reference=None
    )


def account(user, kind):
    return Account.objects.get(user=user, kind=kind)


def assert_clean():
    report = ledger_reconcile()
    assert report.clean, report


# --- grant ---------------------------------------------------------------------------------


def test_grant_posts_from_credit_issued_to_the_shoppers_credit_account(user):
    lot = grant(user, 1000, days=30, categories=[7, 3, 7])

    assert (lot.amount, lot.remaining, lot.currency) == (1000, 1000, "USD")
    assert lot.expires_on == days_from_today(user, 30)
    assert lot.expires_at == region_day_end(user.region, lot.expires_on)
    assert lot.category_ids == [3, 7]
    assert lot.grant_transfer.kind == Transfer.Kind.CREDIT_GRANT
    assert account(user, Account.Kind.CUSTOMER_CREDIT).balance == 1000
    assert shop_balance(Account.Kind.CREDIT_ISSUED) == -1000
    assert not Account.objects.filter(user=user, kind=Account.Kind.CUSTOMER).exists()
    assert_clean()


def test_grant_is_idempotent_on_its_key(user):
    first = grant(user, 1000, key="grant-x")
    again = grant(user, 1000, key="grant-x")

    assert again.pk == first.pk
    assert CreditLot.objects.count() == 1
    assert account(user, Account.Kind.CUSTOMER_CREDIT).balance == 1000


def test_grant_replayed_for_another_amount_is_a_conflict_and_writes_nothing(user):
    grant(user, 1000, key="grant-x")
    before = credit_state()
    with pytest.raises(IdempotencyConflict):
        grant(user, 999, key="grant-x")
    with pytest.raises(IdempotencyConflict):
        grant(user, 1000, key="grant-x", days=31)
    assert credit_state() == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": 0},
        {"amount": -5},
        {"currency": "EUR"},
        {"expires_on": "yesterday"},
    ],
)
def test_grant_refusals_write_nothing(user, kwargs):
    before = credit_state()
    arguments = {
        "user": user,
        "amount": 500,
        "currency": "USD",
        "expires_on": days_from_today(user, 5),
        "idempotency_key": "grant-refused",
        "description": "x",
        "reference": "",
    }
    arguments.update(kwargs)
    if arguments["expires_on"] == "yesterday":
        arguments["expires_on"] = days_from_today(user, -1)
    with pytest.raises(WalletError):
        wallet_credit_grant(**arguments)
    assert credit_state() == before


def test_a_grant_whose_last_day_is_today_is_allowed(user):
    lot = grant(user, 100, days=0)
    assert wallet_balance_get(user=user).credit == 100
    assert lot.expires_on == days_from_today(user, 0)


# --- spend ---------------------------------------------------------------------------------


def test_spend_takes_credit_soonest_expiring_first_then_money(user):
    fund(user, 1000)
    late = grant(user, 500, days=60)
    soon = grant(user, 300, days=10)

    result = spend(user, 1000)

    assert (result.credit, result.money) == (800, 200)
    assert [(p.lot_id, p.amount) for p in result.parts] == [(soon.pk, 300), (late.pk, 500)]
    assert result.transfer.kind == Transfer.Kind.ORDER_PAYMENT
    assert result.transfer.reference == "order:CP-TEST0001"
    legs = sorted(
        (p.account.kind, p.amount) for p in result.transfer.postings.select_related("account")
    )
    assert legs == [("customer", -200), ("customer_credit", -800), ("purchases", 1000)]
    balance = wallet_balance_get(user=user)
    assert (balance.amount, balance.money, balance.credit, balance.lots) == (800, 800, 0, ())
    assert list(CreditLotSpend.objects.values_list("lot_id", "amount")) == [
        (soon.pk, 300),
        (late.pk, 500),
    ]
    assert_clean()


def test_spend_uses_only_part_of_a_lot_when_that_is_enough(user):
    lot = grant(user, 1000)
    result = spend(user, 250)
    assert (result.credit, result.money) == (250, 0)
    lot.refresh_from_db()
    assert lot.remaining == 750
    assert not Account.objects.filter(user=user, kind=Account.Kind.CUSTOMER).exists()


def test_a_lot_restricted_to_categories_pays_only_for_them(user):
    fund(user, 5000)
    books = grant(user, 2000, days=5, categories=[1])
    anything = grant(user, 2000, days=50)

    result = spend(user, 3000, payable={1: 600, 2: 1400, None: 1000})

    assert [(p.lot_id, p.amount) for p in result.parts] == [(books.pk, 600), (anything.pk, 2000)]
    assert (result.credit, result.money) == (2600, 400)
    assert_clean()


def test_spend_is_idempotent_on_its_key(user):
    fund(user, 1000)
    grant(user, 300)
    first = spend(user, 500, key="order:k1")
    again = spend(user, 500, key="order:k1")

    assert again.replayed
    assert again.transfer.pk == first.transfer.pk
    assert (again.credit, again.money, again.parts) == (first.credit, first.money, first.parts)
    assert WalletSpend.objects.count() == 1
    assert wallet_balance_get(user=user).amount == 800


def test_spend_replayed_for_another_amount_is_a_conflict_and_writes_nothing(user):
    fund(user, 1000)
    spend(user, 500, key="order:k1")
    before = credit_state()
    with pytest.raises(IdempotencyConflict), transaction.atomic():
        spend(user, 400, key="order:k1")
    assert credit_state() == before


def test_spend_more_than_credit_and_money_is_refused_and_writes_nothing(user):
    fund(user, 200)
    grant(user, 300)
    before = credit_state()
    with pytest.raises(InsufficientFunds), transaction.atomic():
        spend(user, 501)
    assert credit_state() == before


def test_credit_for_other_categories_does_not_count_towards_insufficient_funds(user):
    fund(user, 100)
    grant(user, 1000, categories=[9])
    before = credit_state()
    with pytest.raises(InsufficientFunds), transaction.atomic():
        spend(user, 500, payable={1: 500})
    assert credit_state() == before


def test_spend_with_no_wallet_at_all_is_insufficient_and_writes_nothing(user):
    before = credit_state()
    with pytest.raises(InsufficientFunds), transaction.atomic():
        spend(user, 1)
    assert credit_state() == before


@pytest.mark.parametrize("amount", [0, -1])
def test_spend_of_nothing_is_refused(user, amount):
    fund(user, 100)
    before = credit_state()
    with pytest.raises(WalletError):
        spend(user, amount)
    assert credit_state() == before


def test_an_expired_lot_never_pays(user):
    fund(user, 100)
    lot = grant(user, 500)
    CreditLot.objects.filter(pk=lot.pk).update(
        expires_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )
    with pytest.raises(InsufficientFunds), transaction.atomic():
        spend(user, 200)
    result = spend(user, 100, key="spend-2")
    assert (result.credit, result.money) == (0, 100)


def test_spend_in_the_callers_transaction_is_undone_with_it(user):
    grant(user, 500)
    before = credit_state()

    def order_that_fails_after_paying():
        with transaction.atomic():
            spend(user, 200)
            raise RuntimeError("the order failed after paying")

    with pytest.raises(RuntimeError):
        order_that_fails_after_paying()
    assert credit_state() == before


# --- return --------------------------------------------------------------------------------


def test_a_full_return_gives_each_lot_back_what_it_paid_with_its_old_expiry(user):
    fund(user, 1000)
    soon = grant(user, 300, days=10)
    late = grant(user, 500, days=60)
    paid = spend(user, 1000)

    result = give_back(paid.transfer, 1000, key="refund:1")

    assert result.transfer.kind == Transfer.Kind.REFUND
    soon.refresh_from_db()
    late.refresh_from_db()
    assert (soon.remaining, soon.expires_on) == (300, days_from_today(user, 10))
    assert (late.remaining, late.expires_on) == (500, days_from_today(user, 60))
    balance = wallet_balance_get(user=user)
    assert (balance.money, balance.credit) == (1000, 800)
    assert [lot.id for lot in balance.lots] == [soon.pk, late.pk]
    assert WalletSpend.objects.get().returned == 1000
    assert_clean()


@pytest.mark.parametrize("parts", [[1, 1, 1], [333, 333, 334], [1, 998, 1], [7] * 142 + [6]])
def test_partial_returns_sum_exactly_to_the_spend(user, parts):
    fund(user, 1000)
    grant(user, 300, days=10)
    grant(user, 400, days=20)
    paid = spend(user, 1000)
    assert (paid.credit, paid.money) == (700, 300)
    total = sum(parts)

    credit_back = money_back = 0
    for number, part in enumerate(parts):
        result = give_back(paid.transfer, part, key=f"refund:{number}")
        for posting in result.postings:
            if posting.amount > 0 and posting.account_id == account(user, "customer_credit").pk:
                credit_back += posting.amount
            elif posting.amount > 0:
                money_back += posting.amount
        # cumulative rounding: the credit back so far is always floor(C·R / T)
        returned = sum(parts[: number + 1])
        assert credit_back == 700 * returned // 1000

    assert credit_back + money_back == total
    if total == 1000:
        assert (credit_back, money_back) == (700, 300)
        assert sorted(CreditLot.objects.values_list("remaining", flat=True)) == [300, 400]
    assert_clean()


def test_a_return_goes_to_the_latest_expiring_lot_first(user):
    soon = grant(user, 300, days=10)
    late = grant(user, 400, days=20)
    paid = spend(user, 700)

    give_back(paid.transfer, 500, key="refund:1")

    assert dict(CreditLot.objects.values_list("pk", "remaining")) == {soon.pk: 100, late.pk: 400}


def test_credit_returned_to_an_expired_lot_goes_to_breakage(user):
    fund(user, 100)
    lot = grant(user, 400)
    paid = spend(user, 500)
    CreditLot.objects.filter(pk=lot.pk).update(
        expires_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )

    give_back(paid.transfer, 500, key="refund:1")

    lot.refresh_from_db()
    assert lot.remaining == 0
    assert account(user, "customer_credit").balance == 0
    assert account(user, "customer").balance == 100
    assert shop_balance(Account.Kind.CREDIT_BREAKAGE) == 400
    assert_clean()


def test_return_is_idempotent_on_its_key(user):
    grant(user, 500)
    paid = spend(user, 500)
    first = give_back(paid.transfer, 200, key="refund:1")
    again = give_back(paid.transfer, 200, key="refund:1")

    assert again.replayed
    assert again.transfer.pk == first.transfer.pk
    assert WalletSpend.objects.get().returned == 200
    assert CreditLot.objects.get().remaining == 200


@pytest.mark.parametrize("amount", [0, -1, 501])
def test_returning_nothing_or_more_than_was_paid_is_refused_and_writes_nothing(user, amount):
    grant(user, 500)
    paid = spend(user, 500)
    before = credit_state()
    with pytest.raises(WalletError), transaction.atomic():
        give_back(paid.transfer, amount, key="refund:x")
    assert credit_state() == before


def test_returning_more_than_is_left_after_earlier_returns_is_refused(user):
    grant(user, 500)
    paid = spend(user, 500)
    give_back(paid.transfer, 400, key="refund:1")
    before = credit_state()
    with pytest.raises(WalletError), transaction.atomic():
        give_back(paid.transfer, 101, key="refund:2")
    assert credit_state() == before


def test_return_replayed_for_another_amount_is_a_conflict(user):
    grant(user, 500)
    paid = spend(user, 500)
    give_back(paid.transfer, 200, key="refund:1")
    before = credit_state()
    with pytest.raises(IdempotencyConflict), transaction.atomic():
        give_back(paid.transfer, 100, key="refund:1")
    assert credit_state() == before


def test_a_payment_made_by_wallet_debit_is_returned_as_money(user):
    fund(user, 500)
    paid = wallet_debit(user=user, amount=300, idempotency_key="order:old", description="Order")

    give_back(paid.transfer, 300, key="refund:old")

    assert wallet_balance_get(user=user).money == 500
    assert_clean()


# --- expiry --------------------------------------------------------------------------------


def test_expiry_posts_the_remainder_to_breakage_once_per_lot(user):
    fund(user, 100)
    lot = grant(user, 500, days=3)
    spend(user, 200)
    after = region_day_end(user.region, lot.expires_on)

    first = wallet_expire_credit(now=after)
    second = wallet_expire_credit(now=after + datetime.timedelta(days=1))

    assert (first.lots, first.amounts) == (1, {"USD": 300})
    assert (second.lots, second.amounts) == (0, {})
    lot.refresh_from_db()
    assert lot.remaining == 0
    expiry = Transfer.objects.get(kind=Transfer.Kind.CREDIT_EXPIRY)
    assert expiry.idempotency_key == f"credit-expire:{lot.pk}"
    assert shop_balance(Account.Kind.CREDIT_BREAKAGE) == 300
    assert account(user, "customer_credit").balance == 0
    assert account(user, "customer").balance == 100  # gift card money never expires
    assert_clean()


def test_expiry_leaves_a_lot_whose_last_day_is_not_over(user):
    lot = grant(user, 500, days=3)
    end = region_day_end(user.region, lot.expires_on)
    result = wallet_expire_credit(now=end - datetime.timedelta(seconds=1))
    assert result.lots == 0
    assert CreditLot.objects.get().remaining == 500


def test_expiry_across_a_time_zone_boundary_tokyo_over_new_york_not():
    tokyo = UserFactory(region_id="JP")
    new_york = UserFactory(region_id="US")
    day = max(days_from_today(tokyo, 5), days_from_today(new_york, 5))
    jp_lot = wallet_credit_grant(
        user=tokyo,
        amount=1500,
        currency="JPY",
        expires_on=day,
        idempotency_key="jp",
        description="x",
        reference="",
    )
    us_lot = wallet_credit_grant(
        user=new_york,
        amount=1000,
        currency="USD",
        expires_on=day,
        idempotency_key="us",
        description="x",
        reference="",
    )
    # 00:30 on the day after in Tokyo is 10:30 (EST) on the last day itself in New York.
    moment = region_day_end(tokyo.region, day) + datetime.timedelta(minutes=30)
    assert moment < region_day_end(new_york.region, day)

    result = wallet_expire_credit(now=moment)

    assert (result.lots, result.amounts) == (1, {"JPY": 1500})
    jp_lot.refresh_from_db()
    us_lot.refresh_from_db()
    assert (jp_lot.remaining, us_lot.remaining) == (0, 1000)
    later = wallet_expire_credit(now=region_day_end(new_york.region, day))
    assert (later.lots, later.amounts) == (1, {"USD": 1000})
    assert_clean()


def test_a_lot_whose_day_is_over_is_not_spendable_before_the_sweep(user):
    lot = grant(user, 500)
    CreditLot.objects.filter(pk=lot.pk).update(
        expires_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )
    balance = wallet_balance_get(user=user)
    assert (balance.amount, balance.credit, balance.lots) == (0, 0, ())
    # The ledger still holds it until wallet_expire_credit posts it: reconcile agrees.
    assert_clean()


def test_the_command_prints_one_summary_line_and_is_idempotent(user, capsys):
    lot = grant(user, 500, days=0)
    CreditLot.objects.filter(pk=lot.pk).update(
        expires_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )
    call_command("wallet_expire_credit")
    assert capsys.readouterr().out == "Expired promotional credit: 1 lot, 5.00 USD.\n"
    call_command("wallet_expire_credit")
    assert capsys.readouterr().out == "No promotional credit to expire.\n"
    assert Transfer.objects.filter(kind=Transfer.Kind.CREDIT_EXPIRY).count() == 1
    assert_clean()


def test_the_command_refuses_unknown_flags():
    with pytest.raises(CommandError):
        call_command("wallet_expire_credit", "--everything")


# --- reconcile -----------------------------------------------------------------------------


def test_reconcile_stays_clean_through_grants_spends_returns_and_expiry(user):
    fund(user, 1000)
    first = grant(user, 300, days=2)
    grant(user, 700, days=9, categories=[4])
    paid = spend(user, 1500, payable={4: 500, None: 1000})
    assert_clean()
    give_back(paid.transfer, 700, key="refund:1")
    assert_clean()
    wallet_expire_credit(now=region_day_end(user.region, first.expires_on))
    assert_clean()
    give_back(paid.transfer, 800, key="refund:2")
    assert_clean()


def test_reconcile_reports_a_credit_account_that_differs_from_its_lots(user, capsys):
    lot = grant(user, 500)
    CreditLot.objects.filter(pk=lot.pk).update(remaining=400)
    report = ledger_reconcile()
    credit = account(user, "customer_credit")
    assert report.credit_lot_mismatches == [(credit.pk, 500, 400)]
    assert not report.clean
    with pytest.raises(CommandError):
        call_command("wallet_reconcile")
    assert f"credit account {credit.pk}: balance 500 != its lots' remaining 400" in (
        capsys.readouterr().out
    )


def test_a_payment_that_never_stood_is_given_back_as_a_reversal(user):
    fund(user, 100)
    lot = grant(user, 400)
    paid = spend(user, 500)

    result = wallet_spend_return(
        transfer=paid.transfer,
        amount=500,
        idempotency_key="order-payment-failed:k",
        description="Order CP-TEST0001: card payment failed, balance returned",
        reference="order:CP-TEST0001",
        kind=Transfer.Kind.REVERSAL,
    )

    assert result.transfer.kind == Transfer.Kind.REVERSAL
    lot.refresh_from_db()
    assert lot.remaining == 400
    assert wallet_balance_get(user=user).money == 100
    assert_clean()


def test_credit_held_stops_a_change_to_another_currency_like_money(user):
    grant(user, 500)
    with pytest.raises(RegionChangeRefused) as refused:
        user_region_change(user=user, region=Region.objects.get(code="JP"), by=user)
    assert "promotional credit" in str(refused.value)
    user.refresh_from_db()
    assert user.region_id == "US"
