"""A promotional-credit code applied from the code box (`CREDIT10`): the promotion's rules
checked again under its locks, one use counted, one redemption written and one credit lot
granted in the wallet, in one transaction (docs/interface.md §11, docs/ledger.md).
"""

import datetime
import logging

from babel.dates import format_date
from django.db import transaction
from django.urls import reverse

from accounts.locks import user_qs_select_for_update
from catalog.money import format_money
from catalog.regions import region_today
from config.mail import mail_send
from promotions import engine
from promotions.engine import AppliedPromotion, EnteredCode, PromotionSpec, ShopperInput
from promotions.exceptions import PromotionNoLongerApplies, PromotionRefused
from promotions.locks import (
    promotion_amount_qs_select_for_update,
    promotion_code_qs_select_for_update,
    promotion_qs_select_for_update,
)
from promotions.models import Promotion
from promotions.rules import code_shown, refusal_message
from promotions.selectors import promotion_specs_get, shopper_input_get
from promotions.services.redemptions import promotion_redemptions_claim
from wallet.models import CreditLot
from wallet.services import wallet_credit_grant

logger = logging.getLogger(__name__)

# A credit promotion saved without `credit_days` still gives credit that ends.
CREDIT_DAYS_DEFAULT = 365


def _refused(
    reason: str,
    *,
    code: str,
    shopper: ShopperInput,
    params: dict | None = None,
    spec: PromotionSpec | None = None,
):
    params = dict(params or {})
    # A single-use code is named by its last four symbols (promotions.rules.code_shown).
    label = code_shown(code, spec, reason=reason)
    message = refusal_message(reason=reason, params=params, label=label, shopper=shopper)
    return PromotionRefused(reason, message, params=params)


