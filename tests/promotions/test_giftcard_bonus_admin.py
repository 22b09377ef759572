"""Staff make a gift card bonus offer in the promotions admin (through the staff service and
its terms' rules), see it in the stacking matrix, and the demo loads the §12 offer."""

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Region
from promotions.demo import demo_promotions_load
from promotions.models import Promotion
from tests.accounts.two_factor import login_staff
from tests.promotions.staff_users import manager
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db
ADD = "admin:promotions_promotion_add"


def _data(**overrides):
    data = {
        "slug": "gift-bonus",
        "name": "Gift bonus",
        "kind": "giftcard_bonus",
        "target": "order",
        "codes": "automatic",
        "credit_days": "60",
        "total_limit": "10",
        "amount_off_USD": "10.00",
        "minimum_subtotal_USD": "50.00",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_staff_create_an_automatic_gift_card_bonus():
    client = login_staff(Client(), manager())
    assert "Gift card bonus credit" in client.get(reverse(ADD)).content.decode()
    response = client.post(reverse(ADD), _data())
    assert response.status_code == 302
    promotion = Promotion.objects.get(slug="gift-bonus")
    assert (promotion.kind, promotion.codes, promotion.credit_days) == (
        "giftcard_bonus",
        "automatic",
        60,
    )
    amounts = {a.currency: (a.amount_off, a.minimum_subtotal) for a in promotion.amounts.all()}
    assert amounts == {"USD": (1000, 5000)}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"minimum_subtotal_USD": ""}, "the gift card total that earns the credit"),
        ({"amount_off_USD": ""}, "amount off: give it in at least one currency"),
        ({"credit_days": ""}, "credit days: at least 1"),
        ({"exclusive": "on"}, "a gift card bonus combines with every promotion"),
        ({"target": "items"}, "target:"),
    ],
)
def test_terms_a_bonus_cannot_have_are_refused_and_nothing_written(overrides, message):
    client = login_staff(Client(), manager())
    response = client.post(reverse(ADD), _data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Promotion.objects.exists()
    assert not AuditEntry.objects.exists()


def test_the_matrix_says_a_bonus_combines_with_discounts_but_not_another_bonus():
    client = login_staff(Client(), manager())
    client.post(reverse(ADD), _data())
    client.post(reverse(ADD), _data(slug="gift-bonus-2", name="Second bonus"))
    client.post(
        reverse(ADD),
        _data(
            slug="tenoff", name="Five off", kind="fixed", amount_off_USD="5.00", credit_days=None
        ),
    )
    assert set(Promotion.objects.values_list("status", flat=True)) == {"active"}
    assert Promotion.objects.count() == 3
    page = client.get(reverse("admin:promotions_matrix"), {"region": "US"})
    assert page.status_code == 200
    matrix = page.context["matrix"]
    cells = {
        (a.slug, b.slug): cell
        for a, row in matrix.rows
        for b, cell in zip(matrix.specs, row, strict=True)
    }
    assert cells[("gift-bonus", "tenoff")].combines
    assert cells[("tenoff", "gift-bonus")].combines
    assert not cells[("gift-bonus", "gift-bonus-2")].combines
    assert "one gift card bonus at most" in page.content.decode()


def test_the_demo_offer_in_every_region_automatic_idempotent():
    demo_promotions_load()
    offer = Promotion.objects.get(slug="giftcard-bonus")
    assert (offer.kind, offer.codes, offer.code, offer.status) == (
        "giftcard_bonus",
        "automatic",
        "",
        "active",
    )
    assert (offer.name, offer.credit_days) == ("Gift card bonus", 30)
    assert not offer.regions.exists()  # every region
    amounts = {a.currency: (a.amount_off, a.minimum_subtotal) for a in offer.amounts.all()}
    currencies = set(Region.objects.values_list("currency", flat=True))
    assert set(amounts) == currencies
    assert amounts["USD"] == amounts["EUR"] == amounts["GBP"] == (1000, 5000)
    assert amounts["JPY"] == (1500, 7500)
    assert demo_promotions_load() == 0
    assert Promotion.objects.filter(slug="giftcard-bonus").count() == 1
