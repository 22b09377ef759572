"""Promotional codes typed into the one code box at checkout (docs/interface.md §11).

A code is looked up under the guessing limits claim codes use (wallet/guessing.py): the
attempt takes its slot before the look-up, a code that exists gives it back, and an unknown
(or disabled) one keeps it, so ten wrong codes lock the box as ten wrong gift cards do. A
valid claim code never comes here (the view redeems it); a long text no promotion has is
answered as a mistyped claim code (`typo`, the gift card hint), still a counted look-up, so a
vanity code of 13 to 17 symbols (SUMMERSALE2026) works like any other. A code
that exists is then priced with the cart and the codes already entered: kept in the session
when the engine applies it, refused with the engine's reason otherwise (nothing kept). A
credit code is applied to the balance at once and never kept.
"""

import datetime
from dataclasses import dataclass

from django.views.decorators.debug import sensitive_variables

from checkout.exceptions import CheckoutError
from checkout.selectors import (
    PROMO_CODES_MAX,
    SESSION_PROMO_CODES,
    checkout_has_orders,
    checkout_promo_codes,
    checkout_quote_get,
)
from promotions.codes import PromoCodeTypo, promo_code_normalize
from promotions.exceptions import PromotionRefused
from promotions.models import Promotion
from promotions.selectors import entered_codes_lookup, promotion_specs_get, shopper_input_get
from promotions.services import promotion_credit_apply
from wallet import guessing
from wallet.exceptions import CodeRefused

MESSAGES = {
    "typo": "That doesn't look like a code. Promotional codes are 3 to 32 letters and digits; "
    "gift card codes have 15 characters, like XXXX-XXXXXX-XXXXX.",
    "not_found": "We don't recognise that promotional code. Gift card codes have 15 "
    "characters, like XXXX-XXXXXX-XXXXX.",
    # No promotion has it and it is about as long as a claim code (13 to 17 symbols: one or
    # two missing or extra): most likely a gift card code with a symbol wrong.
    "claim_typo": "That doesn't look like a gift card code: check each character and try "
    "again. Gift card codes have 15 characters, like XXXX-XXXXXX-XXXXX.",
    "locked": "Too many codes were refused. The code box is locked for 30 minutes.",
    "unavailable": "Codes can't be checked for a moment. Nothing was changed: please try "
    "again in a few minutes.",
    "too_many_codes": f"An order takes at most {PROMO_CODES_MAX} promotional codes. Remove "
    "one to use another.",
    "empty_cart": "Your cart is empty: add something before using a promotional code.",
    "not_applied": "That code is not used in this order, so there was nothing to remove.",
}


# A claim code is 15 symbols; text this long that no promotion has is a mistyped one.
CLAIM_TYPO_MIN, CLAIM_TYPO_MAX = 13, 17


class PromoCodeRefused(CheckoutError):
    """The code box refused a promotional code; nothing was kept. `reason` is the page's
    `data-reason` (docs/interface.md §11), `params` the refusal's figures (`missing`,
    `conflicts_with`), `status` the HTTP status of the page (429 locked, 503 unavailable)."""

    def __init__(self, reason: str, message: str = "", *, params=None, status: int = 200):
        super().__init__(message or MESSAGES[reason], reason=reason)
        self.params = dict(params or {})
        self.status = status


@dataclass(frozen=True)
class PromoCodeResult:
    """A code the box accepted: a discount now in the quote (`amount` of it, `label`), or
    promotional credit added to the balance (`credit`, spendable until `expires_on`)."""

    code: str
    label: str = ""
    amount: int = 0
    credit: int = 0
    expires_on: datetime.date | None = None
    already_entered: bool = False  # typed again: nothing new, nothing counted
    # A gift card bonus code: credit granted once the order is paid (never a discount).
    bonus_credit: int = 0


