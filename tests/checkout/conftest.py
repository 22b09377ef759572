import io

import pytest
from django.core.management import call_command

from checkout import payments


@pytest.fixture(autouse=True)
def gateway():
    """A fresh `TestGateway` for each test: the provider is a per-process singleton, so its
    captured, voided and refunded sets would otherwise leak from one test into the next."""
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


@pytest.fixture(autouse=True)
def _ledger_reconciles(request):
    """Every test here that touches the database ends with a clean `wallet_reconcile`: cached
    balances equal their postings and every transfer sums to zero, whatever the test moved."""
    if request.node.get_closest_marker("django_db") is None and "db" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("db")  # set up before, torn down after, this check
    yield
    out = io.StringIO()
    call_command("wallet_reconcile", stdout=out)  # raises CommandError when not clean
    assert out.getvalue().startswith("Ledger clean"), out.getvalue()
