"""Auto-reload (docs/interface.md §12, docs/giftcards.md): the shopper's settings, and the
background job that reloads after a purchase left the balance below the threshold.

The card is saved as the provider's token (`SavedCard`), never its number, so the job can
charge it from the worker's process. Off by default; a declined auto-reload turns it off, says
why on the settings page and e-mails the shopper. At most one reload per purchase: the job's
`Reload` row is keyed `auto-reload:order:<number>` (see checkout/services/reloads.py).
"""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format

from catalog.money import format_money
from catalog.regions import region_today
from checkout.exceptions import CheckoutError, PaymentDeclined
from checkout.locks import autoreload_qs_select_for_update, reload_qs_select_for_update
from checkout.models import AutoReload, Order, Reload
from checkout.payments import payment_provider_get
from checkout.services.reloads import (
    _error_text,
    _reload_capture,
    _reload_claim,
    _reload_close,
    _reload_open,
    _tasks,
    reload_amount_check,
    reload_complete,
    reload_limits_get,
    reload_mail_send,
)
from checkout.services.saved_cards import card_tokenize, saved_card_create
from config.jobs import job_enqueue, job_retry_at
from wallet.selectors import wallet_balance_get

logger = logging.getLogger(__name__)


def auto_reload_settings_save(
    *,
    user,
    enabled: bool,
    threshold: int | None,
    amount: int | None,
    card_number: str = "",
) -> AutoReload | None:
    """Save the shopper's auto-reload: on, with the threshold and the amount (minor units,
    their region's currency) and, when `card_number` is given, a new card saved as the
    provider's token (the page shows its last 4 digits only); or off.

    Turning it on clears the reason the shop turned it off. Turning it off only turns it off
    (the amounts and the card stay for next time, whatever the form said, so nothing can stand
    in the way of stopping the charges); with nothing saved yet it writes nothing and returns
    None. Raises `CheckoutError`: `amount` (outside the reload limits), `threshold` (not above
    zero, or above the largest reload), `card_required` (on without any card),
    `provider_unavailable`; `PaymentDeclined` for a number that is no card. Nothing is written
    on a refusal (the token is asked for first, outside the transaction: a provider call never
    runs under a lock).
    """
    if not enabled:
        with transaction.atomic():
            auto = autoreload_qs_select_for_update(user_id=user.pk).select_related("card").first()
            if auto is not None and auto.enabled:
                auto.enabled = False
                auto.save(update_fields=["enabled", "updated_at"])
        return auto
    region = user.region
    if amount is None:
        raise CheckoutError("Choose the amount to reload.", reason="amount")
    reload_amount_check(region=region, amount=amount)
    _, high = reload_limits_get(region=region)
    if threshold is None or not 0 < threshold <= high:
        most = format_money(high, currency=region.currency)
        raise CheckoutError(f"Choose a threshold above zero, at most {most}.", reason="threshold")
    token = card_tokenize(card_number=card_number) if card_number else None
    with transaction.atomic():
        auto = autoreload_qs_select_for_update(user_id=user.pk).select_related("card").first()
        if auto is None and token is None:
            raise CheckoutError("Add the card to pay the auto-reloads.", reason="card_required")
        card = auto.card if auto is not None else None
        if token is not None:
            card = saved_card_create(user=user, token=token)
        values = {
            "enabled": True,
            "card": card,
            "currency": region.currency,
            "threshold": threshold,
            "amount": amount,
            "disabled_reason": "",
        }
        if auto is None:
            auto = _auto_reload_create(user=user, values=values)
        else:
            for name, value in values.items():
                setattr(auto, name, value)
            auto.save()
    return auto


def _auto_reload_create(*, user, values: dict) -> AutoReload:
    try:
        with transaction.atomic():
            return AutoReload.objects.create(user=user, **values)
    except IntegrityError:
        # The shopper's other tab saved first (one row per user): this save updates theirs.
        auto = autoreload_qs_select_for_update(user_id=user.pk).get()
        for name, value in values.items():
            setattr(auto, name, value)
        auto.save()
        return auto


def auto_reload_get(*, user) -> AutoReload | None:
    """The shopper's auto-reload settings with the saved card (one query), or None."""
    return AutoReload.objects.select_related("card").filter(user=user).first()


