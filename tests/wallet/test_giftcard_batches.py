"""Staff gift card batches (issue #3): the two-person rule, codes served once, the audit log.

giftcard_batch_request / _needs_approval / _approve / _reject / _codes_download, through the
real services, with staff in the groups that migration 0005 creates."""

import csv
import datetime
import io

import pytest
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.test import override_settings

import wallet.services.batches as services
from catalog.models import Region
from catalog.regions import region_today
from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import ledger_state
from tests.wallet.staff import (
    APPROVERS,
    ISSUERS,
    batch_request,
    redeem_outcome,
    small_chunks,
    staff_user,
    superuser,
)
from wallet.codefile import HEADER
from wallet.codes import code_normalize
from wallet.exceptions import InvalidState, SelfApproval, StaffPermissionDenied, WalletError
from wallet.models import Account, AuditEntry, GiftCard, GiftCardBatch, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    giftcard_batch_approve,
    giftcard_batch_codes_download,
    giftcard_batch_needs_approval,
    giftcard_batch_reject,
)
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer(db):
    return staff_user(ISSUERS)


@pytest.fixture
def approver(db):
    return staff_user(APPROVERS)


def _audit() -> list[tuple]:
    return list(
        AuditEntry.objects.order_by("pk").values_list("actor_id", "action", "target", "detail")
    )


def _download(batch, user) -> list[dict[str, str]]:
    """Consume the whole download; its CSV rows."""
    text = "".join(giftcard_batch_codes_download(batch_id=batch.pk, user=user))
    assert text.splitlines()[0] == ",".join(HEADER)
    return list(csv.DictReader(io.StringIO(text)))


def _outstanding(currency: str) -> int:
    account = Account.objects.filter(
        kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=currency
    ).first()
    return 0 if account is None else account_balance_get(account=account)


# --- the threshold ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "count", "amount"),
    [
        ("US", 1, 100),
        ("US", 50, 10000),  # 50 cards worth 5,000.00: at both limits, not above
        ("US", 1, 500000),  # one card of 5,000.00
        ("GB", 50, 1),
        ("JP", 10, 500),  # 5,000 yen: the threshold is in the batch's own currency
        ("JP", 1, 750000),  # JPY's own threshold: 750,000 yen
        ("GB", 1, 400000),  # GBP's: 4,000.00
    ],
)
def test_a_batch_within_the_threshold_is_approved_at_once(issuer, region, count, amount):
    batch = batch_request(issuer, region=region, count=count, amount=amount)

    assert batch.status == GiftCardBatch.Status.APPROVED
    assert (batch.approved_by, batch.approved_at) == (None, None)
    assert (batch.card_count, batch.amount, batch.created_by) == (count, amount, issuer)
    assert not giftcard_batch_needs_approval(count=count, amount=amount, currency=batch.currency)
    # Approved is not issued: no card and no money until the creator downloads the codes.
    assert not GiftCard.objects.exists()
    assert not Transfer.objects.exists()
    assert _audit() == [
        (issuer.pk, AuditEntry.Action.BATCH_REQUESTED, f"batch #{batch.pk}", _audit()[0][3])
    ]
    assert f"{count} x " in _audit()[0][3]


@pytest.mark.parametrize(
    ("region", "count", "amount"),
    [
        ("US", 51, 100),  # one card too many
        ("US", 2, 250001),  # 5,000.02 in total
        ("US", 1, 500001),
        ("FR", 50, 9001),  # 4,500.50 EUR: EUR's threshold is 4,500.00
        ("GB", 1, 400001),  # 4,000.01 GBP
        ("JP", 1, 750001),  # 750,001 yen
        ("JP", 51, 500),
    ],
)
def test_a_batch_above_the_threshold_waits_for_approval(issuer, region, count, amount):
    batch = batch_request(issuer, region=region, count=count, amount=amount)

    assert batch.status == GiftCardBatch.Status.PENDING_APPROVAL
    assert giftcard_batch_needs_approval(count=count, amount=amount, currency=batch.currency)
    assert not GiftCard.objects.exists()
    assert [row[1] for row in _audit()] == [AuditEntry.Action.BATCH_REQUESTED]


@override_settings(GIFTCARD_APPROVAL_MAX_CARDS=3, GIFTCARD_APPROVAL_MAX_TOTAL="10.50")
def test_the_threshold_comes_from_the_settings():
    assert not giftcard_batch_needs_approval(count=3, amount=350, currency="USD")
    assert giftcard_batch_needs_approval(count=4, amount=1, currency="USD")
    assert giftcard_batch_needs_approval(count=3, amount=351, currency="USD")


