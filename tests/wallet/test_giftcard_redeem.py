"""giftcard_redeem: a claim code into the balance, at once and exactly once."""

import datetime
import time

import pytest
from django.test import override_settings
from django.utils import timezone

from catalog.regions import region_today
from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from wallet import guessing
from wallet.codes import check_symbol, code_display
from wallet.exceptions import CodeRefused
from wallet.models import Account, GiftCard, GiftCardBatch, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_redeem, wallet_credit
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db

# Well-formed (valid check symbol) but never issued.
UNKNOWN_CODE = "0000000000000" + "1" + check_symbol("00000000000001")


def _refused(reason: str, **kwargs) -> None:
    """Redeem expecting refusal for `reason`, and prove the refusal wrote nothing."""
    before = ledger_state()
    with pytest.raises(CodeRefused) as refusal:
        giftcard_redeem(**kwargs)
    assert refusal.value.reason == reason
    assert str(refusal.value) == CodeRefused.MESSAGES[reason]
    assert ledger_state() == before


def _disable(card: GiftCard) -> None:
    GiftCard.objects.filter(pk=card.pk).update(status=GiftCard.Status.DISABLED)


# --- the happy path ---------------------------------------------------------------------------


def test_redeem_adds_the_card_to_the_balance(user):
    issued = issue_card(region="US", amount=2500)

    redemption = giftcard_redeem(user=user, code=issued.code, ip="10.0.0.1")

    assert (redemption.balance, redemption.currency) == (2500, "USD")
    assert redemption.card.pk == issued.card.pk
    assert wallet_balance_get(user=user).amount == 2500
    card = GiftCard.objects.get()
    assert card.status == GiftCard.Status.REDEEMED
    assert card.redeemed_by == user
    assert abs(card.redeemed_at - timezone.now()) < datetime.timedelta(minutes=1)
    transfer = redemption.transfer
    assert transfer.kind == Transfer.Kind.GIFTCARD_REDEEM
    assert transfer.idempotency_key == f"giftcard-redeem:{card.pk}"
    assert issued.code not in transfer.description
    assert {(p.account.kind, p.amount, p.balance_after) for p in transfer.postings.all()} == {
        # A shop account's posting carries no running balance (docs/ledger.md "Shop accounts").
        (Account.Kind.GIFTCARDS_OUTSTANDING, -2500, None),
        (Account.Kind.CUSTOMER, 2500, 2500),
    }
    outstanding = Account.objects.get(kind=Account.Kind.GIFTCARDS_OUTSTANDING)
    assert account_balance_get(account=outstanding) == 0
    assert ledger_reconcile().clean


def test_a_successful_redemption_counts_no_failure(user):
    giftcard_redeem(user=user, code=issue_card().code, ip="10.0.0.1")
    assert guessing.redemption_failure_count(user_id=user.pk, ip="10.0.0.1") == {
        f"user:{user.pk}": 0,
        "ip:10.0.0.1": 0,
    }


def test_redemptions_add_to_an_existing_balance(user):
    wallet_credit(user=user, amount=111, idempotency_key="c", description="x")
    giftcard_redeem(user=user, code=issue_card(amount=2500).code)
    redemption = giftcard_redeem(user=user, code=issue_card(amount=1000).code)
    assert redemption.balance == 3611
    assert wallet_balance_get(user=user).amount == 3611


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code.lower(),
        lambda code: code_display(code),
        lambda code: " ".join(code_display(code).lower().split("-")),
        lambda code: f"  {code}  ",
    ],
)
def test_redeem_accepts_the_code_as_people_type_it(user, typed):
    issued = issue_card()
    giftcard_redeem(user=user, code=typed(issued.code))
    assert wallet_balance_get(user=user).amount == 2500


def test_redeem_reads_lookalike_letters(user):
    issued = issue_card()
    typed = issued.code.replace("0", "O").replace("1", "l")
    giftcard_redeem(user=user, code=typed)
    assert GiftCard.objects.get().status == GiftCard.Status.REDEEMED


def test_a_card_redeems_on_its_last_day(user):
    issued = issue_card(expires_on=timezone.localdate())
    giftcard_redeem(user=user, code=issued.code)
    assert wallet_balance_get(user=user).amount == 2500


@pytest.mark.parametrize(("region", "currency"), [("GB", "GBP"), ("FR", "EUR"), ("JP", "JPY")])
def test_redeem_in_other_regions(region, currency):
    shopper = UserFactory(region_id=region)
    redemption = giftcard_redeem(user=shopper, code=issue_card(region=region, amount=3000).code)
    assert (redemption.balance, redemption.currency) == (3000, currency)
    assert wallet_balance_get(user=shopper).currency == currency


def test_a_card_in_an_issued_batch_redeems(user):
    batch = GiftCardBatch.objects.create(
        name="b", region_id="US", currency="USD", status=GiftCardBatch.Status.ISSUED
    )
    giftcard_redeem(user=user, code=issue_card(batch=batch).code)
    assert wallet_balance_get(user=user).amount == 2500


