"""Promotional codes (docs/interface.md §11): what the shopper types, and how it is stored.

A promotional code is 3 to 32 letters and digits, case-insensitive; spaces and dashes are
ignored. Like a claim code it is stored only as a keyed hash (HMAC-SHA256 with `CODE_PEPPER`,
domain-separated from claim codes so one hash can never stand for both) plus its last four
symbols; a vanity code (`WELCOME10`) is public and is also kept as text on its promotion.
"""

import hmac
import re

from django.conf import settings

MIN_LENGTH = 3
MAX_LENGTH = 32
_SHAPE = re.compile(rf"[A-Z0-9]{{{MIN_LENGTH},{MAX_LENGTH}}}")
_DOMAIN = b"promo:"


class PromoCodeTypo(ValueError):
    """Not the shape of a promotional code (too short, too long, a symbol outside A-Z 0-9)."""


def promo_code_normalize(text: str) -> str:
    """The canonical form: upper case, spaces and dashes removed. Raises `PromoCodeTypo`.

    Anything outside ASCII is a typo, refused before upper-casing: Unicode case mapping
    turns the long s into S, the dotless i into I and sharp s into SS, so a typo would
    otherwise be taken for SAVE5 or LIMITED1."""
    if not text.isascii():
        raise PromoCodeTypo(text)
    cleaned = text.replace(" ", "").replace("-", "").upper()
    if not _SHAPE.fullmatch(cleaned):
        raise PromoCodeTypo(text)
    return cleaned


def promo_code_looks_valid(text: str) -> bool:
    try:
        promo_code_normalize(text)
    except PromoCodeTypo:
        return False
    return True


def promo_code_hasher():
    """A function from canonical code to its keyed hash, with the key read once (bulk use)."""
    key = settings.CODE_PEPPER.encode()
    return lambda code: hmac.digest(key, _DOMAIN + code.encode(), "sha256").hex()


def promo_code_hash(code: str) -> str:
    return promo_code_hasher()(code)


# The shape of an issued single-use code (promotions.services.codes): 12 symbols of the
# claim codes' alphabet.
_ISSUED = re.compile(r"[0-9A-HJKMNP-TV-Z]{12}")


def looks_issued(code: str) -> bool:
    """Whether a canonical code has the shape of an issued single-use code (so that it is
    never repeated in full, known or not)."""
    return bool(_ISSUED.fullmatch(code))
