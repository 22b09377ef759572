"""The shopper's Subscribe & Save actions (docs/subscriptions.md): start, change, skip the next
delivery, pause, resume, cancel. Each locks the subscription row, checks, writes, in one
transaction, so a run placing the delivery at the same moment (which locks the same row
inside the order's transaction) sees either the change or nothing of it: a delivery skipped,
paused or cancelled before the run's lock is never placed.
"""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.addresses import address_list_for_user
from accounts.locks import user_qs_select_for_update
from catalog.models import Product
from catalog.regions import region_today
from catalog.selectors import products_by_slug
from checkout.models import SavedCard
from checkout.services.saved_cards import card_tokenize, saved_card_create
from config.jobs import job_enqueue_on_commit
from subscriptions.exceptions import (
    AddressRequired,
    InvalidChange,
    NotSubscribable,
    SubscriptionError,
)
from subscriptions.locks import (
    subscription_qs_select_for_update,
    subscriptions_of_user_qs_select_for_update,
)
from subscriptions.models import QUANTITY_MAX, Subscription, SubscriptionPeriod
from subscriptions.periods import EVERY_MONTHS, period_date, period_index_after, period_reanchor
from subscriptions.tasks import subscription_first_delivery

Status = Subscription.Status


def _quantity_check(quantity: int) -> None:
    if not 1 <= quantity <= QUANTITY_MAX:
        raise InvalidChange(f"Choose a quantity from 1 to {QUANTITY_MAX}.", reason="quantity")


def _every_check(every: int) -> None:
    if every not in EVERY_MONTHS:
        raise InvalidChange("Choose every 1, 2, 3 or 6 months.", reason="every")


@sensitive_variables("card_number")
def subscription_create(
    *, user, product_slug: str, quantity: int, every: int, card_number: str = ""
) -> Subscription:
    """Subscribe the shopper to `quantity` of a subscribable product every `every` months.

    The first delivery is due today (in the shopper's region): a job placed on commit
    delivers it at once (`subscription_first_delivery`), or the next run does. It
    ships to the shopper's default address and is paid from the balance first, then by the
    card saved here (`card_number`, kept as the provider's token) or the shopper's newest
    saved card. One subscription per product that is not cancelled (a double submit gets
    `already_subscribed`, and nothing twice).

    Raises `NotSubscribable` (unknown, withdrawn, not priced in the region or not eligible),
    `InvalidChange` (`quantity`, `every`), `AddressRequired`, `SubscriptionError`
    (`already_subscribed`), checkout's `PaymentDeclined` for a card number the provider
    refuses and `CheckoutError` `provider_unavailable` when it fails.
    """
    _quantity_check(quantity)
    _every_check(every)
    region = user.region
    product = products_by_slug(slugs=[product_slug], region_code=region.code).get(product_slug)
    if (
        product is None
        or product.price is None
        or not product.subscribable
        or product.kind != Product.Kind.PHYSICAL
    ):
        raise NotSubscribable("This product cannot be delivered by Subscribe & Save.")
    address = next((a for a in address_list_for_user(user=user) if a.is_default), None)
    if address is None:
        raise AddressRequired("Add a default delivery address first: deliveries are sent there.")
    # The provider is asked outside the transaction (never a slow call under a lock).
    token = card_tokenize(card_number=card_number) if card_number else None
    today = region_today(region)
    try:
        with transaction.atomic():
            # The shopper's row, as a region change locks it first: a subscription is
            # started in the region the shopper is still in, never in one just left (the
            # region-change guard then sees it, or it sees the new region and refuses).
            locked = user_qs_select_for_update(user_id=user.pk).values_list("region_id", flat=True)
            if locked.get() != region.code:
                raise SubscriptionError(
                    "Your store changed meanwhile: open the product again to subscribe.",
                    reason="changed",
                )
            card = (
                saved_card_create(user=user, token=token)
                if token is not None
                else SavedCard.objects.filter(user=user).order_by("-pk").first()
            )
            sub = Subscription.objects.create(
                user=user,
                product=product,
                region=region,
                quantity=quantity,
                every=every,
                anchor_date=today,
                next_date=today,
                address=address,
                card=card,
            )
            # The first delivery is due today: the worker places it now, not at its next
            # daily run (which may be tomorrow). Enqueued on commit: never for a rollback.
            job_enqueue_on_commit(subscription_first_delivery, subscription_id=sub.pk)
            return sub
    except IntegrityError:
        # The partial unique constraint: a subscription of this product that is not
        # cancelled already exists (maybe from the first click of a double click).
        raise SubscriptionError(
            f"You already subscribe to {product.name}: change its quantity or frequency below.",
            reason="already_subscribed",
        ) from None


