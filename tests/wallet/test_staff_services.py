"""Staff services of issue #3 besides batches: card status, balance adjustments, report status
and the audit log they write (giftcard_status_set, wallet_adjust, activity_report_status_set,
audit_record)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from tests.wallet.pages import hook, hooks
from tests.wallet.staff import (
    ADJUSTERS,
    APPROVERS,
    ISSUERS,
    batch_request,
    redeem_outcome,
    staff_user,
    superuser,
)
from wallet.exceptions import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    StaffPermissionDenied,
    WalletError,
)
from wallet.models import (
    Account,
    ActivityReport,
    AuditEntry,
    BalanceAdjustment,
    GiftCard,
    Posting,
    Transfer,
)
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    activity_report_create,
    activity_report_status_set,
    audit_record,
    giftcard_batch_codes_download,
    giftcard_redeem,
    giftcard_status_set,
    system_account_get_or_create,
    wallet_account_get_or_create,
    wallet_adjust,
    wallet_credit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(db):
    """Gift card issuers may disable and re-enable cards (wallet.change_giftcard)."""
    return staff_user(ISSUERS)


@pytest.fixture
def adjuster(db):
    return staff_user(ADJUSTERS)


def _audit() -> list[tuple]:
    return list(
        AuditEntry.objects.order_by("pk").values_list("actor_id", "action", "target", "detail")
    )


# --- gift card status -------------------------------------------------------------------------


def test_a_disabled_card_is_refused_and_a_re_enabled_one_redeems(support, user):
    issued = issue_card(amount=2500)
    card_id = issued.card.pk

    card = giftcard_status_set(
        card_id=card_id, status="disabled", reason="reported stolen", by=support
    )

    assert (card.status, card.status_reason) == (GiftCard.Status.DISABLED, "reported stolen")
    assert GiftCard.objects.get(pk=card_id).status == GiftCard.Status.DISABLED
    before = ledger_state()
    assert redeem_outcome(user, issued.code) == "disabled"
    assert ledger_state() == before

    giftcard_status_set(card_id=card_id, status="active", reason="found again", by=support)

    card = GiftCard.objects.get(pk=card_id)
    assert (card.status, card.status_reason) == (GiftCard.Status.ACTIVE, "found again")
    assert redeem_outcome(user, issued.code) == "redeemed"
    assert Account.objects.get(user=user).balance == 2500
    assert ledger_reconcile().clean
    assert _audit() == [
        (support.pk, AuditEntry.Action.CARD_DISABLED, f"gift card #{card_id}", "reported stolen"),
        (support.pk, AuditEntry.Action.CARD_ENABLED, f"gift card #{card_id}", "found again"),
    ]


def test_the_staff_member_who_re_enabled_a_card_cannot_redeem_it(support):
    """Support looks a card up by its code, re-enables it, and tries to pocket it: refused
    (`disabled`, nothing written); the shopper it belongs to redeems it as usual."""
    issued = issue_card(amount=2500)
    card_id = issued.card.pk
    giftcard_status_set(card_id=card_id, status="disabled", reason="reported stolen", by=support)
    giftcard_status_set(card_id=card_id, status="active", reason="found again", by=support)
    before = ledger_state()

    assert redeem_outcome(support, issued.code) == "disabled"

    assert ledger_state() == before
    assert GiftCard.objects.get(pk=card_id).status == GiftCard.Status.ACTIVE
    shopper = UserFactory(region_id="US")
    assert redeem_outcome(shopper, issued.code) == "redeemed"
    assert ledger_reconcile().clean


def test_a_card_of_an_issued_batch_can_be_disabled(support, user):
    batch = batch_request(support, count=3)
    text = "".join(giftcard_batch_codes_download(batch_id=batch.pk, user=support))
    code = text.splitlines()[1].split(",")[0]
    card = GiftCard.objects.filter(batch=batch, last4=code[-4:]).get()

    giftcard_status_set(card_id=card.pk, status="disabled", reason="leaked", by=support)

    assert redeem_outcome(user, code) == "disabled"
    other_code = text.splitlines()[2].split(",")[0]
    assert redeem_outcome(user, other_code) == "redeemed"


def test_a_redeemed_card_cannot_be_disabled(support, user):
    issued = issue_card()
    giftcard_redeem(user=user, code=issued.code)
    before = ledger_state()

    with pytest.raises(InvalidState):
        giftcard_status_set(card_id=issued.card.pk, status="disabled", reason="x", by=support)
    with pytest.raises(InvalidState):
        giftcard_status_set(card_id=issued.card.pk, status="active", reason="x", by=support)

    assert ledger_state() == before
    assert GiftCard.objects.get().status_reason == ""
    assert _audit() == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_changing_a_card_needs_a_reason(support, user, reason):
    issued = issue_card()

    with pytest.raises(WalletError):
        giftcard_status_set(card_id=issued.card.pk, status="disabled", reason=reason, by=support)

    assert GiftCard.objects.get().status == GiftCard.Status.ACTIVE
    assert _audit() == []
    assert redeem_outcome(user, issued.code) == "redeemed"


def test_a_card_cannot_be_set_to_its_own_state_or_to_redeemed(support):
    card = issue_card().card

    for status in ("active", "redeemed", "bogus"):
        with pytest.raises(WalletError):
            giftcard_status_set(card_id=card.pk, status=status, reason="why not", by=support)
    giftcard_status_set(card_id=card.pk, status="disabled", reason="once", by=support)
    with pytest.raises(InvalidState):
        giftcard_status_set(card_id=card.pk, status="disabled", reason="twice", by=support)

    assert [row[1] for row in _audit()] == [AuditEntry.Action.CARD_DISABLED]


def test_changing_a_card_needs_the_permission(user):
    issued = issue_card()

    tried = [staff_user(APPROVERS), staff_user(ADJUSTERS), staff_user(), user]
    for staff in tried:
        with pytest.raises(StaffPermissionDenied):
            giftcard_status_set(card_id=issued.card.pk, status="disabled", reason="x", by=staff)

    assert GiftCard.objects.get().status == GiftCard.Status.ACTIVE
    # Each attempt is on the record as refused, and nothing else is.
    assert [row[:3] for row in _audit()] == [
        (staff.pk, AuditEntry.Action.REFUSED, f"gift card #{issued.card.pk}") for staff in tried
    ]


# --- balance adjustments ----------------------------------------------------------------------


def _wallet_rows(user) -> tuple[list[tuple[str, str]], str]:
    """The shopper's /wallet/ activity rows (kind, signed amount) and balance, as shown."""
    client = Client()
    client.force_login(user)
    page = client.get("/wallet/")
    assert page.status_code == 200
    return [
        (row.attrs["data-kind"], row.attrs["data-amount-minor"])
        for row in hooks(page, "activity-row")
    ], hook(page, "wallet-balance").attrs["data-amount-minor"]