def auto_reload_run(*, order_id: int, attempt: int = 1) -> Reload | None:
    """The job after a purchase: reload the shopper's balance by their auto-reload amount on
    the saved card, once for this order, if auto-reload is still on and the balance is still
    below the threshold.

    Idempotent: the reload row is keyed by the order, so a second run (a retry, two workers,
    the sweep) finds the first run's row and charges nothing; a `captured` one it finishes.
    Approved: the balance grows and the shopper gets an e-mail. Declined: auto-reload turns off
    with the reason, and an e-mail says so. The provider failing: the attempt is recorded and
    the job enqueued again after a back-off (`job_retry_at`), JOB_MAX_ATTEMPTS in all, then
    the reload is `failed` (auto-reload stays on: the card was not refused). Returns the
    reload, or None when nothing was due.
    """
    order = Order.objects.select_related("user__region").filter(pk=order_id).first()
    if order is None:
        return None
    key = f"auto-reload:order:{order.number}"
    reload = Reload.objects.filter(idempotency_key=key).first()
    auto = auto_reload_get(user=order.user)
    if reload is None:
        if auto is None or not auto.enabled or auto.currency != order.currency:
            return None
        balance = wallet_balance_get(user=order.user)
        if balance.currency != auto.currency or balance.amount >= auto.threshold:
            return None
        reload, created = _reload_open(
            user=order.user,
            kind=Reload.Kind.AUTO,
            amount=auto.amount,
            currency=auto.currency,
            key=key,
            order=order,
            card_last4=auto.card.card_last4,
        )
        if not created:
            return reload  # another run of this job has it
    elif reload.status == Reload.Status.CAPTURED:
        return reload_complete(reload_id=reload.pk)
    elif reload.status != Reload.Status.PENDING or not _reload_claim(reload):
        return reload  # done, or another run is at it now
    elif auto is None or not auto.enabled:
        # Turned off between a failed attempt and this one: the shopper said no more.
        _reload_close(reload, status=Reload.Status.FAILED, error="auto-reload turned off")
        return reload
    return _auto_reload_charge(reload=reload, auto=auto, attempt=attempt)


def _auto_reload_charge(*, reload: Reload, auto: AutoReload, attempt: int) -> Reload:
    try:
        authorization = payment_provider_get().authorize(
            amount=reload.amount,
            currency=reload.currency,
            card_token=auto.card.token,
            idempotency_key=reload.idempotency_key,
        )
    except PaymentDeclined as declined:
        return _auto_reload_declined(reload=reload, message=declined.message)
    except Exception as failure:
        logger.exception("auto-reload #%s: the provider failed (attempt %s)", reload.pk, attempt)
        return _auto_reload_retry(reload=reload, failure=failure, attempt=attempt)
    if not _reload_capture(reload, authorization):
        return reload
    return reload_complete(reload_id=reload.pk)


def _auto_reload_retry(*, reload: Reload, failure: BaseException, attempt: int) -> Reload:
    if attempt >= settings.JOB_MAX_ATTEMPTS:
        _reload_close(reload, status=Reload.Status.FAILED, error=_error_text(failure))
        return reload
    # The error on a pending row releases it to the next attempt (`_reload_claim`).
    error = _error_text(failure) or type(failure).__name__
    Reload.objects.filter(pk=reload.pk, status=Reload.Status.PENDING).update(
        error=error, updated_at=timezone.now()
    )
    reload.error = error
    job_enqueue(
        _tasks().auto_reload_run,
        run_after=job_retry_at(attempts=attempt),
        order_id=reload.order_id,
        attempt=attempt + 1,
    )
    return reload


def _auto_reload_declined(*, reload: Reload, message: str) -> Reload:
    """The card refused the reload: the reload `declined`, auto-reload off with the reason
    (the page shows it), and after commit an e-mail telling the shopper."""
    with transaction.atomic():
        # The reload, then the settings: the lock order (docs/ledger.md).
        locked = reload_qs_select_for_update(reload_id=reload.pk).get()
        if locked.status != Reload.Status.PENDING:
            return locked
        locked.status, locked.error = Reload.Status.DECLINED, message[:200]
        locked.save(update_fields=["status", "error", "updated_at"])
        # The shopper's own day and words, as the rest of their pages show dates.
        day = date_format(region_today(locked.user.region), "j F Y")
        reason = (
            f"Your card …{locked.card_last4} was declined for an auto-reload on {day}, so "
            "auto-reload is off. Add a card and turn it on again."
        )
        autoreload_qs_select_for_update(user_id=locked.user_id).update(
            enabled=False, disabled_reason=reason[:200], updated_at=timezone.now()
        )
        transaction.on_commit(
            lambda: reload_mail_send(
                reload=locked,
                template="reload_auto_declined",
                subject="Your auto-reload was declined and is now off",
            ),
            robust=True,
        )
    return locked
