"""The staff limits in the admin (issue 7, docs/interface.md §9): adjustments waiting for a
second staff member and approved there (POST only, CSRF), the self-credit attack through the
page, one batch per request form, the admin's batch maximum, report status changes audited, and
domain errors as messages — never a 500. Page GET/POST/invalid, with query counts."""

import re

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.wallet.ledger_state import ledger_state
from tests.wallet.pages import hook, hooks
from tests.wallet.staff import (
    ADJUSTERS,
    ADJUSTMENT_APPROVERS,
    APPROVERS,
    ISSUERS,
    staff_user,
    superuser,
)
from wallet.models import (
    Account,
    ActivityReport,
    AuditEntry,
    BalanceAdjustment,
    GiftCardBatch,
    Posting,
    Transfer,
)
from wallet.services import (
    activity_report_create,
    wallet_account_get_or_create,
    wallet_adjust,
    wallet_credit,
)

pytestmark = pytest.mark.django_db

ADJUSTMENTS = reverse("admin:wallet_balanceadjustment_changelist")
BATCH_ADD = reverse("admin:wallet_giftcardbatch_add")


def _client(user, **kwargs) -> Client:
    return login_staff(Client(**kwargs), user)


def _messages(response) -> list[str]:
    return [m.message for m in response.context["messages"]] if response.context else []


def _change(adjustment) -> str:
    return reverse("admin:wallet_balanceadjustment_change", args=[adjustment.pk])


def _adjust_url(account) -> str:
    return reverse("admin:wallet_account_adjust", args=[account.pk])


def _form_key(client, url) -> str:
    page = client.get(url)
    assert page.status_code == 200
    (key,) = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode())
    return key


def _refused() -> list[tuple]:
    return list(
        AuditEntry.objects.filter(action="refused").order_by("pk").values_list("actor", "target")
    )


def _pending(adjuster, n: int = 1) -> list[BalanceAdjustment]:
    return [
        wallet_adjust(
            account_id=wallet_account_get_or_create(user=UserFactory()).pk,
            amount=60_000,
            reason="big",
            idempotency_key=f"p-{adjuster.pk}-{i}-{BalanceAdjustment.objects.count()}",
            by=adjuster,
        ).adjustment
        for i in range(n)
    ]


# --- balance adjustments: request, wait, approve ----------------------------------------------


def test_an_adjustment_above_the_threshold_waits_and_a_second_person_approves_it():
    adjuster, approver = staff_user(ADJUSTERS), staff_user(ADJUSTMENT_APPROVERS)
    account = wallet_account_get_or_create(user=UserFactory())
    client = _client(adjuster)
    url = _adjust_url(account)
    page = client.get(url).content.decode()
    assert "$500.00" in page  # the threshold of the account's currency is explained
    data = {
        "idempotency_key": _form_key(client, url),
        "direction": "credit",
        "amount": "750.00",
        "reason": "lost parcel",
        "confirm": "Confirm",  # the second step: the amount was read back first
    }

    first = client.post(url, data)
    second = client.post(url, data)  # a double click

    adjustment = BalanceAdjustment.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == _change(adjustment)
    assert any("waits for approval" in m for m in _messages(client.get(first["Location"])))
    account.refresh_from_db()
    assert (account.balance, adjustment.status, adjustment.amount) == (0, "pending", 75_000)
    assert not Transfer.objects.exists()
    own_page = client.get(_change(adjustment))
    assert hooks(own_page, "adjustment-approve") == []
    hook(own_page, "adjustment-own")

    approver_client = _client(approver)
    listing = approver_client.get(ADJUSTMENTS, {"status__exact": "pending"})
    assert listing.status_code == 200
    assert [a.pk for a in listing.context["cl"].result_list] == [adjustment.pk]
    hook(approver_client.get(_change(adjustment)), "adjustment-approve")
    approve = reverse("admin:wallet_adjustment_approve", args=[adjustment.pk])
    assert approver_client.get(approve).status_code == 403  # POST only
    # The requester cannot approve by posting either.
    refused = client.post(approve, follow=True)
    assert any("Refused" in m for m in _messages(refused))
    assert BalanceAdjustment.objects.get().status == "pending"

    done = approver_client.post(approve, follow=True)

    assert any("approved and applied" in m for m in _messages(done))
    account.refresh_from_db()
    assert account.balance == 75_000
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.approved_by) == ("applied", approver)
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "adjustment_requested",
        "refused",
        "adjustment_approved",
    ]


