"""Granting and taking back a gift card bonus's credit (promotions/services/bonus.py), with the
use claimed as `order_place` claims it and the credit spent through the real wallet. The
checkout flow around them (place, capture, refund) is test_giftcard_bonus_checkout.py; the
race of a claw-back with a spend of that credit is at the end (PostgreSQL)."""

import datetime

import pytest
from django.core import mail
from django.db import connection

from catalog.regions import region_today
from promotions.engine import AppliedPromotion
from promotions.exceptions import PromotionNoLongerApplies
from promotions.models import GiftCardBonus, Promotion, PromotionRedemption
from promotions.services import promotion_redemptions_claim, promotion_redemptions_release
from promotions.services.bonus import giftcard_bonus_claw_back, giftcard_bonus_grant
from tests.accounts.factories import UserFactory
from tests.promotions.factories import automatic_promotion
from tests.wallet.credit_factories import credit_state
from tests.wallet.test_races import run_together
from wallet.exceptions import InsufficientFunds
from wallet.models import CreditLot, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import wallet_expire_credit, wallet_spend

NUMBER = "CP-BONUS001"


def bonus_offer(**fields):
    fields.setdefault("credit_days", 30)
    return automatic_promotion(
        slug="giftcard-bonus",
        name="Gift card bonus",
        kind=Promotion.Kind.GIFTCARD_BONUS,
        percent=None,
        amounts={"USD": {"amount_off": 1000, "minimum_subtotal": 5000}},
        **fields,
    )


def claim(user, promotion, *, number=NUMBER, credit=1000):
    """The use, claimed as order_place claims it (the redemption's amount: the credit)."""
    applied = AppliedPromotion(
        promotion_id=promotion.pk,
        slug=promotion.slug,
        code="",
        code_id=None,
        label="",
        amount=credit,
    )
    (redemption,) = promotion_redemptions_claim(
        user=user, order_number=number, currency="USD", applied=[applied]
    )
    return redemption


def grant(user, promotion, *, total=6000, number=NUMBER):
    return giftcard_bonus_grant(
        user=user, order_number=number, gift_card_total=total, minimums={promotion.pk: 5000}
    )


def claw_back(promotion, *, left=0, key="refund:1", number=NUMBER):
    return giftcard_bonus_claw_back(
        order_number=number,
        gift_card_total_left=left,
        minimums={promotion.pk: 5000},
        idempotency_key=key,
    )


def spend(user, amount, key="order:spend"):
    return wallet_spend(
        user=user,
        amount=amount,
        payable_by_category={None: amount},
        idempotency_key=key,
        description="Order CP-OTHER",
        reference="order:CP-OTHER",
    )


@pytest.mark.django_db
def test_the_grant_gives_one_lot_once_with_the_credit_kinds_expiry_and_an_email(
    user, django_capture_on_commit_callbacks
):
    promotion = bonus_offer()
    claim(user, promotion)
    with django_capture_on_commit_callbacks(execute=True):
        (bonus,) = grant(user, promotion)
    lot = bonus.lot
    assert (bonus.status, bonus.credit, bonus.minimum) == ("granted", 1000, 5000)
    assert (lot.amount, lot.remaining, lot.currency) == (1000, 1000, "USD")
    assert lot.expires_on == region_today(user.region) + datetime.timedelta(days=30)
    assert lot.grant_transfer.idempotency_key == f"giftcard-bonus:{NUMBER}:{promotion.pk}"
    assert lot.reference == f"order:{NUMBER}"
    assert wallet_balance_get(user=user).credit == 1000
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert "$10.00" in message.subject

    # The hook and the sweep, a retry: nothing more.
    before = credit_state()
    with django_capture_on_commit_callbacks(execute=True):
        assert grant(user, promotion) == []
    assert credit_state() == before
    assert GiftCardBonus.objects.count() == 1
    assert len(mail.outbox) == 1
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_gift_cards_refunded_below_the_minimum_before_the_grant_give_nothing(user):
    promotion = bonus_offer()
    claim(user, promotion)
    before = credit_state()
    (bonus,) = grant(user, promotion, total=4999)
    assert (bonus.status, bonus.lot) == ("not_granted", None)
    assert credit_state() == before
    # A later call (the cards are what they are) grants nothing either.
    assert grant(user, promotion, total=6000) == []
    assert CreditLot.objects.count() == 0


