"""The wallet pages: /gift-cards/redeem/, /wallet/ and "Report a problem" (docs/interface.md §5,
§6)."""

import datetime
import re
import unicodedata

import pytest
from django.test import Client, override_settings

from catalog.models import Region
from catalog.regions import region_today
from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import assert_num_queries, count_queries
from wallet import views as wallet_views
from wallet.codes import check_symbol, code_display
from wallet.models import ActivityReport, GiftCard, GiftCardBatch, Posting
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_redeem, wallet_credit, wallet_debit

pytestmark = pytest.mark.django_db

REDEEM = "/gift-cards/redeem/"
WALLET = "/wallet/"
UNKNOWN_CODE = "00000000000001" + check_symbol("00000000000001")

# Measured on SQLite and PostgreSQL (inside the test transaction, so atomic blocks show as
# savepoints); each must stay flat however long the shopper's history.
REDEEM_GET_QUERIES = 2  # user (with its region), nav balance
# The session comes from its copy in the shared cache (config/sessions.py): no query.
# user, savepoint, shopper (locked: a region change waits), card (locked, with its batch and
# region), the shopper's account (locked) with the shop account's id, transfer, postings,
# the shopper's balance, card, release: 10 (8 outside a test transaction, docs/interface.md §7)
REDEEM_POST_QUERIES = 10
# user, savepoint, shopper, card, the shopper's account (the three locks travel together, so
# the account is read before the card is known to be refused), rollback to and release the
# savepoint, the card again (to say who redeemed it and when), nav balance
REDEEM_REFUSED_QUERIES = 9
# user with region, the figures (balance shared with the nav, every credit lot, points and
# coins: one UNION), the page with its count (wallet/overview_reads.py)
WALLET_QUERIES = 3
# user with region, posting with its transfer, the shopper's earlier report, nav balance
REPORT_GET_QUERIES = 4
# user, posting, "already reported?", savepoint, report, release
REPORT_POST_QUERIES = 6


def _report_url(posting_id: int) -> str:
    return f"/wallet/activity/{posting_id}/report/"


def _credit(user, times: int, amount: int = 100) -> None:
    for number in range(times):
        wallet_credit(
            user=user, amount=amount, idempotency_key=f"c-{user.pk}-{number}", description="x"
        )


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _expire(card: GiftCard) -> None:
    GiftCard.objects.filter(pk=card.pk).update(
        expires_on=region_today(Region.objects.get(code="US")) - datetime.timedelta(days=1)
    )


# --- /gift-cards/redeem/ ----------------------------------------------------------------------


def test_redeem_page_shows_the_form(shopper_client):
    response = shopper_client.get(REDEEM)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="code"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Redeem a Gift Card" in html
    assert not hooks(response, "form-error")


def test_redeem_success_redirects_to_the_wallet_with_a_message(shopper_client, user):
    _credit(user, 1, amount=111)
    issued = issue_card(amount=2500)

    response = shopper_client.post(REDEEM, {"code": code_display(issued.code).lower()})

    assert response.status_code == 302
    assert response["Location"] == WALLET
    page = shopper_client.get(WALLET)
    message = hook(page, "message")
    assert "$25.00" in message.text
    assert "$26.11" in message.text
    assert message.text == "$25.00 was added to your balance. Your balance is now $26.11."
    assert hook(page, "wallet-balance").attrs["data-amount-minor"] == "2611"
    assert GiftCard.objects.get().redeemed_by == user
    # the message shows once
    assert not hooks(shopper_client.get(WALLET), "message")