def test_a_credit_posts_an_adjustment_transfer(adjuster, user):
    wallet_credit(user=user, amount=1000, idempotency_key="start", description="start")
    account = Account.objects.get(user=user)

    result = wallet_adjust(
        account_id=account.pk,
        amount=550,
        reason="goodwill after a late delivery",
        idempotency_key="adj-1",
        by=adjuster,
    )

    assert not result.replayed
    assert result.balance_after(account.pk) == 1550
    account.refresh_from_db()
    assert account.balance == 1550  # through postings, never by writing the balance
    transfer = Transfer.objects.get(idempotency_key="adj-1")
    assert transfer.kind == Transfer.Kind.ADJUSTMENT
    assert transfer.created_by == adjuster
    # The shopper reads the shopper-facing description (the default here), never the note.
    assert transfer.description == "Balance adjustment"
    legs = dict(transfer.postings.values_list("account__kind", "amount"))
    assert legs == {Account.Kind.CUSTOMER: 550, Account.Kind.ADJUSTMENTS: -550}
    assert ledger_reconcile().clean
    rows, balance = _wallet_rows(user)
    assert rows[0] == ("adjustment", "550")
    assert balance == "1550"
    assert _audit() == [
        (
            adjuster.pk,
            AuditEntry.Action.BALANCE_ADJUSTED,
            f"account #{account.pk}",
            "5.50 USD credited: goodwill after a late delivery",
        )
    ]


def test_a_debit_posts_an_adjustment_transfer(adjuster, user):
    wallet_credit(user=user, amount=1000, idempotency_key="start", description="start")
    account = Account.objects.get(user=user)

    wallet_adjust(
        account_id=account.pk,
        amount=-300,
        reason="duplicate credit",
        idempotency_key="adj-2",
        by=adjuster,
    )

    account.refresh_from_db()
    assert account.balance == 700
    assert ledger_reconcile().clean
    rows, balance = _wallet_rows(user)
    assert rows[0] == ("adjustment", "-300")
    assert balance == "700"
    assert _audit()[0][3] == "3.00 USD debited: duplicate credit"


def test_a_debit_below_zero_is_refused_with_nothing_written(adjuster, user):
    wallet_credit(user=user, amount=1000, idempotency_key="start", description="start")
    account = Account.objects.get(user=user)
    before = ledger_state()

    with pytest.raises(InsufficientFunds):
        wallet_adjust(
            account_id=account.pk, amount=-1001, reason="x", idempotency_key="k", by=adjuster
        )

    assert ledger_state() == before
    assert not Transfer.objects.filter(idempotency_key="k").exists()
    assert _audit() == []
    # Down to exactly zero is fine.
    wallet_adjust(account_id=account.pk, amount=-1000, reason="x", idempotency_key="k", by=adjuster)
    account.refresh_from_db()
    assert account.balance == 0


