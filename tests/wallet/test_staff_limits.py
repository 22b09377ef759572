"""Staff cannot move value to themselves or alone (issue 7, docs/interface.md §9).

Self-action, per-currency thresholds, adjustments waiting for a second staff member, the rolling
24-hour total against splitting, outright limits, refused attempts on the record, report status
changes audited, and one batch per request form. Through the real services.
"""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import ledger_state
from tests.wallet.staff import (
    ADJUSTERS,
    ADJUSTMENT_APPROVERS,
    APPROVERS,
    ISSUERS,
    batch_request,
    staff_user,
    superuser,
)
from wallet.exceptions import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    NotFound,
    OverLimit,
    SelfAction,
    SelfApproval,
    StaffPermissionDenied,
    WalletError,
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
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    activity_report_create,
    activity_report_status_set,
    balance_adjustment_approve,
    balance_adjustment_reject,
    giftcard_batch_approve,
    giftcard_batch_codes_download,
    giftcard_batch_reject,
    giftcard_status_set,
    wallet_account_get_or_create,
    wallet_adjust,
    wallet_credit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def adjuster(db):
    return staff_user(ADJUSTERS)


@pytest.fixture
def approver(db):
    return staff_user(ADJUSTMENT_APPROVERS)


@pytest.fixture
def issuer(db):
    return staff_user(ISSUERS)


def _written() -> tuple:
    """Everything a staff action could write besides the refusal record."""
    return (
        ledger_state(),
        list(BalanceAdjustment.objects.values_list("pk", "status", "approved_by")),
        list(AuditEntry.objects.exclude(action=AuditEntry.Action.REFUSED).values_list("pk")),
    )


def _refusals() -> list[tuple]:
    return list(
        AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED)
        .order_by("pk")
        .values_list("actor_id", "target", "detail")
    )


def _account(region: str = "US", balance: int = 0) -> Account:
    shopper = UserFactory(region_id=region)
    account = wallet_account_get_or_create(user=shopper)
    if balance:
        wallet_credit(
            user=shopper, amount=balance, idempotency_key=f"s{shopper.pk}", description="s"
        )
        account.refresh_from_db()
    return account


def _adjust(by, account, amount, key=None, reason="goodwill"):
    return wallet_adjust(
        account_id=account.pk,
        amount=amount,
        reason=reason,
        idempotency_key=key or f"k-{BalanceAdjustment.objects.count()}-{amount}-{by.pk}",
        by=by,
    )


# --- no self-action ---------------------------------------------------------------------------


def test_the_self_credit_attack_is_refused_and_recorded(adjuster):
    """The attack of the issue: a balance adjuster credits 500.00 to their own shopper account."""
    own = wallet_account_get_or_create(user=adjuster)
    before = _written()

    with pytest.raises(SelfAction, match="your own balance"):
        _adjust(adjuster, own, 50000)

    assert _written() == before
    own.refresh_from_db()
    assert own.balance == 0
    assert _refusals() == [
        (
            adjuster.pk,
            f"account #{own.pk}",
            "balance adjustment: you cannot adjust your own balance: ask another staff member",
        )
    ]


def test_a_superuser_cannot_adjust_their_own_balance_either_not_even_a_debit():
    boss = superuser()
    wallet_credit(user=boss, amount=1000, idempotency_key="boss", description="own money")
    own = Account.objects.get(user=boss)
    before = _written()

    for amount in (100, -100):
        with pytest.raises(SelfAction):
            _adjust(boss, own, amount)

    assert _written() == before
    assert len(_refusals()) == 2


def test_nobody_approves_an_adjustment_they_asked_for():
    both = staff_user(ADJUSTERS, ADJUSTMENT_APPROVERS)
    account = _account()
    pending = _adjust(both, account, 60000).adjustment
    before = _written()

    with pytest.raises(SelfApproval):
        balance_adjustment_approve(adjustment_id=pending.pk, approved_by=both)

    assert _written() == before
    assert _refusals()[-1][:2] == (both.pk, f"adjustment #{pending.pk}")


def test_the_database_refuses_self_approval_of_an_adjustment(adjuster):
    pending = _adjust(adjuster, _account(), 60000).adjustment

    with pytest.raises(IntegrityError), transaction.atomic():
        BalanceAdjustment.objects.filter(pk=pending.pk).update(approved_by=F("requested_by"))

    pending.refresh_from_db()
    assert pending.approved_by is None


