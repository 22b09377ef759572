"""Reports about an activity row (docs/interface.md §10, support): one per row and shopper, the
"Reported" state on /wallet/, the shopper's report page with staff's reply, the "report
received" e-mail, and staff replying in the admin."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from tests.accounts.two_factor import login_staff
from tests.wallet.ledger_state import ledger_state
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import assert_num_queries
from tests.wallet.staff import staff_user, superuser
from wallet.exceptions import (
    AlreadyReported,
    NotFound,
    SelfAction,
    StaffPermissionDenied,
    WalletError,
)
from wallet.models import ActivityReport, AuditEntry, Posting
from wallet.selectors import posting_get_for_user
from wallet.services import activity_report_create, activity_report_reply, wallet_credit

pytestmark = pytest.mark.django_db

WALLET = "/wallet/"
# user with region, the report with its posting and transfer, nav balance
REPORT_PAGE_QUERIES = 3


def _report_url(posting_id: int) -> str:
    return f"/wallet/activity/{posting_id}/report/"


def _page_url(report_id: int) -> str:
    return f"/wallet/reports/{report_id}/"


def _posting(user, key: str = "c", amount: int = 2500, description: str = "Store credit"):
    wallet_credit(
        user=user, amount=amount, idempotency_key=f"{key}-{user.pk}", description=description
    )
    return posting_get_for_user(
        user=user, posting_id=Posting.objects.filter(account__user=user).order_by("-pk")[0].pk
    )


def _report(user, posting=None, message="I don't recognise this."):
    return activity_report_create(user=user, posting=posting or _posting(user), message=message)


def _support_staff(**kwargs):
    """A staff member who may answer reports (the admin's change permission)."""
    user = staff_user(**kwargs)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="wallet", codename="change_activityreport"),
        Permission.objects.get(content_type__app_label="wallet", codename="view_activityreport"),
    )
    return user


# --- the service -------------------------------------------------------------------------------


def test_a_second_report_of_a_row_is_refused_and_nothing_written(user):
    posting = _posting(user)
    _report(user, posting)
    before = ledger_state()

    with pytest.raises(AlreadyReported):
        activity_report_create(user=user, posting=posting, message="again")
    assert ledger_state() == before


def test_the_database_refuses_a_second_report_of_a_row(user):
    posting = _posting(user)
    _report(user, posting)
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivityReport.objects.create(user=user, posting=posting, message="sneaky")
    assert ActivityReport.objects.count() == 1


def test_an_empty_message_is_refused_and_nothing_written(user):
    posting = _posting(user)
    before = ledger_state()
    with pytest.raises(WalletError):
        activity_report_create(user=user, posting=posting, message="   ")
    assert ledger_state() == before


def test_the_report_received_email_is_sent_on_commit_with_text_and_html(
    user, django_capture_on_commit_callbacks
):
    posting = _posting(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = _report(user, posting)
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert f"#{report.pk}" in message.subject
    link = f"http://localhost:8000{_page_url(report.pk)}"
    assert link in message.body
    assert "Store credit" in message.body
    assert "+$25.00" in message.body
    assert "I don't recognise this." in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    assert "+$25.00" in html


def test_no_email_when_the_report_is_refused(user, django_capture_on_commit_callbacks):
    posting = _posting(user)
    _report(user, posting)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(WalletError):
        activity_report_create(user=user, posting=posting, message="again")
    assert mail.outbox == []


def test_staff_reply_records_who_and_when_and_is_audited(user):
    report = _report(user)
    staff = _support_staff()

    replied = activity_report_reply(
        report_id=report.pk, reply="  We refunded it.  ", status="resolved", by=staff
    )

    report.refresh_from_db()
    assert (report.reply, report.status, report.replied_by) == (
        "We refunded it.",
        "resolved",
        staff,
    )
    assert report.replied_at is not None
    assert replied.pk == report.pk
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REPORT_REPLIED)
    assert (entry.actor, entry.target) == (staff, f"report #{report.pk}")
    assert "open → resolved" in entry.detail


