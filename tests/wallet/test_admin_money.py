"""The admin shows money as money (issue 8, docs/interface.md §5): every amount with its
currency in lists, pages, inlines and the audit log; the adjust page confirms the amount before
posting and repeats it after; "waiting for my approval" lists what others asked for; the batch
form starts in the shop's region; the section names are told apart; the code search echoes
only the masked code."""

import re

import pytest
from django.conf import settings
from django.contrib.admin.views.main import SEARCH_VAR
from django.test import Client
from django.urls import reverse

from catalog.admin_money import money_display, money_in_text
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.wallet.factories import issue_card
from tests.wallet.pages import hook, hooks
from tests.wallet.staff import (
    ADJUSTERS,
    ADJUSTMENT_APPROVERS,
    APPROVERS,
    ISSUERS,
    batch_request,
    staff_user,
    superuser,
)
from wallet.codes import code_hash, code_normalize
from wallet.models import Account, AuditEntry, BalanceAdjustment, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.services import giftcard_redeem, wallet_account_get_or_create, wallet_adjust

pytestmark = pytest.mark.django_db


def _client(user, **kwargs) -> Client:
    return login_staff(Client(**kwargs), user)


def _cells(response) -> list[str]:
    """The text of every cell of the changelist's result table."""
    html = response.content.decode()
    table = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", table, re.S)
    ]


def _messages(response) -> list[str]:
    return [m.message for m in response.context["messages"]]


def _pending_adjustment(requested_by, *, user=None, amount=60_000) -> BalanceAdjustment:
    account = wallet_account_get_or_create(user=user or UserFactory())
    return wallet_adjust(
        account_id=account.pk,
        amount=amount,
        reason="big",
        idempotency_key=f"pending-{BalanceAdjustment.objects.count()}",
        by=requested_by,
    ).adjustment


# --- one helper ----------------------------------------------------------------------------


def test_money_display_formats_each_currency_with_its_symbol_and_a_true_minus_sign():
    assert money_display(3699, "USD") == "$36.99"
    assert money_display(300_000, "JPY") == "¥300,000"  # not Babel's full-width ja_JP sign
    assert money_display(4500, "EUR") == "€45.00"
    assert money_display(-7500, "GBP", signed=True) == "\u2212£75.00"
    assert money_display(1500, "USD", signed=True) == "+$15.00"
    assert money_display(None, "USD") == "—"
    assert money_in_text("12.34 USD credited: goodwill") == "$12.34 credited: goodwill"
    assert money_in_text("10 x 3000 JPY (approved)") == "10 x ¥3,000 (approved)"


# --- lists and pages in money ----------------------------------------------------------------


def _rows(n: int):
    """n shoppers, each redeeming a $25.00 card: postings, transfers, cards and accounts."""
    for _ in range(n):
        giftcard_redeem(user=UserFactory(), code=issue_card(region="US", amount=2500).code)


@pytest.mark.parametrize(
    ("url_name", "expected"),
    [
        ("admin:wallet_posting_changelist", ["+$25.00", "\u2212$25.00"]),
        ("admin:wallet_giftcard_changelist", ["$25.00"]),
        ("admin:wallet_account_changelist", ["$25.00"]),
    ],
)
def test_changelists_show_money_not_minor_units_and_their_queries_do_not_grow(
    url_name, expected, django_assert_max_num_queries
):
    client = _client(superuser())
    url = reverse(url_name)
    _rows(2)
    client.get(url)  # warm the session and the content types
    with django_assert_max_num_queries(20) as few:
        response = client.get(url)
    _rows(8)
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        more = client.get(url)

    assert len(many.captured_queries) == len(few.captured_queries)
    for page in (response, more):
        cells = _cells(page)
        for text in expected:
            assert text in cells, (text, cells)
        assert not any(re.fullmatch(r"[+\-\u2212]?2500", cell) for cell in cells), cells


def test_batch_and_adjustment_lists_and_pages_show_money():
    issuer, adjuster = staff_user(ISSUERS), staff_user(ADJUSTERS)
    batch = batch_request(issuer, count=60, amount=2500, name="spring")
    adjustment = _pending_adjustment(adjuster)
    client = _client(superuser())

    batches = _cells(client.get(reverse("admin:wallet_giftcardbatch_changelist")))
    assert {"$25.00", "$1,500.00"} <= set(batches)
    assert "2500" not in batches
    assert "150000" not in batches
    batch_page = client.get(reverse("admin:wallet_giftcardbatch_change", args=[batch.pk]))
    assert "$1,500.00" in batch_page.content.decode()

    adjustments = _cells(client.get(reverse("admin:wallet_balanceadjustment_changelist")))
    assert "+$600.00" in adjustments
    assert "60000" not in adjustments
    page = client.get(reverse("admin:wallet_balanceadjustment_change", args=[adjustment.pk]))
    assert "Approve and apply +$600.00" in page.content.decode()


