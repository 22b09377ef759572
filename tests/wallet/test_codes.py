"""wallet/codes.py: claim codes as docs/interface.md §7 describes them."""

import re

import pytest
from django.test import override_settings

from wallet.codes import (
    ALPHABET,
    CODE_LENGTH,
    CodeTypo,
    check_symbol,
    code_display,
    code_generate,
    code_hash,
    code_last4,
    code_mask,
    code_may_be_shown,
    code_normalize,
    codes_generate,
)

# A fixed, valid code for the tests that need one: payload ABCDEFGHJKMNPQ, check Y.
CODE = "ABCDEFGHJKMNPQY"


def _with_check(payload: str) -> str:
    return payload + check_symbol(payload)


def _is_accepted(text: str) -> bool:
    try:
        code_normalize(text)
    except CodeTypo:
        return False
    return True


def test_alphabet_is_crockford_base32():
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


@pytest.mark.parametrize(
    ("payload", "check"),
    [("00000000000000", "0"), ("ABCDEFGHJKMNPQ", "Y"), ("Z0Z0Z0Z0Z0Z0Z0", "7")],
)
def test_contract_check_symbol_vectors(payload, check):
    assert check_symbol(payload) == check
    assert code_normalize(payload + check) == payload + check


def _reference_check(payload: str) -> str:
    """docs/interface.md §7 written out longhand, to compare the implementation against."""
    total = 0
    for position, symbol in enumerate(reversed(payload)):
        value = ALPHABET.index(symbol)
        if position % 2 == 0:
            product = value * 2
            value = product // 32 + product % 32
        total += value
    return ALPHABET[(32 - total % 32) % 32]


def test_check_symbol_matches_the_contract_formula_on_many_codes():
    for _ in range(2000):
        code = code_generate()
        assert check_symbol(code[:14]) == _reference_check(code[:14])
    for symbol in ALPHABET:
        payload = symbol * 14
        assert check_symbol(payload) == _reference_check(payload)


def test_generated_codes_are_15_alphabet_symbols_with_a_valid_check():
    codes = [code_generate() for _ in range(500)]
    for code in codes:
        assert len(code) == CODE_LENGTH == 15
        assert set(code) <= set(ALPHABET)
        assert code[14] == check_symbol(code[:14])
        assert code_normalize(code) == code
    assert len(set(codes)) == len(codes)


def test_generated_codes_use_the_whole_alphabet_in_every_payload_position():
    codes = [code_generate() for _ in range(3000)]
    for position in range(14):
        # 3,000 uniform draws from 32 symbols miss one with probability ~ 32 * e^-94.
        assert {code[position] for code in codes} == set(ALPHABET)


def test_codes_made_in_bulk_have_the_check_symbol_check_symbol_computes():
    # The bulk path computes every check symbol of a block at once (wallet/codes.py,
    # `codes_block_generate`): it must agree with the one-code formula, code by code.
    codes = codes_generate(20_003)
    assert len(codes) == len(set(codes)) == 20_003
    for code in codes:
        assert len(code) == CODE_LENGTH
        assert code[14] == check_symbol(code[:14])
    # Every check symbol occurs, and every symbol in every payload position.
    assert {code[14] for code in codes} == set(ALPHABET)
    for position in range(14):
        assert {code[position] for code in codes} == set(ALPHABET)


def test_every_single_symbol_substitution_is_a_typo():
    codes = [CODE, "000000000000000", _with_check("Z0Z0Z0Z0Z0Z0Z0")] + [
        code_generate() for _ in range(20)
    ]
    tried = 0
    for code in codes:
        assert _is_accepted(code)
        for position in range(CODE_LENGTH):
            for symbol in ALPHABET:
                if symbol == code[position]:
                    continue
                typo = code[:position] + symbol + code[position + 1 :]
                tried += 1
                with pytest.raises(CodeTypo):
                    code_normalize(typo)
    assert tried == len(codes) * 15 * 31


