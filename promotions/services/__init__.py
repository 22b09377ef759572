"""Every write of promotions, by concern; this package only re-exports.

- `redemptions`: using promotions in an order (claim), giving the use back (release), and
  what a refund kept back (claw-back)
"""

from promotions.services.redemptions import (
    promotion_redemptions_claim,
    promotion_redemptions_claw_back,
    promotion_redemptions_release,
)

__all__ = [
    "promotion_redemptions_claim",
    "promotion_redemptions_claw_back",
    "promotion_redemptions_release",
]
