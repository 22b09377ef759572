"""The wallet page's rows and the redeem page's refusals (docs/interface.md §10, issue 8 point 6):
order rows link to the order, one minus sign, adjustments show the shopper-facing description
(never the internal note), stacked rows on a phone; the redeem page says who redeemed a card and
when, names a card's store, warns before the lockout and disables the form while locked."""

from pathlib import Path

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import assert_num_queries
from tests.wallet.staff import ADJUSTERS, staff_user
from tests.wallet.test_views import UNKNOWN_CODE
from wallet.codes import code_display
from wallet.models import Account, BalanceAdjustment, GiftCard, Posting, Transfer
from wallet.selectors import posting_get_for_user
from wallet.services import (
    activity_report_create,
    giftcard_redeem,
    wallet_adjust,
    wallet_credit,
    wallet_debit,
)

pytestmark = pytest.mark.django_db

WALLET = "/wallet/"
REDEEM = "/gift-cards/redeem/"
CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "coinpurse.css"
NUMBER = "CP-7K2M9QXR"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- order links -------------------------------------------------------------------------------


def test_a_row_with_an_order_reference_links_to_the_order(shopper_client, user):
    wallet_credit(user=user, amount=5000, idempotency_key="c", description="x")
    wallet_debit(
        user=user,
        amount=1200,
        idempotency_key="d",
        description="Paid from balance",
        kind=Transfer.Kind.ORDER_PAYMENT,
        reference=f"order:{NUMBER}",
    )
    assert Transfer.objects.get(idempotency_key="d").reference == f"order:{NUMBER}"

    link = hook(shopper_client.get(WALLET), "activity-order-link")

    assert link.attrs["href"] == f"/orders/{NUMBER}/"
    assert NUMBER in link.text


@pytest.mark.parametrize(
    ("kind", "description"),
    [
        (Transfer.Kind.ORDER_PAYMENT, f"Order {NUMBER}"),
        (Transfer.Kind.REFUND, f"Refund of order {NUMBER}"),
        (Transfer.Kind.REVERSAL, f"Order {NUMBER}: card payment failed, balance returned"),
    ],
)
def test_rows_written_before_references_link_by_their_description(
    shopper_client, user, kind, description
):
    wallet_credit(user=user, amount=5000, idempotency_key="c", description="x", kind=kind)
    wallet_credit(user=user, amount=1, idempotency_key="c2", description=description, kind=kind)
    links = hooks(shopper_client.get(WALLET), "activity-order-link")
    assert [link.attrs["href"] for link in links] == [f"/orders/{NUMBER}/"]


def test_a_staff_text_naming_an_order_is_not_taken_for_a_link(shopper_client, user):
    wallet_credit(user=user, amount=100, idempotency_key="c", description=f"Order {NUMBER}")
    assert not hooks(shopper_client.get(WALLET), "activity-order-link")


# --- one minus sign ----------------------------------------------------------------------------


def test_debits_have_one_minus_sign_and_signed_hooks(shopper_client, user):
    wallet_credit(user=user, amount=5000, idempotency_key="c", description="x")
    wallet_debit(user=user, amount=1234, idempotency_key="d", description="y")

    rows = hooks(shopper_client.get(WALLET), "activity-row")
    amounts = hooks(shopper_client.get(WALLET), "activity-amount")

    assert [row.attrs["data-amount-minor"] for row in rows] == ["-1234", "5000"]
    assert [a.text for a in amounts] == ["\u2212$12.34", "+$50.00"]
    assert "-$" not in shopper_client.get(WALLET).content.decode()


@pytest.mark.parametrize(("region", "shown"), [("FR", "\u221212,34 €"), ("JP", "\u2212￥1,234")])
def test_the_minus_sign_in_other_locales(region, shown):
    from tests.accounts.factories import UserFactory

    shopper = UserFactory(region_id=region)
    giftcard_redeem(user=shopper, code=issue_card(region=region, amount=500_000).code)
    wallet_debit(user=shopper, amount=1234, idempotency_key="d", description="y")
    amount = hooks(_client(shopper).get(WALLET), "activity-amount")[0]
    assert amount.text == shown


