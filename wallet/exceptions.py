class WalletError(Exception):
    """Base of every refusal the wallet services raise; nothing was written."""


class InsufficientFunds(WalletError):
    """A customer balance would go below zero."""


class UnbalancedTransfer(WalletError):
    """The postings of a transfer do not sum to zero per currency (a programming error)."""


class IdempotencyConflict(WalletError):
    """An idempotency key was reused for a different movement."""


class CodeRefused(WalletError):
    """A claim code was refused: `reason` is docs/interface.md §6 `data-reason`, the text plain
    words."""

    MESSAGES = {
        "typo": "That doesn't look like a gift card code. Check each character and try again.",
        "not_found": "We couldn't find a gift card with that code. Check it and try again.",
        "already_redeemed": "This gift card has already been redeemed.",
        "expired": "This gift card has expired and can no longer be redeemed.",
        "disabled": "This gift card has been disabled. Please contact support.",
        "wrong_region": "This gift card belongs to another region's store and can't be "
        "redeemed in yours.",
        "locked": "Too many codes were refused. Gift card redemption is locked for 30 minutes.",
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(self.MESSAGES[reason])

    @property
    def message(self) -> str:
        return self.MESSAGES[self.reason]


class StaffPermissionDenied(WalletError):
    """The staff member lacks the permission this action needs."""


class SelfApproval(WalletError):
    """The two-person rule: nobody approves a batch they created."""


class InvalidState(WalletError):
    """The object is not in a state that allows this action (e.g. approving an issued batch)."""


class SelfAction(WalletError):
    """A staff member acted on their own shopper account or request (docs/interface.md §9)."""


class OverLimit(WalletError):
    """An amount or a count beyond what staff may move at all (not even with approval)."""


class NotFound(WalletError):
    """The object named by the caller does not exist (a stale page, a hand-made URL)."""


class AlreadyReported(WalletError):
    """The shopper has already reported this activity row (one report per row and shopper)."""


class PointsRefused(WalletError):
    """A conversion of reward points was refused: `reason` says why in one word
    ("not_multiple", "too_few", "conflict"), the text in plain words; nothing was written."""

    def __init__(self, message: str, *, reason: str):
        self.reason = reason
        super().__init__(message)