def test_most_adjacent_swaps_are_caught():
    """Luhn mod 32 misses a swap of neighbours only for a few value pairs; measure the rate."""
    swaps = caught = 0
    for _ in range(400):
        code = code_generate()
        for position in range(CODE_LENGTH - 1):
            a, b = code[position], code[position + 1]
            if a == b:
                continue
            swaps += 1
            caught += not _is_accepted(code[:position] + b + a + code[position + 2 :])
    rate = caught / swaps
    print(f"adjacent swaps caught: {caught}/{swaps} = {rate:.2%}")
    assert rate > 0.93


def test_adjacent_swaps_missed_are_only_zero_and_z():
    """Exhaustive over every ordered pair of distinct symbols in every adjacent position.

    Luhn mod 32 cannot see a swap of the values 0 and 31 (`0` and `Z`) inside the payload;
    every other swap of neighbours, the check symbol's included, answers `typo`.
    """
    swaps = caught = 0
    missed = set()
    for position in range(CODE_LENGTH - 1):
        for a in ALPHABET:
            for b in ALPHABET:
                if a == b:
                    continue
                if position < 13:
                    payload = "0" * position + a + b + "0" * (12 - position)
                    code = _with_check(payload)
                else:  # the pair is the last payload symbol and the check symbol
                    found = [
                        c
                        for c in (_with_check("0" * 13 + last) for last in ALPHABET)
                        if c[13:] == a + b
                    ]
                    if not found:
                        continue
                    code = found[0]
                swaps += 1
                if _is_accepted(code[:position] + b + a + code[position + 2 :]):
                    missed.add(a + b)
                else:
                    caught += 1
    rate = caught / swaps
    print(f"adjacent swaps caught (exhaustive): {caught}/{swaps} = {rate:.2%}")
    assert missed == {"0Z", "Z0"}
    assert rate > 0.99


@pytest.mark.parametrize(
    "typed",
    [
        "abcdefghjkmnpqy",
        "ABCD-EFGHJK-MNPQY",
        "abcd-efghjk-mnpqy",
        "ABCD EFGHJK MNPQY",
        " A B C D - E F G H J K - M N P Q Y ",
        "ABCD--EFGHJK--MNPQY",
    ],
)
def test_normalisation_of_case_spaces_and_dashes(typed):
    assert code_normalize(typed) == CODE


def test_normalisation_reads_o_as_zero_and_i_l_as_one():
    code = _with_check("01010101010101")
    assert code_normalize(code.replace("0", "O").replace("1", "I", 3).replace("1", "L")) == code
    assert (
        code_normalize(code.lower().replace("0", "o").replace("1", "i", 3).replace("1", "l"))
        == code
    )


@pytest.mark.parametrize(
    "typed",
    [
        "",
        None,
        "ABCDEFGHJKMNPQ",  # 14 symbols
        "ABCDEFGHJKMNPQYY",  # 16 symbols
        "ABCDEFGHJKMNPQY0",
        "ABCD-EFGHJK-MNPQ",
        "ABCDEFGHJKMNPQU",  # U is not in the alphabet
        "UBCDEFGHJKMNPQY",
        "ABCDEFGHJKMNP*Y",
        "ABCDEFGHJKMNPéY",
        "ABCDEFGHJKMNPÉY",
        "ABCDEFGHJKMNP_Y",
        "ABCDEFGHJKMNP.Y",
        "ABCDEFGHJKMNP\tQY",
        "\uff21BCDEFGHJKMNPQY",  # a full-width A
    ],
)
def test_wrong_length_or_foreign_symbols_are_typos(typed):
    with pytest.raises(CodeTypo):
        code_normalize(typed)


