"""Typed promotional codes: the canonical form, and what is a typo."""

import pytest

from promotions.codes import PromoCodeTypo, looks_issued, promo_code_normalize
from promotions.selectors import entered_codes_lookup
from tests.promotions.factories import promotion_with_code


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("save5", "SAVE5"), (" Save-5 ", "SAVE5"), ("limited1", "LIMITED1"), ("ab c", "ABC")],
)
def test_a_code_is_upper_cased_without_spaces_or_dashes(typed, canonical):
    assert promo_code_normalize(typed) == canonical


# Unicode upper-casing would turn these into SAVE5, LIMITED1 and SSSSSS: they are typos.
LOOKALIKES = ["\u017fave5", "l\u0131m\u0131ted1", "\u00df\u00df\u00df", "SAVE\uff15", "\u0430bc1"]


@pytest.mark.parametrize("typed", LOOKALIKES)
def test_anything_outside_ascii_is_a_typo_before_upper_casing(typed):
    with pytest.raises(PromoCodeTypo):
        promo_code_normalize(typed)


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["\u017fave5", "l\u0131m\u0131ted1"])
def test_a_lookalike_never_finds_the_real_code(typed):
    promotion_with_code("SAVE5", kind="fixed", amount_off=500)
    promotion_with_code("LIMITED1", percent=15)
    (found,) = entered_codes_lookup(codes=[typed])
    assert found.promotion_id is None


@pytest.mark.parametrize(
    ("code", "issued"),
    [("7QX3M9KD2RTZ", True), ("7QX3M9KD2RTO", False), ("WELCOME10", False), ("A" * 13, False)],
)
def test_the_shape_of_an_issued_code(code, issued):
    assert looks_issued(code) is issued
