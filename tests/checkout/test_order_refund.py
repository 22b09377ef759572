"""`order_refund`: staff give back part or all of an order, per source, never above what that
source paid; the balance part returns as a refund transfer, the card part through the provider
or to the balance."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from checkout.exceptions import RefundRefused
from checkout.models import Order, Refund
from checkout.services import order_refund
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, balance, fund, new_key, order_make, shop_state
from tests.wallet.pages import hook, hooks
from wallet.models import AuditEntry, Posting, Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunder(db):
    """Staff allowed to refund orders (and nothing else)."""
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return staff


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", prices={"US": 2999, "JP": 4500})


@pytest.fixture
def split_order(user, lamp, django_capture_on_commit_callbacks):
    """$59.98: $20.00 from the balance, $39.98 by card (captured)."""
    fund(user, 2000)
    with django_capture_on_commit_callbacks(execute=True):
        return order_make(user, (lamp, 2), card=APPROVED)


def _refund(order, by, *, balance_part=0, card_part=0, to_balance=False, key=None, reason="x"):
    return order_refund(
        order_id=order.pk,
        from_balance=balance_part,
        from_card=card_part,
        card_to_balance=to_balance,
        reason=reason,
        idempotency_key=key or new_key(),
        by=by,
    )


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the balance part -----------------------------------------------------------------------


def test_a_full_refund_of_an_order_paid_by_balance(user, lamp, refunder, gateway):
    fund(user, 5000)
    order = order_make(user, (lamp, 1))
    assert balance(user) == 2001

    refund = _refund(order, refunder, balance_part=2999, reason="Arrived broken")

    order.refresh_from_db()
    assert balance(user) == 5000
    assert (order.balance_refunded, order.card_refunded, order.status) == (2999, 0, "refunded")
    assert (refund.from_balance, refund.from_card, refund.amount) == (2999, 0, 2999)
    assert (refund.reason, refund.created_by) == ("Arrived broken", refunder)
    assert refund.transfer.kind == Transfer.Kind.REFUND
    assert refund.transfer.created_by == refunder
    assert gateway.refunds == {}


def test_the_shopper_sees_the_refund_in_the_wallet_activity(user, lamp, refunder):
    fund(user, 5000)
    order = order_make(user, (lamp, 1))
    _refund(order, refunder, balance_part=1000)

    response = _client_for(user).get("/wallet/")

    newest = hooks(response, "activity-row")[0]
    assert newest.attrs["data-kind"] == "refund"
    assert newest.attrs["data-amount-minor"] == "1000"
    kinds = [row.attrs["data-kind"] for row in hooks(response, "activity-row")]
    assert kinds == ["refund", "order_payment", "giftcard_redeem"]


def test_partial_refunds_add_up_to_a_full_refund(user, lamp, refunder):
    fund(user, 5000)
    order = order_make(user, (lamp, 1))

    _refund(order, refunder, balance_part=999)
    order.refresh_from_db()
    assert (order.balance_refunded, order.status) == (999, "partially_refunded")

    _refund(order, refunder, balance_part=2000)
    order.refresh_from_db()
    assert (order.balance_refunded, order.status) == (2999, "refunded")
    assert balance(user) == 5000


# --- the card part ------------------------------------------------------------------------


def test_the_card_part_goes_back_through_the_provider_after_commit(
    user, split_order, refunder, gateway, django_capture_on_commit_callbacks
):
    key = new_key()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refund = _refund(split_order, refunder, card_part=1500, key=key)
    assert gateway.refunds == {}  # not while the order row is locked

    for callback in callbacks:
        callback()

    refund.refresh_from_db()
    split_order.refresh_from_db()
    assert gateway.refunds == {f"refund:{key}": 1500}
    assert refund.provider_reference.startswith("test_refund_")
    assert refund.card_destination == Refund.Destination.CARD
    assert refund.transfer is None
    assert (split_order.card_refunded, split_order.status) == (1500, "partially_refunded")
    assert split_order.payment.status == "partly_refunded"  # 15.00 of the 39.98 charged
    assert balance(user) == 0


def test_refunding_the_whole_card_part_marks_the_payment_refunded(
    split_order, refunder, gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _refund(split_order, refunder, card_part=3998)

    split_order.refresh_from_db()
    assert split_order.payment.status == "refunded"


def test_a_provider_failure_keeps_the_refund_and_leaves_it_unconfirmed(
    split_order, refunder, gateway, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def fail(**kwargs):
        raise ConnectionError("provider down")

    monkeypatch.setattr(gateway, "refund", fail)
    with django_capture_on_commit_callbacks(execute=True):
        refund = _refund(split_order, refunder, card_part=1500)

    refund.refresh_from_db()
    split_order.refresh_from_db()
    assert refund.provider_reference == ""
    assert split_order.card_refunded == 1500
    assert split_order.payment.status == "captured"
    assert "failed at the provider" in caplog.text


def test_the_card_part_goes_to_the_balance_when_staff_choose(
    user, split_order, refunder, gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refund = _refund(split_order, refunder, card_part=3998, to_balance=True)

    split_order.refresh_from_db()
    assert balance(user) == 3998
    assert gateway.refunds == {}
    assert refund.card_destination == Refund.Destination.BALANCE
    assert refund.transfer.kind == Transfer.Kind.REFUND
    assert (split_order.card_refunded, split_order.balance_refunded) == (3998, 0)


def test_both_parts_at_once(
    user, split_order, refunder, gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refund = _refund(split_order, refunder, balance_part=2000, card_part=3998)

    split_order.refresh_from_db()
    assert split_order.status == "refunded"
    assert balance(user) == 2000
    assert list(gateway.refunds.values()) == [3998]
    assert refund.amount == 5998


def test_both_parts_to_the_balance_are_one_refund_transfer(
    user, split_order, refunder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refund = _refund(split_order, refunder, balance_part=500, card_part=700, to_balance=True)

    assert balance(user) == 1200
    # The refund's transfer is the whole movement into the balance, so staff can trace it.
    to_shopper = refund.transfer.postings.filter(account__user=user)
    assert [posting.amount for posting in to_shopper] == [1200]
    assert Transfer.objects.filter(kind=Transfer.Kind.REFUND).count() == 1


# --- refusals: nothing written --------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance_part", "card_part", "says"),
    [
        (2001, 0, "balance"),  # $20.00 was paid from the balance
        (0, 3999, "card"),  # $39.98 by card
        (2001, 3998, "balance"),
        (0, 0, "positive"),
        (-1, 100, "positive"),
        (100, -1, "positive"),
    ],
)
def test_more_than_was_paid_per_source_is_refused(
    split_order, refunder, gateway, balance_part, card_part, says
):
    before = shop_state()

    with pytest.raises(RefundRefused, match=says) as refused:
        _refund(split_order, refunder, balance_part=balance_part, card_part=card_part)

    assert refused.value.reason == "refund_refused"
    assert shop_state() == before
    assert gateway.refunds == {}


def test_what_was_refunded_already_counts(split_order, refunder):
    _refund(split_order, refunder, balance_part=1500, card_part=3000, to_balance=True)
    before = shop_state()

    with pytest.raises(RefundRefused, match="balance"):
        _refund(split_order, refunder, balance_part=501)
    with pytest.raises(RefundRefused, match="card"):
        _refund(split_order, refunder, card_part=999, to_balance=True)

    assert shop_state() == before
    _refund(split_order, refunder, balance_part=500, card_part=998, to_balance=True)
    split_order.refresh_from_db()
    assert split_order.status == Order.Status.REFUNDED


def test_a_reason_is_required(split_order, refunder):
    before = shop_state()

    with pytest.raises(RefundRefused, match="why"):
        _refund(split_order, refunder, balance_part=100, reason="   ")

    assert shop_state() == before


def test_the_permission_is_required(split_order):
    staff_without = UserFactory(is_staff=True)
    before = shop_state()

    for by in (staff_without, split_order.user, None):
        with pytest.raises(RefundRefused, match="permission"):
            _refund(split_order, by, balance_part=100)

    assert shop_state() == before


def test_a_superuser_may_refund(split_order):
    admin = UserFactory(is_staff=True, is_superuser=True)

    assert _refund(split_order, admin, balance_part=100).amount == 100


# --- idempotency ------------------------------------------------------------------------------


def test_the_same_key_twice_makes_one_refund(
    user, split_order, refunder, gateway, django_capture_on_commit_callbacks
):
    key = new_key()
    with django_capture_on_commit_callbacks(execute=True):
        first = _refund(split_order, refunder, balance_part=500, card_part=600, key=key)
        again = _refund(split_order, refunder, balance_part=500, card_part=600, key=key)

    split_order.refresh_from_db()
    assert again.pk == first.pk
    assert Refund.objects.count() == 1
    assert (split_order.balance_refunded, split_order.card_refunded) == (500, 600)
    assert balance(user) == 500
    assert list(gateway.refunds.values()) == [600]
    assert Posting.objects.filter(transfer__kind=Transfer.Kind.REFUND).count() == 2


# --- what the shopper sees ----------------------------------------------------------------------


def test_the_shopper_sees_the_refund_on_the_order_page(
    user, split_order, refunder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _refund(split_order, refunder, balance_part=2000, card_part=1000)
        _refund(split_order, refunder, card_part=500, to_balance=True)

    response = _client_for(user).get(f"/orders/{split_order.number}/")

    refunds = hooks(response, "order-refund")
    assert [r.attrs["data-amount-minor"] for r in refunds] == ["500", "3000"]  # newest first
    assert "$5.00 from the card part, to your balance" in refunds[0].text
    assert "$20.00 to your balance" in refunds[1].text
    assert "$10.00 to your card" in refunds[1].text
    assert "Partially refunded" in hook(response, "order-status").text
    assert hook(response, "order-status").attrs["data-status"] == "partially_refunded"
    assert hook(response, "order-amount-due").attrs["data-amount-minor"] == "3998"


def test_a_refund_in_yen(lamp, refunder, django_capture_on_commit_callbacks):
    shopper = UserFactory(region_id="JP")
    fund(shopper, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_make(shopper, (lamp, 1), card=APPROVED)
    _refund(order, refunder, balance_part=1000, card_part=3500, to_balance=True)

    assert balance(shopper) == 4500
    page = _client_for(shopper).get(f"/orders/{order.number}/")
    assert "￥4,500" in hook(page, "order-refund").text


# --- staff and their own money, the audit log, conflicts (docs/interface.md §9) ----------------


def _audits(action):
    return list(AuditEntry.objects.filter(action=action).values_list("actor", "target", "detail"))


def test_staff_cannot_refund_an_order_of_their_own(
    lamp, refunder, django_capture_on_commit_callbacks
):
    fund(refunder, 2000)
    with django_capture_on_commit_callbacks(execute=True):
        own = order_make(refunder, (lamp, 1), card=APPROVED)
    before = shop_state()

    with pytest.raises(RefundRefused, match="of your own") as refused:
        _refund(own, refunder, balance_part=2000)

    assert refused.value.reason == "own_order"
    assert shop_state() == before
    assert _audits(AuditEntry.Action.ORDER_REFUNDED) == []
    ((actor, target, detail),) = _audits(AuditEntry.Action.REFUSED)
    assert (actor, target) == (refunder.pk, f"refund of order #{own.pk}")
    assert "of your own" in detail


def test_a_superuser_cannot_refund_their_own_order_either(lamp):
    admin = UserFactory(is_staff=True, is_superuser=True)
    fund(admin, 5000)
    own = order_make(admin, (lamp, 1))
    before = shop_state()

    with pytest.raises(RefundRefused, match="of your own"):
        _refund(own, admin, balance_part=100)

    assert shop_state() == before


def test_every_refund_is_audited(split_order, refunder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _refund(split_order, refunder, balance_part=500, reason="late")
        second = _refund(split_order, refunder, card_part=700)

    audits = _audits(AuditEntry.Action.ORDER_REFUNDED)
    assert [(actor, target) for actor, target, _ in audits] == [
        (refunder.pk, f"order {split_order.number}")
    ] * 2
    assert audits[1][2].startswith(f"refund #{first.pk}: $5.00 of the balance part")
    assert "late" in audits[1][2]
    assert audits[0][2].startswith(f"refund #{second.pk}: $0.00 of the balance part and $7.00")
    assert "to the card" in audits[0][2]


@pytest.mark.parametrize(
    ("balance_part", "card_part", "to_balance"),
    [(600, 600, False), (500, 0, False), (500, 600, True)],
    ids=["other-balance-part", "other-card-part", "other-destination"],
)
def test_a_replayed_refund_key_with_other_amounts_is_a_conflict(
    split_order,
    refunder,
    gateway,
    balance_part,
    card_part,
    to_balance,
    django_capture_on_commit_callbacks,
):
    key = new_key()
    with django_capture_on_commit_callbacks(execute=True):
        _refund(split_order, refunder, balance_part=500, card_part=600, key=key)
    before = shop_state()

    with pytest.raises(RefundRefused, match="already used") as refused:
        _refund(
            split_order,
            refunder,
            balance_part=balance_part,
            card_part=card_part,
            to_balance=to_balance,
            key=key,
        )

    assert refused.value.reason == "conflict"
    assert shop_state() == before
    assert len(_audits(AuditEntry.Action.REFUSED)) == 1


def test_a_replayed_refund_key_on_another_order_is_a_conflict(user, lamp, split_order, refunder):
    fund(user, 5000)
    other = order_make(user, (lamp, 1))
    key = new_key()
    _refund(split_order, refunder, balance_part=500, key=key)
    before = shop_state()

    with pytest.raises(RefundRefused) as refused:
        _refund(other, refunder, balance_part=500, key=key)

    assert refused.value.reason == "conflict"
    assert shop_state() == before


def test_refused_attempts_are_audited_and_stay_audited(split_order, refunder):
    staff_without = UserFactory(is_staff=True)

    for by, kwargs in [
        (staff_without, {"balance_part": 100}),
        (refunder, {"balance_part": 100, "reason": " "}),
        (refunder, {"balance_part": 999_999}),
    ]:
        with pytest.raises(RefundRefused):
            _refund(split_order, by, **kwargs)

    assert [actor for actor, _, _ in _audits(AuditEntry.Action.REFUSED)] == [
        refunder.pk,
        refunder.pk,
        staff_without.pk,
    ]
    assert not Refund.objects.exists()


def test_an_order_whose_card_payment_failed_cannot_be_refunded(
    user, lamp, refunder, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        failed = order_make(user, (lamp, 1), card="4000000000000341")
    failed.refresh_from_db()
    assert failed.status == Order.Status.PAYMENT_FAILED
    before = shop_state()

    for kwargs in (
        {"balance_part": 1000},
        {"card_part": 1999},
        {"card_part": 1, "to_balance": True},
    ):
        with pytest.raises(RefundRefused, match="Nothing was paid"):
            _refund(failed, refunder, **kwargs)

    assert shop_state() == before
    assert balance(user) == 1000  # returned once, by the failed payment, never by a refund


def test_an_order_whose_capture_is_not_confirmed_yet_cannot_be_refunded(
    user, lamp, refunder, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    with django_capture_on_commit_callbacks(execute=False):  # the capture has not run
        pending = order_make(user, (lamp, 1), card=APPROVED)
    before = shop_state()

    with pytest.raises(RefundRefused, match="not confirmed yet"):
        _refund(pending, refunder, balance_part=1000)

    assert shop_state() == before


def test_a_refund_of_an_unknown_order_is_refused(refunder):
    with pytest.raises(RefundRefused, match="no such order"):
        order_refund(
            order_id=999_999,
            from_balance=100,
            from_card=0,
            card_to_balance=False,
            reason="x",
            idempotency_key=new_key(),
            by=refunder,
        )
    assert not Refund.objects.exists()


def test_a_failed_card_refund_is_marked_for_attention(
    split_order, refunder, gateway, django_capture_on_commit_callbacks, monkeypatch
):
    def fail(**kwargs):
        raise TimeoutError("no answer")

    monkeypatch.setattr(gateway, "refund", fail)
    with django_capture_on_commit_callbacks(execute=True):
        refund = _refund(split_order, refunder, card_part=1500)

    refund.refresh_from_db()
    assert refund.card_status == Refund.CardStatus.FAILED
    ok = _refund(split_order, refunder, card_part=100, to_balance=True)
    assert ok.card_status == Refund.CardStatus.NONE