def test_nobody_approves_an_adjustment_of_their_own_balance(adjuster, approver):
    own = wallet_account_get_or_create(user=approver)
    pending = _adjust(adjuster, own, 60000).adjustment  # asked for by a colleague
    before = _written()

    with pytest.raises(SelfAction):
        balance_adjustment_approve(adjustment_id=pending.pk, approved_by=approver)

    assert _written() == before
    own.refresh_from_db()
    assert own.balance == 0
    # Anyone else may.
    balance_adjustment_approve(
        adjustment_id=pending.pk, approved_by=staff_user(ADJUSTMENT_APPROVERS)
    )
    own.refresh_from_db()
    assert own.balance == 60000


def test_a_staff_member_cannot_move_their_own_report(user):
    staff = superuser()
    wallet_credit(user=staff, amount=100, idempotency_key="own", description="credit")
    report = activity_report_create(
        user=staff, posting=Posting.objects.get(account__user=staff), message="mine"
    )

    with pytest.raises(SelfAction):
        activity_report_status_set(report_id=report.pk, status="resolved", by=staff)

    assert ActivityReport.objects.get(pk=report.pk).status == "open"
    assert [r[1] for r in _refusals()] == [f"report #{report.pk}"]


# --- thresholds per currency and adjustments waiting for approval ------------------------------


@pytest.mark.parametrize(
    ("region", "amount", "waits"),
    [
        ("US", 50000, False),  # 500.00 USD: at the threshold
        ("US", 50001, True),
        ("US", -50001, True),  # a debit as much as a credit
        ("GB", 40000, False),  # 400.00 GBP
        ("GB", 40001, True),
        ("FR", 45001, True),  # 450.01 EUR
        ("JP", 75000, False),  # 75,000 yen
        ("JP", 75001, True),
    ],
)
def test_an_adjustment_above_its_currencys_threshold_waits(adjuster, region, amount, waits):
    account = _account(region, balance=100000)
    before = ledger_state()

    result = _adjust(adjuster, account, amount)

    account.refresh_from_db()
    assert result.pending == waits
    if waits:
        assert result.applied is None
        assert ledger_state() == before  # no money moved
        assert account.balance == 100000
        entry = AuditEntry.objects.get(action=AuditEntry.Action.ADJUSTMENT_REQUESTED)
        assert entry.target == f"adjustment #{result.adjustment.pk}"
        assert "waits for approval" in entry.detail
    else:
        assert result.adjustment.status == BalanceAdjustment.Status.APPLIED
        assert account.balance == 100000 + amount
        assert result.adjustment.transfer == result.applied.transfer


def test_a_second_staff_member_approves_and_that_applies_it(adjuster, approver):
    account = _account(balance=1000)
    pending = _adjust(adjuster, account, 75000, key="big").adjustment

    result = balance_adjustment_approve(adjustment_id=pending.pk, approved_by=approver)

    account.refresh_from_db()
    assert account.balance == 76000
    assert result.balance_after(account.pk) == 76000
    adjustment = BalanceAdjustment.objects.get(pk=pending.pk)
    assert (adjustment.status, adjustment.approved_by) == ("applied", approver)
    assert adjustment.decided_at is not None
    transfer = Transfer.objects.get(idempotency_key="big")
    assert (transfer.kind, transfer.created_by) == (Transfer.Kind.ADJUSTMENT, adjuster)
    assert adjustment.transfer == transfer
    assert ledger_reconcile().clean
    assert list(AuditEntry.objects.order_by("pk").values_list("actor", "action")) == [
        (adjuster.pk, AuditEntry.Action.ADJUSTMENT_REQUESTED),
        (approver.pk, AuditEntry.Action.ADJUSTMENT_APPROVED),
    ]
    # Once: a second approval, by anyone, is an invalid state and moves nothing.
    before = _written()
    for who in (approver, staff_user(ADJUSTMENT_APPROVERS)):
        with pytest.raises(InvalidState):
            balance_adjustment_approve(adjustment_id=pending.pk, approved_by=who)
    assert _written() == before
    # A replay of the request form reports the applied adjustment, moves nothing.
    again = _adjust(adjuster, account, 75000, key="big")
    assert (again.replayed, again.pending, again.applied.transfer) == (True, False, transfer)
    assert _written() == before


def test_approving_needs_the_approve_permission(adjuster):
    pending = _adjust(adjuster, _account(), 60000).adjustment
    before = _written()

    tried = [staff_user(ADJUSTERS), staff_user(APPROVERS), staff_user(ISSUERS), UserFactory()]
    for who in tried:
        with pytest.raises(StaffPermissionDenied):
            balance_adjustment_approve(adjustment_id=pending.pk, approved_by=who)

    assert _written() == before
    assert [r[0] for r in _refusals()] == [who.pk for who in tried]


