"""Refunds that cover bought gift cards (docs/giftcards.md, "Refunds"): an unredeemed card is
refunded (the wallet card `refunded`, its liability reversed, the bought card `refunded`) and
the buyer's card gets its price back, never the balance; a redeemed one is refused with a
clear message and nothing written; the other lines never take the card part the gift cards
paid."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from catalog.models import Product
from checkout.exceptions import RefundRefused
from checkout.models import OrderGiftCard, OrderLine, Refund
from checkout.services import giftcard_refunds, order_cancel, order_refund, order_refund_units
from checkout.services.refund_units import order_refund_units_preview
from promotions.models import Promotion
from tests.accounts.factories import UserFactory
from tests.checkout.bought_giftcards import gift_order
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import balance, fund, new_key, order_make, shop_state
from tests.promotions.factories import automatic_promotion
from wallet.exceptions import CodeRefused, InvalidState
from wallet.models import Account, AuditEntry, GiftCard
from wallet.services import giftcard_code_renew, giftcard_redeem, system_account_get_or_create
from wallet.shop_balances import account_balance_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunder(db):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return staff


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", prices={"US": 2999})


@pytest.fixture
def kettle(db):
    """Shipped, so its order can be cancelled until it ships."""
    return ProductFactory(name="Kettle", kind=Product.Kind.PHYSICAL, prices={"US": 2999})


def _outstanding() -> int:
    return account_balance_get(
        account=system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency="USD"
        )
    )


def _gift_line(order, amount=None) -> OrderLine:
    gifts = order.gift_cards.all()
    if amount is not None:
        gifts = gifts.filter(amount=amount)
    return gifts.get().line


def _units(order, line, refunder, key=None, **kwargs) -> Refund:
    return order_refund_units(
        order_id=order.pk,
        units={line.pk: 1},
        reason="Bought by mistake",
        idempotency_key=key or new_key(),
        by=refunder,
        **kwargs,
    )


def _state():
    return shop_state(), list(OrderGiftCard.objects.order_by("pk").values())


def _redeemed(order) -> OrderGiftCard:
    """The order's one gift card, delivered (a code given) and redeemed by its recipient."""
    gift = order.gift_cards.get()
    code = giftcard_code_renew(card_id=gift.card_id).code
    giftcard_redeem(user=UserFactory(), code=code)
    return gift


# --- refunded ---------------------------------------------------------------------------------


def test_a_gift_card_line_refunded_by_units_disables_the_card_and_refunds_the_card(
    user, refunder, gateway, django_capture_on_commit_callbacks
):
    before = _outstanding()
    order = gift_order(user, (5000, "print"))
    gift = order.gift_cards.get()
    code = giftcard_code_renew(card_id=gift.card_id).code  # as the download gave it
    assert _outstanding() != before

    with django_capture_on_commit_callbacks(execute=True):
        refund = _units(order, gift.line, refunder)

    assert (refund.from_card, refund.from_balance, refund.clawed_back) == (5000, 0, 0)
    assert refund.card_destination == Refund.Destination.CARD
    assert gateway.refunds == {f"refund:{refund.idempotency_key}": 5000}
    gift.refresh_from_db()
    assert gift.status == OrderGiftCard.Status.REFUNDED
    assert gift.page_status == "refunded"
    assert gift.card.status == GiftCard.Status.REFUNDED
    assert _outstanding() == before  # the liability reversed
    order.refresh_from_db()
    assert (order.card_refunded, order.balance_refunded, order.status) == (5000, 0, "refunded")
    audit = AuditEntry.objects.get(action=AuditEntry.Action.GIFTCARD_REFUNDED)
    assert audit.actor == refunder
    assert order.number in audit.target
    assert code not in audit.detail
    assert code[:4] not in audit.target
    with pytest.raises(CodeRefused) as refused:
        giftcard_redeem(user=UserFactory(), code=code)
    assert refused.value.reason == "disabled"