@sensitive_variables("card_number")
def subscription_card_save(*, user, card_number: str) -> SavedCard:
    """Save a new card (the provider's token and last 4 digits, never the number) to pay every
    subscription of the shopper that is not cancelled from its next delivery on: what a
    shopper does after a declined card. A paused one stays paused until resumed.

    Raises checkout's `PaymentDeclined` (a number the provider refuses) or `CheckoutError`
    `provider_unavailable` (the provider failed), `InvalidChange`
    (`card`: none given); nothing is written then.
    """
    if not card_number.strip():
        raise InvalidChange("Enter the card number to save.", reason="card")
    # The provider is asked outside the transaction (never a slow call under a lock).
    token = card_tokenize(card_number=card_number)
    with transaction.atomic():
        subs = subscriptions_of_user_qs_select_for_update(user_id=user.pk).exclude(
            status=Status.CANCELLED
        )
        ids = list(subs.values_list("pk", flat=True))
        card = saved_card_create(user=user, token=token)
        Subscription.objects.filter(pk__in=ids).update(card=card, updated_at=timezone.now())
        return card


def _locked(*, user, subscription_id: int) -> Subscription:
    """The shopper's own subscription, locked; another shopper's is `Subscription.DoesNotExist`
    (a 404 for the page)."""
    return (
        subscription_qs_select_for_update(subscription_id=subscription_id)
        .select_related("region")
        .get(user=user)
    )


def _today(subscription) -> datetime.date:
    return region_today(subscription.region)


def subscription_change(
    *, user, subscription_id: int, quantity: int | None = None, every: int | None = None
) -> Subscription:
    """Change the quantity and/or the frequency of an active or paused subscription. A new
    frequency keeps the next delivery's date and counts the following ones from it.

    Raises `Subscription.DoesNotExist`, `InvalidChange`.
    """
    with transaction.atomic():
        sub = _locked(user=user, subscription_id=subscription_id)
        if sub.status == Status.CANCELLED:
            raise InvalidChange("This subscription is cancelled.", reason="cancelled")
        if quantity is not None:
            _quantity_check(quantity)
            sub.quantity = quantity
        if every is not None and every != sub.every:
            _every_check(every)
            # Re-anchor on the next delivery: it stays where it was, the rest follow it on the
            # anchor's day; the period index goes on (never back to 0: period 0's row and
            # order key exist, and the next delivery would replay that order).
            sub.anchor_date, sub.period_index = period_reanchor(
                anchor=sub.anchor_date, index=sub.period_index, next_date=sub.next_date, every=every
            )
            sub.every = every
        sub.save()
        return sub


def subscription_skip(*, user, subscription_id: int, due_date: datetime.date | None = None):
    """Skip the next delivery: its period is recorded `skipped` and the subscription moves to
    the following one. `due_date` is the date the shopper saw (the reminder's link, the page):
    when the next delivery is no longer that one (already skipped in another tab, or placed),
    nothing more is skipped (idempotent for a double click).

    Raises `Subscription.DoesNotExist`, `InvalidChange` (not active).
    """
    with transaction.atomic():
        sub = _locked(user=user, subscription_id=subscription_id)
        if sub.status != Status.ACTIVE:
            raise InvalidChange("Only an active subscription has a next delivery to skip.")
        if due_date is not None and due_date != sub.next_date:
            return sub
        period_record(sub, status=SubscriptionPeriod.Status.SKIPPED)
        _advance(sub, after=sub.next_date)
        sub.save()
        return sub