def test_requesting_needs_the_issue_permission(approver):
    plain_staff = staff_user()
    before = ledger_state()

    tried = [plain_staff, approver, UserFactory()]
    for user in tried:
        with pytest.raises(StaffPermissionDenied):
            batch_request(user)

    assert ledger_state() == before
    assert not GiftCardBatch.objects.exists()
    assert [row[:3] for row in _audit()] == [
        (user.pk, AuditEntry.Action.REFUSED, "batch request") for user in tried
    ]


@pytest.mark.parametrize(
    ("count", "amount", "days"),
    [(0, 2500, None), (-1, 2500, None), (3, 0, None), (3, -100, None), (3, 2500, -1)],
)
def test_a_batch_that_cannot_be_issued_is_refused_with_nothing_written(issuer, count, amount, days):
    today = region_today(Region.objects.get(code="US"))  # batch_request defaults to US
    expires_on = None if days is None else today + datetime.timedelta(days=days)

    with pytest.raises(WalletError):
        batch_request(issuer, count=count, amount=amount, expires_on=expires_on)

    assert not GiftCardBatch.objects.exists()
    assert not AuditEntry.objects.exists()


# --- two-person rule --------------------------------------------------------------------------


def test_the_creator_cannot_approve_their_own_batch_even_with_the_permission():
    both = staff_user(ISSUERS, APPROVERS)
    batch = batch_request(both, count=51)

    with pytest.raises(SelfApproval):
        giftcard_batch_approve(batch_id=batch.pk, approved_by=both)

    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.PENDING_APPROVAL
    assert (batch.approved_by, batch.approved_at) == (None, None)
    assert [row[:3] for row in _audit()] == [
        (both.pk, AuditEntry.Action.BATCH_REQUESTED, f"batch #{batch.pk}"),
        (both.pk, AuditEntry.Action.REFUSED, f"batch #{batch.pk}"),
    ]
    assert "another staff member must approve" in _audit()[-1][3]


def test_a_superuser_cannot_approve_their_own_batch_either():
    boss = superuser()
    batch = batch_request(boss, count=100)

    with pytest.raises(SelfApproval):
        giftcard_batch_approve(batch_id=batch.pk, approved_by=boss)

    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.PENDING_APPROVAL


def test_the_database_refuses_self_approval(issuer, approver):
    batch = batch_request(issuer, count=51)

    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCardBatch.objects.filter(pk=batch.pk).update(
            approved_by=F("created_by"), status=GiftCardBatch.Status.APPROVED
        )
    batch.approved_by = issuer
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.save(update_fields=["approved_by"])

    batch.refresh_from_db()
    assert (batch.approved_by, batch.status) == (None, GiftCardBatch.Status.PENDING_APPROVAL)
    # The constraint is about the same person, not approval as such.
    GiftCardBatch.objects.filter(pk=batch.pk).update(approved_by=approver)


def test_another_staff_member_approves(issuer, approver):
    batch = batch_request(issuer, count=51)

    approved = giftcard_batch_approve(batch_id=batch.pk, approved_by=approver)

    batch.refresh_from_db()
    assert approved.pk == batch.pk
    assert batch.status == GiftCardBatch.Status.APPROVED
    assert batch.approved_by == approver
    assert batch.approved_at is not None
    assert not GiftCard.objects.exists()  # approval issues nothing
    assert [(row[0], row[1], row[2]) for row in _audit()] == [
        (issuer.pk, AuditEntry.Action.BATCH_REQUESTED, f"batch #{batch.pk}"),
        (approver.pk, AuditEntry.Action.BATCH_APPROVED, f"batch #{batch.pk}"),
    ]


def test_approving_twice_is_an_invalid_state(issuer, approver):
    batch = batch_request(issuer, count=51)
    giftcard_batch_approve(batch_id=batch.pk, approved_by=approver)
    second = staff_user(APPROVERS)

    for user in (approver, second):
        with pytest.raises(InvalidState):
            giftcard_batch_approve(batch_id=batch.pk, approved_by=user)

    batch.refresh_from_db()
    assert batch.approved_by == approver
    assert [row[1] for row in _audit()].count(AuditEntry.Action.BATCH_APPROVED) == 1


def test_a_batch_approved_at_once_cannot_be_approved(issuer, approver):
    batch = batch_request(issuer, count=5)

    with pytest.raises(InvalidState):
        giftcard_batch_approve(batch_id=batch.pk, approved_by=approver)

    batch.refresh_from_db()
    assert batch.approved_by is None


def test_approving_needs_the_approve_permission(issuer):
    batch = batch_request(issuer, count=51)
    other_issuer = staff_user(ISSUERS)

    for user in (other_issuer, staff_user(), UserFactory()):
        with pytest.raises(StaffPermissionDenied):
            giftcard_batch_approve(batch_id=batch.pk, approved_by=user)

    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.PENDING_APPROVAL
    assert [row[1] for row in _audit()] == [AuditEntry.Action.BATCH_REQUESTED] + [
        AuditEntry.Action.REFUSED
    ] * 3


