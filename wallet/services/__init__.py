"""Every write to the wallet, by concern; this package only re-exports.

- `ledger`: accounts, transfers, the shopper's credits and debits
- `giftcards`: issuing one card, redeeming a claim code
- `batches`: issuing many cards at once
- `staff`: what staff do in the admin with cards and batches (two-person rules, audited)
- `adjustments`: staff adjusting a balance, approved by a second person above a threshold
- `thresholds`: how much one staff member may move alone, and at all
- `audit`: the audit log and the permission check of staff actions
- `reports`: shoppers' reports about their activity, and staff answering them
- `support`: messages sent through the contact form of /help/
- `credit`: promotional credit: grants, wallet spends and their returns, expiry
- `purchased`: gift cards bought in the shop: the code given at delivery, the refund
- `points`: reward points earned, released, taken back by refunds, converted to credit
- `coins`: coins bought, spent on digital items, returned
"""

from wallet.services.adjustments import (
    AdjustmentResult,
    balance_adjustment_approve,
    balance_adjustment_reject,
    wallet_adjust,
)
from wallet.services.audit import (
    audit_record,
    audit_refusal_record,
    refusals_audited,
    require_perm,
)
from wallet.services.batches import (
    ISSUE_CHUNK_SIZE,
    ISSUE_STALE_AFTER,
    MAX_BATCH_SIZE,
    IssuedChunk,
    giftcard_batch_create,
    giftcard_batch_issue,
    giftcard_batch_validate,
    giftcard_batches_fail_interrupted,
)
from wallet.services.coins import coins_credit, coins_return, coins_spend, coins_take_back
from wallet.services.credit import (
    ExpiryResult,
    SpendResult,
    credit_account_get_or_create,
    wallet_credit_grant,
    wallet_expire_credit,
    wallet_spend,
    wallet_spend_return,
)
from wallet.services.giftcards import (
    IssuedGiftCard,
    Redemption,
    giftcard_issue,
    giftcard_redeem,
)
from wallet.services.ledger import (
    Leg,
    TransferResult,
    system_account_get_or_create,
    transfer_create,
    unit_account_get_or_create,
    wallet_account_get_or_create,
    wallet_credit,
    wallet_debit,
)
from wallet.services.points import (
    ConvertResult,
    ReleaseResult,
    points_convert,
    points_order_settle,
    points_release,
)
from wallet.services.purchased import giftcard_code_renew, giftcard_refund
from wallet.services.reports import (
    activity_report_create,
    activity_report_reply,
    activity_report_status_set,
)
from wallet.services.staff import (
    giftcard_batch_approve,
    giftcard_batch_codes_download,
    giftcard_batch_needs_approval,
    giftcard_batch_reject,
    giftcard_batch_request,
    giftcard_status_set,
)
from wallet.services.support import support_request_create

__all__ = [
    "ISSUE_CHUNK_SIZE",
    "ISSUE_STALE_AFTER",
    "MAX_BATCH_SIZE",
    "AdjustmentResult",
    "ConvertResult",
    "ExpiryResult",
    "IssuedChunk",
    "IssuedGiftCard",
    "Leg",
    "Redemption",
    "ReleaseResult",
    "SpendResult",
    "TransferResult",
    "activity_report_create",
    "activity_report_reply",
    "activity_report_status_set",
    "audit_record",
    "audit_refusal_record",
    "balance_adjustment_approve",
    "balance_adjustment_reject",
    "coins_credit",
    "coins_return",
    "coins_spend",
    "coins_take_back",
    "credit_account_get_or_create",
    "giftcard_batch_approve",
    "giftcard_batch_codes_download",
    "giftcard_batch_create",
    "giftcard_batch_issue",
    "giftcard_batch_needs_approval",
    "giftcard_batch_reject",
    "giftcard_batch_request",
    "giftcard_batch_validate",
    "giftcard_batches_fail_interrupted",
    "giftcard_code_renew",
    "giftcard_issue",
    "giftcard_redeem",
    "giftcard_refund",
    "giftcard_status_set",
    "points_convert",
    "points_order_settle",
    "points_release",
    "refusals_audited",
    "require_perm",
    "support_request_create",
    "system_account_get_or_create",
    "transfer_create",
    "unit_account_get_or_create",
    "wallet_account_get_or_create",
    "wallet_adjust",
    "wallet_credit",
    "wallet_credit_grant",
    "wallet_debit",
    "wallet_expire_credit",
    "wallet_spend",
    "wallet_spend_return",
]