def test_a_debit_the_balance_no_longer_covers_is_refused_and_stays_pending(adjuster, approver):
    account = _account(balance=80000)
    pending = _adjust(adjuster, account, -70000).adjustment
    wallet_adjust(
        account_id=account.pk, amount=-20000, reason="x", idempotency_key="drain", by=adjuster
    )
    before = _written()

    with pytest.raises(InsufficientFunds):
        balance_adjustment_approve(adjustment_id=pending.pk, approved_by=approver)

    assert _written() == before
    assert BalanceAdjustment.objects.get(pk=pending.pk).status == "pending"


def test_rejecting_moves_nothing_and_ends_the_request(adjuster, approver):
    account = _account()
    pending = _adjust(adjuster, account, 60000).adjustment
    bystander = staff_user(ADJUSTERS)

    with pytest.raises(WalletError):
        balance_adjustment_reject(adjustment_id=pending.pk, rejected_by=approver, reason=" ")
    with pytest.raises(StaffPermissionDenied):
        balance_adjustment_reject(adjustment_id=pending.pk, rejected_by=bystander, reason="no")
    assert BalanceAdjustment.objects.get(pk=pending.pk).status == "pending"

    balance_adjustment_reject(adjustment_id=pending.pk, rejected_by=approver, reason="no receipt")

    adjustment = BalanceAdjustment.objects.get(pk=pending.pk)
    assert (adjustment.status, adjustment.rejected_by, adjustment.decision_note) == (
        "rejected",
        approver,
        "no receipt",
    )
    assert not Transfer.objects.filter(kind=Transfer.Kind.ADJUSTMENT).exists()
    with pytest.raises(InvalidState):
        balance_adjustment_approve(adjustment_id=pending.pk, approved_by=approver)
    account.refresh_from_db()
    assert account.balance == 0
    # The requester may withdraw their own.
    other = _adjust(adjuster, account, 60001).adjustment
    balance_adjustment_reject(adjustment_id=other.pk, rejected_by=adjuster, reason="typo")
    assert BalanceAdjustment.objects.get(pk=other.pk).status == "rejected"


def test_a_request_form_used_for_another_adjustment_is_a_conflict(adjuster):
    account = _account()
    _adjust(adjuster, account, 60000, key="form-1")
    before = _written()

    for other in ({"amount": 60001}, {"account": _account()}, {"by": staff_user(ADJUSTERS)}):
        args = {"by": adjuster, "account": account, "amount": 60000, **other}
        with pytest.raises(IdempotencyConflict):
            _adjust(args["by"], args["account"], args["amount"], key="form-1")

    assert _written()[1:] == before[1:]


# --- outright limits ---------------------------------------------------------------------------


def test_an_absurd_adjustment_is_refused_outright(adjuster):
    """The issue's 10,000,000,000.00: more than 1,000 times the threshold is never a request."""
    account = _account()
    before = _written()

    for amount in (10**12, 50_000_001, -50_000_001):
        with pytest.raises(OverLimit):
            _adjust(adjuster, account, amount)

    assert _written() == before
    assert len(_refusals()) == 3
    assert "500000.00 USD is refused" in _refusals()[0][2]
    # 1,000 times the threshold exactly is a (pending) request.
    assert _adjust(adjuster, account, 50_000_000).pending


def test_admin_batches_have_a_maximum_and_an_absurd_total_is_refused(issuer):
    before = _written()

    with pytest.raises(OverLimit, match="issue_giftcards"):
        batch_request(issuer, count=10_001, amount=100)
    with pytest.raises(OverLimit):
        batch_request(issuer, count=10_000, amount=1_000_000)  # 100,000,000.00 USD

    assert _written() == before
    assert not GiftCardBatch.objects.exists()
    assert [r[1] for r in _refusals()] == ["batch request", "batch request"]
    assert batch_request(issuer, count=10_000, amount=100).status == "pending_approval"


@override_settings(GIFTCARD_ADMIN_MAX_CARDS=20)
def test_the_admin_maximum_comes_from_the_settings(issuer):
    with pytest.raises(OverLimit):
        batch_request(issuer, count=21)
    assert batch_request(issuer, count=20).card_count == 20


# --- splitting does not avoid approval ---------------------------------------------------------