@sensitive_variables("code", "canonical")
def checkout_promo_code_enter(*, user, session, code: str, ip: str | None) -> PromoCodeResult:
    """Enter a promotional code at checkout for `user` (the code box).

    Discount codes are kept in `session[SESSION_PROMO_CODES]` (canonical, no duplicates, at
    most `PROMO_CODES_MAX`) only when the engine applies them to the current cart with the
    codes already entered; a credit code calls `promotion_credit_apply` (applied once, by its
    own rules). Raises `PromoCodeRefused` with the reason of docs/interface.md §11: `typo`
    (not the promotional shape), `too_many_codes` and `empty_cart` without counting a guess;
    `locked` (429) and `unavailable` (503, the shared cache is down) before any look-up;
    an unknown code keeps its guessing slot: `typo` with the gift card hint when it is 13 to
    17 symbols (a mistyped claim code), `not_found` otherwise; the engine's and the credit
    service's reasons give it back. A refusal leaves the session and the database as they were.
    """
    try:
        canonical = promo_code_normalize(code)
    except PromoCodeTypo:
        raise PromoCodeRefused("typo") from None
    entered = checkout_promo_codes(session)
    if canonical in entered:
        return PromoCodeResult(code=canonical, already_entered=True)
    if len(entered) >= PROMO_CODES_MAX:
        raise PromoCodeRefused("too_many_codes")
    found = _code_look_up(user=user, canonical=canonical, ip=ip)
    region = user.region
    specs = promotion_specs_get(
        region=region, currency=region.currency, promotion_ids=[found.promotion_id]
    )
    spec = next((s for s in specs if s.id == found.promotion_id), None)
    if spec is not None and spec.kind == Promotion.Kind.CREDIT:
        shopper = shopper_input_get(
            user=user, has_orders=checkout_has_orders(user=user), promotion_ids=[spec.id]
        )
        try:
            lot = promotion_credit_apply(user=user, entered=found, spec=spec, shopper=shopper)
        except PromotionRefused as refusal:
            raise PromoCodeRefused(refusal.reason, refusal.message, params=refusal.params) from None
        return PromoCodeResult(
            code=canonical,
            credit=lot.amount,
            expires_on=lot.expires_on,
            # A public (vanity) code by itself; a single-use one by its promotion's name.
            label=canonical if spec.code == canonical else spec.name,
        )
    quote = checkout_quote_get(user=user, session=session, codes=[*entered, canonical])
    if quote.is_empty:
        raise PromoCodeRefused("empty_cart")
    applied = next((a for a in quote.applied if a.code == canonical), None)
    bonuses = quote.evaluation.bonuses if quote.evaluation else ()
    bonus = next((b for b in bonuses if b.code == canonical), None)
    if applied is None and bonus is not None:
        session[SESSION_PROMO_CODES] = [*entered, canonical]
        return PromoCodeResult(code=canonical, label=bonus.label, bonus_credit=bonus.credit)
    if applied is None:
        refusal = next((r for r in quote.refusals if r.code == canonical), None)
        if refusal is None:  # the engine answers every entered code; never a silent "no"
            raise PromoCodeRefused(
                "no_eligible_items", "This code gives nothing on the items in your cart."
            )
        # The engine's note says what the choice saves ("SAVE5 was not used: WELCOME10 saves
        # you 0.50 more"): the shopper reads why the other code was kept.
        notes = [n for n in quote.notes if n.startswith(f"{canonical} was not used")]
        message = " ".join([refusal.message, *(f"{n}." for n in notes)])
        raise PromoCodeRefused(refusal.reason, message, params=refusal.params)
    session[SESSION_PROMO_CODES] = [*entered, canonical]
    return PromoCodeResult(code=canonical, label=applied.label, amount=applied.amount)


@sensitive_variables("canonical")
def _code_look_up(*, user, canonical: str, ip: str | None):
    """The code's `EnteredCode`, its guessing slot given back; `not_found` keeps the slot."""
    try:
        reservation = guessing.redemption_attempt_reserve(user_id=user.pk, ip=ip)
    except guessing.RedemptionUnavailable:
        raise PromoCodeRefused("unavailable", status=503) from None
    except CodeRefused:
        raise PromoCodeRefused("locked", status=429) from None
    # Staff of the promotion (creator, approver, last changer) get the unknown-code answer:
    # they may never use it, and the box does not tell them it exists.
    found = next(iter(entered_codes_lookup(codes=[canonical], user_id=user.pk)), None)
    if found is None or found.promotion_id is None:
        # A look-up either way: the slot stays taken whichever answer the shopper reads.
        guessing.redemption_attempt_refused(reservation)
        if CLAIM_TYPO_MIN <= len(canonical) <= CLAIM_TYPO_MAX:
            raise PromoCodeRefused("typo", MESSAGES["claim_typo"])
        raise PromoCodeRefused("not_found")
    # The code exists: not a guess, whatever the engine says about it next.
    guessing.redemption_attempt_release(reservation)
    return found


def checkout_promo_code_remove(*, session, code: str) -> str:
    """Take an entered promotional code out of this checkout; returns it (canonical).
    Raises `PromoCodeRefused("not_applied")` when it was not entered (nothing changes).
    A single-use code is named on the page by its last four symbols ("…7QXZ"): that names
    the entered code ending so."""
    entered = checkout_promo_codes(session)
    if code.startswith("…") and len(code) == 5:
        matching = [c for c in entered if c.endswith(code[1:].upper())]
        if len(matching) != 1:
            raise PromoCodeRefused("not_applied")
        session[SESSION_PROMO_CODES] = [c for c in entered if c != matching[0]]
        return matching[0]
    try:
        canonical = promo_code_normalize(code)
    except PromoCodeTypo:
        raise PromoCodeRefused("not_applied") from None
    if canonical not in entered:
        raise PromoCodeRefused("not_applied")
    session[SESSION_PROMO_CODES] = [c for c in entered if c != canonical]
    return canonical
