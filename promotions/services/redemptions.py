"""Using promotions in an order, and giving the use back.

Every limit of a promotion is judged here, under the promotion-usage level of the global lock
order (docs/ledger.md): the caller (`order_place`) already holds the shopper's cart, so one
shopper's orders queue there, and the locks below are taken after it and before gift cards,
credit lots and wallet accounts:

1. the shopper's own limit: their unreleased redemptions counted (the cart lock serialises
   this shopper; `promotions_redemption_once_per_shopper` stands behind a once-only limit);
2. the Promotion rows, in primary-key order: a guarded `uses_count = uses_count + 1 WHERE
   uses_count < total_limit AND status = 'active'` (no row updated: the limit is reached);
   `promotions_promotion_uses_within_limit` stands behind it;
3. the PromotionAmount rows with a budget, in primary-key order, locked: the use is trimmed to
   what is left of the budget and `budget_used` grows by it (`promotions_amount_budget_within`);
4. the PromotionCode rows, in primary-key order, locked: a single-use code is spent once
   (`redeemed_at`; `promotions_redemption_single_use_code` stands behind it);
5. one `PromotionRedemption` per promotion used, with its per-unit allocation.

Releasing (a full refund, a cancellation) runs the same statements in reverse, in the same
order, so a claim and a release of the same promotion can never wait on each other.
"""

import logging
from collections.abc import Sequence
from dataclasses import replace

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from promotions.allocation import allocate
from promotions.engine import AppliedPromotion, PromotionSpec
from promotions.exceptions import PromotionNoLongerApplies
from promotions.locks import (
    promotion_amount_qs_select_for_update,
    promotion_code_qs_select_for_update,
    promotion_qs_select_for_update,
)
from promotions.models import Promotion, PromotionAmount, PromotionCode, PromotionRedemption

logger = logging.getLogger(__name__)


def _no_longer(applied: AppliedPromotion, reason: str, why: str) -> PromotionNoLongerApplies:
    name = applied.code or applied.label or applied.slug
    return PromotionNoLongerApplies(
        f"{name} {why}.", promotion_id=applied.promotion_id, reason=reason
    )


def _trimmed(applied: AppliedPromotion, amount: int) -> AppliedPromotion:
    """`applied` giving only `amount`: its units and shipping part shrunk by largest remainder
    over what each part gave (so no unit gives more than before, and the parts sum exactly)."""
    if not applied.unit_allocations and not applied.shipping_amount:
        return replace(applied, amount=amount)  # a credit grant: no line carries it
    keys = sorted(applied.unit_allocations)
    weights = [part for key in keys for part in applied.unit_allocations[key]]
    parts = allocate(amount, [*weights, applied.shipping_amount])
    units, start = {}, 0
    for key in keys:
        count = len(applied.unit_allocations[key])
        units[key] = tuple(parts[start : start + count])
        start += count
    return replace(applied, amount=amount, unit_allocations=units, shipping_amount=parts[-1])


def promotion_redemptions_claim(
    *,
    user,
    order_number: str,
    currency: str,
    applied: Sequence[AppliedPromotion],
    specs: Sequence[PromotionSpec] = (),
) -> list[PromotionRedemption]:
    """Record one use of every promotion in `applied` for order `order_number`, each limit
    judged under its lock (see the module); returns the redemptions written, a use the
    budget could not pay in full trimmed to what was left (`amount` and `allocation` say what
    it really gives).

    `specs` (what the quote was priced with) are not needed: every limit is read from its
    row, as it is under the lock. Must run inside the caller's transaction, after it locked
    the shopper's cart. Raises
    `PromotionNoLongerApplies` when any promotion cannot be used any more (disabled, the
    total limit reached, the budget spent, the single-use code used, the shopper's own limit
    reached); the caller's transaction then rolls everything back.
    """
    if not applied:
        return []
    ordered = sorted(applied, key=lambda a: a.promotion_id)
    ids = [a.promotion_id for a in ordered]
    with transaction.atomic():
        # The limits as they are now, from the rows (not from `specs`, which may be older).
        per_shopper = dict(
            Promotion.objects.filter(pk__in=ids, per_shopper_limit__isnull=False).values_list(
                "pk", "per_shopper_limit"
            )
        )
        # 1. The shopper's own uses: read under the cart lock the caller holds.
        if per_shopper:
            uses = dict(
                PromotionRedemption.objects.filter(
                    user=user, promotion_id__in=per_shopper, released_at__isnull=True
                )
                .values("promotion_id")
                .annotate(n=Count("id"))
                .values_list("promotion_id", "n")
            )
            for a in ordered:
                limit = per_shopper.get(a.promotion_id)
                if limit and uses.get(a.promotion_id, 0) >= limit:
                    raise _no_longer(a, "already_used", "was already used by you")
        # 2. Promotion rows: the guarded update is the lock, the check and the write at once.
        for a in ordered:
            moved = (
                Promotion.objects.filter(pk=a.promotion_id, status=Promotion.Status.ACTIVE)
                .filter(Q(total_limit__isnull=True) | Q(uses_count__lt=F("total_limit")))
                .update(uses_count=F("uses_count") + 1)
            )
            if not moved:
                active = Promotion.objects.filter(
                    pk=a.promotion_id, status=Promotion.Status.ACTIVE
                ).exists()
                if active:
                    raise _no_longer(a, "usage_limit_reached", "has reached its usage limit")
                raise _no_longer(a, "not_found", "is no longer available")
        # 3. Budgets: the row locked, the use trimmed to what is left, never overshot.
        budgets = {
            row.promotion_id: row
            for row in promotion_amount_qs_select_for_update(
                promotion_ids=ids, currency=currency
            ).filter(budget__isnull=False)
        }
        final = []
        for a in ordered:
            row = budgets.get(a.promotion_id)
            if row is not None and a.amount:
                left = row.budget - row.budget_used
                if left <= 0:
                    raise _no_longer(a, "usage_limit_reached", "has no budget left")
                if a.amount > left:
                    a = _trimmed(a, left)
                PromotionAmount.objects.filter(pk=row.pk).update(
                    budget_used=F("budget_used") + a.amount
                )
            final.append(a)
        # 4. Codes: a single-use code is spent once.
        code_ids = [a.code_id for a in final if a.code_id]
        codes = {code.pk: code for code in promotion_code_qs_select_for_update(code_ids=code_ids)}
        now = timezone.now()
        for a in final:
            if not a.code_id:
                continue
            code = codes.get(a.code_id)
            if code is None or code.promotion_id != a.promotion_id:
                raise _no_longer(a, "not_found", "is no longer available")
            if code.single_use:
                if code.redeemed_at is not None:
                    raise _no_longer(a, "already_used", "was already used")
                PromotionCode.objects.filter(pk=code.pk).update(redeemed_at=now)
        # 5. The records; the constraints stand behind every check above.
        rows = [
            PromotionRedemption(
                promotion_id=a.promotion_id,
                code_id=a.code_id,
                user=user,
                order_number=order_number,
                currency=currency,
                amount=a.amount,
                allocation={str(key): list(parts) for key, parts in a.unit_allocations.items()},
                shipping_amount=a.shipping_amount,
                once_per_shopper=per_shopper.get(a.promotion_id) == 1,
                single_use_code=bool(a.code_id and codes[a.code_id].single_use),
            )
            for a in final
        ]
        try:
            with transaction.atomic():
                return PromotionRedemption.objects.bulk_create(rows)
        except IntegrityError:
            # Another order of this shopper, or of this code, got there first.
            raise PromotionNoLongerApplies(
                "A promotion of this order was just used elsewhere.",
                promotion_id=final[0].promotion_id,
                reason="already_used",
            ) from None