def test_a_transfer_page_shows_its_postings_signed_in_money_and_a_posting_page_too():
    _rows(1)
    client = _client(superuser())
    transfer = Transfer.objects.filter(kind="giftcard_redeem").get()
    html = client.get(reverse("admin:wallet_transfer_change", args=[transfer.pk])).content
    html = html.decode()
    assert "+$25.00" in html
    assert "\u2212$25.00" in html
    assert "+2500" not in html
    assert "-2500" not in html

    posting = transfer.postings.order_by("pk").first()
    page = client.get(reverse("admin:wallet_posting_change", args=[posting.pk])).content.decode()
    assert f"Posting #{posting.pk}: " in page
    assert "2500" not in re.sub(r'(href|value|id)="[^"]*"', "", page)


def test_the_audit_log_reads_amounts_as_money():
    adjuster = staff_user(ADJUSTERS)
    account = wallet_account_get_or_create(user=UserFactory())
    wallet_adjust(
        account_id=account.pk, amount=1234, reason="goodwill", idempotency_key="a", by=adjuster
    )
    client = _client(superuser())

    cells = _cells(client.get(reverse("admin:wallet_auditentry_changelist")))
    assert any("$12.34 credited: goodwill" in cell for cell in cells), cells
    entry = AuditEntry.objects.get()
    page = client.get(reverse("admin:wallet_auditentry_change", args=[entry.pk]))
    assert "$12.34 credited" in page.content.decode()


def test_a_product_price_is_typed_and_read_in_the_regions_currency():
    from catalog.models import Price
    from tests.checkout.factories import ProductFactory

    product = ProductFactory(name="Desk lamp", prices={"US": 3699, "JP": 3000})
    client = _client(superuser())
    url = reverse("admin:catalog_product_change", args=[product.pk])
    html = client.get(url).content.decode()
    assert 'value="36.99"' in html
    assert "$36.99" in html
    assert "¥3,000" in html
    assert ": 3699" not in html  # the price's own text, in minor units, is left out

    prices = list(Price.objects.filter(product=product).order_by("region_id"))
    data = {
        "name": product.name,
        "slug": product.slug,
        "category": product.category_id,
        "kind": product.kind,
        "description": product.description,
        "is_active": "on",
        "prices-TOTAL_FORMS": "2",
        "prices-INITIAL_FORMS": "2",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
    }
    for i, price in enumerate(prices):
        data |= {
            f"prices-{i}-id": price.pk,
            f"prices-{i}-product": product.pk,
            f"prices-{i}-region": price.region_id,
            f"prices-{i}-amount": {"JP": "3200", "US": "39.99"}[price.region_id],
        }
    refused = client.post(url, {**data, "prices-1-amount": "39.999"})
    assert refused.status_code == 200
    assert "2 decimal places" in refused.content.decode()
    assert sorted(Price.objects.filter(product=product).values_list("amount", flat=True)) == [
        3000,
        3699,
    ]

    saved = client.post(url, data)
    assert saved.status_code == 302
    assert dict(Price.objects.filter(product=product).values_list("region_id", "amount")) == {
        "JP": 3200,
        "US": 3999,
    }


# --- the adjust page confirms, then repeats ----------------------------------------------


def _adjust_url(account) -> str:
    return reverse("admin:wallet_account_adjust", args=[account.pk])


def _key(client, url) -> str:
    (key,) = re.findall(
        r'name="idempotency_key" value="([0-9a-f]+)"', client.get(url).content.decode()
    )
    return key


