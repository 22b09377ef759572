"""Nothing leaks (docs/interface.md §7, §9): every flow that handles a claim code or a card
number is driven while every log record is captured (root and Django's loggers at DEBUG, the
SQL with its parameters included), and no full code nor card number may appear in a record,
an error report, a response body or header, a URL (what an access log writes), an e-mail, or
a command's output.

The test gateway's approved and declined cards are printed on the checkout page as help, so
these tests pay with a gateway of other numbers: a hit means a leak, not the help text."""

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.views.debug import ExceptionReporter

from checkout import payments
from checkout.payments import TestGateway
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill
from tests.wallet.factories import issue_card
from wallet.codes import code_display, code_normalize
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db

# Luhn-valid numbers that appear on no page of the shop.
APPROVED = "5555555555554444"
DECLINED = "4111111111111111"
CAPTURE_FAILS = "5105105105105100"
WATCHED_LOGGERS = ["", "django", "django.request", "django.server", "django.security"]


class LeakTestGateway(TestGateway):
    __test__ = False
    APPROVED = APPROVED
    DECLINED = DECLINED
    CAPTURE_FAILS = CAPTURE_FAILS


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._seen: set[int] = set()

    def emit(self, record):
        # Attached to a logger and its parents: a propagated record arrives more than once.
        if id(record) not in self._seen:
            self._seen.add(id(record))
            self.records.append(record)


def _record_texts(record: logging.LogRecord) -> list[str]:
    """All a log handler could write of `record`: the message, the traceback, every extra
    attribute, and for a failed request the error report an e-mail handler would send."""
    texts = [logging.Formatter().format(record), repr(record.args), repr(vars(record))]
    request = getattr(record, "request", None)
    if request is not None and record.exc_info:
        reporter = ExceptionReporter(request, *record.exc_info, is_email=True)
        # Rendering the report would log its own template look-ups at DEBUG: not a flow's.
        template_logger = logging.getLogger("django.template")
        template_logger.disabled = True
        try:
            texts.append(reporter.get_traceback_text())
        finally:
            template_logger.disabled = False
    return texts


@dataclass
class Watch:
    """Everything the flows made visible: URLs requested or redirected to, bodies, headers,
    log records, command output."""

    handler: _Collect
    urls: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def request(self, client: Client, method: str, url: str, data=None, **kwargs):
        response = getattr(client, method)(url, data or {}, follow=True, **kwargs)
        # An access log line holds the path and query of every request, redirects included.
        self.urls.append(url)
        self.urls += [location for location, _ in response.redirect_chain]
        self.bodies.append(response.content.decode(errors="replace"))
        self.bodies.append(repr(sorted(response.headers.items())))
        return response

    def texts(self) -> dict[str, list[str]]:
        records = [text for record in self.handler.records for text in _record_texts(record)]
        return {
            "log records": records,
            "urls": self.urls,
            "pages": self.bodies,
            "e-mails": [f"{m.subject}\n{m.body}\n{m.alternatives!r}" for m in mail.outbox],
            "output": self.outputs,
        }

    def leaks(self, codes=(), cards=()) -> dict[str, list[str]]:
        """Where a full code (any case, with or without dashes or spaces, URL-encoded) or
        card number (with or without spaces) shows."""
        secrets = [code_normalize(code) for code in codes] + list(cards)
        found = {}
        for where, texts in self.texts().items():
            for text in texts:
                decoded = text
                for _ in range(3):  # a query string may be encoded more than once
                    decoded = unquote_plus(decoded)
                flat = re.sub(r"[\s\-]", "", decoded.upper())
                hits = [secret for secret in secrets if secret in flat]
                if hits:
                    found.setdefault(where, []).extend(hits)
        return found


@pytest.fixture
def watch(settings):
    settings.PAYMENT_PROVIDER = f"{__name__}.LeakTestGateway"
    payments._provider = None
    handler = _Collect()
    saved = []
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    # Every SQL statement with its parameters, as `django.db.backends` logs it under DEBUG.
    connection.force_debug_cursor = True
    try:
        yield Watch(handler)
    finally:
        connection.force_debug_cursor = False
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
        payments._provider = None
    assert handler.records, "the log capture saw nothing: it is not wired"


def _shopper_client(**kwargs) -> tuple:
    shopper = UserFactory(region_id="US")
    client = Client(**kwargs)
    client.force_login(shopper)
    return shopper, client


def _typo(code: str) -> str:
    canonical = code_normalize(code)
    wrong = "1" if canonical[5] != "1" else "2"
    return code_display(canonical[:5] + wrong + canonical[6:])


