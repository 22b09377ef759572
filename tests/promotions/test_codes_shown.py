"""A single-use code is never shown in full once typed: not in the checkout page's applied list,
the order page, the wallet page or an e-mail. Its promotion is named by its name; a refusal says
"…" and its last four symbols. A vanity code (public) is shown as it is."""

import pytest
from django.core import mail
from django.test import Client

from catalog.models import Region
from promotions.engine import EnteredCode
from promotions.models import Promotion
from promotions.selectors import entered_codes_lookup, promotion_specs_get, shopper_input_get
from promotions.services import promotion_credit_apply
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.promotions.engine_inputs import evaluate, line, spec
from tests.promotions.factories import promotion_with_code, unique_code_promotion
from wallet.models import CreditLot, Transfer

pytestmark = pytest.mark.django_db

SECRET = "7QX3M9KD2RTZ"  # the shape of an issued code: 12 symbols of the claim alphabet
SHORT = "…2RTZ"


@pytest.fixture
def shopper():
    return UserFactory(region_id="US")


@pytest.fixture
def book():
    return ProductFactory(name="A Book", prices={"US": 3000})


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _everything(*pages) -> str:
    """Every page given and every e-mail sent, as one text."""
    mails = [
        "\n".join([m.subject, m.body, *(body for body, _ in getattr(m, "alternatives", []))])
        for m in mail.outbox
    ]
    return "\n".join([*pages, *mails])


# --- the engine's words ----------------------------------------------------------------------


def test_an_applied_single_use_code_is_labelled_by_its_promotion_name():
    promotion = spec(code="", name="Ten off for you")
    ev = evaluate([line(1, 1000)], [promotion], entered=[EnteredCode(SECRET, promotion.id, 1)])
    (applied,) = ev.applied
    assert applied.label == "Ten off for you: 10% off"
    assert SECRET not in applied.label


def test_a_vanity_code_is_labelled_by_its_code():
    promotion = spec(code="WELCOME10", name="Welcome")
    (applied,) = evaluate([line(1, 1000)], [promotion]).applied
    assert applied.label == "WELCOME10: 10% off"


def test_a_refused_single_use_code_is_named_by_its_last_four_symbols():
    promotion = spec(code="", minimum_subtotal=5000)
    ev = evaluate([line(1, 1000)], [promotion], entered=[EnteredCode(SECRET, promotion.id, 1)])
    (refusal,) = ev.refusals
    assert refusal.reason == "minimum_not_met"
    assert refusal.message == f"Spend $40.00 more to use {SHORT}."


def test_an_unknown_code_of_the_issued_shape_is_shortened_like_a_known_one():
    (refusal,) = evaluate([line(1, 1000)], [], entered=[EnteredCode(SECRET, None)]).refusals
    assert refusal.message == f"We do not recognise the code {SHORT}. Check it and try again."
    (vanity,) = evaluate([line(1, 1000)], [], entered=[EnteredCode("SAVE11", None)]).refusals
    assert vanity.message == "We do not recognise the code SAVE11. Check it and try again."


def test_a_note_about_a_single_use_code_left_out_does_not_repeat_it():
    unique = spec(id=1, code="", percent=5, name="Five off")
    better = spec(id=2, code="TWENTY", percent=20, not_combinable_with=frozenset({1}))
    entered = [EnteredCode(SECRET, 1, 1), EnteredCode("TWENTY", 2)]
    ev = evaluate([line(1, 1000)], [unique, better], entered=entered)
    assert [a.code for a in ev.applied] == ["TWENTY"]
    words = " ".join([*ev.notes, *(r.message for r in ev.refusals)])
    assert SECRET not in words
    assert ev.notes == (f"{SHORT} was not used: TWENTY saves you $1.50 more",)


# --- pages and e-mails -----------------------------------------------------------------------


def test_a_single_use_credit_code_is_not_in_the_ledger_the_wallet_page_or_the_mail(
    shopper, django_capture_on_commit_callbacks
):
    unique_code_promotion(
        codes=[SECRET],
        kind=Promotion.Kind.CREDIT,
        percent=None,
        amount_off=1000,
        credit_days=30,
        name="Spring credit",
    )
    region = Region.objects.get(code="US")
    (entered,) = entered_codes_lookup(codes=[SECRET])
    (found,) = promotion_specs_get(
        region=region, currency="USD", promotion_ids=[entered.promotion_id]
    )
    who = shopper_input_get(user=shopper, has_orders=False, promotion_ids=[found.id])

    with django_capture_on_commit_callbacks(execute=True):
        lot = promotion_credit_apply(user=shopper, entered=entered, spec=found, shopper=who)
    wallet_page = _client(shopper).get("/wallet/").content.decode()

    assert CreditLot.objects.get() == lot
    assert lot.grant_transfer.description == "Promotional credit: Spring credit"
    assert not Transfer.objects.filter(description__contains=SECRET).exists()
    assert len(mail.outbox) == 1
    assert "Spring credit" in mail.outbox[0].body
    assert SECRET not in _everything(wallet_page)


def test_a_vanity_credit_code_is_named_by_its_code(shopper):
    promotion_with_code(
        "CREDIT10", kind=Promotion.Kind.CREDIT, percent=None, amount_off=1000, credit_days=30
    )
    region = Region.objects.get(code="US")
    (entered,) = entered_codes_lookup(codes=["CREDIT10"])
    (found,) = promotion_specs_get(
        region=region, currency="USD", promotion_ids=[entered.promotion_id]
    )
    who = shopper_input_get(user=shopper, has_orders=False, promotion_ids=[found.id])
    lot = promotion_credit_apply(user=shopper, entered=entered, spec=found, shopper=who)
    assert lot.grant_transfer.description == "Promotional credit: CREDIT10"
