"""The wallet: a double-entry ledger (accounts, transfers, postings) and gift cards.

Every unit of money lives in the ledger. A transfer is one movement made of postings that sum
to zero per currency; postings are never changed or deleted (database triggers refuse it), and
a mistake is corrected by a reversing transfer. Each account caches its balance, which only
the wallet services change, in the same transaction as the postings that explain it.

The models live in modules by concern; this package only re-exports them:
- `ledger`: accounts, transfers, postings
- `giftcards`: gift cards and their batches
- `staff`: balance adjustments and the audit log of staff actions
- `support`: shoppers' activity reports and contact-form messages
- `credit`: promotional credit lots and what each wallet spend took from them
- `points`: reward points each order earned (pending, then available) and points owed
"""

from wallet.models.credit import CreditLot, CreditLotSpend, WalletSpend
from wallet.models.giftcards import GiftCard, GiftCardBatch
from wallet.models.ledger import (
    CUSTOMER_KINDS,
    CUSTOMER_UNIT_KINDS,
    Account,
    Posting,
    Transfer,
)
from wallet.models.points import PointsEarning, PointsShortfall
from wallet.models.staff import ADJUSTMENT_DESCRIPTION_DEFAULT, AuditEntry, BalanceAdjustment
from wallet.models.support import ActivityReport, SupportRequest

__all__ = [
    "ADJUSTMENT_DESCRIPTION_DEFAULT",
    "CUSTOMER_KINDS",
    "CUSTOMER_UNIT_KINDS",
    "Account",
    "ActivityReport",
    "AuditEntry",
    "BalanceAdjustment",
    "CreditLot",
    "CreditLotSpend",
    "GiftCard",
    "GiftCardBatch",
    "PointsEarning",
    "PointsShortfall",
    "Posting",
    "SupportRequest",
    "Transfer",
    "WalletSpend",
]