@pytest.mark.parametrize(
    ("reply", "status", "error"),
    [
        ("", "resolved", WalletError),
        ("x" * 2001, "resolved", WalletError),
        ("ok", "nope", WalletError),
    ],
)
def test_a_bad_reply_is_refused_and_nothing_written(user, reply, status, error):
    report = _report(user)
    with pytest.raises(error):
        activity_report_reply(report_id=report.pk, reply=reply, status=status, by=_support_staff())
    report.refresh_from_db()
    assert (report.reply, report.status, report.replied_at) == ("", "open", None)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REPORT_REPLIED).exists()


def test_a_reply_without_permission_is_refused_audited_and_nothing_written(user):
    report = _report(user)
    nobody = staff_user()
    with pytest.raises(StaffPermissionDenied):
        activity_report_reply(report_id=report.pk, reply="hi", status="resolved", by=nobody)
    report.refresh_from_db()
    assert report.reply == ""
    assert AuditEntry.objects.get().action == AuditEntry.Action.REFUSED


def test_staff_cannot_answer_their_own_report_or_a_missing_one():
    staff = _support_staff()
    own = _report(staff)
    with pytest.raises(SelfAction):
        activity_report_reply(report_id=own.pk, reply="fine", status="resolved", by=staff)
    with pytest.raises(NotFound):
        activity_report_reply(report_id=10**9, reply="fine", status="resolved", by=staff)
    own.refresh_from_db()
    assert own.reply == ""


# --- /wallet/: the "Reported" state ------------------------------------------------------------


def test_a_reported_row_shows_reported_with_its_status_instead_of_the_button(shopper_client, user):
    reported = _posting(user, key="a")
    _posting(user, key="b")
    report = _report(user, reported)

    rows = hooks(shopper_client.get(WALLET), "activity-row")

    assert len(rows) == 2
    html = shopper_client.get(WALLET).content.decode()
    badge = hook(shopper_client.get(WALLET), "activity-reported")
    assert badge.attrs["data-status"] == "open"
    assert badge.text == "Reported · Open"
    assert badge.attrs["href"] == _page_url(report.pk)
    assert _report_url(reported.pk) not in html
    assert len(hooks(shopper_client.get(WALLET), "activity-report")) == 1  # the other row


def test_another_shoppers_report_does_not_mark_my_row(shopper_client, user, other_user):
    _posting(user)
    _report(other_user)
    assert not hooks(shopper_client.get(WALLET), "activity-reported")


@pytest.mark.parametrize("reported", [1, 15])
def test_wallet_query_count_is_flat_with_reported_rows(user, reported):
    client = Client()
    client.force_login(user)
    for number in range(20):
        posting = _posting(user, key=f"k{number}", amount=number + 1)
        if number < reported:
            _report(user, posting)
    # user with region, the figures (balance, points, coins), the page with its count
    with assert_num_queries(3):
        response = client.get(WALLET)
    assert len(hooks(response, "activity-reported")) == reported


# --- the report form when already reported -----------------------------------------------------


def test_the_form_page_says_the_row_was_reported_and_offers_no_form(shopper_client, user):
    posting = _posting(user)
    report = _report(user, posting)

    response = shopper_client.get(_report_url(posting.pk))

    assert response.status_code == 200
    notice = hook(response, "already-reported")
    assert notice.attrs["data-status"] == "open"
    assert _page_url(report.pk) in response.content.decode()
    assert 'name="message"' not in response.content.decode()


def test_posting_the_form_again_is_refused_and_writes_nothing(shopper_client, user):
    posting = _posting(user)
    _report(user, posting)
    before = ledger_state()

    response = shopper_client.post(_report_url(posting.pk), {"message": "again"})

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "already_reported"
    assert ledger_state() == before
    assert mail.outbox == []


