"""Every write of promotions, by concern; this package only re-exports.

- `redemptions`: using promotions in an order (claim), giving the use back (release), and
  what a refund kept back (claw-back)
- `staff`: staff creating, changing, approving, rejecting, disabling promotions (two-person
  rule above a value per currency, audited)
- `codes`: issuing a promotion's unique single-use codes (`issue_promocodes`)
- `credit`: a promotional-credit code applied from the code box (`promotion_credit_apply`)
"""

from promotions.services.codes import promocodes_issue
from promotions.services.credit import promotion_credit_apply
from promotions.services.redemptions import (
    promotion_redemptions_claim,
    promotion_redemptions_claw_back,
    promotion_redemptions_release,
)
from promotions.services.staff import (
    promotion_approve,
    promotion_change,
    promotion_create,
    promotion_disable,
    promotion_reject,
)

__all__ = [
    "promocodes_issue",
    "promotion_approve",
    "promotion_change",
    "promotion_create",
    "promotion_credit_apply",
    "promotion_disable",
    "promotion_redemptions_claim",
    "promotion_redemptions_claw_back",
    "promotion_redemptions_release",
    "promotion_reject",
]