def test_the_split_batches_attack_needs_an_approver_from_the_second_batch_on(issuer):
    """The issue's attack: five batches of 50 x 100.00 by one creator within 24 hours."""
    batches = [batch_request(issuer, count=50, amount=10000, name=f"split-{n}") for n in range(5)]

    assert [b.status for b in batches] == ["approved"] + ["pending_approval"] * 4
    # Only the first one's codes can be downloaded without a second person.
    for batch in batches[1:]:
        with pytest.raises(InvalidState):
            giftcard_batch_codes_download(batch_id=batch.pk, user=issuer)


@pytest.mark.parametrize(
    ("first", "second", "waits"),
    [
        ((30, 100), (20, 100), False),  # 50 cards in the window: at the limit
        ((30, 100), (21, 100), True),  # 51 cards
        ((1, 400000), (1, 100000), False),  # 5,000.00 in the window
        ((1, 400000), (1, 100001), True),
    ],
)
def test_one_creators_batches_of_the_last_24_hours_count_together(issuer, first, second, waits):
    batch_request(issuer, count=first[0], amount=first[1], name="first")

    batch = batch_request(issuer, count=second[0], amount=second[1], name="second")

    assert batch.status == ("pending_approval" if waits else "approved")


def test_what_counts_in_the_window(issuer):
    approver = staff_user(APPROVERS)
    old = batch_request(issuer, count=50, amount=10000, name="yesterday")
    GiftCardBatch.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=24, minutes=1)
    )
    # Another creator's batch, another currency, a batch a second person approved, and one
    # withdrawn do not count either.
    batch_request(staff_user(ISSUERS), count=50, amount=10000, name="colleague")
    batch_request(issuer, region="GB", count=40, amount=10000, name="pounds")
    reviewed = batch_request(issuer, count=51, amount=10000, name="reviewed")
    giftcard_batch_approve(batch_id=reviewed.pk, approved_by=approver)
    withdrawn = batch_request(issuer, count=50, amount=10000, name="withdrawn")
    assert withdrawn.status == "approved"  # nothing above counted
    giftcard_batch_reject(batch_id=withdrawn.pk, rejected_by=issuer, reason="typo")

    assert batch_request(issuer, count=10, amount=10000, name="today").status == "approved"


def test_one_requesters_adjustments_of_the_last_24_hours_count_together(adjuster, approver):
    accounts = [_account(balance=100000) for _ in range(3)]
    assert not _adjust(adjuster, accounts[0], 30000).pending
    assert not _adjust(adjuster, accounts[1], -20000).pending  # 500.00 in the window

    third = _adjust(adjuster, accounts[2], 1)

    assert third.pending
    # What a second person approved does not count; another requester starts from zero.
    balance_adjustment_approve(adjustment_id=third.adjustment.pk, approved_by=approver)
    assert _adjust(staff_user(ADJUSTERS), accounts[2], 50000).pending is False
    # A day later the window has moved on.
    BalanceAdjustment.objects.filter(requested_by=adjuster).update(
        requested_at=timezone.now() - datetime.timedelta(hours=25)
    )
    assert not _adjust(adjuster, accounts[2], 50000).pending


# --- the thresholds come from the settings -----------------------------------------------------


@override_settings(BALANCE_ADJUSTMENT_APPROVAL_MAX={"USD": "1.00", "JPY": "100"})
def test_the_adjustment_threshold_comes_from_the_settings_per_currency(adjuster):
    assert not _adjust(adjuster, _account(), 100).pending
    assert _adjust(adjuster, _account(), 101).pending
    assert _adjust(adjuster, _account("JP"), 101).pending
    # A currency without a threshold is refused, not waved through.
    before = _written()
    with pytest.raises(WalletError, match="no BALANCE_ADJUSTMENT_APPROVAL_MAX is set for GBP"):
        _adjust(adjuster, _account("GB"), 1)
    assert _written()[1:] == before[1:]


@override_settings(GIFTCARD_APPROVAL_MAX_TOTAL={"USD": "10.00", "JPY": "1000"})
def test_the_batch_threshold_comes_from_the_settings_per_currency(issuer):
    assert batch_request(issuer, count=1, amount=1000).status == "approved"
    assert batch_request(issuer, count=1, amount=1, name="more").status == "pending_approval"
    assert batch_request(issuer, region="JP", count=1, amount=1001).status == "pending_approval"