def test_redeeming_good_and_refused_codes_leaks_no_code(watch):
    _, client = _shopper_client()
    good, other, foreign = issue_card(), issue_card(), issue_card(region="JP")
    unknown = "0000-000000-00000"  # a valid check symbol, never issued

    for typed in [
        good.code,  # redeemed
        good.code.lower(),  # already redeemed
        " ".join(code_normalize(other.code)),  # redeemed, typed spaced
        _typo(foreign.code),  # typo
        foreign.code,  # wrong region
        unknown,
    ]:
        response = watch.request(client, "post", "/gift-cards/redeem/", {"code": typed})
        assert response.status_code == 200

    assert watch.leaks(codes=[good.code, other.code, foreign.code]) == {}


def test_the_checkout_code_box_leaks_no_code(watch):
    shopper, client = _shopper_client()
    cart_fill(shopper, (ProductFactory(), 1))
    good, foreign = issue_card(), issue_card(region="GB")

    for typed in [good.code, good.code, foreign.code, _typo(foreign.code)]:
        response = watch.request(client, "post", "/checkout/code/", {"code": typed})
        assert response.status_code == 200

    assert watch.leaks(codes=[good.code, foreign.code]) == {}


def _place_order(watch, client, card: str):
    page = watch.request(client, "get", "/checkout/")
    (key,) = re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', page.content.decode())
    return watch.request(
        client, "post", "/checkout/place-order/", {"idempotency_key": key, "card_number": card}
    )


@pytest.mark.parametrize(
    "card",
    [APPROVED, "5555 5555 5555 4444", DECLINED, "4111-1111-1111-1111", CAPTURE_FAILS],
    ids=["approved", "approved-spaced", "declined", "declined-dashed", "capture-fails"],
)
def test_placing_an_order_leaks_no_card_number(watch, card):
    shopper, client = _shopper_client()
    cart_fill(shopper, (ProductFactory(), 2))

    response = _place_order(watch, client, card)

    assert response.status_code in (200, 400)
    assert watch.leaks(cards=[APPROVED, DECLINED, CAPTURE_FAILS]) == {}


def test_the_admin_code_search_leaks_no_code(watch, admin_client):
    card, redeemed = issue_card(), issue_card()
    _, client = _shopper_client()
    watch.request(client, "post", "/gift-cards/redeem/", {"code": redeemed.code})
    search = "/admin/wallet/giftcard/code-search/"

    for typed in [card.code, redeemed.code.lower(), _typo(card.code), "0000-000000-00000"]:
        response = watch.request(admin_client, "post", search, {"code": typed})
        assert response.status_code == 200
    watch.request(admin_client, "get", "/admin/wallet/giftcard/")
    watch.request(admin_client, "get", f"/admin/wallet/giftcard/{card.card.pk}/change/")
    watch.request(admin_client, "get", "/admin/wallet/auditentry/")

    assert AuditEntry.objects.filter(action=AuditEntry.Action.CODE_SEARCHED).count() == 3
    assert watch.leaks(codes=[card.code, redeemed.code]) == {}


def test_issuing_cards_by_the_command_prints_and_logs_no_code(watch, tmp_path, capsys):
    output = tmp_path / "codes.csv"
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "issue_giftcards",
        *("--count", "5", "--amount", "10.00", "--region", "US", "--output", str(output)),
        stdout=out,
        stderr=err,
    )

    captured = capsys.readouterr()
    watch.outputs += [out.getvalue(), err.getvalue(), captured.out, captured.err]
    codes = [row["code"] for row in csv.DictReader(output.open(encoding="utf-8"))]
    assert len(codes) == 5
    assert out.getvalue().count("\n") == 1
    assert watch.leaks(codes=codes) == {}


@pytest.mark.parametrize(
    ("url", "field_name", "target"),
    [
        ("/gift-cards/redeem/", "code", "wallet.views.giftcard_redeem"),
        ("/checkout/code/", "code", "checkout.code_views.giftcard_redeem"),
        ("/checkout/place-order/", "card_number", "checkout.views.order_place"),
    ],
    ids=["redeem", "code-box", "place-order"],
)
def test_a_server_error_reports_no_code_or_card_number(watch, monkeypatch, url, field_name, target):
    """A fault behind the form: the request is logged with its traceback and the error report
    an e-mail handler would send; `sensitive_post_parameters` hides the field in it."""
    shopper, client = _shopper_client(raise_request_exception=False)
    cart_fill(shopper, (ProductFactory(), 1))
    code = issue_card().code

    def fault(**_):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(target, fault)
    data = {"code": code} if field_name == "code" else {"card_number": APPROVED}
    data["idempotency_key"] = "a" * 32

    response = watch.request(client, "post", url, data)

    assert response.status_code == 500
    assert 'data-testid="server-error"' in response.content.decode()
    reports = [r for r in watch.handler.records if r.name == "django.request" and r.exc_info]
    assert len(reports) == 1
    text = _record_texts(reports[0])[-1]
    assert f"{field_name} = '********************'" in text
    assert watch.leaks(codes=[code], cards=[APPROVED]) == {}