def promotion_credit_apply(
    *, user, entered: EnteredCode, spec: PromotionSpec, shopper: ShopperInput
) -> CreditLot:
    """Apply the credit promotion `spec`, typed as `entered`, for `user`: grant its credit
    as a lot expiring `credit_days` after today in the shopper's region.

    Locks the shopper's row, then the promotion's usage rows (Promotion, its amount in the
    currency, the code when it is single-use), reads the promotion and the shopper's uses again
    under those locks and re-checks every rule (`promotions.engine.rule_check`; `has_orders` is
    the caller's `shopper.has_orders`). Then: `uses_count` moves by a guarded update (never
    past `total_limit`), the budget is trimmed (the last use gets what is left, never more), a
    single-use code is spent by a guarded update, one `PromotionRedemption` is written
    (order_number "", amount = the credit) and `wallet_credit_grant` posts the lot, keyed
    `promotion-credit:<promotion id>:<user id>:<use number>`, so one use can never grant twice.
    The e-mail (how much, until when) is sent after commit.

    Raises `PromotionRefused` with the reason of docs/interface.md §11 — `not_found` (no such
    code, not a credit promotion, not active), `already_used`, `usage_limit_reached`,
    `expired`, `not_started`, `wrong_region`, `first_order_only` — and then nothing is
    written. A shopper's parallel applies queue on their row: one is granted, the others are
    `already_used` (once per shopper) or see the limits the first one left.
    """
    code = entered.code
    if entered.promotion_id is None or entered.promotion_id != spec.id:
        raise _refused("not_found", code=code, shopper=shopper)
    if spec.kind != Promotion.Kind.CREDIT:
        raise _refused("not_found", code=code, shopper=shopper)
    with transaction.atomic():
        # The shopper first (one use at a time per shopper, and a region that cannot change
        # under the grant), then the promotion's usage rows, in the global lock order.
        locked_user = user_qs_select_for_update(user_id=user.pk).get()
        promotion = promotion_qs_select_for_update(promotion_ids=[spec.id]).first()
        if promotion is None:
            raise _refused("not_found", code=code, shopper=shopper)
        region = locked_user.region
        # Its budget row too, before the rules read what is left of it.
        promotion_amount_qs_select_for_update(
            promotion_ids=[promotion.pk], currency=region.currency
        ).first()
        code_row = None
        if entered.code_id is not None:
            code_row = promotion_code_qs_select_for_update(code_ids=[entered.code_id]).first()

        # Everything again, from the locked rows: what the quote saw may be stale by now.
        fresh = next(
            (
                s
                for s in promotion_specs_get(
                    region=region, currency=region.currency, promotion_ids=[promotion.pk]
                )
                if s.id == promotion.pk
            ),
            None,
        )
        now_shopper = shopper_input_get(
            user=locked_user, has_orders=shopper.has_orders, promotion_ids=[promotion.pk]
        )
        if fresh is None or fresh.kind != Promotion.Kind.CREDIT:
            raise _refused("not_found", code=code, shopper=now_shopper)
        result = engine.rule_check(spec=fresh, lines=(), shopper=now_shopper)
        if not result.passed:
            raise _refused(
                result.reason, code=code, shopper=now_shopper, params=result.params, spec=fresh
            )
        if code_row is not None and code_row.single_use and code_row.redeemed_at is not None:
            raise _refused(
                "usage_limit_reached",
                code=code,
                shopper=now_shopper,
                params={"limit": "code"},
                spec=fresh,
            )

        # One use, claimed as an order's uses are (promotions/services/redemptions.py): the
        # total limit by a guarded update, the budget trimmed to what is left, a single-use
        # code spent, the redemption written with the constraints behind it.
        use_number = now_shopper.uses.get(promotion.pk, 0) + 1
        wanted = AppliedPromotion(
            promotion_id=promotion.pk,
            slug=promotion.slug,
            code=code,
            code_id=code_row.pk if code_row is not None else None,
            label=promotion.name,
            amount=fresh.amount_off or 0,
        )
        try:
            (redemption,) = promotion_redemptions_claim(
                user=locked_user, order_number="", currency=region.currency, applied=[wanted]
            )
        except PromotionNoLongerApplies as gone:
            raise _refused(gone.reason, code=code, shopper=now_shopper, spec=fresh) from None
        amount = redemption.amount
        # A vanity code is public; a single-use code is never written out in full (the
        # ledger, the wallet page, the e-mail): its promotion's name instead.
        label = code if promotion.codes == Promotion.Codes.VANITY and code else promotion.name
        days = promotion.credit_days if promotion.credit_days is not None else CREDIT_DAYS_DEFAULT
        lot = wallet_credit_grant(
            user=locked_user,
            amount=amount,
            currency=region.currency,
            expires_on=region_today(region) + datetime.timedelta(days=days),
            idempotency_key=f"promotion-credit:{promotion.pk}:{locked_user.pk}:{use_number}",
            description=f"Promotional credit: {label}"[:200],
            reference=f"promotion:{promotion.slug}"[:64],
        )
        # After commit: no mail server is waited on under the locks, and no mail for a grant
        # that rolled back.
        transaction.on_commit(
            lambda: credit_granted_mail_send(lot_id=lot.pk, label=label),
            robust=True,
        )
    return lot


def credit_granted_mail_send(*, lot_id: int, label: str) -> None:
    """E-mail the shopper how much credit they received and until when (after commit)."""
    lot = CreditLot.objects.select_related("user__region").filter(pk=lot_id).first()
    if lot is None:
        return
    region = lot.user.region
    try:
        last_day = format_date(lot.expires_on, format="long", locale=region.locale)
    except (ValueError, LookupError):
        last_day = lot.expires_on.isoformat()
    amount = format_money(lot.amount, currency=lot.currency, locale=region.locale)
    try:
        mail_send(
            to=lot.user.email,
            subject=f"[Coinpurse] {amount} of promotional credit, until {last_day}",
            template="promotions/email/credit_granted",
            context={
                "amount": amount,
                "last_day": last_day,
                "zone": region.name,
                "label": label,
                "action_url": reverse("wallet:overview"),
                "action_label": "See your wallet",
            },
        )
    except Exception:
        # The credit is committed: a mail server's failure must not pass unnoticed.
        logger.exception("credit lot %s: the 'credit granted' e-mail was not sent", lot_id)
