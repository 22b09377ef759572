"""Subscribe & Save's writes (docs/subscriptions.md), by concern."""

from subscriptions.services.deliveries import DeliveryOutcome, subscription_deliver
from subscriptions.services.manage import (
    subscription_cancel,
    subscription_card_save,
    subscription_change,
    subscription_create,
    subscription_pause,
    subscription_resume,
    subscription_skip,
)
from subscriptions.services.runs import RunSummary, subscription_reminders_send, subscriptions_run

__all__ = [
    "DeliveryOutcome",
    "RunSummary",
    "subscription_cancel",
    "subscription_card_save",
    "subscription_change",
    "subscription_create",
    "subscription_deliver",
    "subscription_pause",
    "subscription_reminders_send",
    "subscription_resume",
    "subscription_skip",
    "subscriptions_run",
]
