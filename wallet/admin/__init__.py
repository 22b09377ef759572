"""The staff side of the wallet, by concern. Read-only over the ledger; every change goes
through a service (which checks the permission again and writes the audit entry)."""

from wallet.admin import (
    adjustments,
    batches,
    credit,
    giftcards,
    ledger,
    outstanding,
    points,
    reports,
    support,
)
from wallet.admin.base import ReadOnlyAdmin, ReadOnlyInline

__all__ = [
    "ReadOnlyAdmin",
    "ReadOnlyInline",
    "adjustments",
    "batches",
    "credit",
    "giftcards",
    "ledger",
    "outstanding",
    "points",
    "reports",
    "support",
]
