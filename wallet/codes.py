"""Claim codes (CONTRACT §7): generation, check symbol, normalisation, display and hashing.

A code is 15 symbols of Crockford base32: 14 random symbols from `secrets` (70 bits) and one
Luhn mod 32 check symbol, so any single mistyped symbol and most swapped neighbours are caught
as a typo without touching the database. Codes are stored only as an HMAC-SHA256 keyed with
`settings.CODE_PEPPER`, plus their last four symbols for support.
"""

import hashlib
import hmac
import secrets

from django.conf import settings

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE = len(ALPHABET)  # 32
PAYLOAD_LENGTH = 14
CODE_LENGTH = PAYLOAD_LENGTH + 1
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
# What people type instead of the symbols Crockford base32 leaves out.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class CodeTypo(ValueError):
    """The text cannot be a claim code: wrong length, a foreign symbol, or a bad check symbol."""


def check_symbol(payload: str) -> str:
    """The Luhn mod 32 check symbol of a 14-symbol payload.

    Walking from the rightmost payload symbol leftwards, every other value is doubled (the
    rightmost one first) and each product folded as `p // 32 + p % 32`.
    """
    total = 0
    for position, symbol in enumerate(reversed(payload)):
        value = _VALUE[symbol]
        if position % 2 == 0:
            value *= 2
            value = value // BASE + value % BASE
        total += value
    return ALPHABET[(BASE - total % BASE) % BASE]


def code_generate() -> str:
    """A new random claim code, 15 symbols, no separators."""
    payload = "".join(secrets.choice(ALPHABET) for _ in range(PAYLOAD_LENGTH))
    return payload + check_symbol(payload)


def code_normalize(text: str) -> str:
    """The canonical 15-symbol form of what a person typed, or `CodeTypo`.

    Case-insensitive; spaces and dashes ignored; O is read as 0, I and L as 1.
    """
    cleaned = (text or "").upper().replace(" ", "").replace("-", "").translate(_LOOKALIKES)
    if len(cleaned) != CODE_LENGTH or any(symbol not in _VALUE for symbol in cleaned):
        raise CodeTypo("not a claim code")
    if check_symbol(cleaned[:PAYLOAD_LENGTH]) != cleaned[PAYLOAD_LENGTH]:
        raise CodeTypo("check symbol does not match")
    return cleaned


def code_display(code: str) -> str:
    """`XXXX-XXXXXX-XXXXX`, the way a code is printed on a card or in the issue file."""
    return f"{code[:4]}-{code[4:10]}-{code[10:]}"


def code_hash(code: str) -> str:
    """The keyed hash a canonical code is stored and looked up by (hex HMAC-SHA256)."""
    return hmac.new(settings.CODE_PEPPER.encode(), code.encode(), hashlib.sha256).hexdigest()


def code_last4(code: str) -> str:
    """The last four symbols: all that staff and shoppers ever see of a code after issue."""
    return code[-4:]


def code_mask(last4: str) -> str:
    """How a stored code is shown: `••••-••••••-•XXXX`."""
    return f"••••-••••••-•{last4}"
