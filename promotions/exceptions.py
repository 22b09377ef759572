"""Refusals of the promotions services; nothing was written when one is raised."""


class PromotionNoLongerApplies(Exception):
    """A promotion the order was priced with cannot be used any more, judged under its locks
    (the usage limit was reached, the budget is spent, the code was used in another tab, the
    shopper's own limit, the promotion was disabled). Checkout refuses the order `changed`.
    `reason` is the promotion's own reason of docs/interface.md §11 (for the log and tests)."""

    def __init__(self, message: str, *, promotion_id: int, reason: str):
        super().__init__(message)
        self.promotion_id = promotion_id
        self.reason = reason


class PromotionRefused(Exception):
    """A promotion refused to the shopper: `reason` is one of docs/interface.md §11
    (`not_found`, `expired`, `already_used`, `usage_limit_reached`, …), `message` says it in
    plain words with its figures, `params` carries them (e.g. {"missing": 450})."""

    def __init__(self, reason: str, message: str, *, params: dict | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.params = dict(params or {})
