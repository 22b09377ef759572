"""Unique single-use codes of a promotion (`issue_promocodes`, docs/interface.md §11).

Each code is 12 symbols of Crockford base32 drawn from `secrets` (60 random bits: guessing one
of a million issued codes takes about 10^12 tries, and the code box counts every wrong one
against the claim-code guessing limits). Twelve symbols is never the 15 of a claim code, so the
code box cannot take one for a gift card. Stored as the keyed hash of promotions.codes and the
last four symbols, like claim codes; the full codes are handed to the caller once.
"""

import base64
import secrets
from collections.abc import Callable

from django.db import IntegrityError, transaction

from promotions.codes import promo_code_hasher
from promotions.models import Promotion, PromotionCode
from wallet.codes import ALPHABET
from wallet.exceptions import InvalidState, WalletError

__all__ = ["MAX_CODES", "PROMO_CODE_LENGTH", "promocode_display", "promocodes_issue"]

PROMO_CODE_LENGTH = 12
MAX_CODES = 1_000_000
# Inserted this many rows per statement.
_INSERT_BATCH = 5_000
# A collision of 60-bit codes is astronomically rare; a few fresh draws settle it.
_ATTEMPTS = 3


# RFC 4648 base32 groups bits as Crockford's does, with another alphabet: 15 random bytes are
# exactly two codes of 12 symbols.
_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode())


def _codes_generate(count: int) -> list[str]:
    """`count` distinct random codes (60 bits each from `secrets`)."""
    codes: set[str] = set()
    while len(codes) < count:
        pairs = -(-(count - len(codes)) // 2)
        text = base64.b32encode(secrets.token_bytes(15 * pairs)).translate(_FROM_RFC4648).decode()
        codes.update(
            text[i : i + PROMO_CODE_LENGTH] for i in range(0, len(text), PROMO_CODE_LENGTH)
        )
    return list(codes)[:count]


def promocode_display(code: str) -> str:
    """`XXXX-XXXX-XXXX`, as printed (the code box ignores the dashes)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def promocodes_validate(*, promotion: Promotion, count: int) -> None:
    """Refuse what cannot be issued, before anything is written. Raises `WalletError`."""
    if promotion.codes != Promotion.Codes.UNIQUE:
        raise InvalidState(
            f"promotion {promotion.slug!r} does not use unique codes "
            f"({promotion.get_codes_display().lower()})"
        )
    if promotion.status in (Promotion.Status.DISABLED, Promotion.Status.REJECTED):
        raise InvalidState(
            f"promotion {promotion.slug!r} is {promotion.get_status_display().lower()}"
        )
    if count <= 0:
        raise WalletError("--count must be a whole number above zero.")
    if count > MAX_CODES:
        raise WalletError(f"--count above {MAX_CODES:,} is refused; split the campaign.")


def promocodes_issue(
    *,
    promotion: Promotion,
    count: int,
    batch: str = "",
    deliver: Callable[[list[str]], None] = lambda codes: None,
) -> list[str]:
    """Create `count` unique single-use codes of `promotion` and return them (canonical).

    All or nothing: the rows are inserted in one transaction and the codes handed to
    `deliver` (the command writes its file there) before it commits, so a `deliver` that
    fails or is interrupted leaves no code row; a code row exists only once delivered.
    Raises `WalletError` for a promotion without unique codes, a disabled or rejected one, or
    a count that is not 1 to `MAX_CODES`; nothing is written then.
    """
    promocodes_validate(promotion=promotion, count=count)
    hasher = promo_code_hasher()
    for attempt in range(_ATTEMPTS):
        codes = _codes_generate(count)
        try:
            with transaction.atomic():
                PromotionCode.objects.bulk_create(
                    [
                        PromotionCode(
                            promotion=promotion,
                            code_hash=hasher(code),
                            last4=code[-4:],
                            single_use=True,
                            batch=batch[:64],
                        )
                        for code in codes
                    ],
                    batch_size=_INSERT_BATCH,
                )
                deliver(codes)
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
            continue
        return codes
    raise AssertionError("unreachable")