def test_a_card_not_delivered_yet_is_refunded_and_can_never_get_a_code(user, refunder):
    order = gift_order(user, (2500, "email"))
    gift = order.gift_cards.get()

    _units(order, gift.line, refunder)

    gift.refresh_from_db()
    assert gift.status == OrderGiftCard.Status.REFUNDED
    assert gift.card.status == GiftCard.Status.REFUNDED
    with pytest.raises(InvalidState):
        giftcard_code_renew(card_id=gift.card_id)


def test_the_full_refund_of_a_mixed_order_refunds_its_gift_cards_to_the_card(
    user, refunder, lamp, gateway, django_capture_on_commit_callbacks
):
    fund(user, 1000)
    order = gift_order(user, (5000, "print"), (2000, "email"), lines=[(lamp, 1)])
    assert (order.balance_applied, order.card_charged) == (1000, 1999 + 7000)

    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(
            order_id=order.pk,
            from_balance=1000,
            from_card=8999,
            card_to_balance=False,
            reason="Customer changed their mind",
            idempotency_key=new_key(),
            by=refunder,
        )

    assert (refund.from_balance, refund.from_card) == (1000, 8999)
    assert balance(user) == 1000
    assert sum(gateway.refunds.values()) == 8999
    assert set(order.gift_cards.values_list("status", flat=True)) == {"refunded"}
    assert set(
        GiftCard.objects.filter(pk__in=order.gift_cards.values("card")).values_list(
            "status", flat=True
        )
    ) == {"refunded"}
    gift_lines = {str(gift.line_id): 1 for gift in order.gift_cards.all()}
    assert refund.units == gift_lines
    order.refresh_from_db()
    assert order.status == "refunded"


def test_a_refund_by_amounts_within_the_other_lines_card_part_leaves_the_gift_cards(
    user, refunder, lamp
):
    order = gift_order(user, (5000, "print"), lines=[(lamp, 1)], use_balance=False)
    assert order.card_charged == 7999

    order_refund(
        order_id=order.pk,
        from_balance=0,
        from_card=2999,
        card_to_balance=False,
        reason="Lamp broken",
        idempotency_key=new_key(),
        by=refunder,
    )

    assert order.gift_cards.get().status == OrderGiftCard.Status.READY


def test_a_refund_by_amounts_into_the_gift_cards_part_is_refused_and_writes_nothing(
    user, refunder, lamp
):
    order = gift_order(user, (5000, "print"), lines=[(lamp, 1)], use_balance=False)
    before = _state()

    with pytest.raises(RefundRefused, match="refund a gift card by its line"):
        order_refund(
            order_id=order.pk,
            from_balance=0,
            from_card=3000,
            card_to_balance=False,
            reason="x",
            idempotency_key=new_key(),
            by=refunder,
        )

    assert _state() == before


def test_the_other_lines_refund_never_takes_the_card_part_the_gift_cards_paid(
    user, refunder, lamp, gateway, django_capture_on_commit_callbacks
):
    """Card first for the other lines too, but only beyond what the gift cards paid: the lamp
    ($29.99: $10.00 balance, $19.99 card) comes back $19.99 to the card, $10.00 to the
    balance; the gift card then gets its $50.00 back to the card in full."""
    fund(user, 1000)
    order = gift_order(user, (5000, "print"), lines=[(lamp, 1)])
    lamp_line = order.lines.exclude(pk=_gift_line(order).pk).get()

    preview = order_refund_units_preview(order=order, units={lamp_line.pk: 1})
    assert (preview.from_card, preview.from_balance) == (1999, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        first = _units(order, lamp_line, refunder)
    assert (first.from_card, first.from_balance) == (1999, 1000)
    assert balance(user) == 1000

    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        second = _units(order, _gift_line(order), refunder)
    assert (second.from_card, second.from_balance) == (5000, 0)
    order.refresh_from_db()
    assert (order.card_refunded, order.balance_refunded, order.status) == (6999, 1000, "refunded")
    assert sum(gateway.refunds.values()) == 6999


def test_the_preview_states_the_gift_card_goes_back_to_the_card(user):
    order = gift_order(user, (5000, "print"), (2000, "print"))
    preview = order_refund_units_preview(order=order, units={_gift_line(order, 2000).pk: 1})
    assert (preview.gross, preview.from_card, preview.from_balance) == (2000, 2000, 0)


def test_a_replayed_refund_refunds_the_gift_card_once(user, refunder, gateway):
    order = gift_order(user, (5000, "print"))
    line = _gift_line(order)
    key = new_key()

    first = _units(order, line, refunder, key=key)
    again = _units(order, line, refunder, key=key)

    assert first.pk == again.pk
    assert Refund.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.GIFTCARD_REFUNDED).count() == 1