def test_the_settings_read_a_dict_or_one_number_from_the_environment(monkeypatch):
    from config.settings import _per_currency

    default = {"USD": "5000", "GBP": "4000", "EUR": "4500", "JPY": "750000"}
    monkeypatch.setenv("COINPURSE_TEST_MAX", "usd=10, JPY=900")
    assert _per_currency("COINPURSE_TEST_MAX", default) == {
        "USD": "10",
        "GBP": "4000",
        "EUR": "4500",
        "JPY": "900",
    }
    monkeypatch.setenv("COINPURSE_TEST_MAX", "25")  # as before: one number for all
    assert _per_currency("COINPURSE_TEST_MAX", default) == dict.fromkeys(default, "25")
    monkeypatch.delenv("COINPURSE_TEST_MAX")
    assert _per_currency("COINPURSE_TEST_MAX", default) == default


# --- one batch per request form ----------------------------------------------------------------


def test_a_replayed_batch_request_makes_one_batch(issuer):
    first = batch_request(issuer, count=5, idempotency_key="form-a")
    again = batch_request(issuer, count=5, idempotency_key="form-a")

    assert again.pk == first.pk
    assert GiftCardBatch.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.BATCH_REQUESTED).count() == 1
    before = _written()
    for other in ({"count": 6}, {"amount": 2501}, {"region": "GB"}):
        with pytest.raises(IdempotencyConflict):
            batch_request(issuer, idempotency_key="form-a", **{"count": 5, **other})
    with pytest.raises(IdempotencyConflict):
        batch_request(staff_user(ISSUERS), count=5, idempotency_key="form-a")
    assert _written() == before


def test_the_database_keeps_one_batch_per_key(issuer):
    first = batch_request(issuer, count=5, idempotency_key="form-b")
    second = batch_request(issuer, count=5, name="other")

    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCardBatch.objects.filter(pk=second.pk).update(idempotency_key="form-b")
    # Batches without a key (the command's) are many.
    assert GiftCardBatch.objects.filter(idempotency_key="").count() == 1
    assert first.idempotency_key == "form-b"


# --- a missing object is a domain error, not a crash ------------------------------------------


def test_acting_on_a_missing_object_is_not_found(issuer, adjuster, approver):
    boss = superuser()
    calls = [
        lambda: giftcard_batch_approve(batch_id=999_999, approved_by=boss),
        lambda: giftcard_batch_reject(batch_id=999_999, rejected_by=boss, reason="x"),
        lambda: giftcard_batch_codes_download(batch_id=999_999, user=issuer),
        lambda: giftcard_status_set(card_id=999_999, status="disabled", reason="x", by=boss),
        lambda: wallet_adjust(
            account_id=999_999, amount=1, reason="x", idempotency_key="nf", by=adjuster
        ),
        lambda: balance_adjustment_approve(adjustment_id=999_999, approved_by=approver),
        lambda: balance_adjustment_reject(adjustment_id=999_999, rejected_by=approver, reason="x"),
        lambda: activity_report_status_set(report_id=999_999, status="resolved", by=boss),
    ]
    before = _written()

    for call in calls:
        with pytest.raises(NotFound):
            call()

    assert _written() == before
    assert _refusals() == []


# --- report status changes are audited ---------------------------------------------------------


def test_a_report_status_change_is_audited_old_to_new(user):
    wallet_credit(user=user, amount=100, idempotency_key="r", description="credit")
    report = activity_report_create(
        user=user, posting=Posting.objects.get(account__user=user), message="not me"
    )
    staff = superuser()

    activity_report_status_set(report_id=report.pk, status="investigating", by=staff)
    activity_report_status_set(report_id=report.pk, status="investigating", by=staff)  # no change
    activity_report_status_set(report_id=report.pk, status="resolved", by=staff)

    assert list(
        AuditEntry.objects.order_by("pk").values_list("actor", "action", "target", "detail")
    ) == [
        (staff.pk, "report_status_changed", f"report #{report.pk}", "open → investigating"),
        (staff.pk, "report_status_changed", f"report #{report.pk}", "investigating → resolved"),
    ]


def test_a_refused_report_change_is_recorded_and_changes_nothing(user):
    wallet_credit(user=user, amount=100, idempotency_key="r", description="credit")
    report = activity_report_create(
        user=user, posting=Posting.objects.get(account__user=user), message="not me"
    )
    nobody = staff_user(ISSUERS)

    with pytest.raises(StaffPermissionDenied):
        activity_report_status_set(report_id=report.pk, status="dismissed", by=nobody)

    assert ActivityReport.objects.get(pk=report.pk).status == "open"
    assert [(r[0], r[1]) for r in _refusals()] == [(nobody.pk, f"report #{report.pk}")]
    assert not AuditEntry.objects.exclude(action=AuditEntry.Action.REFUSED).exists()