def test_the_adjust_page_confirms_the_amount_before_posting_and_repeats_it_after():
    shopper = UserFactory(email="demo@example.com")
    account = wallet_account_get_or_create(user=shopper)
    wallet_adjust(
        account_id=account.pk, amount=1000, reason="start", idempotency_key="s", by=superuser()
    )
    client = _client(staff_user(ADJUSTERS))
    url = _adjust_url(account)
    key = _key(client, url)
    data = {"idempotency_key": key, "direction": "credit", "amount": "25", "reason": "late parcel"}
    transfers = Transfer.objects.count()

    confirm = client.post(url, data)

    assert confirm.status_code == 200
    assert hook(confirm, "adjust-confirm-text").text == (
        "Credit $25.00 to demo@example.com's USD balance?"
    )
    html = confirm.content.decode()
    assert "late parcel" in html
    assert "$10.00 now, $35.00 after" in hook(confirm, "adjust-confirm-balance").text
    assert f'name="idempotency_key" value="{key}"' in html  # the same key, carried through
    assert Transfer.objects.count() == transfers  # nothing posted yet

    back = client.post(url, {**data, "back": "Back"})
    assert hooks(back, "adjust-confirm") == []
    assert 'value="late parcel"' in back.content.decode()
    assert Transfer.objects.count() == transfers

    done = client.post(url, {**data, "confirm": "Confirm"})
    assert done.status_code == 302
    (message,) = _messages(client.get(done["Location"]))
    assert message == (
        "Credit of $25.00 to demo@example.com's USD balance: posted. The balance is now $35.00."
    )
    account.refresh_from_db()
    assert account.balance == 3500
    again = client.post(url, {**data, "confirm": "Confirm"})  # a replay posts nothing more
    assert "already posted earlier" in _messages(client.get(again["Location"]))[0]
    assert Transfer.objects.count() == transfers + 1
    assert ledger_reconcile().clean


def test_a_debit_confirms_and_an_invalid_amount_never_reaches_the_confirmation():
    account = wallet_account_get_or_create(user=UserFactory(email="d@example.com"))
    client = _client(staff_user(ADJUSTERS))
    url = _adjust_url(account)
    data = {"idempotency_key": _key(client, url), "direction": "debit", "reason": "x"}

    invalid = client.post(url, {**data, "amount": "1.234"})
    assert invalid.status_code == 200
    assert hooks(invalid, "adjust-confirm") == []
    html = invalid.content.decode()
    assert 'class="errornote"' in html
    assert 'class="errorlist"' in html
    assert 'aria-invalid="true"' in html

    debit = client.post(url, {**data, "amount": "5"})
    assert (
        hook(debit, "adjust-confirm-text").text == "Debit $5.00 from d@example.com's USD balance?"
    )
    refused = client.post(url, {**data, "amount": "5", "confirm": "Confirm"})  # below zero
    assert refused.status_code == 200
    hook(refused, "form-error")
    assert not Transfer.objects.filter(kind="adjustment").exists()


def test_an_adjustment_above_the_threshold_says_it_waits_in_money():
    account = wallet_account_get_or_create(user=UserFactory(email="big@example.com"))
    client = _client(staff_user(ADJUSTERS))
    url = _adjust_url(account)
    data = {"idempotency_key": _key(client, url), "direction": "credit", "amount": "750"}

    done = client.post(url, {**data, "reason": "lost parcel", "confirm": "Confirm"})

    (message,) = _messages(client.get(done["Location"]))
    assert message.startswith(
        "Credit of $750.00 to big@example.com's USD balance waits for approval"
    )
    assert not Transfer.objects.filter(kind="adjustment").exists()


def test_the_adjust_page_query_count_does_not_grow_and_anonymous_is_sent_to_sign_in(
    django_assert_max_num_queries,
):
    account = wallet_account_get_or_create(user=UserFactory())
    url = _adjust_url(account)
    assert Client().get(url).status_code == 302
    client = _client(staff_user(ADJUSTERS))
    client.get(url)
    with django_assert_max_num_queries(20) as few:
        client.get(url)
    for i in range(5):
        wallet_adjust(
            account_id=account.pk, amount=100, reason="r", idempotency_key=f"r{i}", by=superuser()
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)
    assert client.get(_adjust_url(Account(pk=10**9))).status_code == 404


# --- waiting for my approval -------------------------------------------------------------