def test_a_gift_card_refunded_cannot_be_refunded_again(user, refunder):
    order = gift_order(user, (5000, "print"), (2000, "print"))
    line = _gift_line(order, 2000)
    _units(order, line, refunder)
    before = _state()

    with pytest.raises(RefundRefused, match="left to refund"):
        _units(order, line, refunder)

    assert _state() == before


def test_cancelling_a_mixed_order_refunds_its_gift_cards(user, refunder, kettle):
    order = gift_order(user, (5000, "email"), lines=[(kettle, 1)], use_balance=False)
    assert order.status == "placed"

    refund = order_cancel(
        order_id=order.pk, reason="Out of stock", idempotency_key=new_key(), by=refunder
    )

    assert refund.from_card == order.card_charged  # the kettle, its shipping, the gift card
    gift = order.gift_cards.get()
    assert gift.status == OrderGiftCard.Status.REFUNDED
    assert gift.card.status == GiftCard.Status.REFUNDED


def test_a_spent_bonus_credit_is_withheld_from_the_card_refund(
    user, refunder, gateway, monkeypatch, django_capture_on_commit_callbacks
):
    """The bonus offer's claw-back (order_bonus_claw_back) says how much of its credit the
    buyer already spent: that much stays back from the card refund, counted as kept back."""
    calls = []

    def claw_back(*, order, gift_card_total_left, idempotency_key):
        calls.append((order.pk, gift_card_total_left, idempotency_key))
        return 700

    monkeypatch.setattr(giftcard_refunds, "order_bonus_claw_back", claw_back)
    order = gift_order(user, (5000, "print"), (2000, "print"))

    with django_capture_on_commit_callbacks(execute=True):
        refund = _units(order, _gift_line(order, 5000), refunder, key="k" * 32)

    assert calls == [(order.pk, 2000, f"refund-bonus:{'k' * 32}")]
    assert (refund.from_card, refund.clawed_back) == (4300, 700)
    assert gateway.refunds == {f"refund:{'k' * 32}": 4300}
    order.refresh_from_db()
    assert (order.card_refunded, order.status) == (4300, "partially_refunded")


