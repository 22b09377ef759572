"""Gift card bonus offers: the promotional credit an order's gift cards earned, granted once
the order is paid, and taken back when refunds leave its gift cards below the minimum
(docs/promotions.md, "Gift card bonus").

The use of the offer is claimed with the order's other promotions when the order is placed
(`promotion_redemptions_claim`: its total and per-shopper limits and its budget under their
locks; the redemption's `amount` is the credit promised). Checkout calls these two services
under the order's lock (the level before promotion usage in docs/ledger.md), so a grant and
a claw-back of one order queue there; both read the order's figures (its gift card total,
each offer's minimum as stored when it was placed) from the caller: promotions never imports
checkout.
"""

import datetime
import logging
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from catalog.regions import region_today
from promotions.models import GiftCardBonus, Promotion, PromotionRedemption
from promotions.services.credit import CREDIT_DAYS_DEFAULT, credit_granted_mail_send
from wallet.exceptions import WalletError
from wallet.services import wallet_credit_grant
from wallet.services.credit_revoke import wallet_credit_revoke

logger = logging.getLogger(__name__)


def _bonus_redemptions(order_number: str, promotion_ids) -> list[PromotionRedemption]:
    """The order's unreleased uses of gift card bonus offers among `promotion_ids`."""
    return list(
        PromotionRedemption.objects.filter(
            order_number=order_number,
            promotion_id__in=list(promotion_ids),
            promotion__kind=Promotion.Kind.GIFTCARD_BONUS,
            released_at__isnull=True,
        )
        .select_related("promotion")
        .order_by("promotion_id")
    )


def giftcard_bonus_grant(
    *, user, order_number: str, gift_card_total: int, minimums: Mapping[int, int]
) -> list[GiftCardBonus]:
    """Grant the credit of each gift card bonus order `order_number` claimed (`minimums`:
    promotion id -> the gift card total it needed, as stored at the order) to `user`, whose
    order's gift cards still standing add up to `gift_card_total`.

    One lot per offer, for the credit its redemption promised, expiring `credit_days` after
    today in the shopper's region; keyed `giftcard-bonus:<order number>:<promotion id>` and
    recorded as a `GiftCardBonus`, so a second call (the hook and the sweep, a retry) grants
    nothing more. Gift cards already refunded below the minimum: no credit, recorded
    `not_granted` (a later call does not grant it either). A use released meanwhile (the
    payment failed, the order was refunded in full) grants nothing. The e-mail saying how
    much and until when goes after commit. Must run under the caller's order lock.
    """
    written = []
    with transaction.atomic():
        done = set(
            GiftCardBonus.objects.filter(order_number=order_number).values_list(
                "promotion_id", flat=True
            )
        )
        for redemption in _bonus_redemptions(order_number, minimums):
            if redemption.promotion_id in done:
                continue
            minimum = minimums[redemption.promotion_id]
            bonus = GiftCardBonus(
                promotion_id=redemption.promotion_id,
                redemption=redemption,
                user=user,
                order_number=order_number,
                currency=redemption.currency,
                credit=redemption.amount,
                minimum=minimum,
            )
            if gift_card_total < minimum or redemption.amount <= 0:
                bonus.status = GiftCardBonus.Status.NOT_GRANTED
            else:
                try:
                    bonus.lot = _lot_grant(user=user, redemption=redemption, order=order_number)
                except WalletError:
                    # The shopper moved to another region's currency since the order: the
                    # credit cannot be granted there. Recorded, so no sweep tries forever.
                    logger.warning(
                        "order %s: gift card bonus %s not granted (region changed)",
                        order_number,
                        redemption.promotion_id,
                    )
                    bonus.status = GiftCardBonus.Status.NOT_GRANTED
            bonus.save()
            written.append(bonus)
            if bonus.lot_id is not None:
                lot_id, label = bonus.lot_id, redemption.promotion.name
                transaction.on_commit(
                    lambda lot_id=lot_id, label=label: credit_granted_mail_send(
                        lot_id=lot_id, label=label
                    ),
                    robust=True,
                )
    return written