def test_waiting_for_my_approval_lists_what_others_asked_for_never_ones_own():
    approver = staff_user(ADJUSTMENT_APPROVERS, APPROVERS, ADJUSTERS, ISSUERS)
    other_adjuster, other_issuer = staff_user(ADJUSTERS), staff_user(ISSUERS)
    theirs = _pending_adjustment(other_adjuster)
    _pending_adjustment(approver)  # their own request
    _pending_adjustment(other_adjuster, user=approver)  # on their own balance
    their_batch = batch_request(other_issuer, count=60, name="theirs")
    batch_request(approver, count=60, name="mine")
    client = _client(approver)

    url = reverse("admin:wallet_balanceadjustment_changelist") + "?waiting_for_me=1"
    listing = client.get(url)
    assert [a.pk for a in listing.context["cl"].result_list] == [theirs.pk]
    url = reverse("admin:wallet_giftcardbatch_changelist") + "?waiting_for_me=1"
    batches = client.get(url)
    assert [b.pk for b in batches.context["cl"].result_list] == [their_batch.pk]

    index = client.get(reverse("admin:index"))
    assert hook(index, "waiting-for-me-balanceadjustment").attrs["data-count"] == "1"
    assert hook(index, "waiting-for-me-giftcardbatch").attrs["data-count"] == "1"
    assert "?waiting_for_me=1" in hook(index, "waiting-for-me-giftcardbatch").attrs["href"]


def test_staff_who_may_not_approve_see_no_waiting_box_and_an_empty_filter():
    adjuster = staff_user(ADJUSTERS)
    _pending_adjustment(staff_user(ADJUSTERS))
    client = _client(adjuster)

    assert hooks(client.get(reverse("admin:index")), "waiting-for-me") == []
    url = reverse("admin:wallet_balanceadjustment_changelist") + "?waiting_for_me=1"
    assert list(client.get(url).context["cl"].result_list) == []


def test_the_index_query_count_does_not_grow_with_waiting_rows(django_assert_max_num_queries):
    boss = superuser()
    client = _client(boss)
    adjuster = staff_user(ADJUSTERS)
    _pending_adjustment(adjuster)
    client.get("/admin/")
    with django_assert_max_num_queries(30) as few:
        client.get("/admin/")
    for _ in range(5):
        _pending_adjustment(adjuster)
        batch_request(staff_user(ISSUERS), count=60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/admin/")
    assert hook(page, "waiting-for-me-balanceadjustment").attrs["data-count"] == "6"


# --- the batch form, the names, the code search -------------------------------------------


def test_the_batch_form_starts_in_the_default_region(settings):
    settings.DEFAULT_REGION = "GB"
    client = _client(staff_user(ISSUERS))
    html = client.get(reverse("admin:wallet_giftcardbatch_add")).content.decode()
    assert re.search(r'<option value="GB" selected>', html)
    assert 'class="breadcrumbs"' in html
    assert 'class="module aligned' in html

    refused = client.post(
        reverse("admin:wallet_giftcardbatch_add"),
        {"name": "x", "region": "US", "count": "0", "amount": "abc", "idempotency_key": "k"},
    )
    assert refused.status_code == 200
    html = refused.content.decode()
    assert 'class="errornote"' in html
    assert 'id="id_count_error"' in html


def test_the_index_has_one_accounts_like_section_at_most_and_a_site_title():
    page = _client(superuser()).get(reverse("admin:index"))
    names = [app["name"] for app in page.context["app_list"]]
    assert len(names) == len(set(names))
    assert "Accounts" not in names
    assert {"Shoppers and staff", "Wallet and gift cards"} <= set(names)
    wallet = next(app for app in page.context["app_list"] if app["app_label"] == "wallet")
    assert "Ledger accounts" in [model["name"] for model in wallet["models"]]
    assert (
        "<title>Site administration | Coinpurse staff admin</title>" in (page.content.decode())
        or "Coinpurse staff admin" in page.content.decode()
    )


def test_the_code_search_echoes_the_typed_code_masked_never_the_code_or_its_hash():
    issued = issue_card(region="US", amount=2500)
    code = code_normalize(issued.code)
    client = _client(superuser())
    url = reverse("admin:wallet_giftcard_code_search")

    found = client.post(url, {"code": issued.code.lower()})
    html = found.content.decode()
    assert hook(found, "code-search-card").attrs["data-card-id"] == str(issued.card.pk)
    assert f"••••-••••••-•{code[-4:]}" in hook(found, "code-search-result").text
    assert code not in re.sub(r"[\s\-]", "", html.upper())
    assert code_hash(code) not in html
    assert "hash:" not in html

    typo = client.post(url, {"code": "ABCD-EFGH-7K2"})
    assert "••••-••••••-•H7K2" in hook(typo, "code-search-typed").text  # its last 4 symbols
    assert SEARCH_VAR + "=" not in typo.content.decode()
    assert settings.DEFAULT_REGION  # the admin and the shop share one default region