def test_no_page_shows_the_code_after_redeeming(shopper_client):
    issued = issue_card()
    response = shopper_client.post(REDEEM, {"code": issued.code}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [(WALLET, 302)]
    assert issued.code not in html
    assert code_display(issued.code) not in html
    assert issued.code[:10] not in html


def _refusal_setup(reason: str, user, other_user) -> str:
    """A code that `user` will be refused for `reason`."""
    if reason == "typo":
        issued = issue_card()
        return issued.code[:-1] + ("0" if issued.code[-1] != "0" else "1")
    if reason == "not_found":
        return UNKNOWN_CODE
    if reason == "wrong_region":
        return issue_card(region="GB").code
    issued = issue_card()
    if reason == "already_redeemed":
        giftcard_redeem(user=other_user, code=issued.code)
    elif reason == "expired":
        _expire(issued.card)
    elif reason == "disabled":
        GiftCard.objects.filter(pk=issued.card.pk).update(status=GiftCard.Status.DISABLED)
    return issued.code


@pytest.mark.parametrize(
    "reason", ["typo", "not_found", "already_redeemed", "expired", "disabled", "wrong_region"]
)
def test_each_refusal_shows_the_form_with_its_reason(shopper_client, user, other_user, reason):
    code = _refusal_setup(reason, user, other_user)
    before = ledger_state()

    response = shopper_client.post(REDEEM, {"code": code})

    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == reason
    assert error.text  # in plain words
    assert 'name="code"' in response.content.decode()
    assert ledger_state() == before
    assert wallet_balance_get(user=user).amount == 0


@pytest.mark.parametrize("reason", ["already_redeemed", "expired", "disabled", "wrong_region"])
def test_a_real_cards_code_is_not_shown_back_after_a_refusal(
    shopper_client, user, other_user, reason
):
    """docs/interface.md §7: after issue no page shows a full code again, not even the one typed."""
    code = _refusal_setup(reason, user, other_user)
    response = shopper_client.post(REDEEM, {"code": code_display(code)})
    html = response.content.decode()
    assert hook(response, "form-error").attrs["data-reason"] == reason
    assert code not in html
    assert code_display(code) not in html


def test_a_real_code_is_not_shown_back_while_locked(shopper_client):
    for _ in range(10):
        shopper_client.post(REDEEM, {"code": UNKNOWN_CODE})
    code = issue_card().code
    response = shopper_client.post(REDEEM, {"code": code})
    assert response.status_code == 429
    assert code not in response.content.decode()


@pytest.mark.parametrize("reason", ["typo", "not_found"])
def test_a_code_that_is_no_card_is_shown_back_to_be_corrected(
    shopper_client, user, other_user, reason
):
    code = _refusal_setup(reason, user, other_user)
    response = shopper_client.post(REDEEM, {"code": code})
    assert hook(response, "form-error").attrs["data-reason"] == reason
    assert f'value="{code}"' in response.content.decode()


@pytest.mark.parametrize(
    "separator",
    ["\u00a0", "\u2009", "\u3000", "\u2013", "\u2014", "\u2011", "\uff0d", "\u200b", "\u00ad"],
)
def test_a_code_pasted_with_any_kind_of_space_or_dash_redeems(shopper_client, user, separator):
    """A code pasted from an HTML e-mail or a word processor (a no-break space, an en dash):
    spaces and dashes are ignored, every kind of each (docs/interface.md §7). It was a typo,
    and the page gave the whole real code back in the box."""
    issued = issue_card(amount=25_00)
    typed = code_display(issued.code).replace("-", separator)

    response = shopper_client.post(REDEEM, {"code": typed})

    assert response.status_code == 302
    assert wallet_balance_get(user=user).amount == 25_00


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code_display(code) + "X",  # a symbol too many
        lambda code: code_display(code).replace("-", "."),  # no separator a code has
        lambda code: code_display(code).replace("-", "\t"),
        lambda code: "".join(chr(ord(c) + 0xFEE0) for c in code),  # full-width: no symbols
        lambda code: code + code,
    ],
)
def test_a_typo_holding_a_real_code_is_not_shown_back(shopper_client, user, typed):
    code = issue_card().code
    response = shopper_client.post(REDEEM, {"code": typed(code)})
    html = response.content.decode()
    assert hook(response, "form-error").attrs["data-reason"] == "typo"
    assert code not in html
    assert code_display(code) not in html
    assert typed(code) not in html
    assert hook(response, "code-not-shown") is not None
    assert wallet_balance_get(user=user).amount == 0


