"""Reloading a balance by card, and auto-reload (docs/interface.md §12, docs/giftcards.md).

A reload is a card payment whose money becomes balance: one ledger transfer from the card
provider's clearing account (`CARD_RELOADS`) to the shopper's balance, keyed by the reload's
own idempotency key, posted only after the provider said the money was taken.

The steps, each its own short write, because no provider call may run inside a transaction
or under a lock (docs/ledger.md):

1. a `Reload` row, `pending`, under its unique key (`reload:<user>:<form key>` for the page,
   `auto-reload:order:<number>` after a purchase): the key is what makes a replayed form or a
   job run twice charge once; the loser of two concurrent writers finds the winner's row;
2. the provider authorises and captures (outside any transaction);
3. the row `captured`, then under its lock the transfer and `completed` (`reload_complete`).
   A crash between 2 and 3 leaves `captured`: `reloads_pending_complete` (the worker's
   periodic sweep) finishes it.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from catalog.money import format_money, parse_amount
from checkout.exceptions import CheckoutError, PaymentDeclined
from checkout.locks import reload_qs_select_for_update
from checkout.models import AutoReload, Order, Reload, VoidedAuthorization
from checkout.payments import Authorization, payment_provider_get
from checkout.services.card_payments import hold_void
from config.jobs import job_enqueue
from config.mail import mail_send
from wallet.models import Account, Transfer
from wallet.selectors import wallet_balance_get
from wallet.services import wallet_credit

logger = logging.getLogger(__name__)

PROVIDER_DOWN = (
    "The card service is not answering right now. Nothing was charged; please try again in a "
    "few minutes."
)
IN_PROGRESS = "This reload is still being processed. Your balance shows it once it is done."
# A `pending` row nobody touched for this long was left by a process that died mid-call: a
# later run (the retry job, the sweep) may take it over (`_reload_claim`).
CLAIM_SECONDS = 5 * 60


@dataclass(frozen=True)
class ReloadResult:
    reload: Reload
    # True when the key had been used already: this is the first request's outcome.
    replayed: bool


def reload_amounts_get(*, region) -> list[int]:
    """The listed reload amounts of `region` (a `Region`), in minor units
    (settings.RELOAD_AMOUNTS)."""
    return [
        parse_amount(text, currency=region.currency)
        for text in settings.RELOAD_AMOUNTS[region.code]
    ]


def reload_limits_get(*, region) -> tuple[int, int]:
    """The smallest and largest reload of `region` (a `Region`), in minor units
    (settings.RELOAD_LIMITS)."""
    low, high = settings.RELOAD_LIMITS[region.code]
    return parse_amount(low, currency=region.currency), parse_amount(high, currency=region.currency)


def reload_amount_check(*, region, amount: int) -> None:
    """Refuse (`CheckoutError`, reason `amount`) an amount outside the region's limits."""
    low, high = reload_limits_get(region=region)
    if not low <= amount <= high:
        raise CheckoutError(
            f"Choose an amount from {format_money(low, currency=region.currency)} "
            f"to {format_money(high, currency=region.currency)}.",
            reason="amount",
        )


def reload_make(*, user, amount: int, card_number: str, idempotency_key: str) -> ReloadResult:
    """Reload the shopper's balance by `amount` (minor units, their region's currency) charged
    to the card `card_number`.

    Idempotent on `idempotency_key` (the form's): a replay returns the first request's outcome
    and charges nothing (a completed reload as it is; a declined or failed one raises its error
    again; one still running comes back `pending`). Raises `CheckoutError` (`amount`) outside
    the limits and (`conflict`) for a key used with another amount: nothing written;
    `PaymentDeclined` for a declined card and `CheckoutError` (`provider_unavailable`) when
    the provider fails: only the `Reload` row, `declined`/`failed`, is written.
    """
    currency = user.region.currency
    reload_amount_check(region=user.region, amount=amount)
    key = f"reload:{user.pk}:{idempotency_key}"
    reload, created = _reload_open(
        user=user, kind=Reload.Kind.MANUAL, amount=amount, currency=currency, key=key
    )
    if not created:
        return _reload_replay(reload, amount=amount)
    try:
        authorization = payment_provider_get().authorize(
            amount=amount, currency=currency, card_number=card_number, idempotency_key=key
        )
    except PaymentDeclined as declined:
        _reload_close(reload, status=Reload.Status.DECLINED, error=declined.message)
        raise
    except Exception as failure:
        logger.exception("reload #%s: the provider failed to authorise", reload.pk)
        _reload_close(reload, status=Reload.Status.FAILED, error=_error_text(failure))
        raise CheckoutError(PROVIDER_DOWN, reason="provider_unavailable") from failure
    if not _reload_capture(reload, authorization):
        raise CheckoutError(PROVIDER_DOWN, reason="provider_unavailable")
    try:
        reload = reload_complete(reload_id=reload.pk)
    except DatabaseError:
        # The card was charged: the row says `captured`, and the worker's sweep posts the
        # credit (`reloads_pending_complete`). The shopper hears it is on its way, not a 500.
        logger.exception("reload #%s: charged, the balance credit is left to the sweep", reload.pk)
        reload.refresh_from_db()
    return ReloadResult(reload=reload, replayed=False)