def test_a_replayed_adjustment_adjusts_once(adjuster, user):
    account = wallet_account_get_or_create(user=user)

    first = wallet_adjust(
        account_id=account.pk, amount=800, reason="refund", idempotency_key="dbl", by=adjuster
    )
    again = wallet_adjust(
        account_id=account.pk, amount=800, reason="refund", idempotency_key="dbl", by=adjuster
    )

    assert (first.replayed, again.replayed) == (False, True)
    assert again.applied.transfer.pk == first.applied.transfer.pk
    assert again.adjustment.pk == first.adjustment.pk
    account.refresh_from_db()
    assert account.balance == 800
    assert Transfer.objects.filter(kind=Transfer.Kind.ADJUSTMENT).count() == 1
    assert len(_audit()) == 1
    # The same key for another amount is refused, not applied.
    before = ledger_state()
    with pytest.raises(IdempotencyConflict):
        wallet_adjust(
            account_id=account.pk, amount=900, reason="refund", idempotency_key="dbl", by=adjuster
        )
    assert ledger_state() == before
    assert len(_audit()) == 1


def test_adjusting_needs_the_permission(user):
    account = wallet_account_get_or_create(user=user)
    before = ledger_state()

    for staff in (staff_user(ISSUERS), staff_user(APPROVERS), staff_user(), user):
        with pytest.raises(StaffPermissionDenied):
            wallet_adjust(
                account_id=account.pk, amount=100, reason="x", idempotency_key="p", by=staff
            )

    assert ledger_state() == before
    assert not BalanceAdjustment.objects.exists()
    assert {row[1] for row in _audit()} == {AuditEntry.Action.REFUSED}
    assert len(_audit()) == 4
    wallet_adjust(
        account_id=account.pk, amount=100, reason="x", idempotency_key="p", by=superuser()
    )
    account.refresh_from_db()
    assert account.balance == 100


@pytest.mark.parametrize(
    "kind",
    [
        Account.Kind.GIFTCARDS_OUTSTANDING,
        Account.Kind.GIFTCARDS_ISSUED,
        Account.Kind.ADJUSTMENTS,
        Account.Kind.PURCHASES,
    ],
)
def test_a_shop_account_cannot_be_adjusted(adjuster, kind):
    issue_card(amount=2500)
    shop = system_account_get_or_create(kind=kind, currency="USD")
    before = ledger_state()

    with pytest.raises(WalletError, match="customer"):
        wallet_adjust(account_id=shop.pk, amount=100, reason="x", idempotency_key="s", by=adjuster)

    assert ledger_state() == before
    assert _audit() == []


@pytest.mark.parametrize(("amount", "reason"), [(0, "zero"), (100, ""), (100, "   ")])
def test_an_adjustment_needs_an_amount_and_a_reason(adjuster, user, amount, reason):
    account = wallet_account_get_or_create(user=user)
    before = ledger_state()

    with pytest.raises(WalletError):
        wallet_adjust(
            account_id=account.pk, amount=amount, reason=reason, idempotency_key="z", by=adjuster
        )

    assert ledger_state() == before
    assert _audit() == []


def test_a_yen_account_is_adjusted_in_yen(adjuster):
    shopper = UserFactory(region_id="JP")
    account = wallet_account_get_or_create(user=shopper)

    wallet_adjust(
        account_id=account.pk, amount=1500, reason="yen", idempotency_key="y", by=adjuster
    )

    account.refresh_from_db()
    assert (account.currency, account.balance) == ("JPY", 1500)
    assert _audit()[0][3] == "1500 JPY credited: yen"


# --- reports and the audit log ----------------------------------------------------------------


def _report(user) -> ActivityReport:
    wallet_credit(user=user, amount=100, idempotency_key=f"r-{user.pk}", description="credit")
    posting = Posting.objects.get(account__user=user)
    return activity_report_create(user=user, posting=posting, message="I never asked for this")


def test_staff_move_a_report_along(user):
    report = _report(user)
    staff = staff_user()
    staff.user_permissions.add(Permission.objects.get(codename="change_activityreport"))

    for status in ("investigating", "resolved"):
        moved = activity_report_status_set(report_id=report.pk, status=status, by=staff)
        assert moved.status == status
        assert ActivityReport.objects.get(pk=report.pk).status == status


def test_moving_a_report_needs_the_permission_and_a_known_status(user):
    report = _report(user)

    for staff in (staff_user(ISSUERS, APPROVERS, ADJUSTERS), user):
        with pytest.raises(StaffPermissionDenied):
            activity_report_status_set(report_id=report.pk, status="dismissed", by=staff)
    with pytest.raises(WalletError):
        activity_report_status_set(report_id=report.pk, status="deleted", by=superuser())

    assert ActivityReport.objects.get(pk=report.pk).status == ActivityReport.Status.OPEN


def test_audit_record_appends_and_truncates(user):
    entry = audit_record(
        actor=user, action=AuditEntry.Action.CARD_DISABLED, target="t" * 150, detail="d" * 600
    )

    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (len(stored.target), len(stored.detail)) == (100, 500)
    assert stored.actor == user
    assert stored.created_at is not None
    assert user.email in str(stored)