# --- every refusal writes nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "nonsense",
        "ABCDEFGHJKMNPQ",  # 14 symbols
        "ABCDEFGHJKMNPQYY",  # 16 symbols
        "ABCDEFGHJKMNPQU",  # U is outside the alphabet
        "ABCDEFGHJKMNP*Y",
        "ABCDEFGHJKMNPéY",
    ],
)
def test_typo(user, typed):
    issue_card()
    _refused("typo", user=user, code=typed)


def test_a_single_mistyped_symbol_is_a_typo_not_a_lookup(user, django_assert_num_queries):
    issued = issue_card()
    wrong = "Z" if issued.code[3] != "Z" else "Y"
    typo = issued.code[:3] + wrong + issued.code[4:]
    with django_assert_num_queries(0), pytest.raises(CodeRefused) as refusal:
        giftcard_redeem(user=user, code=typo)
    assert refusal.value.reason == "typo"
    assert GiftCard.objects.get().status == GiftCard.Status.ACTIVE


def test_not_found(user):
    issue_card()
    _refused("not_found", user=user, code=UNKNOWN_CODE)


def test_not_found_with_another_pepper(user, settings):
    """The code is looked up by its keyed hash: under another pepper it is not there."""
    issued = issue_card()
    settings.CODE_PEPPER = "a-different-pepper"
    _refused("not_found", user=user, code=issued.code)


def test_already_redeemed_by_someone_else(user, other_user):
    issued = issue_card()
    giftcard_redeem(user=other_user, code=issued.code)
    _refused("already_redeemed", user=user, code=issued.code)
    assert wallet_balance_get(user=user).amount == 0
    assert GiftCard.objects.get().redeemed_by == other_user


def test_already_redeemed_by_oneself(user):
    issued = issue_card()
    giftcard_redeem(user=user, code=issued.code)
    _refused("already_redeemed", user=user, code=code_display(issued.code).lower())
    assert wallet_balance_get(user=user).amount == 2500


def test_expired(user):
    issued = issue_card(expires_on=timezone.localdate())
    GiftCard.objects.filter(pk=issued.card.pk).update(
        expires_on=region_today(issued.card.region) - datetime.timedelta(days=1)
    )
    _refused("expired", user=user, code=issued.code)


def test_expired_once_its_last_day_is_over(user, monkeypatch):
    # The last day is a day in the card's region (tests/wallet/test_expiry_timezones.py has the
    # boundaries); a day later is past it in every zone.
    issued = issue_card(expires_on=timezone.localdate())
    a_day_later = timezone.now() + datetime.timedelta(days=1, hours=14)
    monkeypatch.setattr("django.utils.timezone.now", lambda: a_day_later)
    _refused("expired", user=user, code=issued.code)


def test_disabled(user):
    issued = issue_card()
    _disable(issued.card)
    _refused("disabled", user=user, code=issued.code)


@pytest.mark.parametrize(
    "status", [s for s in GiftCardBatch.Status.values if s != GiftCardBatch.Status.ISSUED]
)
def test_a_card_of_a_batch_not_issued_is_refused(user, status):
    batch = GiftCardBatch.objects.create(name="b", region_id="US", currency="USD", status=status)
    issued = issue_card(batch=batch)
    _refused("disabled", user=user, code=issued.code)


def test_wrong_region(user):
    issued = issue_card(region="GB")
    _refused("wrong_region", user=user, code=issued.code)


def test_wrong_region_even_in_the_same_currency():
    german = UserFactory(region_id="DE")
    issued = issue_card(region="FR")
    _refused("wrong_region", user=german, code=issued.code)
    assert not Account.objects.filter(kind=Account.Kind.CUSTOMER).exists()


def test_a_refused_card_still_redeems_for_the_right_shopper(user):
    issued = issue_card(region="GB")
    _refused("wrong_region", user=user, code=issued.code)
    briton = UserFactory(region_id="GB")
    assert giftcard_redeem(user=briton, code=issued.code).balance == 2500


@pytest.mark.parametrize(
    "reason", ["typo", "not_found", "already_redeemed", "expired", "disabled", "wrong_region"]
)
def test_every_refusal_counts_against_the_account_and_the_address(user, other_user, reason):
    issued = issue_card(region="GB" if reason == "wrong_region" else "US")
    code = issued.code
    if reason == "typo":
        code = "not a code"
    elif reason == "not_found":
        code = UNKNOWN_CODE
    elif reason == "already_redeemed":
        giftcard_redeem(user=other_user, code=code)
    elif reason == "expired":
        GiftCard.objects.filter(pk=issued.card.pk).update(
            expires_on=region_today(issued.card.region) - datetime.timedelta(days=1)
        )
    elif reason == "disabled":
        _disable(issued.card)

    _refused(reason, user=user, code=code, ip="10.0.0.9")

    assert guessing.redemption_failure_count(user_id=user.pk, ip="10.0.0.9") == {
        f"user:{user.pk}": 1,
        "ip:10.0.0.9": 1,
    }


