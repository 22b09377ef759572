"""One report per activity row and shopper, even when the form is sent many times at once
(PostgreSQL, real threads released together; fails, never skips, on another database)."""

import pytest

from tests.accounts.factories import UserFactory
from tests.wallet.test_races import run_together
from wallet.exceptions import AlreadyReported
from wallet.models import ActivityReport, Posting
from wallet.selectors import posting_get_for_user
from wallet.services import activity_report_create, wallet_credit

THREADS = 20

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_twenty_reports_of_one_row_at_once_make_exactly_one():
    shopper = UserFactory()
    wallet_credit(user=shopper, amount=500, idempotency_key="c", description="x")
    posting_id = Posting.objects.get(account__user=shopper).pk

    def report(number: int):
        posting = posting_get_for_user(user=shopper, posting_id=posting_id)
        return activity_report_create(user=shopper, posting=posting, message=f"try {number}")

    outcomes = run_together([lambda n=n: report(n) for n in range(THREADS)])

    made = [o for o in outcomes if o.error is None]
    refused = [o for o in outcomes if isinstance(o.error, AlreadyReported)]
    assert (len(made), len(refused)) == (1, THREADS - 1), [o.error for o in outcomes]
    assert ActivityReport.objects.filter(posting_id=posting_id).count() == 1