def _reload_replay(reload: Reload, *, amount: int) -> ReloadResult:
    if reload.amount != amount:
        raise CheckoutError(
            "This form was already sent with another amount. Open the page again to reload.",
            reason="conflict",
        )
    if reload.status == Reload.Status.DECLINED:
        raise PaymentDeclined(reload.error or "Your card was declined. Nothing was charged.")
    if reload.status == Reload.Status.FAILED:
        raise CheckoutError(PROVIDER_DOWN, reason="provider_unavailable")
    if reload.status == Reload.Status.CAPTURED:
        reload = reload_complete(reload_id=reload.pk)
    return ReloadResult(reload=reload, replayed=True)


def _reload_open(*, user, kind, amount, currency, key, order=None, card_last4="") -> tuple:
    """The `pending` row under `key`, written and committed before the provider is asked;
    `(row, False)` when the key has one already (a replay, or the other of two at once)."""
    try:
        with transaction.atomic():
            reload = Reload.objects.create(
                user=user,
                kind=kind,
                amount=amount,
                currency=currency,
                idempotency_key=key,
                provider=payment_provider_get().name,
                order=order,
                card_last4=card_last4,
            )
        return reload, True
    except IntegrityError:
        # The unique key: another request or job wrote it first; theirs is the one.
        return Reload.objects.get(idempotency_key=key), False


def _reload_close(reload: Reload, *, status: str, error: str) -> None:
    """A pending reload ends without money: declined or failed. Conditional on `pending`, so
    it never overwrites an outcome another run recorded."""
    Reload.objects.filter(pk=reload.pk, status=Reload.Status.PENDING).update(
        status=status, error=error[:200], updated_at=timezone.now()
    )
    reload.status, reload.error = status, error[:200]


def _reload_claim(reload: Reload) -> bool:
    """Take over a `pending` reload released by a failed attempt (its `error` set) or left by a
    process that died (untouched for CLAIM_SECONDS). One guarded update: of two runs at once,
    one wins."""
    stale = timezone.now() - datetime.timedelta(seconds=CLAIM_SECONDS)
    return bool(
        Reload.objects.filter(pk=reload.pk, status=Reload.Status.PENDING)
        .filter(Q(error__gt="") | Q(updated_at__lt=stale))
        .update(error="", updated_at=timezone.now())
    )


def _error_text(failure: BaseException) -> str:
    # The class and a short message for staff; a provider's message never holds a card number.
    return f"{type(failure).__name__}: {failure}"[:200]


def _reload_capture(reload: Reload, authorization: Authorization) -> bool:
    """Take the held money and mark the row `captured`; False when the capture failed (the
    hold is released and recorded, the row `failed`)."""
    Reload.objects.filter(pk=reload.pk).update(
        reference=authorization.reference,
        card_last4=authorization.card_last4,
        updated_at=timezone.now(),
    )
    try:
        payment_provider_get().capture(authorization)
    except Exception as failure:
        logger.exception("reload #%s: the capture failed", reload.pk)
        hold_void(authorization=authorization, reason=VoidedAuthorization.Reason.CAPTURE_FAILED)
        _reload_close(reload, status=Reload.Status.FAILED, error=_error_text(failure))
        return False
    # From here the money is taken: the row says so before the ledger moves, so a crash now
    # leaves `captured` for the sweep, never a charge nobody knows about.
    Reload.objects.filter(pk=reload.pk, status=Reload.Status.PENDING).update(
        status=Reload.Status.CAPTURED, updated_at=timezone.now()
    )
    return True