def test_the_bonus_offer_is_taken_back_and_its_spent_credit_withheld(
    user, refunder, gateway, django_capture_on_commit_callbacks
):
    """Buy $50.00 of gift cards: the bonus offer grants $10.00 of credit once paid; $7.00 of
    it pays a $7.00 item; refunding the gift card takes the $3.00 left back and withholds the
    $7.00 spent from the card refund ($43.00 back to the card)."""
    automatic_promotion(
        slug="giftcard-bonus",
        name="Gift card bonus",
        kind=Promotion.Kind.GIFTCARD_BONUS,
        percent=None,
        amounts={"USD": {"amount_off": 1000, "minimum_subtotal": 5000}},
        credit_days=30,
    )
    order = gift_order(user, (5000, "print"))
    assert balance(user) == 1000
    pen = ProductFactory(name="Pen", prices={"US": 700})
    with django_capture_on_commit_callbacks(execute=True):
        order_make(user, (pen, 1))
    assert balance(user) == 300
    # The staff confirmation states what the refund will do: $43.00, $7.00 withheld.
    preview = order_refund_units_preview(order=order, units={_gift_line(order).pk: 1})
    assert (preview.from_card, preview.bonus_withheld) == (4300, 700)

    with django_capture_on_commit_callbacks(execute=True):
        refund = _units(order, _gift_line(order), refunder)

    assert (refund.from_card, refund.clawed_back) == (4300, 700)
    assert gateway.refunds == {f"refund:{refund.idempotency_key}": 4300}
    assert balance(user) == 0
    assert order.gift_cards.get().card.status == GiftCard.Status.REFUNDED
    # Withheld for good: the order has nothing left to refund, and a refund of "what is left"
    # by amounts cannot take the withheld part after all.
    order.refresh_from_db()
    assert (order.card_withheld, order.card_left, order.status) == (700, 0, "refunded")
    with pytest.raises(RefundRefused, match="more than is left to refund to the card"):
        order_refund(
            order_id=order.pk,
            from_balance=0,
            from_card=700,
            card_to_balance=False,
            reason="the rest",
            idempotency_key=new_key(),
            by=refunder,
        )
    assert gateway.refunds == {f"refund:{refund.idempotency_key}": 4300}
    # The e-mail says what was kept back and why: the bonus credit spent, not a discount.
    (notice,) = [m for m in mail.outbox if "A refund for your order" in m.subject]
    assert "Kept back: $7.00 (the gift card bonus credit you already spent" in notice.body
    assert "the discount a promotion gave" not in notice.body


# --- refused ----------------------------------------------------------------------------------


def test_a_redeemed_gift_card_cannot_be_refunded_by_units_and_nothing_is_written(user, refunder):
    order = gift_order(user, (5000, "email"))
    gift = _redeemed(order)
    before = _state()

    with pytest.raises(RefundRefused) as refused:
        _units(order, gift.line, refunder)

    assert "already redeemed by the recipient: it cannot be refunded" in str(refused.value)
    assert refused.value.reason == "giftcard_redeemed"
    assert _state() == before
    audit = AuditEntry.objects.get(action=AuditEntry.Action.REFUSED)
    assert "already redeemed" in audit.detail


def test_a_redeemed_gift_card_refuses_the_full_refund_and_the_cancellation(user, refunder, kettle):
    order = gift_order(user, (5000, "email"), lines=[(kettle, 1)], use_balance=False)
    assert order.status == "placed"
    _redeemed(order)
    before = _state()

    with pytest.raises(RefundRefused, match="already redeemed"):
        order_refund(
            order_id=order.pk,
            from_balance=0,
            from_card=order.card_charged,
            card_to_balance=False,
            reason="x",
            idempotency_key=new_key(),
            by=refunder,
        )
    with pytest.raises(RefundRefused, match="already redeemed"):
        order_cancel(order_id=order.pk, reason="x", idempotency_key=new_key(), by=refunder)

    assert _state() == before


def test_the_preview_says_a_redeemed_card_cannot_be_refunded(user):
    order = gift_order(user, (5000, "email"))
    gift = _redeemed(order)
    with pytest.raises(RefundRefused, match="already redeemed"):
        order_refund_units_preview(order=order, units={gift.line_id: 1})


