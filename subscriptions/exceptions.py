"""Refusals of Subscribe & Save; nothing was written. `reason` is the page's `data-reason`."""


class SubscriptionError(Exception):
    reason = "invalid"

    def __init__(self, message: str, *, reason: str | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self)


class NotSubscribable(SubscriptionError):
    reason = "not_subscribable"


class AddressRequired(SubscriptionError):
    reason = "address_required"


class InvalidChange(SubscriptionError):
    """Quantity, frequency or an action that does not fit the subscription's status."""

    reason = "invalid"


class NotDue(SubscriptionError):
    """Under its lock the subscription is no longer to be delivered for this period (paused,
    skipped, cancelled, or delivered by a run at the same time): no order."""

    reason = "not_due"