def promotion_redemptions_release(*, order_number: str) -> list[PromotionRedemption]:
    """Give back every use of a promotion order `order_number` made (a full refund, a
    cancellation): `uses_count - 1`, `budget_used - amount`, a single-use code usable again,
    and each redemption marked `released_at` (the shopper's own limit counts only unreleased
    ones). Returns the redemptions released by this call.

    Idempotent, also under concurrency: the promotion rows are locked first (the order claims
    take them), then the unreleased redemptions are read again, so two releases of the same
    order queue and the second finds nothing left to release. Every decrement is guarded
    (never below zero). Runs inside the caller's transaction when there is one.
    """
    ids = set(
        PromotionRedemption.objects.filter(order_number=order_number).values_list(
            "promotion_id", flat=True
        )
    )
    if not ids:
        return []
    with transaction.atomic():
        list(promotion_qs_select_for_update(promotion_ids=ids).values_list("pk", flat=True))
        redemptions = list(
            PromotionRedemption.objects.filter(
                order_number=order_number, released_at__isnull=True
            ).order_by("promotion_id")
        )
        if not redemptions:
            return []
        for r in redemptions:
            Promotion.objects.filter(pk=r.promotion_id, uses_count__gt=0).update(
                uses_count=F("uses_count") - 1
            )
        by_promotion = {r.promotion_id: r for r in redemptions}
        currency = redemptions[0].currency
        for row in promotion_amount_qs_select_for_update(
            promotion_ids=by_promotion, currency=currency
        ).filter(budget__isnull=False):
            given = by_promotion[row.promotion_id].amount
            back = min(given, row.budget_used)
            if back != given:
                logger.warning("promotion %s: budget released below zero", row.promotion_id)
            if back:
                PromotionAmount.objects.filter(pk=row.pk).update(
                    budget_used=F("budget_used") - back
                )
        single = [r.code_id for r in redemptions if r.code_id and r.single_use_code]
        if single:
            list(promotion_code_qs_select_for_update(code_ids=single).values_list("pk"))
            PromotionCode.objects.filter(pk__in=single, single_use=True).update(redeemed_at=None)
        now = timezone.now()
        PromotionRedemption.objects.filter(pk__in=[r.pk for r in redemptions]).update(
            released_at=now
        )
        for r in redemptions:
            r.released_at = now
    return redemptions


def promotion_redemptions_claw_back(*, order_number: str, amounts: dict[int, int]) -> None:
    """Record what a refund kept back of each promotion's benefit (`amounts`: promotion id ->
    minor units), because the units the shopper kept no longer qualify for it; a negative
    amount gives an earlier claw-back back (the units that carried it were returned too).
    Runs inside the refund's transaction, under the order's lock (so refunds of one order add
    up in turn); `promotions_redemption_amounts_non_negative` stands behind the sum.
    """
    for promotion_id, amount in sorted(amounts.items()):
        if amount:
            PromotionRedemption.objects.filter(
                order_number=order_number, promotion_id=promotion_id
            ).update(clawed_back=F("clawed_back") + amount)