def _lot_grant(*, user, redemption: PromotionRedemption, order: str):
    promotion = redemption.promotion
    days = promotion.credit_days if promotion.credit_days is not None else CREDIT_DAYS_DEFAULT
    return wallet_credit_grant(
        user=user,
        amount=redemption.amount,
        currency=redemption.currency,
        expires_on=region_today(user.region) + datetime.timedelta(days=days),
        idempotency_key=f"giftcard-bonus:{order}:{promotion.pk}",
        description=f"Promotional credit: {promotion.name} (order {order})"[:200],
        reference=f"order:{order}"[:64],
    )


def giftcard_bonus_claw_back(
    *,
    order_number: str,
    gift_card_total_left: int,
    minimums: Mapping[int, int],
    idempotency_key: str,
) -> int:
    """Take back the credit of each gift card bonus of order `order_number` whose minimum
    (`minimums`, as stored at the order) the gift cards still standing, `gift_card_total_left`,
    no longer reach; returns how much of it the shopper had already spent, which the caller
    withholds from the refund that caused this (docs/promotions.md: credit spent cannot come
    back, so the refund is reduced by it).

    What is left of the lot goes back (`wallet_credit_revoke`, key
    `giftcard-bonus-back:<order number>:<promotion id>`); what orders still hold of it is
    `withheld`; what expired unspent is neither (breakage took it). An offer not granted yet
    is recorded `not_granted`, so the grant that comes later gives nothing. Once per offer: a
    later call with another key finds it taken back and returns 0 for it; a replay of the
    same key returns the same amount again. Must run under the caller's order lock, inside
    the refund's transaction.
    """
    withheld = 0
    with transaction.atomic():
        granted = {
            b.promotion_id: b
            for b in GiftCardBonus.objects.filter(
                order_number=order_number, promotion_id__in=list(minimums)
            )
        }
        for promotion_id, bonus in sorted(granted.items()):
            if bonus.status == GiftCardBonus.Status.CLAWED_BACK:
                if bonus.claw_back_key == idempotency_key:
                    withheld += bonus.withheld
                continue
            if bonus.status != GiftCardBonus.Status.GRANTED:
                continue
            if gift_card_total_left >= bonus.minimum:
                continue
            revoked = wallet_credit_revoke(
                lot_id=bonus.lot_id,
                idempotency_key=f"giftcard-bonus-back:{order_number}:{promotion_id}",
                description=f"Gift card bonus taken back: gift cards of order {order_number} "
                "refunded",
                reference=f"order:{order_number}",
            )
            bonus.status = GiftCardBonus.Status.CLAWED_BACK
            bonus.taken_back = revoked.taken_back
            bonus.withheld = min(revoked.spent, bonus.credit - revoked.taken_back)
            bonus.claw_back_key = idempotency_key[:128]
            bonus.clawed_back_at = timezone.now()
            bonus.save(
                update_fields=[
                    "status",
                    "taken_back",
                    "withheld",
                    "claw_back_key",
                    "clawed_back_at",
                ]
            )
            withheld += bonus.withheld
        # Not granted yet (the payment hook has not run, or failed and waits for the sweep):
        # settled now, so the credit is never granted for gift cards already refunded.
        for redemption in _bonus_redemptions(order_number, minimums):
            if redemption.promotion_id in granted:
                continue
            if gift_card_total_left >= minimums[redemption.promotion_id]:
                continue
            GiftCardBonus.objects.create(
                promotion_id=redemption.promotion_id,
                redemption=redemption,
                user_id=redemption.user_id,
                order_number=order_number,
                currency=redemption.currency,
                credit=redemption.amount,
                minimum=minimums[redemption.promotion_id],
                status=GiftCardBonus.Status.NOT_GRANTED,
                claw_back_key=idempotency_key[:128],
                clawed_back_at=timezone.now(),
            )
    return withheld
