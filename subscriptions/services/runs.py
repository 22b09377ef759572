"""The Subscribe & Save run (`subscriptions_run`, and the worker once a day): in each region,
on that region's date, send the reminders of the deliveries due within
`SUBSCRIPTION_REMINDER_DAYS` days and place the deliveries due (docs/subscriptions.md).

Idempotent: a reminder goes once per period (`Subscription.reminded_for`, set under the
subscription's lock), a delivery is placed once per period (services/deliveries.py). One
subscription that fails unexpectedly is logged and counted; the run goes on with the others.
"""

import datetime
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from catalog.models import Price, Region
from catalog.regions import region_today
from subscriptions.emails import subscription_reminder_mail_send
from subscriptions.locks import subscription_qs_select_for_update
from subscriptions.models import Subscription
from subscriptions.pricing import delivery_price
from subscriptions.services.deliveries import subscription_deliver

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    dates: dict[str, datetime.date] = field(default_factory=dict)  # region code → its date
    outcomes: Counter = field(default_factory=Counter)  # placed, failed, paused, …
    reminders: int = 0
    # Subscriptions that failed unexpectedly (a delivery or a reminder), logged.
    errors: int = 0
    # The deliveries due (each has one outcome or was an error).
    due: int = 0


def subscriptions_run(
    *,
    date: datetime.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Send the reminders and place every delivery due by `date` (default: today in each
    region). `progress(done, total)` is called after each delivery. Idempotent; safe to run
    twice at once (one order per subscription and period)."""
    summary = RunSummary()
    due: list[tuple[int, datetime.date]] = []
    for region in Region.objects.order_by("code"):
        today = date or region_today(region)
        summary.dates[region.code] = today
        summary.reminders += subscription_reminders_send(
            region=region, today=today, summary=summary
        )
        ids = Subscription.objects.filter(
            region=region, status=Subscription.Status.ACTIVE, next_date__lte=today
        ).order_by("pk")
        due.extend((pk, today) for pk in ids.values_list("pk", flat=True))
    summary.due = len(due)
    for done, (pk, today) in enumerate(due, start=1):
        try:
            outcome = subscription_deliver(subscription_id=pk, today=today)
        except Exception:
            logger.exception("subscriptions_run: subscription %s failed", pk)
            summary.errors += 1
        else:
            summary.outcomes[outcome.status] += 1
        if progress is not None:
            progress(done, len(due))
    return summary


def subscription_reminders_send(
    *, region: Region, today: datetime.date, summary: RunSummary | None = None
) -> int:
    """E-mail the reminder of each active subscription of `region` whose next delivery is
    after `today` and at most `SUBSCRIPTION_REMINDER_DAYS` days away, once per delivery
    (a run that missed the day still reminds, up to the day before). Returns how many went.
    One that fails unexpectedly is logged (and counted in `summary.errors`), and the others
    and the day's deliveries go on."""
    horizon = today + datetime.timedelta(days=settings.SUBSCRIPTION_REMINDER_DAYS)
    due = (
        Subscription.objects.filter(
            region=region,
            status=Subscription.Status.ACTIVE,
            next_date__gt=today,
            next_date__lte=horizon,
        )
        .filter(Q(reminded_for__isnull=True) | ~Q(reminded_for=F("next_date")))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    sent = 0
    for pk in due:
        try:
            sent += _remind(subscription_id=pk, today=today, horizon=horizon)
        except Exception:
            logger.exception("subscriptions_run: the reminder of subscription %s failed", pk)
            if summary is not None:
                summary.errors += 1
    return sent


def _remind(*, subscription_id: int, today, horizon) -> bool:
    with transaction.atomic():
        sub = subscription_qs_select_for_update(subscription_id=subscription_id).first()
        if (
            sub is None
            or sub.status != Subscription.Status.ACTIVE
            or not today < sub.next_date <= horizon
            or sub.reminded_for == sub.next_date
        ):
            return False
        # Still sold by Subscribe & Save (the basket's test, checkout.baskets): a withdrawn
        # product gets no "your delivery is on…" e-mail, the run pauses it and says so.
        list_price = (
            Price.objects.filter(
                product_id=sub.product_id,
                region_id=sub.region_id,
                product__is_active=True,
                product__subscribable=True,
            )
            .values_list("amount", flat=True)
            .first()
        )
        sub.reminded_for = sub.next_date
        sub.save(update_fields=["reminded_for", "updated_at"])
        if list_price is None:
            return False  # not priced any more: the run pauses it and says so
        active = Subscription.objects.filter(
            user_id=sub.user_id, status=Subscription.Status.ACTIVE
        ).count()
        price = delivery_price(list_price=list_price, quantity=sub.quantity, active_count=active)
        transaction.on_commit(
            partial(
                subscription_reminder_mail_send,
                subscription_id=sub.pk,
                due_date=sub.next_date,
                unit_price=price.unit_price,
                total=price.total,
                previous_unit_price=sub.last_unit_price,
            ),
            robust=True,
        )
        return True
