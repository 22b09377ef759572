"""Claim codes (docs/interface.md §7): generation, check symbol, normalisation, display and hashing.

A code is 15 symbols of Crockford base32: 14 random symbols from `secrets` (70 bits) and one
Luhn mod 32 check symbol, so any single mistyped symbol and most swapped neighbours are caught
as a typo without touching the database. Codes are stored only as an HMAC-SHA256 keyed with
`settings.CODE_PEPPER`, plus their last four symbols for support.
"""

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable

from django.conf import settings

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE = len(ALPHABET)  # 32
PAYLOAD_LENGTH = 14
CODE_LENGTH = PAYLOAD_LENGTH + 1
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
# What people type instead of the symbols Crockford base32 leaves out.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Spaces and dashes are ignored (docs/interface.md §7): every kind of each, as a code pasted
# from an HTML e-mail or a word processor carries them (a no-break space, an en dash), and the
# invisible ones named so (zero-width space, soft hyphen). A tab, a line break or any other
# character is no symbol: a typo.
_INVISIBLE_SEPARATORS = frozenset("\u200b\u00ad\ufeff")


def _is_separator(character: str) -> bool:
    return character in _INVISIBLE_SEPARATORS or unicodedata.category(character) in ("Zs", "Pd")


class CodeTypo(ValueError):
    """The text cannot be a claim code: wrong length, a foreign symbol, or a bad check symbol."""


def _fold(product: int) -> int:
    return product // BASE + product % BASE


# Luhn mod 32 over a 14-symbol payload p0..p13: walking from the rightmost symbol leftwards,
# every other value is doubled, rightmost first (p13, p11, …, p1) and each product folded as
# `p // 32 + p % 32`. A pair (p2k, p2k+1) therefore adds `p2k + fold(2 * p2k+1)`; this table
# holds that for all 1,024 pairs, so a check symbol costs seven look-ups (bulk issue makes
# millions of them).
_PAIR_SUM = [even + _fold(2 * odd) for even in range(BASE) for odd in range(BASE)]
_TO_VALUES = bytes.maketrans(ALPHABET.encode(), bytes(range(BASE)))
# For whole blocks of codes at once (`codes_block_generate`): a random byte's low five bits,
# a value's symbol, an odd place's value doubled and folded, the check symbol of a Luhn sum
# modulo 32.
_LOW_FIVE_BITS = bytes(byte % BASE for byte in range(256))
_SYMBOL_OF_VALUE = ALPHABET.encode().ljust(256, b"\0")
_DOUBLED_FOLDED = bytes(_fold(2 * value) for value in range(BASE)).ljust(256, b"\0")
_CHECK_SYMBOL_OF_SUM = ALPHABET.encode()[:1] + ALPHABET.encode()[:0:-1] + bytes(256 - BASE)


def check_symbol(payload: str) -> str:
    """The Luhn mod 32 check symbol of a 14-symbol payload (see `_PAIR_SUM`)."""
    v = payload.encode().translate(_TO_VALUES)
    t = _PAIR_SUM
    total = (
        t[v[0] << 5 | v[1]]
        + t[v[2] << 5 | v[3]]
        + t[v[4] << 5 | v[5]]
        + t[v[6] << 5 | v[7]]
        + t[v[8] << 5 | v[9]]
        + t[v[10] << 5 | v[11]]
        + t[v[12] << 5 | v[13]]
    )
    return ALPHABET[-total % BASE]


def codes_generate(count: int) -> list[str]:
    """`count` new random claim codes, 15 symbols each, no separators."""
    text = codes_block_generate(count).decode("ascii")
    return [text[i : i + CODE_LENGTH] for i in range(0, count * CODE_LENGTH, CODE_LENGTH)]