def test_approve_and_reject_from_the_list_and_the_page():
    adjuster, approver = staff_user(ADJUSTERS), staff_user(ADJUSTMENT_APPROVERS)
    first, second, third = _pending(adjuster, 3)
    client = _client(approver)

    response = client.post(
        ADJUSTMENTS,
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert set(BalanceAdjustment.objects.values_list("pk", "status")) == {
        (first.pk, "applied"),
        (second.pk, "applied"),
        (third.pk, "pending"),
    }
    reject = reverse("admin:wallet_adjustment_reject", args=[third.pk])
    no_reason = client.post(reject, {"reason": ""}, follow=True)
    assert any("Refused" in m for m in _messages(no_reason))
    assert BalanceAdjustment.objects.get(pk=third.pk).status == "pending"
    client.post(reject, {"reason": "no ticket"})
    assert BalanceAdjustment.objects.get(pk=third.pk).status == "rejected"
    # The list action is not offered to someone without the permission.
    assert "approve_selected" not in _client(adjuster).get(ADJUSTMENTS).content.decode()


def test_the_self_credit_attack_through_the_admin_is_refused_and_recorded():
    adjuster = staff_user(ADJUSTERS)
    own = wallet_account_get_or_create(user=adjuster)
    client = _client(adjuster)
    url = _adjust_url(own)
    hook(client.get(url), "adjust-own-account")
    before = ledger_state()

    response = client.post(
        url,
        {
            "idempotency_key": _form_key(client, url),
            "direction": "credit",
            "amount": "500.00",
            "reason": "me",
            "confirm": "Confirm",
        },
    )

    assert response.status_code == 200
    assert "your own balance" in hook(response, "form-error").text
    assert ledger_state() == before
    assert not BalanceAdjustment.objects.exists()
    assert _refused() == [(adjuster.pk, f"account #{own.pk}")]


def test_an_absurd_adjustment_in_the_admin_is_a_form_error():
    adjuster = staff_user(ADJUSTERS)
    account = wallet_account_get_or_create(user=UserFactory())
    client = _client(adjuster)
    url = _adjust_url(account)
    before = ledger_state()

    response = client.post(
        url,
        {
            "idempotency_key": _form_key(client, url),
            "direction": "credit",
            "amount": "10000000000.00",
            "reason": "x",
            "confirm": "Confirm",
        },
    )

    assert response.status_code == 200
    assert "is refused" in hook(response, "form-error").text
    assert ledger_state() == before
    assert not BalanceAdjustment.objects.exists()


def test_posting_an_adjustment_without_the_permission_is_forbidden_and_recorded():
    account = wallet_account_get_or_create(user=UserFactory())
    issuer = staff_user(ISSUERS)

    response = _client(issuer).post(
        _adjust_url(account),
        {"direction": "credit", "amount": "5", "reason": "x", "idempotency_key": "k"},
    )

    assert response.status_code == 403
    assert _refused() == [(issuer.pk, f"account #{account.pk}")]
    assert not BalanceAdjustment.objects.exists()


def test_adjustment_posts_need_the_csrf_token():
    adjuster, approver = staff_user(ADJUSTERS), staff_user(ADJUSTMENT_APPROVERS)
    (pending,) = _pending(adjuster)
    client = _client(approver, enforce_csrf_checks=True)
    before = list(BalanceAdjustment.objects.values_list("pk", "status"))
    audit = AuditEntry.objects.count()

    for url, data in (
        (reverse("admin:wallet_adjustment_approve", args=[pending.pk]), {}),
        (reverse("admin:wallet_adjustment_reject", args=[pending.pk]), {"reason": "no"}),
        (ADJUSTMENTS, {"action": "approve_selected", "_selected_action": [pending.pk]}),
    ):
        assert client.post(url, data).status_code == 403, url

    assert list(BalanceAdjustment.objects.values_list("pk", "status")) == before
    assert AuditEntry.objects.count() == audit


def test_the_adjustment_pages_query_counts_do_not_grow():
    adjuster = staff_user(ADJUSTERS)
    client = _client(superuser())
    _pending(adjuster, 5)

    def measure(url) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    for url in (ADJUSTMENTS, _change(BalanceAdjustment.objects.first())):
        client.get(url)  # warm the per-process caches (content types) first
    few_list = measure(ADJUSTMENTS)
    few_page = measure(_change(BalanceAdjustment.objects.first()))
    _pending(staff_user(ADJUSTERS), 20)
    assert measure(ADJUSTMENTS) == few_list
    assert measure(_change(BalanceAdjustment.objects.first())) == few_page


@pytest.mark.parametrize("path", ["approve", "reject"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_missing_adjustment_is_a_404_first(path, method):
    """docs/interface.md §9: a missing id is a 404 before anything else (the form's checks,
    POST only)."""
    client = _client(superuser())
    url = reverse(f"admin:wallet_adjustment_{path}", args=[999_999])

    assert getattr(client, method)(url, {"reason": "x"}).status_code == 404
    assert getattr(client, method)(url, {}).status_code == 404


# --- batches: one per form, the admin's maximum, missing ids -----------------------------------


def _batch_data(client, **changes) -> dict[str, str]:
    return {
        "idempotency_key": _form_key(client, BATCH_ADD),
        "name": "spring",
        "region": "US",
        "count": "10",
        "amount": "25.00",
        "note": "",
        **changes,
    }


def test_a_double_submitted_batch_request_makes_one_batch():
    client = _client(staff_user(ISSUERS))
    data = _batch_data(client)

    first = client.post(BATCH_ADD, data)
    second = client.post(BATCH_ADD, data)

    batch = GiftCardBatch.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert str(batch.pk) in first["Location"]
    assert AuditEntry.objects.filter(action="batch_requested").count() == 1
    # A new page is a new form: a second batch.
    client.post(BATCH_ADD, _batch_data(client))
    assert GiftCardBatch.objects.count() == 2


def test_the_request_form_says_where_large_batches_go_and_refuses_them():
    client = _client(staff_user(ISSUERS))
    page = client.get(BATCH_ADD).content.decode()
    assert "issue_giftcards" in page
    assert "10,000" in page
    assert "750,000" in page  # JPY's own threshold

    response = client.post(BATCH_ADD, _batch_data(client, count="10001"))

    assert response.status_code == 200
    assert response.context["form"].errors["count"]
    assert not GiftCardBatch.objects.exists()
    with override_settings(GIFTCARD_ADMIN_MAX_CARDS=5):
        refused = client.post(BATCH_ADD, _batch_data(client, count="6"))
        assert refused.context["form"].errors["count"]


def test_a_replayed_form_for_another_batch_is_refused_on_the_form():
    client = _client(staff_user(ISSUERS))
    data = _batch_data(client)
    client.post(BATCH_ADD, data)

    response = client.post(BATCH_ADD, {**data, "count": "11"})

    assert response.status_code == 200
    assert "already used" in hook(response, "form-error").text
    assert GiftCardBatch.objects.count() == 1


@pytest.mark.parametrize("path", ["approve", "reject", "codes"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_missing_batch_is_a_404_first(path, method):
    client = _client(superuser())
    url = reverse(f"admin:wallet_batch_{path}", args=[999_999])

    assert getattr(client, method)(url, {"reason": "x"}).status_code == 404
    assert getattr(client, method)(url, {}).status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_missing_card_is_a_404_first(method):
    url = reverse("admin:wallet_giftcard_status", args=[999_999])
    response = getattr(_client(superuser()), method)(url, {"status": "disabled", "reason": "x"})
    assert response.status_code == 404


def test_split_batches_in_the_admin_wait_from_the_second_on():
    issuer, approver = staff_user(ISSUERS), staff_user(APPROVERS)
    client = _client(issuer)

    for n in range(5):
        client.post(BATCH_ADD, _batch_data(client, name=f"split {n}", count="50", amount="100.00"))

    assert (
        list(GiftCardBatch.objects.order_by("pk").values_list("status", flat=True))
        == ["approved"] + ["pending_approval"] * 4
    )
    waiting = GiftCardBatch.objects.filter(status="pending_approval").first()
    hook(_client(approver).get(reverse("admin:wallet_giftcardbatch_change", args=[waiting.pk])),
         "batch-approve")  # fmt: skip


# --- activity reports --------------------------------------------------------------------------


def _report(shopper) -> ActivityReport:
    wallet_credit(user=shopper, amount=100, idempotency_key=f"r{shopper.pk}", description="c")
    return activity_report_create(
        user=shopper, posting=Posting.objects.get(account__user=shopper), message="not me"
    )


def test_a_report_status_change_in_the_admin_is_audited():
    report = _report(UserFactory())
    client = _client(superuser())
    url = reverse("admin:wallet_activityreport_change", args=[report.pk])

    response = client.post(url, {"status": "investigating", "_save": "Save"})

    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="report_status_changed")
    assert (entry.target, entry.detail) == (f"report #{report.pk}", "open → investigating")


def test_a_refused_report_change_in_the_admin_is_a_message_not_a_500():
    boss = superuser()
    report = _report(boss)  # the staff member's own report, as a shopper
    client = _client(boss)
    url = reverse("admin:wallet_activityreport_change", args=[report.pk])

    response = client.post(url, {"status": "resolved", "_save": "Save"}, follow=True)

    assert response.status_code == 200
    shown = _messages(response)
    assert any("your own report" in m for m in shown)
    assert not any("successfully" in m for m in shown)
    assert ActivityReport.objects.get(pk=report.pk).status == "open"
    # The list's inline status edit too.
    listing = reverse("admin:wallet_activityreport_changelist")
    response = client.post(
        listing,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(report.pk),
            "form-0-status": "dismissed",
            "_save": "Save",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert ActivityReport.objects.get(pk=report.pk).status == "open"
    assert Account.objects.filter(user=boss).get().balance == 100