def subscription_pause(*, user, subscription_id: int) -> Subscription:
    """Pause: no delivery is placed until resumed (idempotent).

    Raises `Subscription.DoesNotExist`, `InvalidChange` (cancelled).
    """
    with transaction.atomic():
        sub = _locked(user=user, subscription_id=subscription_id)
        if sub.status == Status.CANCELLED:
            raise InvalidChange("This subscription is cancelled.", reason="cancelled")
        if sub.status == Status.ACTIVE:
            subscription_pause_locked(sub, reason=Subscription.PauseReason.SHOPPER)
        return sub


def subscription_pause_locked(sub: Subscription, *, reason: str) -> None:
    """Pause the locked `sub` for `reason` (the shopper, or the shop: a product withdrawn, a
    payment that kept failing)."""
    sub.status, sub.pause_reason = Status.PAUSED, reason
    sub.save(update_fields=["status", "pause_reason", "updated_at"])


def subscription_resume(*, user, subscription_id: int) -> Subscription:
    """Resume a paused subscription. Its next delivery is the first of its dates from today
    on (deliveries missed while paused are not made up), with its payment attempts afresh.

    Raises `Subscription.DoesNotExist`, `InvalidChange` (cancelled; a product no longer sold,
    `not_subscribable`).
    """
    with transaction.atomic():
        sub = _locked(user=user, subscription_id=subscription_id)
        if sub.status == Status.CANCELLED:
            raise InvalidChange("This subscription is cancelled.", reason="cancelled")
        if sub.status == Status.ACTIVE:
            return sub
        # Active and subscribable, and still priced in the region (a product without a
        # price there is in `products_by_slug` with `price=None`).
        product = products_by_slug(slugs=[sub.product.slug], region_code=sub.region_id).get(
            sub.product.slug
        )
        if product is None or product.price is None or not product.subscribable:
            raise NotSubscribable(
                f"{sub.product.name} is no longer sold by Subscribe & Save: it cannot resume."
            )
        today = _today(sub)
        if sub.next_date < today:
            _advance(sub, after=today - datetime.timedelta(days=1))
        sub.status, sub.pause_reason, sub.failed_attempts = Status.ACTIVE, "", 0
        sub.save()
        return sub


def subscription_cancel(*, user, subscription_id: int) -> Subscription:
    """Cancel for good (idempotent): nothing more is delivered; the orders placed stay.

    Raises `Subscription.DoesNotExist`.
    """
    with transaction.atomic():
        sub = _locked(user=user, subscription_id=subscription_id)
        if sub.status != Status.CANCELLED:
            sub.status, sub.pause_reason = Status.CANCELLED, ""
            sub.cancelled_at = timezone.now()
            sub.save()
        return sub


def period_record(sub: Subscription, *, status: str, **fields) -> None:
    """Write what became of the locked `sub`'s current period (`period_index`, due on
    `next_date`): its run-history row, made or rewritten (a failed period later placed or
    skipped). `fields`: `order`, `attempts`, `message` (cut to its 300 characters)."""
    if "message" in fields:
        fields["message"] = fields["message"][:300]
    values = {"due_date": sub.next_date, "status": status, **fields}
    # One statement (INSERT … ON CONFLICT DO UPDATE of these fields), where update_or_create
    # took a savepoint, a locked read and a write: the caller's lock on `sub` already keeps
    # anyone else off this row.
    SubscriptionPeriod.objects.bulk_create(
        [SubscriptionPeriod(subscription=sub, index=sub.period_index, **values)],
        update_conflicts=True,
        unique_fields=["subscription", "index"],
        update_fields=[*values, "updated_at"],
    )


def _advance(sub: Subscription, *, after: datetime.date) -> None:
    """Move the locked `sub` to its first period due after `after` (the caller saves)."""
    sub.period_index = period_index_after(anchor=sub.anchor_date, every=sub.every, after=after)
    sub.next_date = period_date(anchor=sub.anchor_date, every=sub.every, index=sub.period_index)
    sub.failed_attempts = 0
