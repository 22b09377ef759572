"""Staff sending a bought e-mail gift card again, to a corrected address (docs/giftcards.md).

The old code dies at once; a new code goes out in a new e-mail; the buyer is told. An insider
cannot use it to take a gift card: never for their own order, never to a staff address, and
every change is audited and e-mailed to the buyer.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from catalog.regions import region_today
from checkout.locks import order_qs_select_for_update, ordergiftcard_qs_select_for_update_by_pk
from checkout.models import Delivery, Order, OrderGiftCard
from config.jobs import job_enqueue_on_commit
from config.mail import mail_send
from wallet.exceptions import InvalidState, NotFound, SelfAction, WalletError
from wallet.models import AuditEntry, GiftCard
from wallet.services import audit_record
from wallet.services.audit import refusals_audited, require_perm
from wallet.services.purchased import giftcard_code_renew


def _mailbox(email: str) -> str:
    """The mailbox an address reaches: any case, and a `+tag` dropped (`ann+gift@x` is
    `ann@x`'s mailbox at most mail providers)."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def staff_address(email: str) -> bool:
    """Whether `email` reaches the mailbox of a staff account (any case, `+tag` or not)."""
    staff = get_user_model().objects.filter(is_staff=True).values_list("email", flat=True)
    return _mailbox(email) in {_mailbox(address) for address in staff}


def _staff_action_order(
    *, gift_card_id: int, by, action: str, reason: str, email: str | None = None
) -> Order:
    """The order of bought card `gift_card_id`, for a staff action on it, once the action may
    go ahead: the permission, never the actor's own order, and (with `email`, a resend) never
    to a staff mailbox — these refusals are audited; then a reason, an address and a card that
    exists. Raises `StaffPermissionDenied`, `SelfAction`, `WalletError`, `NotFound`."""
    target = f"order gift card #{gift_card_id}"
    with refusals_audited(actor=by, target=target, action=action):
        require_perm(by, "checkout.change_ordergiftcard")
        order = Order.objects.filter(gift_cards__pk=gift_card_id).first()
        if order is not None and order.user_id == by.pk:
            raise SelfAction("you cannot act on a gift card of your own order")
        if email is not None and (_mailbox(email) == _mailbox(by.email) or staff_address(email)):
            raise SelfAction("a gift card cannot be sent to a staff member's address")
    if not reason:
        raise WalletError("a reason is required")
    if email is not None and not email:
        raise WalletError("the corrected e-mail address is required")
    if order is None:
        raise NotFound(f"there is no {target}")
    return order


def order_gift_card_resend(*, gift_card_id: int, email: str, reason: str, by) -> OrderGiftCard:
    """Staff send a bought e-mail gift card again, to a corrected address: the code it had
    stops working at once (a new one goes in the new e-mail), the row goes back to `scheduled`
    with its attempts reset and the delivery job is queued after commit. Audited
    (`GIFTCARD_RESENT`: the order, both addresses, the reason), and the buyer is told by
    e-mail (a change of where their gift goes is never silent).

    Locks the order, then the gift card row, then (in the wallet) the card. Raises
    `StaffPermissionDenied` without `checkout.change_ordergiftcard` and `SelfAction` for the
    staff member's own order or an address of a staff account (theirs or a colleague's: no
    insider redirects a shopper's gift card to themselves; all audited), `NotFound`,
    `WalletError` without a reason or an address, and `InvalidState` for a print card, a card
    not paid for, being sent right now, redeemed ("already redeemed by the recipient") or
    refunded. A refusal writes nothing.
    """
    from checkout.tasks import giftcard_deliver  # the task module imports this one

    email, reason = email.strip(), reason.strip()
    order = _staff_action_order(
        gift_card_id=gift_card_id, by=by, action="gift card resend", reason=reason, email=email
    )
    with transaction.atomic():
        order = order_qs_select_for_update(order_id=order.pk).get()
        gift = ordergiftcard_qs_select_for_update_by_pk(gift_card_id=gift_card_id).get()
        _resend_check(gift)
        # The old code dies now, not when the job runs: whoever has the first e-mail can no
        # longer redeem it. The new code made here is thrown away; the job makes the one sent.
        giftcard_code_renew(card_id=gift.card_id)
        old_email = gift.recipient_email
        gift.recipient_email = email
        gift.status = OrderGiftCard.Status.SCHEDULED
        gift.attempts = 0
        gift.last_error = ""
        gift.claimed_until = None
        gift.next_attempt_at = timezone.now()
        gift.resent_count += 1
        gift.save(
            update_fields=[
                "recipient_email",
                "status",
                "attempts",
                "last_error",
                "claimed_until",
                "next_attempt_at",
                "resent_count",
                "updated_at",
            ]
        )
        audit_record(
            actor=by,
            action=AuditEntry.Action.GIFTCARD_RESENT,
            target=f"order {order.number} gift card #{gift.pk}",
            detail=f"from {old_email} to {email}: {reason}",
        )
        job_enqueue_on_commit(giftcard_deliver, order_gift_card_id=gift.pk)
        transaction.on_commit(
            lambda: _buyer_tell(order=order, gift=gift, old_email=old_email), robust=True
        )
    return gift


def _resend_check(gift: OrderGiftCard) -> None:
    if gift.delivery != Delivery.EMAIL:
        raise InvalidState("a printed gift card is not sent by e-mail")
    card_status = GiftCard.objects.filter(pk=gift.card_id).values_list("status", flat=True).first()
    if card_status == GiftCard.Status.REDEEMED:
        raise InvalidState("already redeemed by the recipient: it cannot be sent again")
    if gift.status == OrderGiftCard.Status.SENDING:
        raise InvalidState("it is being sent right now: try again in a few minutes")
    allowed = (
        OrderGiftCard.Status.SCHEDULED,
        OrderGiftCard.Status.SENT,
        OrderGiftCard.Status.FAILED,
    )
    if gift.status not in allowed or card_status not in (
        GiftCard.Status.PENDING,
        GiftCard.Status.ACTIVE,
    ):
        raise InvalidState(f"the gift card is {gift.get_status_display().lower()}")


def _buyer_tell(*, order: Order, gift: OrderGiftCard, old_email: str) -> None:
    mail_send(
        to=order.user.email,
        subject=f"[Coinpurse] Your gift card for {gift.recipient_name} is being sent again",
        template="checkout/email/giftcard_resent",
        context={
            "order": order,
            "gift": gift,
            "old_email": old_email,
            # Not before its day: a card for a later day waits for it at the new address.
            "later": gift.send_on > region_today(order.region),
            "action_url": f"/orders/{order.number}/",
            "action_label": "See your order",
        },
    )


def order_gift_card_print_again(*, gift_card_id: int, reason: str, by) -> OrderGiftCard:
    """Staff let the buyer download a printable gift card once more (the PDF was lost): the
    code printed before stops working at once, the card is `ready` again, and its next
    download draws a new code. Only the buyer can download it (their order page): staff never
    see a code. Audited (`GIFTCARD_RESENT`), and the buyer is told by e-mail.

    Locks the order, then the gift card row, then (in the wallet) the card. Raises
    `StaffPermissionDenied` without `checkout.change_ordergiftcard` and `SelfAction` for the
    staff member's own order (both audited), `NotFound`, `WalletError` without a reason, and
    `InvalidState` for a card sent by e-mail, not downloaded yet, redeemed or refunded. A
    refusal writes nothing.
    """
    reason = reason.strip()
    order = _staff_action_order(
        gift_card_id=gift_card_id, by=by, action="gift card print again", reason=reason
    )
    with transaction.atomic():
        order = order_qs_select_for_update(order_id=order.pk).get()
        gift = ordergiftcard_qs_select_for_update_by_pk(gift_card_id=gift_card_id).get()
        if gift.delivery != Delivery.PRINT:
            raise InvalidState("a gift card sent by e-mail is sent again, not printed")
        if gift.status != OrderGiftCard.Status.DOWNLOADED:
            raise InvalidState(f"the gift card is {gift.get_status_display().lower()}")
        card_status = GiftCard.objects.filter(pk=gift.card_id).values_list("status", flat=True)
        if card_status.first() != GiftCard.Status.ACTIVE:
            raise InvalidState("the gift card was redeemed or refunded: nothing to print again")
        # The printed code dies now, not at the next download: a lost PDF found later is
        # worth nothing. The code made here is thrown away; the download makes the one printed.
        giftcard_code_renew(card_id=gift.card_id)
        gift.status = OrderGiftCard.Status.READY
        gift.downloaded_at = None
        gift.downloaded_by = None
        gift.resent_count += 1
        gift.save(
            update_fields=["status", "downloaded_at", "downloaded_by", "resent_count", "updated_at"]
        )
        audit_record(
            actor=by,
            action=AuditEntry.Action.GIFTCARD_RESENT,
            target=f"order {order.number} gift card #{gift.pk}",
            detail=f"print: one more download allowed, the printed code dead: {reason}",
        )
        transaction.on_commit(
            lambda: mail_send(
                to=order.user.email,
                subject=f"[Coinpurse] You can download your gift card for {gift.recipient_name} "
                "again",
                template="checkout/email/giftcard_print_again",
                context={
                    "order": order,
                    "gift": gift,
                    "action_url": f"/orders/{order.number}/",
                    "action_label": "Download it from your order",
                },
            ),
            robust=True,
        )
    return gift
