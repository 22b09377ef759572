"""Card payments behind a small provider interface.

Checkout speaks only to `PaymentProvider`; `TestGateway` is the first implementation (the test
cards of docs/interface.md §5 and §9). A real provider plugs in by naming its class in
`settings.PAYMENT_PROVIDER`, without touching checkout. Every call carries an idempotency key,
so a retried request never charges twice.
"""

import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from checkout.exceptions import PaymentDeclined


class PaymentProviderError(Exception):
    """The provider failed or did not answer (an outage, a timeout, a refused capture): not the
    shopper's refusal. Checkout treats the call as not done and never shows this as a 500."""


@dataclass(frozen=True)
class Authorization:
    reference: str
    amount: int
    currency: str
    card_last4: str


@dataclass(frozen=True)
class CardToken:
    """A saved card as the provider knows it: a token to charge it later (from any process,
    the worker's too) and the last 4 digits to show. Never the number."""

    token: str
    card_last4: str


class PaymentProvider(Protocol):
    name: str

    def tokenize(self, *, card_number: str) -> CardToken:
        """Save the card at the provider for later charges. Raises `PaymentDeclined` for a
        number that is not a card; a card that will be declined is still saved (the charge
        tells). May raise `PaymentProviderError`."""

    def authorize(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        card_number: str = "",
        card_token: str = "",
    ) -> Authorization:
        """Hold `amount` on the card given by its number or by a token from `tokenize`.
        Raises `PaymentDeclined`. Idempotent on the key."""

    def capture(self, authorization: Authorization) -> None:
        """Take the held amount. Raises (`PaymentProviderError` or any other error) when it
        was not taken."""

    def void(self, authorization: Authorization) -> None:
        """Release a hold that will not be captured. May raise when the provider fails."""

    def refund(self, *, reference: str, amount: int, currency: str, idempotency_key: str) -> str:
        """Give back part or all of a captured payment; returns the refund's reference.
        May raise when the provider fails."""


def card_number_clean(text: str) -> str:
    """Digits only (spaces and dashes allowed in what people type)."""
    return "".join(ch for ch in (text or "") if ch not in " -")


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class TestGateway:
    """A card gateway for development and tests: `4242424242424242` is approved,
    `4000000000000002` is declined, `4000000000000341` is authorised but its capture fails,
    any other number is declined as unknown.

    Its tokens (`tok_test_<last4>_<mac>`) carry a keyed MAC of the number, not the number: the
    gateway knows its few test numbers, so another process (the worker) recognises which one a
    token stands for without any memory shared with the process that saved it."""

    __test__ = False  # not a pytest test class
    name = "test"
    APPROVED = "4242424242424242"
    DECLINED = "4000000000000002"
    CAPTURE_FAILS = "4000000000000341"

    def __init__(self):
        self._lock = threading.Lock()
        self._authorizations: dict[str, Authorization] = {}
        self._capture_fails: set[str] = set()  # references of holds on CAPTURE_FAILS
        self.captured: set[str] = set()
        self.voided: set[str] = set()
        self.refunds: dict[str, int] = {}

    SAVED_CARD_PREFIX = "tok_test_"

    @staticmethod
    def _mac(number: str) -> str:
        return salted_hmac(
            "checkout.payments.TestGateway.token", number, algorithm="sha256"
        ).hexdigest()[:32]

    def tokenize(self, *, card_number):
        number = card_number_clean(card_number)
        if not luhn_valid(number):
            raise PaymentDeclined("That card number is not valid. Check it and try again.")
        return CardToken(
            token=f"{self.SAVED_CARD_PREFIX}{number[-4:]}_{self._mac(number)}",
            card_last4=number[-4:],
        )

    def _token_number(self, token: str) -> str:
        """The test number a token stands for ("" when it stands for none of them)."""
        mac = token.rpartition("_")[2]
        for number in (self.APPROVED, self.DECLINED, self.CAPTURE_FAILS):
            if token.startswith(self.SAVED_CARD_PREFIX) and hmac.compare_digest(
                mac, self._mac(number)
            ):
                return number
        return ""

    def authorize(self, *, amount, currency, idempotency_key, card_number="", card_token=""):
        if card_token:
            number = self._token_number(card_token)
            if not number:
                raise PaymentDeclined("Your saved card was declined. Nothing was charged.")
        else:
            number = card_number_clean(card_number)
        if not luhn_valid(number):
            raise PaymentDeclined("That card number is not valid. Check it and try again.")
        if number not in (self.APPROVED, self.CAPTURE_FAILS):
            raise PaymentDeclined("Your card was declined. Nothing was charged.")
        with self._lock:
            existing = self._authorizations.get(idempotency_key)
            if existing is None:
                existing = Authorization(
                    reference=f"test_auth_{secrets.token_hex(8)}",
                    amount=amount,
                    currency=currency,
                    card_last4=number[-4:],
                )
                self._authorizations[idempotency_key] = existing
                if number == self.CAPTURE_FAILS:
                    self._capture_fails.add(existing.reference)
        return existing

    def capture(self, authorization):
        with self._lock:
            if authorization.reference in self._capture_fails:
                raise PaymentProviderError("the test gateway refuses to capture this hold")
            self.captured.add(authorization.reference)

    def void(self, authorization):
        with self._lock:
            self.voided.add(authorization.reference)

    def refund(self, *, reference, amount, currency, idempotency_key):
        with self._lock:
            self.refunds[idempotency_key] = amount
        return f"test_refund_{secrets.token_hex(8)}"


_provider: PaymentProvider | None = None
_provider_lock = threading.Lock()


def payment_provider_get() -> PaymentProvider:
    """The configured provider (`settings.PAYMENT_PROVIDER`), one instance per process."""
    global _provider
    with _provider_lock:
        if _provider is None:
            _provider = import_string(settings.PAYMENT_PROVIDER)()
        return _provider
