"""Race on PostgreSQL with real threads: the recipient redeems a bought gift card while staff
refund it. Exactly one wins: either the card is redeemed (every refund refused, nothing
refunded) or it is refunded once (every redemption refused `disabled`, the liability reversed
once). 10 redemptions by 10 recipients and 10 refunds (each its own key) released together
(and once with the redemptions 0.1 s late, so the refund side wins too).

Run: `scripts/test-services.sh .venv/bin/pytest tests/checkout/test_giftcard_refund_races.py`.
"""

import io
import time
from collections import Counter

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from checkout.exceptions import RefundRefused
from checkout.models import OrderGiftCard, Refund
from checkout.services import order_refund_units
from tests.accounts.factories import UserFactory
from tests.checkout.bought_giftcards import gift_order
from tests.checkout.shopping import balance, new_key
from tests.wallet.test_races import run_together
from wallet.exceptions import CodeRefused
from wallet.models import GiftCard, Transfer
from wallet.services import giftcard_code_renew, giftcard_redeem

SIDE = 10  # redemptions, and as many refunds
# Released together, the redemptions (the shorter path) won every run we watched; with them
# 0.1 s late, the refunds did (the other refunds and the late redemptions still queue on the
# order's and the card's locks). Either way exactly one wins; the two cases see both outcomes.
REDEEM_DELAYS = [0.0, 0.1]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.parametrize("redeem_delay", REDEEM_DELAYS)
def test_a_redemption_and_refunds_at_once_exactly_one_wins(redeem_delay):
    buyer = UserFactory()
    refunder = UserFactory(is_staff=True)
    refunder.user_permissions.add(Permission.objects.get(codename="refund_order"))
    order = gift_order(buyer, (5000, "email"))
    gift = order.gift_cards.get()
    code = giftcard_code_renew(card_id=gift.card_id).code  # the e-mail went out
    recipients = [UserFactory() for _ in range(SIDE)]

    def redeem(recipient):
        def call():
            time.sleep(redeem_delay)
            return giftcard_redeem(user=recipient, code=code)

        return call

    def refund():
        return order_refund_units(
            order_id=order.pk,
            units={gift.line_id: 1},
            reason="race",
            idempotency_key=new_key(),
            by=refunder,
        )

    calls = []
    for recipient in recipients:
        calls += [redeem(recipient), refund]
    outcomes = run_together(calls)

    redeemed = [o for o in outcomes[0::2] if o.error is None]
    refunded = [o for o in outcomes[1::2] if o.error is None]
    assert len(redeemed) + len(refunded) == 1, outcomes
    card = GiftCard.objects.get(pk=gift.card_id)
    gift.refresh_from_db()
    refusals = Counter(
        getattr(o.error, "reason", type(o.error).__name__) for o in outcomes if o.error
    )
    if redeemed:
        assert card.status == GiftCard.Status.REDEEMED
        assert gift.status == OrderGiftCard.Status.SCHEDULED
        assert not Refund.objects.filter(order=order).exists()
        assert sum(balance(r) for r in recipients) == 5000
        assert refusals["giftcard_redeemed"] == SIDE
        assert refusals["already_redeemed"] == SIDE - 1
    else:
        assert card.status == GiftCard.Status.REFUNDED
        assert gift.status == OrderGiftCard.Status.REFUNDED
        assert Refund.objects.filter(order=order).count() == 1
        assert Transfer.objects.filter(kind=Transfer.Kind.GIFTCARD_REFUND).count() == 1
        assert sum(balance(r) for r in recipients) == 0
        assert refusals["disabled"] == SIDE
        assert refusals[RefundRefused.reason] == SIDE - 1
    assert all(isinstance(o.error, (RefundRefused, CodeRefused)) for o in outcomes if o.error)
    out = io.StringIO()
    call_command("wallet_reconcile", stdout=out)
    assert out.getvalue().startswith("Ledger clean"), out.getvalue()