@pytest.mark.django_db
def test_a_released_use_payment_failed_grants_nothing(user):
    promotion = bonus_offer()
    claim(user, promotion)
    promotion_redemptions_release(order_number=NUMBER)
    before = credit_state()
    assert grant(user, promotion) == []
    assert credit_state() == before
    assert GiftCardBonus.objects.count() == 0


@pytest.mark.django_db
def test_claw_back_of_unspent_credit_takes_the_whole_lot_back_and_withholds_nothing(user):
    promotion = bonus_offer()
    claim(user, promotion)
    (bonus,) = grant(user, promotion)
    assert claw_back(promotion, left=3000) == 0
    bonus.refresh_from_db()
    assert (bonus.status, bonus.taken_back, bonus.withheld) == ("clawed_back", 1000, 0)
    assert CreditLot.objects.get().remaining == 0
    assert wallet_balance_get(user=user).credit == 0
    back = Transfer.objects.get(idempotency_key=f"giftcard-bonus-back:{NUMBER}:{promotion.pk}")
    assert back.kind == Transfer.Kind.REVERSAL
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_credit_already_spent_is_withheld_once_the_rest_taken_back(user):
    promotion = bonus_offer()
    claim(user, promotion)
    grant(user, promotion)
    spend(user, 400)
    assert claw_back(promotion, left=0, key="refund:1") == 400
    bonus = GiftCardBonus.objects.get()
    assert (bonus.taken_back, bonus.withheld) == (600, 400)
    assert wallet_balance_get(user=user).credit == 0
    assert ledger_reconcile().clean
    # The same refund replayed: the same answer, nothing more written; another refund: 0.
    before = credit_state()
    assert claw_back(promotion, left=0, key="refund:1") == 400
    assert claw_back(promotion, left=0, key="refund:2") == 0
    assert credit_state() == before


@pytest.mark.django_db
def test_gift_cards_still_at_the_minimum_keep_the_credit(user):
    promotion = bonus_offer()
    claim(user, promotion)
    grant(user, promotion, total=8000)
    before = credit_state()
    assert claw_back(promotion, left=5000) == 0
    assert credit_state() == before
    assert GiftCardBonus.objects.get().status == "granted"


@pytest.mark.django_db
def test_a_claw_back_before_the_grant_settles_it_so_the_grant_gives_nothing(user):
    promotion = bonus_offer()
    claim(user, promotion)
    before = credit_state()
    assert claw_back(promotion, left=0) == 0
    assert credit_state() == before
    assert GiftCardBonus.objects.get().status == "not_granted"
    assert grant(user, promotion, total=6000) == []
    assert CreditLot.objects.count() == 0


@pytest.mark.django_db
def test_credit_that_expired_unspent_is_neither_taken_back_nor_withheld(user):
    promotion = bonus_offer()
    claim(user, promotion)
    (bonus,) = grant(user, promotion)
    wallet_expire_credit(now=bonus.lot.expires_at + datetime.timedelta(seconds=1))
    assert claw_back(promotion, left=0) == 0
    bonus.refresh_from_db()
    assert (bonus.status, bonus.taken_back, bonus.withheld) == ("clawed_back", 0, 0)
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_the_claim_counts_the_use_and_the_budget_like_any_promotion(user, other_user):
    promotion = bonus_offer(total_limit=1)
    redemption = claim(user, promotion)
    assert PromotionRedemption.objects.get() == redemption
    assert Promotion.objects.get().uses_count == 1
    with pytest.raises(PromotionNoLongerApplies):
        claim(other_user, promotion, number="CP-BONUS002")


# --- PostgreSQL: the claw-back and spends of that credit at the same moment


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_race_claw_back_among_19_spends_of_the_credit_adds_up_exactly():
    if connection.vendor != "postgresql":
        pytest.fail("race tests need PostgreSQL", pytrace=False)
    shopper = UserFactory()
    promotion = bonus_offer()
    claim(shopper, promotion)
    grant(shopper, promotion)
    spends = [lambda n=n: spend(shopper, 100, key=f"order:race-{n}").credit for n in range(19)]

    claw, *spent = run_together([lambda: claw_back(promotion, left=0), *spends])

    assert claw.error is None
    paid = [o for o in spent if o.error is None]
    assert all(isinstance(o.error, InsufficientFunds) for o in spent if o.error is not None)
    bonus = GiftCardBonus.objects.get()
    # What was spent before the claw-back is withheld, the rest went back; nothing after it.
    assert claw.value == bonus.withheld == 100 * len(paid)
    assert bonus.taken_back == 1000 - bonus.withheld
    assert wallet_balance_get(user=shopper).credit == 0
    assert ledger_reconcile().clean