# --- guessing limits --------------------------------------------------------------------------


def _guess_wrong(user, times: int, ip: str | None = None) -> None:
    for _ in range(times):
        with pytest.raises(CodeRefused) as refusal:
            giftcard_redeem(user=user, code=UNKNOWN_CODE, ip=ip)
        assert refusal.value.reason == "not_found"


def test_ten_refused_codes_lock_the_account_even_for_a_valid_code(user):
    _guess_wrong(user, 10)
    issued = issue_card()

    _refused("locked", user=user, code=issued.code)

    assert GiftCard.objects.get().status == GiftCard.Status.ACTIVE
    assert wallet_balance_get(user=user).amount == 0


def test_nine_refused_codes_do_not_lock(user):
    _guess_wrong(user, 9)
    issued = issue_card()
    assert giftcard_redeem(user=user, code=issued.code).balance == 2500


def test_typos_count_towards_the_lock(user):
    for _ in range(10):
        with pytest.raises(CodeRefused):
            giftcard_redeem(user=user, code="typo")
    _refused("locked", user=user, code=issue_card().code)


def test_while_locked_a_refusal_is_locked_whatever_the_code(user):
    _guess_wrong(user, 10)
    _refused("locked", user=user, code="typo")
    _refused("locked", user=user, code=UNKNOWN_CODE)


def test_the_account_lock_holds_on_another_address(user):
    _guess_wrong(user, 10, ip="10.0.0.1")
    _refused("locked", user=user, code=issue_card().code, ip="10.0.0.2")


def test_one_account_locked_leaves_another_free(user, other_user):
    _guess_wrong(user, 10)
    assert giftcard_redeem(user=other_user, code=issue_card().code).balance == 2500


def test_thirty_refused_codes_from_one_address_lock_it_for_everyone():
    ip = "203.0.113.7"
    guessers = [UserFactory() for _ in range(6)]
    for guesser in guessers:
        _guess_wrong(guesser, 5, ip=ip)  # each account stays under its own limit of 10
    newcomer = UserFactory()
    issued = issue_card()

    _refused("locked", user=newcomer, code=issued.code, ip=ip)

    # The same shopper from another address, and the guessers without one, are not locked.
    assert giftcard_redeem(user=newcomer, code=issued.code, ip="198.51.100.1").balance == 2500
    assert giftcard_redeem(user=guessers[0], code=issue_card().code).balance == 2500


def test_twenty_nine_refused_codes_from_one_address_do_not_lock_it():
    ip = "203.0.113.7"
    for guesses in (5, 5, 5, 5, 5, 4):
        _guess_wrong(UserFactory(), guesses, ip=ip)
    assert giftcard_redeem(user=UserFactory(), code=issue_card().code, ip=ip).balance == 2500


@override_settings(REDEEM_LIMIT_PER_USER=3, REDEEM_LIMIT_PER_IP=5)
def test_the_limits_come_from_settings(user, other_user):
    _guess_wrong(user, 3)
    _refused("locked", user=user, code=issue_card().code)

    _guess_wrong(other_user, 2, ip="10.1.1.1")
    _guess_wrong(UserFactory(), 2, ip="10.1.1.1")
    _guess_wrong(UserFactory(), 1, ip="10.1.1.1")
    _refused("locked", user=UserFactory(), code=issue_card().code, ip="10.1.1.1")


@override_settings(REDEEM_LIMIT_PER_USER=3, REDEEM_WINDOW_SECONDS=1)
def test_refusals_older_than_the_window_are_forgotten(user):
    _guess_wrong(user, 2)
    time.sleep(1.2)
    _guess_wrong(user, 2)  # a fresh window: 2 of 3
    assert guessing.redemption_failure_count(user_id=user.pk)[f"user:{user.pk}"] == 2
    assert giftcard_redeem(user=user, code=issue_card().code).balance == 2500


@override_settings(REDEEM_LIMIT_PER_USER=3, REDEEM_LOCKOUT_SECONDS=1, REDEEM_WINDOW_SECONDS=1)
def test_the_lock_lifts_after_the_lockout(user):
    _guess_wrong(user, 3)
    issued = issue_card()
    _refused("locked", user=user, code=issued.code)
    time.sleep(1.2)
    assert giftcard_redeem(user=user, code=issued.code).balance == 2500


def test_the_lockout_lasts_thirty_minutes_and_the_window_ten(settings):
    assert settings.REDEEM_LIMIT_PER_USER == 10
    assert settings.REDEEM_LIMIT_PER_IP == 30
    assert settings.REDEEM_WINDOW_SECONDS == 10 * 60
    assert settings.REDEEM_LOCKOUT_SECONDS == 30 * 60
