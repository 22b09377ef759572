"""Single gift cards: issuing one, and redeeming a claim code into a balance."""

import datetime
import functools
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from catalog.models import Region
from catalog.regions import region_day_is_over
from wallet import guessing, statements
from wallet.codes import (
    CodeTypo,
    code_generate,
    code_hash,
    code_last4,
    code_normalize,
)
from wallet.exceptions import (
    CodeRefused,
    WalletError,
)
from wallet.locks import (
    redemption_rows_select_for_update,
    wallet_account_select_for_update,
)
from wallet.models import (
    Account,
    GiftCard,
    GiftCardBatch,
    Transfer,
)
from wallet.services.ledger import (
    Leg,
    system_account_get_or_create,
    transfer_create,
    wallet_account_get_or_create,
)


def _account_lock(*, user, currency: str) -> Account:
    """The shopper's money account in `currency`, locked, with the id of the shop's
    outstanding gift card account (`shop_account_id`): one query once both exist."""
    lock = functools.partial(
        wallet_account_select_for_update,
        user_id=user.pk,
        currency=currency,
        shop_kind=Account.Kind.GIFTCARDS_OUTSTANDING,
    )
    account = lock()
    if account is None or account.shop_account_id is None:
        # A first redemption in this currency (shopper's or shop's): make them, then lock.
        wallet_account_get_or_create(user=user, currency=currency)
        system_account_get_or_create(kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=currency)
        account = lock()
    return account


@dataclass(frozen=True)
class IssuedGiftCard:
    card: GiftCard
    code: str  # the only time the full code exists outside the person holding the card


@dataclass(frozen=True)
class Redemption:
    card: GiftCard
    transfer: Transfer
    balance: int
    currency: str


def giftcard_issue(
    *,
    region: Region,
    amount: int,
    expires_on: datetime.date | None = None,
    batch: GiftCardBatch | None = None,
    created_by=None,
    pending: bool = False,
    idempotency_key: str | None = None,
) -> IssuedGiftCard:
    """Issue one gift card of `amount` minor units in `region`'s currency.

    Its value moves from the shop's gift-card funding account to the outstanding gift card
    liability, so the ledger always reconciles. Returns the full code, which is never stored
    and must be handed over now. `expires_on` is the card's last valid day in the region's
    time zone. Raises `WalletError` for a non-positive amount or a last day already over there.

    `pending`: a card bought in the shop, paid for but not delivered yet: it is issued (its
    liability posted) `pending`, and its code is thrown away; `giftcard_code_renew` gives it
    the code that is delivered. `idempotency_key` keys the issue transfer (default: per card).
    """
    if amount <= 0:
        raise WalletError("a gift card's amount must be positive")
    if expires_on is not None and region_day_is_over(region, expires_on):
        raise WalletError("the expiry date is in the past")
    code = code_generate()
    currency = region.currency
    with transaction.atomic():
        card = GiftCard.objects.create(
            code_hash=code_hash(code),
            last4=code_last4(code),
            amount=amount,
            currency=currency,
            region=region,
            expires_on=expires_on,
            batch=batch,
            status=GiftCard.Status.PENDING if pending else GiftCard.Status.ACTIVE,
        )
        funding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_ISSUED, currency=currency
        )
        outstanding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=currency
        )
        transfer_create(
            idempotency_key=idempotency_key or f"giftcard-issue:{card.pk}",
            kind=Transfer.Kind.GIFTCARD_ISSUE,
            description=f"Gift card …{card.last4} issued",
            legs=[Leg(funding.pk, -amount), Leg(outstanding.pk, amount)],
            created_by=created_by,
        )
    return IssuedGiftCard(card=card, code=code)


# A full code is a bearer secret: an error report (debug page, error e-mail) must not show it.
@sensitive_variables("code")
def giftcard_redeem(*, user, code: str, ip: str | None = None) -> Redemption:
    """Redeem a claim code into the shopper's balance, at once and exactly once.

    `ip` is the client address (`accounts.network.client_ip`). Raises `CodeRefused` with the
    reason of docs/interface.md §6 (`typo`, `not_found`, `already_redeemed`, `expired`,
    `disabled`, `wrong_region`, `locked`), or `RedemptionUnavailable` (`unavailable`) when the
    shared cache that counts guesses cannot be reached; a refusal writes nothing to the
    database. Every attempt takes a slot of the account's and the address's guessing limits
    before its code is looked up (wallet/guessing.py), and only a success gives it back.
    Concurrent redemptions of one code queue on the card's row lock: the first wins, the rest
    see it redeemed. A unique idempotency key per card guards the ledger as well.
    """
    reservation = guessing.redemption_attempt_reserve(user_id=user.pk, ip=ip)
    try:
        redemption = _giftcard_redeem(user=user, code=code)
    except CodeRefused:
        guessing.redemption_attempt_refused(reservation)
        raise
    # Any other error keeps the slot taken too: whatever it might have told the guesser about
    # the code, it stays counted.
    guessing.redemption_attempt_release(reservation)
    return redemption