# --- adjustments: the shopper-facing description, never the internal note ----------------------

NOTE = "internal: ticket 4411, customer was rude"


def _adjusted(user, description="Goodwill credit"):
    account = Account.objects.get_or_create(user=user, kind="customer", currency="USD")[0]
    return wallet_adjust(
        account_id=account.pk,
        amount=700,
        reason=NOTE,
        description=description,
        idempotency_key=f"adj-{user.pk}",
        by=staff_user(ADJUSTERS),
    )


def test_the_adjustment_keeps_both_texts_and_the_transfer_carries_the_description(user):
    result = _adjusted(user)
    adjustment = BalanceAdjustment.objects.get()
    assert (adjustment.reason, adjustment.description) == (NOTE, "Goodwill credit")
    assert result.applied.transfer.description == "Goodwill credit"


def test_an_empty_description_becomes_the_default(user):
    _adjusted(user, description="  ")
    assert BalanceAdjustment.objects.get().description == "Balance adjustment"


def test_no_shopper_page_or_email_shows_the_internal_note(
    shopper_client, user, django_capture_on_commit_callbacks
):
    _adjusted(user)
    posting = posting_get_for_user(user=user, posting_id=Posting.objects.get(account__user=user).pk)
    with django_capture_on_commit_callbacks(execute=True):
        report = activity_report_create(user=user, posting=posting, message="what is this?")

    pages = [
        shopper_client.get(WALLET),
        shopper_client.get(f"/wallet/activity/{posting.pk}/report/"),
        shopper_client.get(f"/wallet/reports/{report.pk}/"),
    ]
    for page in pages:
        html = page.content.decode()
        assert "Goodwill credit" in html
        assert "ticket 4411" not in html
    assert "Goodwill credit" in mail.outbox[0].body
    assert "ticket 4411" not in mail.outbox[0].body
    assert "ticket 4411" not in mail.outbox[0].alternatives[0][0]


def test_an_old_adjustment_transfer_with_the_note_in_its_description_shows_the_description(
    shopper_client, user
):
    """Transfers posted before the two texts were separate carried "Balance adjustment: <note>";
    they are append-only, so the page reads the adjustment's description instead."""
    _adjusted(user)
    old = wallet_credit(
        user=user,
        amount=1,
        idempotency_key="old",
        description=f"Balance adjustment: {NOTE}",
        kind=Transfer.Kind.ADJUSTMENT,
    )
    html = shopper_client.get(WALLET).content.decode()
    assert old.transfer.description.endswith(NOTE)
    assert "ticket 4411" not in html
    assert html.count("Balance adjustment") >= 1


@pytest.mark.parametrize("adjustments", [1, 12])
def test_wallet_query_count_is_flat_with_adjustments_and_order_rows(user, adjustments):
    adjuster = staff_user(ADJUSTERS)
    wallet_credit(user=user, amount=10, idempotency_key="seed", description="x")
    account = Account.objects.get(user=user)
    for number in range(adjustments):
        wallet_adjust(
            account_id=account.pk,
            amount=1,
            reason="n",
            description=f"d{number}",
            idempotency_key=f"a{number}",
            by=adjuster,
        )
        wallet_debit(
            user=user,
            amount=1,
            idempotency_key=f"o{number}",
            description=f"Order {NUMBER}",
            kind=Transfer.Kind.ORDER_PAYMENT,
        )
    client = _client(user)
    # user with region, the figures (balance, points, coins), the page with its count
    with assert_num_queries(3):
        response = client.get(WALLET)
    # the first page of 20 rows alternates orders and adjustments, newest first
    assert len(hooks(response, "activity-order-link")) == min(adjustments, 10)


# --- a phone -----------------------------------------------------------------------------------