@pytest.mark.parametrize(
    ("payload", "ascii_part", "foreign"),
    [
        ("ABCDEFGHJKMNSS", "SS", "ß"),  # ß upper-cases to SS
        ("ABCDEFGHJKMNFF", "FF", "ﬀ"),  # the ﬀ ligature upper-cases to FF
        ("S1S1S1S1S1S1S1", "S", "\u017f"),  # the long s upper-cases to S
        ("S1S1S1S1S1S1S1", "1", "\u0131"),  # the dotless i upper-cases to I, read as 1
    ],
)
def test_foreign_letters_that_upper_case_into_the_alphabet_are_typos(payload, ascii_part, foreign):
    code = _with_check(payload)
    assert _is_accepted(code)
    assert not _is_accepted(code.replace(ascii_part, foreign))
    assert not _is_accepted(code.lower().replace(ascii_part.lower(), foreign))


@pytest.mark.parametrize(
    "separator", ["\u00a0", "\u202f", "\u3000", "\u2010", "\u2013", "\uff0d", "\u200b", "\ufeff"]
)
def test_any_kind_of_space_or_dash_is_ignored(separator):
    assert code_normalize(code_display(CODE).replace("-", separator)) == CODE


@pytest.mark.parametrize("character", ["\t", "\n", "\u2212", "\u30fc", "_"])
def test_no_other_character_between_the_groups_is_ignored(character):
    """A tab, a line break, a minus sign, the long vowel mark: none is a space or a dash."""
    with pytest.raises(CodeTypo):
        code_normalize(code_display(CODE).replace("-", character))


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("ABCD", True),
        ("ABCDEFGHJKMNPQ", True),  # 14 symbols: no code
        ("ABCDEFGHJKMNPQ1", True),  # a wrong check symbol
        ("straße", True),
        ("", True),
        ("ABCDEFGHJKMNPQY", False),  # a code
        ("ABCDEFGHJKMNPQYZ", False),  # a code and a symbol too many
        ("ZABCDEFGHJKMNPQY", False),
        ("ABCD.EFGHJK.MNPQY", False),
        ("abcd efghjk mnpqy!", False),
        ("\uff21\uff22CDEFGHJKMNPQY", False),  # full-width A and B
        ("ABCD\tEFGHJK\nMNPQY", False),
    ],
)
def test_a_refused_text_holding_a_code_is_never_shown_back(typed, shown):
    assert code_may_be_shown(typed) is shown


def test_code_typo_is_a_value_error():
    assert issubclass(CodeTypo, ValueError)


def test_code_hash_is_deterministic_hex_sha256():
    digest = code_hash(CODE)
    assert digest == code_hash(CODE)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != code_hash(_with_check("ABCDEFGHJKMNPR"))
    assert CODE not in digest


def test_code_hash_is_keyed_by_the_pepper():
    with override_settings(CODE_PEPPER="pepper-one"):
        one = code_hash(CODE)
        assert code_hash(CODE) == one
    with override_settings(CODE_PEPPER="pepper-two"):
        two = code_hash(CODE)
    assert one != two
    assert code_hash(CODE) not in {one, two}


def test_code_hash_is_hmac_sha256_with_the_pepper():
    import hashlib
    import hmac

    with override_settings(CODE_PEPPER="known-pepper"):
        expected = hmac.new(b"known-pepper", CODE.encode(), hashlib.sha256).hexdigest()
        assert code_hash(CODE) == expected
    # and not a plain, unkeyed hash
    assert code_hash(CODE) != hashlib.sha256(CODE.encode()).hexdigest()


def test_code_display_format():
    assert code_display(CODE) == "ABCD-EFGHJK-MNPQY"
    for _ in range(50):
        code = code_generate()
        shown = code_display(code)
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{6}-[0-9A-Z]{5}", shown)
        assert code_normalize(shown) == code


def test_last4_and_mask_show_only_the_last_four_symbols():
    assert code_last4(CODE) == "NPQY"
    assert code_mask(code_last4(CODE)) == "••••-••••••-•NPQY"
    assert "ABCD" not in code_mask(code_last4(CODE))