def test_a_code_whose_accent_falls_past_what_is_shown_is_not_shown_back(shopper_client):
    """What is shown is cut at 64 characters, and it is that text which is judged: an accent
    after the code (past the cut) joins its last symbol into a letter no code has only in the
    whole text, and would have let the code through."""
    code = issue_card().code
    while unicodedata.normalize("NFC", code[-1] + "\u0301") == code[-1] + "\u0301":
        code = issue_card().code  # one whose last symbol takes an acute accent (most do)
    typed = "." * 49 + code + "\u0301" + "....."
    response = shopper_client.post(REDEEM, {"code": typed})
    html = response.content.decode()
    assert hook(response, "form-error").attrs["data-reason"] == "typo"
    assert code not in html
    assert hook(response, "code-not-shown") is not None


def test_a_huge_code_is_judged_on_what_would_be_shown_only(shopper_client, monkeypatch):
    """A megabyte and a half in the box: only the 64 characters that would be shown are
    searched for a real code (the whole text cost seconds of CPU)."""
    judged = []
    real = wallet_views.code_may_be_shown
    monkeypatch.setattr(
        wallet_views, "code_may_be_shown", lambda text: judged.append(len(text)) or real(text)
    )
    response = shopper_client.post(REDEEM, {"code": "ABCD" * 400_000})
    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "typo"
    assert judged == [64]


@pytest.mark.parametrize("typed", ["ABCD", "ABCDEFGHJKMNPQU", "ABCDEFGHJKMNP*Y", "x" * 65])
def test_malformed_codes_are_typos(shopper_client, typed):
    response = shopper_client.post(REDEEM, {"code": typed})
    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "typo"


def test_a_batch_not_yet_issued_answers_disabled(shopper_client):
    batch = GiftCardBatch.objects.create(
        name="b", region_id="US", currency="USD", status=GiftCardBatch.Status.ISSUING
    )
    response = shopper_client.post(REDEEM, {"code": issue_card(batch=batch).code})
    assert hook(response, "form-error").attrs["data-reason"] == "disabled"


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_code_is_refused_with_the_form(shopper_client, user, typed):
    before = ledger_state()

    response = shopper_client.post(REDEEM, {"code": typed})

    assert response.status_code == 200
    error = hook(response, "form-error")
    assert error.attrs["data-reason"]
    assert "claim code" in error.text.lower()
    assert ledger_state() == before


def test_ten_refusals_lock_the_page_with_429_even_for_a_valid_code(shopper_client, user):
    for _ in range(10):
        response = shopper_client.post(REDEEM, {"code": UNKNOWN_CODE})
        assert hook(response, "form-error").attrs["data-reason"] == "not_found"
    issued = issue_card()
    before = ledger_state()

    response = shopper_client.post(REDEEM, {"code": issued.code})

    assert response.status_code == 429
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "locked"
    assert "30 minutes" in error.text
    assert ledger_state() == before
    assert shopper_client.get(REDEEM).status_code == 200  # the form itself still shows


def test_thirty_refusals_from_one_address_lock_it(user):
    for _ in range(3):
        client = _client_for(UserFactory())
        for _ in range(10):
            client.post(REDEEM, {"code": UNKNOWN_CODE}, REMOTE_ADDR="198.51.100.4")
    issued = issue_card()

    here = _client_for(user).post(REDEEM, {"code": issued.code}, REMOTE_ADDR="198.51.100.4")
    elsewhere = _client_for(user).post(REDEEM, {"code": issued.code}, REMOTE_ADDR="198.51.100.5")

    assert here.status_code == 429
    assert hook(here, "form-error").attrs["data-reason"] == "locked"
    assert elsewhere.status_code == 302


@override_settings(REDEEM_LIMIT_PER_USER=2)
def test_the_page_uses_the_configured_limit(shopper_client):
    for _ in range(2):
        assert shopper_client.post(REDEEM, {"code": UNKNOWN_CODE}).status_code == 200
    assert shopper_client.post(REDEEM, {"code": UNKNOWN_CODE}).status_code == 429


