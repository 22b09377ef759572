"""The payment provider interface and the test gateway of docs/interface.md §5."""

import pytest
from django.test import override_settings

from checkout import payments
from checkout.exceptions import PaymentDeclined
from checkout.payments import TestGateway, card_number_clean, luhn_valid, payment_provider_get


def _authorize(gateway, card, key="k1", amount=1000):
    return gateway.authorize(amount=amount, currency="USD", card_number=card, idempotency_key=key)


@pytest.mark.parametrize("card", ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242"])
def test_the_approved_test_card_is_authorised_with_spaces_or_dashes(gateway, card):
    authorization = _authorize(gateway, card, amount=1234)

    assert authorization.amount == 1234
    assert authorization.currency == "USD"
    assert authorization.card_last4 == "4242"
    assert authorization.reference.startswith("test_auth_")


@pytest.mark.parametrize(
    ("card", "says"),
    [
        ("4000000000000002", "declined"),
        ("4000 0000 0000 0002", "declined"),
        ("5555555555554444", "declined"),  # a valid number the test gateway does not know
        ("4242424242424241", "not valid"),  # Luhn fails
        ("", "not valid"),
        ("abcd", "not valid"),
    ],
)
def test_other_cards_are_declined_with_a_reason(gateway, card, says):
    with pytest.raises(PaymentDeclined, match=says) as refused:
        _authorize(gateway, card)

    assert refused.value.reason == "declined"
    assert gateway.captured == set()


def test_authorize_is_idempotent_on_its_key(gateway):
    first = _authorize(gateway, TestGateway.APPROVED, key="same")
    again = _authorize(gateway, TestGateway.APPROVED, key="same")
    other = _authorize(gateway, TestGateway.APPROVED, key="other")

    assert again == first
    assert other.reference != first.reference


def test_capture_void_and_refund_are_recorded(gateway):
    held = _authorize(gateway, TestGateway.APPROVED, key="a")
    released = _authorize(gateway, TestGateway.APPROVED, key="b")

    gateway.capture(held)
    gateway.void(released)
    reference = gateway.refund(
        reference=held.reference, amount=300, currency="USD", idempotency_key="r1"
    )

    assert gateway.captured == {held.reference}
    assert gateway.voided == {released.reference}
    assert gateway.refunds == {"r1": 300}
    assert reference.startswith("test_refund_")


def test_the_provider_is_one_instance_per_process(gateway):
    assert payment_provider_get() is gateway
    assert isinstance(gateway, TestGateway)


class _OtherProvider:
    name = "other"


def test_the_provider_is_named_in_settings():
    payments._provider = None
    with override_settings(PAYMENT_PROVIDER="tests.checkout.test_payments._OtherProvider"):
        provider = payment_provider_get()

    assert isinstance(provider, _OtherProvider)


@pytest.mark.parametrize(
    ("text", "clean"), [("4242 4242-4242 4242", "4242424242424242"), ("", ""), (None, "")]
)
def test_card_number_clean(text, clean):
    assert card_number_clean(text) == clean


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4000000000000002", True),
        ("4242424242424243", False),
        ("42424242424", False),  # too short
        ("4" * 20, False),  # too long
        ("4242x24242424242", False),
    ],
)
def test_luhn_valid(number, valid):
    assert luhn_valid(number) is valid