def reload_complete(*, reload_id: int) -> Reload:
    """Post the balance credit of a `captured` reload and mark it `completed`, then (after
    commit) e-mail the shopper.

    Locks the reload, then (in the ledger) the accounts: the global lock order. Idempotent: a
    completed reload is returned as it is, and the transfer is keyed by the reload's key, so
    the request, its replay and the sweep together credit once. A reload in another status is
    returned unchanged.
    """
    with transaction.atomic():
        reload = reload_qs_select_for_update(reload_id=reload_id).select_related("order").get()
        if reload.status != Reload.Status.CAPTURED:
            return reload
        auto = reload.kind == Reload.Kind.AUTO
        card = f"card …{reload.card_last4}" if reload.card_last4 else "card"
        result = wallet_credit(
            user=reload.user,
            amount=reload.amount,
            currency=reload.currency,
            idempotency_key=reload.idempotency_key,
            source=Account.Kind.CARD_RELOADS,
            kind=Transfer.Kind.RELOAD,
            description=(
                f"Auto-reload by {card} after order {reload.order.number}"
                if auto and reload.order_id
                else f"Reload by {card}"
            ),
            reference=f"order:{reload.order.number}" if auto and reload.order_id else None,
        )
        reload.transfer = result.transfer
        reload.status = Reload.Status.COMPLETED
        reload.save(update_fields=["transfer", "status", "updated_at"])
        # After commit: the e-mail reports money that has moved, never money that rolled back.
        transaction.on_commit(
            lambda: reload_mail_send(
                reload=reload,
                template="reload_completed",
                subject="Your balance was reloaded",
            ),
            robust=True,
        )
    return reload


def reload_mail_send(*, reload: Reload, template: str, subject: str, extra=None) -> None:
    """The reload e-mail `template` (checkout/email/), linking to the wallet page (the
    auto-reload page when the shop turned auto-reload off). Never raises: the money moved (or
    did not) already, and a mail server failing must not undo that or become a 500."""
    link = "checkout:auto_reload" if template == "reload_auto_declined" else "wallet:overview"
    try:
        context = {
            "reload": reload,
            "amount": format_money(
                reload.amount, currency=reload.currency, locale=reload.user.region.locale
            ),
            "auto": reload.kind == Reload.Kind.AUTO,
            "action_url": reverse(link),
            "action_label": "Auto-reload settings"
            if "declined" in template
            else "View your wallet",
            **(extra or {}),
        }
        mail_send(
            to=reload.user.email,
            subject=f"[Coinpurse] {subject}",
            template=f"checkout/email/{template}",
            context=context,
        )
    except Exception:
        logger.exception("reload #%s: the %s e-mail was not sent", reload.pk, template)


def reloads_pending_complete(*, now: datetime.datetime | None = None) -> int:
    """The worker's sweep: finish every `captured` reload whose credit did not land (a crash
    after the capture), and enqueue once more an auto-reload left `pending` by a run that
    died. Idempotent (each finish is `reload_complete`). Returns how many it finished."""
    now = now or timezone.now()
    finished = 0
    for reload_id in Reload.objects.filter(status=Reload.Status.CAPTURED).values_list(
        "pk", flat=True
    ):
        if reload_complete(reload_id=reload_id).status == Reload.Status.COMPLETED:
            finished += 1
    stale = now - datetime.timedelta(seconds=2 * CLAIM_SECONDS)
    for order_id in Reload.objects.filter(
        status=Reload.Status.PENDING, kind=Reload.Kind.AUTO, updated_at__lt=stale
    ).values_list("order_id", flat=True):
        # One last attempt: if the provider fails again the run closes the reload `failed`.
        job_enqueue(_tasks().auto_reload_run, order_id=order_id, attempt=settings.JOB_MAX_ATTEMPTS)
    return finished


def auto_reload_after_purchase(*, order_id: int, user=None, currency: str = "") -> None:
    """After an order that used the balance committed: when the shopper's auto-reload is on
    and the balance is now below its threshold, enqueue the auto-reload job for that order
    (`auto_reload_run`, at most one reload per order whatever runs it). `user` and
    `currency`, the order's, spare reading it again (`order_place` has both). Never raises:
    it runs after the order committed, in the shopper's request."""
    try:
        if user is None or not currency:
            order = Order.objects.select_related("user__region").get(pk=order_id)
            user, currency = order.user, order.currency
        auto = AutoReload.objects.filter(user_id=user.pk, enabled=True, currency=currency).first()
        if auto is None:
            return
        balance = wallet_balance_get(user=user)
        if balance.currency == auto.currency and balance.amount < auto.threshold:
            job_enqueue(_tasks().auto_reload_run, order_id=order_id)
    except Exception:
        logger.exception("order #%s: the auto-reload check failed", order_id)


def _tasks():
    # The jobs call these services, so their module is imported when first needed, not at
    # the top (it imports this one).
    from checkout import reload_tasks

    return reload_tasks
