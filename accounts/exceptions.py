class AccountsError(Exception):
    """Base of every refusal the accounts services raise; nothing was written."""


class RegionChangeRefused(AccountsError):
    """A shopper's region cannot change now. `reasons` says why, each in plain words (what the
    shopper still holds in the old region, or that the person asking may not do it)."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))