def test_a_redemption_that_wins_under_the_lock_refuses_the_refund_whole(
    user, refunder, monkeypatch
):
    """The status read before the card's lock said active; under the lock the card turned
    out redeemed (the recipient won the race): the refund is refused and rolled back."""
    order = gift_order(user, (5000, "email"), (2000, "print"))
    gifts = list(order.gift_cards.order_by("pk"))
    code = giftcard_code_renew(card_id=gifts[1].card_id).code
    real = giftcard_refunds.giftcard_refund

    def redeemed_meanwhile(**kwargs):
        if kwargs["card_id"] == gifts[1].card_id:
            giftcard_redeem(user=UserFactory(), code=code)
        return real(**kwargs)

    monkeypatch.setattr(giftcard_refunds, "giftcard_refund", redeemed_meanwhile)
    before_gifts = list(OrderGiftCard.objects.order_by("pk").values())

    with pytest.raises(RefundRefused, match="already redeemed"):
        order_refund_units(
            order_id=order.pk,
            units={gifts[0].line_id: 1, gifts[1].line_id: 1},
            reason="x",
            idempotency_key=new_key(),
            by=refunder,
        )

    assert list(OrderGiftCard.objects.order_by("pk").values()) == before_gifts
    assert GiftCard.objects.get(pk=gifts[0].card_id).status == GiftCard.Status.PENDING
    assert not Refund.objects.exists()


def test_a_gift_card_refund_to_the_balance_is_refused_and_writes_nothing(user, refunder):
    order = gift_order(user, (5000, "print"))
    before = _state()

    with pytest.raises(RefundRefused, match="goes back to that card"):
        _units(order, _gift_line(order), refunder, card_to_balance=True)

    assert _state() == before


def test_a_gift_card_not_issued_yet_is_refused_and_writes_nothing(user, refunder):
    order = gift_order(user, (5000, "print"))
    gift = order.gift_cards.get()
    # The payment hook did not run yet: paid, but no card issued (the sweep issues it).
    OrderGiftCard.objects.filter(pk=gift.pk).update(
        status=OrderGiftCard.Status.AWAITING_PAYMENT, card=None
    )
    before = _state()

    with pytest.raises(RefundRefused, match="not issued yet"):
        _units(order, gift.line, refunder)

    assert _state() == before


# --- the admin --------------------------------------------------------------------------------


def test_the_admin_refunds_a_gift_card_line_to_the_card(user, admin_client):
    order = gift_order(user, (5000, "print"))
    line = _gift_line(order)
    url = f"/admin/checkout/order/{order.pk}/refund-units/"
    data = {f"line_{line.pk}": "1", "reason": "bought twice", "idempotency_key": "b" * 32}

    confirm = admin_client.post(url, data).content.decode()
    assert "$50.00 of the card part (to the card)" in confirm
    assert not Refund.objects.exists()
    done = admin_client.post(url, data | {"confirm": "Confirm"})

    assert done.status_code == 302
    assert Refund.objects.get().from_card == 5000
    assert order.gift_cards.get().status == OrderGiftCard.Status.REFUNDED


def test_the_admin_says_a_redeemed_gift_card_cannot_be_refunded(user, admin_client):
    order = gift_order(user, (5000, "email"))
    gift = _redeemed(order)
    before = _state()

    page = admin_client.post(
        f"/admin/checkout/order/{order.pk}/refund-units/",
        {f"line_{gift.line_id}": "1", "reason": "x", "idempotency_key": "c" * 32},
    ).content.decode()

    assert "already redeemed by the recipient: it cannot be refunded" in page
    assert _state() == before


def test_the_admin_refund_page_names_the_card_part_the_gift_cards_paid(user, admin_client, lamp):
    order = gift_order(user, (5000, "print"), lines=[(lamp, 1)], use_balance=False)
    page = admin_client.get(f"/admin/checkout/order/{order.pk}/refund/").content.decode()
    assert 'data-testid="refund-gift-cards-part"' in page
    assert "<strong>$50.00</strong> paid for gift cards" in page

    refused = admin_client.post(
        f"/admin/checkout/order/{order.pk}/refund/",
        {"idempotency_key": "d" * 32, "from_card": "30.00", "reason": "x", "confirm": "1"},
    ).content.decode()
    assert "refund a gift card by its line" in refused
    assert not Refund.objects.exists()