@pytest.mark.parametrize("method", ["get", "post"])
def test_redeem_sends_anonymous_visitors_to_log_in(client, method):
    issued = issue_card()
    response = getattr(client, method)(REDEEM, {"code": issued.code} if method == "post" else {})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/gift-cards/redeem/"
    assert GiftCard.objects.get().status == GiftCard.Status.ACTIVE


def test_redeem_without_csrf_token_is_forbidden_and_writes_nothing(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    issued = issue_card()
    before = ledger_state()

    response = client.post(REDEEM, {"code": issued.code})

    assert response.status_code == 403
    assert ledger_state() == before
    # with the token the same request goes through
    client.get(REDEEM)
    token = client.cookies["csrftoken"].value
    response = client.post(REDEEM, {"code": issued.code, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def _history(user, movements: int) -> None:
    """`movements` ledger movements on the shopper's balance, through the real services."""
    wallet_credit(user=user, amount=10_000, idempotency_key=f"seed-{user.pk}", description="x")
    for number in range(movements - 1):
        wallet_debit(user=user, amount=1, idempotency_key=f"d-{user.pk}-{number}", description="x")


def test_redeem_get_query_count(shopper_client, user):
    _history(user, 3)
    with assert_num_queries(REDEEM_GET_QUERIES):
        assert shopper_client.get(REDEEM).status_code == 200


@pytest.mark.parametrize("movements", [1, 50])
def test_redeem_post_query_count(movements):
    shopper = UserFactory()
    _history(shopper, movements)
    client = _client_for(shopper)
    code = issue_card().code
    with assert_num_queries(REDEEM_POST_QUERIES):
        assert client.post(REDEEM, {"code": code}).status_code == 302
    with assert_num_queries(REDEEM_REFUSED_QUERIES):
        assert client.post(REDEEM, {"code": code}).status_code == 200


def test_redeem_post_runs_the_same_queries_with_1_and_50_prior_movements():
    counts = []
    for movements in (1, 50):
        shopper = UserFactory()
        _history(shopper, movements)
        client = _client_for(shopper)
        code = issue_card().code
        counts.append(
            count_queries(lambda: client.post(REDEEM, {"code": code}))  # noqa: B023
        )
    assert counts[0] == counts[1] == REDEEM_POST_QUERIES


# --- /wallet/ ---------------------------------------------------------------------------------


def test_wallet_shows_the_balance_hook(shopper_client, user):
    giftcard_redeem(user=user, code=issue_card(amount=2500).code)
    wallet_debit(user=user, amount=499, idempotency_key="d", description="Order 1")

    response = shopper_client.get(WALLET)

    assert response.status_code == 200
    balance = hook(response, "wallet-balance")
    assert balance.attrs["data-amount-minor"] == "2001"
    assert balance.attrs["data-currency"] == "USD"
    assert balance.text == "$20.01"


def test_wallet_activity_rows_are_signed_and_newest_first(shopper_client, user):
    giftcard_redeem(user=user, code=issue_card(amount=2500).code)
    wallet_debit(user=user, amount=500, idempotency_key="d", description="Order 7")
    wallet_credit(user=user, amount=100, idempotency_key="c", description="Goodwill")

    rows = hooks(shopper_client.get(WALLET), "activity-row")

    assert [(r.attrs["data-amount-minor"], r.attrs["data-kind"]) for r in rows] == [
        ("100", "credit"),
        ("-500", "debit"),
        ("2500", "giftcard_redeem"),
    ]
    assert "Goodwill" in rows[0].text
    assert "+$1.00" in rows[0].text
    assert "$21.00" in rows[0].text
    assert "Order 7" in rows[1].text
    assert "\u2212$5.00" in rows[1].text  # one minus sign, U+2212
    assert "-$" not in rows[1].text
    assert "Gift card" in rows[2].text


def test_wallet_shows_only_the_shoppers_own_activity(shopper_client, user, other_user):
    _credit(other_user, 3)
    issue_card()
    _credit(user, 1, amount=42)
    rows = hooks(shopper_client.get(WALLET), "activity-row")
    assert [r.attrs["data-amount-minor"] for r in rows] == ["42"]


def test_wallet_empty_state(shopper_client):
    response = shopper_client.get(WALLET)

    assert response.status_code == 200
    balance = hook(response, "wallet-balance")
    assert (balance.attrs["data-amount-minor"], balance.attrs["data-currency"]) == ("0", "USD")
    assert not hooks(response, "activity-row")
    assert "No activity yet" in hook(response, "activity-empty").text
    assert "?page=" not in response.content.decode()


def _amounts(response) -> list[int]:
    return [int(row.attrs["data-amount-minor"]) for row in hooks(response, "activity-row")]


def test_wallet_paginates_newest_first(shopper_client, user, settings):
    assert settings.WALLET_ACTIVITY_PAGE_SIZE == 20
    for number in range(1, 46):  # amounts 1..45, so each row says which movement it is
        wallet_credit(user=user, amount=number, idempotency_key=f"c{number}", description="x")

    first = shopper_client.get(WALLET)
    second = shopper_client.get(WALLET, {"page": 2})
    third = shopper_client.get(WALLET, {"page": 3})

    assert _amounts(first) == list(range(45, 25, -1))
    assert _amounts(second) == list(range(25, 5, -1))
    assert _amounts(third) == list(range(5, 0, -1))
    assert "?page=2" in first.content.decode()
    assert "Page 2 of 3" in second.content.decode()
    assert "?page=1" in second.content.decode()
    assert "?page=3" in second.content.decode()
    assert "?page=4" not in third.content.decode()
    assert hook(second, "wallet-balance").attrs["data-amount-minor"] == str(sum(range(46)))


@pytest.mark.parametrize(
    ("page", "shows"),
    [("abc", 1), ("", 1), ("1.5", 1), ("0", 2), ("-1", 2), ("3", 2), ("99999999999999999999", 2)],
)
def test_wallet_tolerates_bad_page_numbers(shopper_client, user, page, shows):
    for number in range(1, 26):
        wallet_credit(user=user, amount=number, idempotency_key=f"c{number}", description="x")

    response = shopper_client.get(WALLET, {"page": page})

    assert response.status_code == 200
    expected = list(range(25, 5, -1)) if shows == 1 else list(range(5, 0, -1))
    assert _amounts(response) == expected


@pytest.mark.parametrize("movements", [3, 60])
def test_wallet_query_count_does_not_grow(movements):
    shopper = UserFactory()
    _history(shopper, movements)
    client = _client_for(shopper)

    with assert_num_queries(WALLET_QUERIES):
        response = client.get(WALLET)
    assert len(hooks(response, "activity-row")) == min(movements, 20)
    with assert_num_queries(WALLET_QUERIES):
        client.get(WALLET, {"page": 2})


def test_wallet_sends_anonymous_visitors_to_log_in(client):
    response = client.get(WALLET, {"page": 2})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/wallet/")


def test_nav_shows_the_balance_on_every_signed_in_page(shopper_client, user):
    _credit(user, 1, amount=123456)
    for url in (REDEEM, WALLET):
        assert hook(shopper_client.get(url), "nav-balance").text == "Balance: $1,234.56"


def test_nav_balance_is_zero_before_any_movement(shopper_client):
    assert hook(shopper_client.get(REDEEM), "nav-balance").text == "Balance: $0.00"


def test_yen_shopper_sees_yen_without_decimals():
    shopper = UserFactory(region_id="JP")
    client = _client_for(shopper)
    issued = issue_card(region="JP", amount=3000)

    response = client.post(REDEEM, {"code": issued.code}, follow=True)

    assert hook(response, "message").text == (
        "￥3,000 was added to your balance. Your balance is now ￥3,000."
    )
    balance = hook(response, "wallet-balance")
    assert (balance.attrs["data-amount-minor"], balance.attrs["data-currency"]) == ("3000", "JPY")
    assert balance.text == "￥3,000"
    assert hook(response, "nav-balance").text == "Balance: ￥3,000"
    row = hook(response, "activity-row")
    assert row.attrs["data-amount-minor"] == "3000"
    assert "+￥3,000" in row.text
    assert not re.search(r"￥[\d,]+\.\d", response.content.decode())


@pytest.mark.parametrize(
    ("region", "amount", "shown"),
    [("GB", 123450, "£1,234.50"), ("FR", 123450, "1 234,50 €"), ("DE", 123450, "1.234,50 €")],
)
def test_balance_is_shown_in_the_shoppers_locale(region, amount, shown):
    shopper = UserFactory(region_id=region)
    giftcard_redeem(user=shopper, code=issue_card(region=region, amount=amount).code)
    balance = hook(_client_for(shopper).get(WALLET), "wallet-balance")
    assert balance.text == shown


# --- "Report a problem" -----------------------------------------------------------------------


@pytest.fixture
def posting(user):
    wallet_credit(user=user, amount=2500, idempotency_key="c", description="Store credit")
    return Posting.objects.get(account__user=user)


def test_report_page_describes_the_row(shopper_client, posting):
    response = shopper_client.get(_report_url(posting.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Store credit" in html
    assert "$25.00" in html
    assert 'name="message"' in html


def test_wallet_rows_link_to_report_a_problem(shopper_client, posting):
    assert _report_url(posting.pk) in shopper_client.get(WALLET).content.decode()


def test_report_creates_a_report_and_thanks(shopper_client, user, posting):
    response = shopper_client.post(
        _report_url(posting.pk), {"message": "I don't recognise this."}, follow=True
    )

    assert response.redirect_chain == [(WALLET, 302)]
    assert "Thank you" in hook(response, "message").text
    report = ActivityReport.objects.get()
    assert (report.user, report.posting, report.message) == (
        user,
        posting,
        "I don't recognise this.",
    )


@pytest.mark.parametrize("message", ["", "   "])
def test_report_without_a_message_shows_the_error(shopper_client, posting, message):
    response = shopper_client.post(_report_url(posting.pk), {"message": message})

    assert response.status_code == 200
    assert "Tell us briefly what looks wrong." in response.content.decode()
    assert hook(response, "form-error").attrs["data-reason"] == "required"
    assert not ActivityReport.objects.exists()


def test_report_with_a_message_too_long_shows_the_error(shopper_client, posting):
    response = shopper_client.post(_report_url(posting.pk), {"message": "x" * 2001})
    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"]
    assert not ActivityReport.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_report_on_another_shoppers_row_is_404(client, other_user, posting, method):
    client.force_login(other_user)
    response = getattr(client, method)(_report_url(posting.pk), {"message": "mine now"})
    assert response.status_code == 404
    assert not ActivityReport.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_report_on_a_shop_account_row_or_no_row_is_404(shopper_client, method):
    issue_card()
    shop_posting = Posting.objects.get(amount__gt=0)
    for posting_id in (shop_posting.pk, 10**9):
        response = getattr(shopper_client, method)(_report_url(posting_id), {"message": "x"})
        assert response.status_code == 404
    assert not ActivityReport.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_report_sends_anonymous_visitors_to_log_in(client, posting, method):
    data = {"message": "x"} if method == "post" else None
    response = getattr(client, method)(_report_url(posting.pk), data)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={_report_url(posting.pk)}"
    assert not ActivityReport.objects.exists()


def test_report_without_csrf_token_is_forbidden(user, posting):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(_report_url(posting.pk), {"message": "x"})
    assert response.status_code == 403
    assert not ActivityReport.objects.exists()


def test_report_query_counts(shopper_client, user, posting):
    _history(user, 30)
    with assert_num_queries(REPORT_GET_QUERIES):
        assert shopper_client.get(_report_url(posting.pk)).status_code == 200
    with assert_num_queries(REPORT_POST_QUERIES):
        response = shopper_client.post(_report_url(posting.pk), {"message": "x"})
    assert response.status_code == 302


def test_anonymous_pages_show_no_balance(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert not hooks(response, "nav-balance")


@pytest.mark.parametrize("debug", [True, False])
def test_the_redeem_page_says_where_demo_codes_are_only_in_development(shopper_client, debug):
    with override_settings(DEBUG=debug):
        html = shopper_client.get("/gift-cards/redeem/").content.decode()

    assert ('data-testid="demo-hint"' in html) is debug