def test_reporting_through_the_page_sends_the_email(
    shopper_client, user, django_capture_on_commit_callbacks
):
    posting = _posting(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = shopper_client.post(_report_url(posting.pk), {"message": "odd"}, follow=True)
    report = ActivityReport.objects.get()
    assert f"#{report.pk}" in hook(response, "message").text
    assert len(mail.outbox) == 1
    assert _page_url(report.pk) in mail.outbox[0].body


# --- /wallet/reports/<id>/ ---------------------------------------------------------------------


def test_the_report_page_shows_the_message_status_and_no_reply_yet(shopper_client, user):
    report = _report(user)
    response = shopper_client.get(_page_url(report.pk))
    assert response.status_code == 200
    assert hook(response, "report-status").attrs["data-status"] == "open"
    assert "I don&#x27;t recognise this." in response.content.decode()
    assert hook(response, "report-no-reply")
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_shopper_sees_staffs_reply(shopper_client, user):
    report = _report(user)
    activity_report_reply(
        report_id=report.pk,
        reply="We refunded the difference.",
        status="resolved",
        by=_support_staff(),
    )
    response = shopper_client.get(_page_url(report.pk))
    assert hook(response, "report-reply").text.startswith("We refunded the difference.")
    assert hook(response, "report-status").attrs["data-status"] == "resolved"
    wallet = hook(shopper_client.get(WALLET), "activity-reported")
    assert wallet.text == "Reported · Resolved"


def test_another_shoppers_report_page_is_404(client, user, other_user):
    report = _report(other_user)
    client.force_login(user)
    assert client.get(_page_url(report.pk)).status_code == 404
    assert client.get(_page_url(10**9)).status_code == 404


def test_the_report_page_sends_anonymous_visitors_to_log_in(client, user):
    report = _report(user)
    response = client.get(_page_url(report.pk))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={_page_url(report.pk)}"


@pytest.mark.parametrize("replied", [False, True])
def test_the_report_page_query_count(shopper_client, user, replied):
    report = _report(user)
    if replied:
        activity_report_reply(
            report_id=report.pk, reply="x" * 1500, status="resolved", by=_support_staff()
        )
    with assert_num_queries(REPORT_PAGE_QUERIES):
        assert shopper_client.get(_page_url(report.pk)).status_code == 200


# --- staff reply in the admin ------------------------------------------------------------------


def _change_data(report, **overrides):
    return {"reply": report.reply, "status": report.status, **overrides}


def test_staff_reply_in_the_admin_and_the_shopper_reads_it(user, shopper_client):
    report = _report(user)
    boss = superuser()
    client = login_staff(Client(), boss)
    url = reverse("admin:wallet_activityreport_change", args=[report.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert 'name="reply"' in page.content.decode()
    response = client.post(url, _change_data(report, reply="Sorted.", status="resolved"))

    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.reply, report.status, report.replied_by) == ("Sorted.", "resolved", boss)
    assert "Sorted." in shopper_client.get(_page_url(report.pk)).content.decode()


def test_staff_answering_their_own_report_in_the_admin_is_a_message_not_a_500():
    boss = superuser()
    report = _report(boss)
    client = login_staff(Client(), boss)
    url = reverse("admin:wallet_activityreport_change", args=[report.pk])

    response = client.post(url, _change_data(report, reply="me", status="resolved"), follow=True)

    assert response.status_code == 200
    assert "refused" in response.content.decode()
    report.refresh_from_db()
    assert report.reply == ""


def test_a_status_change_alone_in_the_admin_keeps_working(user):
    report = _report(user)
    client = login_staff(Client(), superuser())
    url = reverse("admin:wallet_activityreport_change", args=[report.pk])
    client.post(url, _change_data(report, status="investigating"))
    report.refresh_from_db()
    assert (report.status, report.reply) == ("investigating", "")