def codes_block_generate(count: int) -> bytes:
    """`count` new random claim codes, one after another in one ASCII string (15 bytes each).

    70 random bits per code from `secrets.token_bytes`, in one call for the whole block: a
    symbol is the low five bits of a random byte (32 divides 256, so each of the 32 symbols is
    equally likely). Everything is computed for the whole block at once, with no Python per
    code (a bulk issue makes millions), the check symbols as `check_symbol` would (a test
    compares the two):
    - a payload's Luhn sum is the sum of its symbols in even places plus, for those in odd
      places, each one doubled and folded (`_PAIR_SUM`); `bytes.translate` does the doubling;
    - the sums are taken modulo 32, byte by byte, by adding two byte strings as big integers
      and keeping the low five bits of each byte: every byte stays below 64, so no carry ever
      reaches its neighbour.
    """
    values = secrets.token_bytes(count * PAYLOAD_LENGTH).translate(_LOW_FIVE_BITS)
    places = _bytes_add_mod32(values[0::2], values[1::2].translate(_DOUBLED_FOLDED))
    total = bytes(count)  # seven places a code now: add them up, code by code
    for place in range(PAYLOAD_LENGTH // 2):
        total = _bytes_add_mod32(total, places[place :: PAYLOAD_LENGTH // 2])
    block = bytearray(count * CODE_LENGTH)
    payloads = values.translate(_SYMBOL_OF_VALUE)
    for place in range(PAYLOAD_LENGTH):
        block[place::CODE_LENGTH] = payloads[place::PAYLOAD_LENGTH]
    block[PAYLOAD_LENGTH::CODE_LENGTH] = total.translate(_CHECK_SYMBOL_OF_SUM)
    return bytes(block)


def _bytes_add_mod32(first: bytes, second: bytes) -> bytes:
    """Byte by byte, `(a + b) % 32` of two equal-length strings of bytes below 32."""
    size = len(first)
    low_five_bits = int.from_bytes(b"\x1f" * size)
    added = int.from_bytes(first) + int.from_bytes(second)
    return (added & low_five_bits).to_bytes(size)


def code_generate() -> str:
    """A new random claim code, 15 symbols, no separators."""
    return codes_generate(1)[0]


def _symbols(text: str) -> str:
    """What was typed without its spaces and dashes, upper-cased, lookalikes read as the
    symbols they stand for; `CodeTypo` for a character beyond ASCII."""
    text = "".join(character for character in text or "" if not _is_separator(character))
    # Check for foreign symbols before upper-casing: "ß" would become "SS", a dotless i an "I".
    if not text.isascii():
        raise CodeTypo("not a claim code")
    return text.upper().translate(_LOOKALIKES)


def _well_formed(cleaned: str) -> bool:
    return (
        len(cleaned) == CODE_LENGTH
        and all(symbol in _VALUE for symbol in cleaned)
        and check_symbol(cleaned[:PAYLOAD_LENGTH]) == cleaned[PAYLOAD_LENGTH]
    )


def code_normalize(text: str) -> str:
    """The canonical 15-symbol form of what a person typed, or `CodeTypo`.

    Case-insensitive; spaces and dashes (of any kind) ignored; O is read as 0, I and L as 1.
    """
    cleaned = _symbols(text)
    if len(cleaned) != CODE_LENGTH or any(symbol not in _VALUE for symbol in cleaned):
        raise CodeTypo("not a claim code")
    if not _well_formed(cleaned):
        raise CodeTypo("check symbol does not match")
    return cleaned


def code_may_be_shown(text: str) -> bool:
    """Whether a refused text may be given back in the box to be corrected: not when any 15 of
    its symbols in a row make a well-formed code (a real code with a symbol too many, or joined
    by a character no code has), since a real card's code never appears on a page again
    (docs/interface.md §7). Read generously here: full-width symbols as the ordinary ones
    (NFKC), anything that is no symbol dropped, so no spelling of a code slips through."""
    folded = unicodedata.normalize("NFKC", text or "").upper().translate(_LOOKALIKES)
    cleaned = "".join(symbol for symbol in folded if symbol in _VALUE)
    return not any(
        _well_formed(cleaned[start : start + CODE_LENGTH])
        for start in range(len(cleaned) - CODE_LENGTH + 1)
    )


def code_display(code: str) -> str:
    """`XXXX-XXXXXX-XXXXX`, the way a code is printed on a card or in the issue file."""
    return f"{code[:4]}-{code[4:10]}-{code[10:]}"


def code_hasher():
    """A function from canonical code to its keyed hash, with the key read once (bulk use)."""
    key = settings.CODE_PEPPER.encode()
    return lambda code: hmac.digest(key, code.encode(), "sha256").hex()


def code_hash(code: str) -> str:
    """The keyed hash a canonical code is stored and looked up by (hex HMAC-SHA256)."""
    return code_hasher()(code)


SHA256_BLOCK = 64  # bytes


def codes_hash(codes: Iterable[str], *, key: bytes | None = None) -> list[str]:
    """`code_hash` of many codes: the same hex HMAC-SHA256 (RFC 2104) keyed with `key` (the
    pepper by default), at twice the speed. The key's inner and outer pads are hashed once;
    each code then costs two copies of those states, not a whole HMAC set-up (a bulk issue
    hashes millions)."""
    key = settings.CODE_PEPPER.encode() if key is None else key
    if len(key) > SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key)).copy
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key)).copy
    hashes = []
    for code in codes:
        first = inner()
        first.update(code.encode())
        second = outer()
        second.update(first.digest())
        hashes.append(second.hexdigest())
    return hashes


def code_last4(code: str) -> str:
    """The last four symbols: all that staff and shoppers ever see of a code after issue."""
    return code[-4:]


def code_mask(last4: str) -> str:
    """How a stored code is shown: `••••-••••••-•XXXX`."""
    return f"••••-••••••-•{last4}"