def test_an_inactive_approver_is_refused(issuer):
    batch = batch_request(issuer, count=51)
    gone = staff_user(APPROVERS, is_active=False)

    with pytest.raises(StaffPermissionDenied):
        giftcard_batch_approve(batch_id=batch.pk, approved_by=gone)


# --- rejection --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejecting_needs_a_reason(issuer, approver, reason):
    batch = batch_request(issuer, count=51)

    with pytest.raises(WalletError):
        giftcard_batch_reject(batch_id=batch.pk, rejected_by=approver, reason=reason)

    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.PENDING_APPROVAL
    assert [row[1] for row in _audit()] == [AuditEntry.Action.BATCH_REQUESTED]


def test_an_approver_rejects_with_a_reason_and_the_batch_can_never_be_issued(issuer, approver):
    batch = batch_request(issuer, count=51)

    giftcard_batch_reject(batch_id=batch.pk, rejected_by=approver, reason="  not budgeted  ")

    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.REJECTED
    assert batch.failure == "not budgeted"
    assert _audit()[-1][:3] == (approver.pk, AuditEntry.Action.BATCH_REJECTED, f"batch #{batch.pk}")
    with pytest.raises(InvalidState):
        giftcard_batch_approve(batch_id=batch.pk, approved_by=approver)
    with pytest.raises(InvalidState):
        giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)
    with pytest.raises(InvalidState):
        giftcard_batch_reject(batch_id=batch.pk, rejected_by=approver, reason="again")
    assert not GiftCard.objects.exists()


def test_the_creator_may_withdraw_but_a_bystander_may_not_reject(issuer):
    batch = batch_request(issuer, count=51)
    bystander = staff_user(ISSUERS)

    with pytest.raises(StaffPermissionDenied):
        giftcard_batch_reject(batch_id=batch.pk, rejected_by=bystander, reason="mine now")
    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.PENDING_APPROVAL

    giftcard_batch_reject(batch_id=batch.pk, rejected_by=issuer, reason="typo in the amount")
    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.REJECTED


# --- codes served once ------------------------------------------------------------------------


def test_the_creator_downloads_the_codes_once_and_that_issues_the_cards(issuer):
    batch = batch_request(issuer, count=12, amount=2500, name="Support goodwill")

    rows = _download(batch, issuer)

    assert len(rows) == 12
    assert {(r["amount"], r["currency"], r["region"], r["batch"]) for r in rows} == {
        ("25.00", "USD", "US", "Support goodwill")
    }
    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.ISSUED
    assert batch.codes_downloaded_at is not None
    assert GiftCard.objects.filter(batch=batch).count() == 12
    assert _outstanding("USD") == 12 * 2500
    assert ledger_reconcile().clean
    codes = [row["code"] for row in rows]
    assert len({code_normalize(code) for code in codes}) == 12
    shopper = UserFactory(region_id="US")
    assert [redeem_outcome(shopper, code) for code in codes] == ["redeemed"] * 12
    assert Account.objects.get(user=shopper).balance == 12 * 2500
    assert ledger_reconcile().clean

    # Once: a second request, even by the creator, is refused and reveals nothing.
    with pytest.raises(InvalidState):
        giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)
    assert GiftCard.objects.filter(batch=batch).count() == 12
    assert [row[1] for row in _audit()] == [
        AuditEntry.Action.BATCH_REQUESTED,
        AuditEntry.Action.BATCH_CODES_DOWNLOADED,
    ]


def test_a_large_batch_is_requested_approved_then_downloaded_with_an_audit_trail(issuer, approver):
    batch = batch_request(issuer, region="JP", count=60, amount=1000)
    giftcard_batch_approve(batch_id=batch.pk, approved_by=approver)

    rows = _download(batch, issuer)

    assert len(rows) == 60
    assert {row["amount"] for row in rows} == {"1000"}
    assert _outstanding("JPY") == 60_000
    target = f"batch #{batch.pk}"
    assert [(row[0], row[1], row[2]) for row in _audit()] == [
        (issuer.pk, AuditEntry.Action.BATCH_REQUESTED, target),
        (approver.pk, AuditEntry.Action.BATCH_APPROVED, target),
        (issuer.pk, AuditEntry.Action.BATCH_CODES_DOWNLOADED, target),
    ]
    # No code in the audit log.
    details = " ".join(row[3] for row in _audit())
    assert not any(code_normalize(row["code"]) in details.replace("-", "") for row in rows)