def test_every_cell_is_labelled_for_the_stacked_phone_layout(shopper_client, user):
    wallet_credit(user=user, amount=100, idempotency_key="c", description="x")
    html = shopper_client.get(WALLET).content.decode()
    for label in ("Date", "Description", "Amount", "Balance", "Report"):
        assert f'data-label="{label}"' in html
    css = CSS.read_text(encoding="utf-8")
    assert "@media (max-width: 575.98px)" in css
    assert ".activity-table td::before { content: attr(data-label)" in css


def test_the_wallet_page_has_one_heading_one(shopper_client):
    assert shopper_client.get(WALLET).content.decode().count("<h1") == 1


# --- the redeem page ---------------------------------------------------------------------------


def test_already_redeemed_by_you_says_so_and_when(shopper_client, user):
    issued = issue_card()
    giftcard_redeem(user=user, code=issued.code)
    GiftCard.objects.filter(pk=issued.card.pk).update(
        redeemed_at=timezone.now() - timezone.timedelta(minutes=2, seconds=5)
    )

    response = shopper_client.post(REDEEM, {"code": code_display(issued.code)})

    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "already_redeemed"
    assert (
        error.text == "You redeemed this card 2 minutes ago: its value is already in your balance."
    )
    html = response.content.decode()
    assert issued.code not in html
    assert code_display(issued.code) not in html
    assert hook(response, "code-not-shown")


def test_already_redeemed_by_someone_else_does_not_say_who(shopper_client, other_user):
    issued = issue_card()
    giftcard_redeem(user=other_user, code=issued.code)
    error = hook(shopper_client.post(REDEEM, {"code": issued.code}), "form-error")
    assert error.text == "This card was already redeemed."
    assert other_user.email not in error.text


def test_wrong_region_names_the_cards_store(shopper_client):
    issued = issue_card(region="GB")
    before = ledger_state()
    response = shopper_client.post(REDEEM, {"code": issued.code})
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "wrong_region"
    assert "This card is for the United Kingdom store" in error.text
    assert issued.code not in response.content.decode()
    assert ledger_state() == before


def test_a_warning_before_the_lockout_counts_down(shopper_client):
    warnings = []
    for _ in range(9):
        response = shopper_client.post(REDEEM, {"code": UNKNOWN_CODE})
        found = hooks(response, "lockout-warning")
        warnings.append(found[0].attrs["data-attempts-left"] if found else None)
    assert warnings == [None] * 6 + ["3", "2", "1"]
    assert hook(response, "lockout-warning").text == (
        "1 more wrong code will lock redemption for 30 minutes."
    )


def test_while_locked_the_form_is_disabled_with_the_time_left(shopper_client):
    for _ in range(10):
        response = shopper_client.post(REDEEM, {"code": UNKNOWN_CODE})
    # the tenth refusal started the lockout: that very page says so
    assert hook(response, "redeem-locked").attrs["data-minutes-left"] == "30"

    page = shopper_client.get(REDEEM)
    notice = hook(page, "redeem-locked")
    assert page.status_code == 200
    assert "try again in 30 minutes" in notice.text
    html = page.content.decode()
    assert "<fieldset disabled>" in html
    locked = shopper_client.post(REDEEM, {"code": issue_card().code})
    assert locked.status_code == 429
    assert "<fieldset disabled>" in locked.content.decode()


def test_an_unlocked_page_has_a_live_form(shopper_client):
    html = shopper_client.get(REDEEM).content.decode()
    assert "<fieldset>" in html
    assert not hooks(shopper_client.get(REDEEM), "redeem-locked")


def test_the_disabled_refusal_links_to_help(shopper_client):
    issued = issue_card()
    GiftCard.objects.filter(pk=issued.card.pk).update(status=GiftCard.Status.DISABLED)
    html = shopper_client.post(REDEEM, {"code": issued.code}).content.decode()
    assert 'href="/help/"' in html


def test_the_code_error_is_tied_to_the_input(shopper_client):
    html = shopper_client.post(REDEEM, {"code": UNKNOWN_CODE}).content.decode()
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="code-error code-help"' in html
    assert 'id="code-error"' in html
