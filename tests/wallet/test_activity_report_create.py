"""activity_report_create: a shopper's "Report a problem" about one of their activity rows."""

import pytest
from django.http import Http404

from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from wallet.exceptions import AlreadyReported, WalletError
from wallet.models import Account, ActivityReport, Posting
from wallet.selectors import posting_get_for_user
from wallet.services import activity_report_create, giftcard_redeem, wallet_credit

pytestmark = pytest.mark.django_db


def _own_posting(user) -> Posting:
    wallet_credit(user=user, amount=500, idempotency_key=f"c-{user.pk}", description="x")
    return posting_get_for_user(user=user, posting_id=Posting.objects.get(account__user=user).pk)


def test_report_is_recorded_open_with_the_message_trimmed(user):
    posting = _own_posting(user)

    report = activity_report_create(
        user=user, posting=posting, message="  I never redeemed this card.\n "
    )

    assert ActivityReport.objects.get() == report
    assert (report.user, report.posting, report.message, report.status) == (
        user,
        posting,
        "I never redeemed this card.",
        ActivityReport.Status.OPEN,
    )


def test_a_second_report_of_the_same_row_is_refused_and_nothing_written(user):
    posting = _own_posting(user)
    activity_report_create(user=user, posting=posting, message="one")
    before = ledger_state()

    with pytest.raises(AlreadyReported):
        activity_report_create(user=user, posting=posting, message="two")

    assert ledger_state() == before
    assert list(ActivityReport.objects.values_list("message", flat=True)) == ["one"]


def test_reporting_leaves_the_ledger_alone(user):
    giftcard_redeem(user=user, code=issue_card().code)
    posting = posting_get_for_user(user=user, posting_id=Posting.objects.get(account__user=user).pk)
    before = ledger_state()
    activity_report_create(user=user, posting=posting, message="hm")
    after = ledger_state()
    assert (after.transfers, after.postings, after.balances, after.cards) == (
        before.transfers,
        before.postings,
        before.balances,
        before.cards,
    )
    assert after.reports == before.reports + 1


def test_another_shoppers_posting_is_refused_and_nothing_written(user, other_user):
    theirs = _own_posting(other_user)
    before = ledger_state()

    with pytest.raises(WalletError):
        activity_report_create(user=user, posting=theirs, message="not mine")

    assert ledger_state() == before


def test_a_posting_of_the_shops_own_account_is_refused(user):
    issue_card()
    shop_posting = Posting.objects.filter(account__kind=Account.Kind.GIFTCARDS_OUTSTANDING).get()
    with pytest.raises(WalletError):
        activity_report_create(user=user, posting=shop_posting, message="x")
    assert not ActivityReport.objects.exists()


def test_the_selector_answers_404_for_anyone_elses_posting(user, other_user):
    theirs = _own_posting(other_user)
    issue_card()
    shop_posting = Posting.objects.get(account__kind=Account.Kind.GIFTCARDS_OUTSTANDING)

    for posting_id in (theirs.pk, shop_posting.pk, 10**9):
        with pytest.raises(Http404):
            posting_get_for_user(user=user, posting_id=posting_id)
    assert posting_get_for_user(user=other_user, posting_id=theirs.pk) == theirs
