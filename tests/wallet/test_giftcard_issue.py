"""giftcard_issue: one card, its code handed over once, its value in the ledger."""

import datetime

import pytest
from django.utils import timezone

from catalog.models import Region
from catalog.regions import region_today
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from wallet.codes import CODE_LENGTH, check_symbol, code_hash
from wallet.exceptions import WalletError
from wallet.models import Account, GiftCard, GiftCardBatch, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.services import giftcard_issue
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db


def _balance(kind: str, currency: str) -> int:
    return account_balance_get(account=Account.objects.get(kind=kind, currency=currency))


def test_issue_stores_the_card_by_keyed_hash_only(user):
    issued = issue_card(region="US", amount=2500, created_by=user)

    card = GiftCard.objects.get()
    assert card == issued.card
    assert len(issued.code) == CODE_LENGTH
    assert issued.code[-1] == check_symbol(issued.code[:-1])
    assert card.code_hash == code_hash(issued.code)
    assert card.last4 == issued.code[-4:]
    assert (card.amount, card.currency, card.region_id) == (2500, "USD", "US")
    assert card.status == GiftCard.Status.ACTIVE
    assert (card.redeemed_by, card.redeemed_at, card.expires_on, card.batch) == (
        None,
        None,
        None,
        None,
    )
    # The full code is stored nowhere: not in any field of the card, nor in the ledger.
    stored = [str(value) for value in GiftCard.objects.values().get().values()]
    stored += [str(value) for row in Transfer.objects.values() for value in row.values()]
    assert not any(issued.code in value for value in stored)
    assert issued.code not in str(card)
    assert issued.code not in card.masked_code
    assert card.masked_code.endswith(issued.code[-4:])


def test_issue_moves_the_value_from_funding_to_outstanding(user):
    issued = issue_card(region="US", amount=2500, created_by=user)

    assert _balance(Account.Kind.GIFTCARDS_ISSUED, "USD") == -2500
    assert _balance(Account.Kind.GIFTCARDS_OUTSTANDING, "USD") == 2500
    transfer = Transfer.objects.get()
    assert transfer.kind == Transfer.Kind.GIFTCARD_ISSUE
    assert transfer.idempotency_key == f"giftcard-issue:{issued.card.pk}"
    assert transfer.created_by == user
    assert issued.code not in transfer.description
    assert issued.card.last4 in transfer.description
    assert sorted(Posting.objects.values_list("amount", flat=True)) == [-2500, 2500]
    assert not Account.objects.filter(kind=Account.Kind.CUSTOMER).exists()
    assert ledger_reconcile().clean


@pytest.mark.parametrize(
    ("region", "amount", "currency"),
    [
        ("US", 2500, "USD"),
        ("GB", 2000, "GBP"),
        ("FR", 2500, "EUR"),
        ("DE", 1, "EUR"),
        ("JP", 3000, "JPY"),
    ],
)
def test_issue_in_every_region_uses_its_currency(region, amount, currency):
    issued = issue_card(region=region, amount=amount)
    assert (issued.card.currency, issued.card.region_id, issued.card.amount) == (
        currency,
        region,
        amount,
    )
    assert _balance(Account.Kind.GIFTCARDS_OUTSTANDING, currency) == amount


def test_regions_sharing_a_currency_share_the_liability_account():
    issue_card(region="FR", amount=1000)
    issue_card(region="DE", amount=500)
    assert Account.objects.filter(kind=Account.Kind.GIFTCARDS_OUTSTANDING).count() == 1
    assert _balance(Account.Kind.GIFTCARDS_OUTSTANDING, "EUR") == 1500


def test_many_cards_have_distinct_codes_and_add_up():
    codes = {issue_card(amount=100).code for _ in range(40)}
    assert len(codes) == 40
    assert GiftCard.objects.count() == 40
    assert len(set(GiftCard.objects.values_list("code_hash", flat=True))) == 40
    assert _balance(Account.Kind.GIFTCARDS_OUTSTANDING, "USD") == 4000
    assert ledger_reconcile().clean


def test_issue_with_an_expiry_date_today_or_later():
    today = timezone.localdate()
    assert issue_card(expires_on=today).card.expires_on == today
    later = today + datetime.timedelta(days=365)
    assert issue_card(expires_on=later).card.expires_on == later


def test_issue_into_a_batch():
    batch = GiftCardBatch.objects.create(
        name="Spring", region_id="US", currency="USD", status=GiftCardBatch.Status.ISSUED
    )
    issued = issue_card(batch=batch)
    assert issued.card.batch == batch
    assert list(batch.cards.all()) == [issued.card]


@pytest.mark.parametrize("amount", [0, -1, -2500])
def test_a_non_positive_amount_is_refused_and_nothing_written(amount):
    before = ledger_state()
    with pytest.raises(WalletError):
        issue_card(amount=amount)
    assert ledger_state() == before
    assert not GiftCard.objects.exists()
    assert not Account.objects.exists()


def test_a_past_expiry_date_is_refused_and_nothing_written():
    before = ledger_state()
    with pytest.raises(WalletError, match="past"):
        issue_card(
            expires_on=region_today(Region.objects.get(code="US")) - datetime.timedelta(days=1)
        )
    assert ledger_state() == before
    assert not GiftCard.objects.exists()


def test_issue_takes_the_region_object():
    issued = giftcard_issue(region=Region.objects.get(code="JP"), amount=5000)
    assert issued.card.currency == "JPY"