def test_only_the_creator_may_download(issuer, approver):
    batch = batch_request(issuer, count=5)
    other_issuer = staff_user(ISSUERS)
    before = ledger_state()

    for user in (other_issuer, approver, superuser()):
        with pytest.raises(StaffPermissionDenied):
            giftcard_batch_codes_download(batch_id=batch.pk, user=user)

    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.APPROVED
    assert batch.codes_downloaded_at is None
    assert ledger_state() == before
    assert [row[1] for row in _audit()] == [AuditEntry.Action.BATCH_REQUESTED] + [
        AuditEntry.Action.REFUSED
    ] * 3
    # ... and the creator still needs the permission at the time of download.
    issuer.groups.clear()
    issuer = type(issuer).objects.get(pk=issuer.pk)  # a fresh permission cache
    with pytest.raises(StaffPermissionDenied):
        giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)


def test_codes_of_a_batch_waiting_for_approval_cannot_be_downloaded(issuer):
    batch = batch_request(issuer, count=51)

    with pytest.raises(InvalidState):
        giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)

    batch.refresh_from_db()
    assert (batch.status, batch.codes_downloaded_at) == (
        GiftCardBatch.Status.PENDING_APPROVAL,
        None,
    )
    assert not GiftCard.objects.exists()


def test_a_download_abandoned_halfway_leaves_the_batch_failed_and_no_card_redeemable(
    issuer, monkeypatch
):
    small_chunks(monkeypatch, 4)
    batch = batch_request(issuer, count=10, amount=2500)

    stream = giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)
    first = next(stream)
    stream.close()  # the browser went away after the first chunk

    codes = [row["code"] for row in csv.DictReader(io.StringIO(first))]
    assert len(codes) == 4
    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.FAILED
    assert GiftCard.objects.filter(batch=batch).count() == 4
    shopper = UserFactory(region_id="US")
    assert {redeem_outcome(shopper, code) for code in codes} == {"disabled"}
    assert not Transfer.objects.exists()
    assert _outstanding("USD") == 0
    assert ledger_reconcile().clean
    # The codes were revealed (in part): the download is on the record, and not repeatable.
    assert [row[1] for row in _audit()][-1] == AuditEntry.Action.BATCH_CODES_DOWNLOADED
    with pytest.raises(InvalidState):
        giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)


def test_a_download_that_fails_halfway_leaves_the_batch_failed(issuer, monkeypatch):
    small_chunks(monkeypatch, 4)
    batch = batch_request(issuer, count=10, amount=2500)
    calls = []
    real_insert = services.giftcards_bulk_insert

    def insert(rows, **batch_values):
        calls.append(len(rows))
        if len(calls) == 2:
            raise OperationalError("database is gone")
        real_insert(rows, **batch_values)

    monkeypatch.setattr(services, "giftcards_bulk_insert", insert)
    stream = giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)

    first = next(stream)
    with pytest.raises(OperationalError):
        next(stream)

    batch.refresh_from_db()
    assert batch.status == GiftCardBatch.Status.FAILED
    codes = [row["code"] for row in csv.DictReader(io.StringIO(first))]
    assert {redeem_outcome(UserFactory(), code) for code in codes} == {"disabled"}
    assert not Transfer.objects.exists()


# --- the audit log is append-only -------------------------------------------------------------


def test_an_audit_entry_cannot_be_changed_in_the_database(issuer):
    batch_request(issuer, count=5)
    entry = AuditEntry.objects.get()

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(detail="nothing to see")
    entry.detail = "rewritten"
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.save()

    assert AuditEntry.objects.get().detail != "rewritten"
    assert AuditEntry.objects.get().detail.startswith("5 x 25.00 USD")


@pytest.mark.postgres
def test_an_audit_entry_cannot_be_deleted_in_the_database(issuer):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no delete trigger on the audit log (see _append_only.py)")
    batch_request(issuer, count=5)

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.all().delete()

    assert AuditEntry.objects.count() == 1


def test_the_creator_and_the_approver_cannot_redeem_a_code_of_their_batch(issuer, approver):
    """Two-person rule at redemption: those who saw the codes cannot pocket them."""
    batch = batch_request(issuer, count=60, amount=1000)
    giftcard_batch_approve(batch_id=batch.pk, approved_by=approver)
    codes = [row["code"] for row in _download(batch, issuer)]
    before = ledger_state()

    assert redeem_outcome(issuer, codes[0]) == "disabled"
    assert redeem_outcome(approver, codes[1]) == "disabled"

    assert ledger_state() == before
    assert not Account.objects.filter(user__in=[issuer, approver]).exclude(balance=0).exists()
    # Anyone else redeems them as usual.
    shopper = UserFactory(region_id="US")
    assert [redeem_outcome(shopper, code) for code in codes[:2]] == ["redeemed", "redeemed"]
    assert ledger_reconcile().clean
