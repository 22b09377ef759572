"""A refund of an order's gift cards takes its gift card bonus back (docs/promotions.md, "Gift
card bonus"): below the minimum the unspent credit goes back and what was already spent is
withheld from the card refund, by units and in a full refund; at the minimum, or when only
the other lines come back, the credit stays. Through the real services: the buy service,
`order_place` with the capture after commit, the refunds."""

import pytest
from django.contrib.auth.models import Permission

from checkout.models import OrderGiftCard
from checkout.services import order_refund, order_refund_units
from promotions.models import GiftCardBonus, PromotionRedemption
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import address_give, cart_fill, new_key
from tests.promotions.test_giftcard_bonus_checkout import gift_cards, offer, place
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import wallet_spend

__all__ = ["offer"]  # the fixture, shared


@pytest.fixture
def refunder(db):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return staff


def refund_gift(order, amount, refunder, key=None):
    gift = OrderGiftCard.objects.filter(order=order, amount=amount).first()
    return order_refund_units(
        order_id=order.pk,
        units={gift.line_id: 1},
        reason="Bought by mistake",
        idempotency_key=key or new_key(),
        by=refunder,
    )


@pytest.mark.django_db
def test_refunding_a_gift_card_below_the_minimum_takes_the_unspent_credit_back(
    user, offer, refunder
):
    gift_cards(user, 3000, 3000)
    order = place(user)
    refund = refund_gift(order, 3000, refunder)
    order.refresh_from_db()
    assert order.card_refunded == 3000  # nothing was spent: nothing withheld
    bonus = GiftCardBonus.objects.get()
    assert (bonus.status, bonus.taken_back, bonus.withheld) == ("clawed_back", 1000, 0)
    assert wallet_balance_get(user=user).credit == 0
    assert refund.from_card == 3000
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_credit_already_spent_is_withheld_from_the_card_refund(user, offer, refunder):
    gift_cards(user, 3000, 3000)
    order = place(user)
    wallet_spend(
        user=user,
        amount=400,
        payable_by_category={None: 400},
        idempotency_key="order:elsewhere",
        description="Order CP-ELSEWHERE",
        reference="order:CP-ELSEWHERE",
    )
    refund_gift(order, 3000, refunder)
    order.refresh_from_db()
    assert order.card_refunded == 3000 - 400
    bonus = GiftCardBonus.objects.get()
    assert (bonus.taken_back, bonus.withheld) == (600, 400)
    assert wallet_balance_get(user=user).credit == 0
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_gift_cards_still_at_the_minimum_after_a_refund_keep_the_credit(user, offer, refunder):
    gift_cards(user, 5000, 2500)
    order = place(user)
    refund_gift(order, 2500, refunder)
    assert GiftCardBonus.objects.get().status == "granted"
    assert wallet_balance_get(user=user).credit == 1000
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_the_full_refund_takes_the_bonus_back_and_withholds_what_was_spent(user, offer, refunder):
    gift_cards(user, 3000, 3000)
    order = place(user)
    wallet_spend(
        user=user,
        amount=250,
        payable_by_category={None: 250},
        idempotency_key="order:elsewhere",
        description="Order CP-ELSEWHERE",
        reference="order:CP-ELSEWHERE",
    )
    order_refund(
        order_id=order.pk,
        from_balance=0,
        from_card=6000,
        card_to_balance=False,
        reason="Changed their mind",
        idempotency_key=new_key(),
        by=refunder,
    )
    order.refresh_from_db()
    assert order.card_refunded == 6000 - 250
    bonus = GiftCardBonus.objects.get()
    assert (bonus.status, bonus.taken_back, bonus.withheld) == ("clawed_back", 750, 250)
    assert PromotionRedemption.objects.get(promotion=offer).released_at is not None
    assert wallet_balance_get(user=user).credit == 0
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_refunding_the_other_lines_keeps_the_bonus(user, offer, refunder):
    lamp = ProductFactory(name="Desk lamp", prices={"US": 2000})
    address_give(user)
    cart_fill(user, (lamp, 1))
    gift_cards(user, 5000)
    order = place(user)
    line = order.lines.get(product=lamp)
    order_refund_units(
        order_id=order.pk,
        units={line.pk: 1},
        reason="Broken",
        idempotency_key=new_key(),
        by=refunder,
    )
    order.refresh_from_db()
    assert order.card_refunded == 2000
    assert GiftCardBonus.objects.get().status == "granted"
    assert wallet_balance_get(user=user).credit == 1000
    assert ledger_reconcile().clean