@sensitive_variables("code", "canonical")
def _giftcard_redeem(*, user, code: str) -> Redemption:
    try:
        canonical = code_normalize(code)
    except CodeTypo:
        raise CodeRefused("typo") from None
    with transaction.atomic():
        # The shopper's row first (level 0 of the lock order, docs/ledger.md): a region change
        # (accounts.services.user_region_change) takes the same lock, so the region checked
        # below cannot change before this credit commits in its currency. NO KEY UPDATE: it
        # does not block the rows that point at the user (a new wallet account).
        # The locks are fixed SQL (wallet/locks.py): the same rows, the same locks, as the
        # querysets there, without building them on every redemption.
        # With them, in the same round trip, the card and the shopper's account in the currency
        # of the region they signed in with (the card's, unless it is refused wrong_region).
        shopper_region_id, card, account = redemption_rows_select_for_update(
            user_id=user.pk,
            code_hash=code_hash(canonical),
            currency=user.region.currency,
            shop_kind=Account.Kind.GIFTCARDS_OUTSTANDING,
        )
        # A bought card awaiting delivery has had no code anyone knows: as good as none.
        if card is None or card.status == GiftCard.Status.PENDING:
            raise CodeRefused("not_found")
        if card.status == GiftCard.Status.REDEEMED:
            raise CodeRefused("already_redeemed")
        if card.status in (GiftCard.Status.DISABLED, GiftCard.Status.REFUNDED) or (
            card.batch is not None and card.batch.status != GiftCardBatch.Status.ISSUED
        ):
            raise CodeRefused("disabled")
        # Two-person rule: whoever created or approved a batch saw its codes (or could have),
        # so none of them may turn its cards into their own balance. The shopper is told the
        # card is disabled, as anyone else holding a card that cannot be used.
        if card.batch is not None and user.pk in (
            card.batch.created_by_id,
            card.batch.approved_by_id,
        ):
            raise CodeRefused("disabled")
        # Likewise the staff member who last disabled or re-enabled it (support looked the card
        # up by its code): re-enabling a card and then redeeming it oneself is refused.
        if card.status_changed_by_id == user.pk:
            raise CodeRefused("disabled")
        # The last day ends at midnight in the card's region, wherever the server is.
        if card.expires_on is not None and region_day_is_over(card.region, card.expires_on):
            raise CodeRefused("expired")
        if card.region_id != shopper_region_id:
            raise CodeRefused("wrong_region")

        if account is None or account.currency != card.currency or account.shop_account_id is None:
            # A first redemption in this currency (the shopper's or the shop's), or a region
            # changed since this request signed in: the account in the card's currency.
            account = _account_lock(user=user, currency=card.currency)
        # The shop account as transfer_create needs it (id, kind, currency), from the lock's
        # query: it is never locked, so there is nothing more to read.
        outstanding = Account(
            pk=account.shop_account_id,
            kind=Account.Kind.GIFTCARDS_OUTSTANDING,
            currency=card.currency,
        )
        card.status = GiftCard.Status.REDEEMED
        card.redeemed_by = user
        card.redeemed_at = timezone.now()
        result = transfer_create(
            idempotency_key=f"giftcard-redeem:{card.pk}",
            kind=Transfer.Kind.GIFTCARD_REDEEM,
            description=f"Gift card …{card.last4} redeemed",
            legs=[Leg(outstanding.pk, -card.amount), Leg(account.pk, card.amount)],
            accounts=[account, outstanding],
            # The card's lock proved it active, so it was never redeemed: its key is new.
            first_use=True,
            # The card's update with the transfer's writes: one statement (wallet/statements.py).
            also=[statements.giftcard_redeemed_statement(card=card)],
        )
    return Redemption(
        card=card,
        transfer=result.transfer,
        balance=result.balance_after(account.pk),
        currency=card.currency,
    )
