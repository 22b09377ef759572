"""The code box answers an insider exactly as it answers an unknown code, and counts the guess."""

import pytest

from checkout.services.promo_codes import PromoCodeRefused, checkout_promo_code_enter
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill
from tests.promotions.factories import promotion_with_code

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["created_by", "approved_by", "changed_by"])
def test_the_box_refuses_an_insider_like_an_unknown_code_and_keeps_the_guess(role, monkeypatch):
    staff = {
        r: UserFactory(region_id="US", is_staff=True)
        for r in ["created_by", "approved_by", "changed_by"]
    }
    promotion_with_code("SAVE10", percent=10, **staff)
    insider = staff[role]
    cart_fill(insider, (ProductFactory(prices={"US": 1000}), 1))
    from wallet import guessing

    kept = []
    monkeypatch.setattr(guessing, "redemption_attempt_release", lambda r: kept.append("released"))
    monkeypatch.setattr(guessing, "redemption_attempt_refused", lambda r: kept.append("kept"))

    answers = []
    for code in ("SAVE10", "SAVE11"):
        with pytest.raises(PromoCodeRefused) as refused:
            checkout_promo_code_enter(user=insider, session={}, code=code, ip="10.0.0.1")
        answers.append((refused.value.reason, str(refused.value).replace(code, "X")))
    assert answers[0] == answers[1]
    assert kept == ["kept", "kept"]
