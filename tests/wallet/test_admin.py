"""The staff admin of issue #3, through the Django test client: every registered model's pages,
query counts, a crawl for leaked codes, permissions by group, and the staff actions (batch
request/approve/download, card status, balance adjustment, report status) with CSRF."""

import csv
import io
import re
from collections import deque
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.core.management import call_command
from django.db import connection
from django.test import Client, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checkout.models import Order
from checkout.services import order_refund
from checkout.services.auto_reloads import auto_reload_settings_save
from checkout.services.reloads import reload_make
from config.jobs import jobs_run_pending
from tests.accounts.factories import UserFactory, enable_totp
from tests.accounts.two_factor import login_staff
from tests.checkout.gift_orders import gift_order
from tests.checkout.shopping import address_give, new_key
from tests.wallet.factories import issue_card
from tests.wallet.pages import hook, hooks
from tests.wallet.staff import (
    ADJUSTERS,
    ADJUSTMENT_APPROVERS,
    APPROVERS,
    ISSUERS,
    batch_request,
    redeem_outcome,
    staff_user,
    superuser,
)
from wallet.codes import code_normalize
from wallet.models import (
    Account,
    ActivityReport,
    AuditEntry,
    BalanceAdjustment,
    GiftCard,
    GiftCardBatch,
    Posting,
    Transfer,
)
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    activity_report_create,
    giftcard_batch_approve,
    giftcard_batch_codes_download,
    giftcard_redeem,
    giftcard_status_set,
    support_request_create,
    wallet_account_get_or_create,
    wallet_adjust,
    wallet_credit,
)

pytestmark = pytest.mark.django_db

WALLET_MODELS = [
    Account,
    Transfer,
    Posting,
    GiftCardBatch,
    GiftCard,
    ActivityReport,
    AuditEntry,
    BalanceAdjustment,
]
# Measured with 5 and with 50 rows (the same both times): user, the counts, the page
# of rows with its joins, and the list filters' own look-ups (gift cards: the batches).
CHANGELIST_QUERIES = {"giftcard": 6, "account": 5}


def _client(user, **kwargs) -> Client:
    return login_staff(Client(**kwargs), user)


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


CODE_SEARCH = "/admin/wallet/giftcard/code-search/"


def _change(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)])


def _messages(response) -> list[str]:
    return [m.message for m in response.context["messages"]] if response.context else []


def _codes_in(codes, html: str) -> list[str]:
    """The codes found in `html`: in any case, with or without dashes or spaces, also inside
    URL-encoded query strings (`?q=…`, `_changelist_filters=…`)."""
    text = html
    for _ in range(3):  # _changelist_filters is encoded twice
        text = unquote_plus(text)
    flat = re.sub(r"[\s\-]", "", text.upper())
    return [code for code in codes if code_normalize(code) in flat]


@pytest.fixture
def wallet_world(tmp_path):
    """Everything the admin can show, made through the services: shoppers with balances,
    a batch issued by the command (its codes kept), a staff batch downloaded once, one
    waiting for approval, a redeemed and a disabled card, an adjustment, a report, audit
    entries, an e-mail address and an authenticator."""
    boss = superuser(email="boss@example.com")
    issuer = staff_user(ISSUERS, email="issuer@example.com")
    approver = staff_user(APPROVERS, email="approver@example.com")
    adjuster = staff_user(ADJUSTERS, email="adjuster@example.com")
    shopper = UserFactory(email="shopper@example.com")
    EmailAddress.objects.create(user=shopper, email=shopper.email, verified=True, primary=True)
    enable_totp(shopper)

    output = tmp_path / "codes.csv"
    call_command(
        "issue_giftcards",
        *("--count", "8", "--amount", "25.00", "--region", "US", "--output", str(output)),
        *("--batch-name", "command-batch"),
        stdout=io.StringIO(),
    )
    codes = [row["code"] for row in csv.DictReader(output.open(encoding="utf-8"))]
    redemption = giftcard_redeem(user=shopper, code=codes[0])
    giftcard_status_set(
        card_id=GiftCard.objects.get(last4=code_normalize(codes[1])[-4:]).pk,
        status="disabled",
        reason="reported lost",
        by=issuer,
    )

    staff_batch = batch_request(issuer, count=51, amount=1000, name="staff-batch")
    giftcard_batch_approve(batch_id=staff_batch.pk, approved_by=approver)
    stream = giftcard_batch_codes_download(batch_id=staff_batch.pk, user=issuer)
    codes += [row["code"] for row in csv.DictReader(io.StringIO("".join(stream)))]
    waiting = batch_request(issuer, count=60, amount=100, name="waiting-batch")
    single = issue_card(amount=500)
    codes.append(single.code)

    account = Account.objects.get(user=shopper)
    wallet_adjust(
        account_id=account.pk, amount=-500, reason="duplicate", idempotency_key="a1", by=adjuster
    )
    report = activity_report_create(
        user=shopper,
        posting=Posting.objects.get(transfer=redemption.transfer, account=account),
        message="not me",
    )
    support_request_create(
        user=shopper, name="Sam", email=shopper.email, topic="gift_card", message="help"
    )
    return {
        "boss": boss,
        "issuer": issuer,
        "approver": approver,
        "adjuster": adjuster,
        "shopper": shopper,
        "codes": codes,
        "account": account,
        "staff_batch": staff_batch,
        "waiting": waiting,
        "report": report,
    }


# --- smoke: every registered model ------------------------------------------------------------


def _shop_rows(tmp_path, shopper) -> None:
    """Rows for the other apps' registered models, made through their public contract: the
    demo catalog (`seed_demo`, docs/interface.md §4) and an order paid by card through the pages
    (§5)."""
    with override_settings(DEBUG=True):  # seed_demo refuses to run without it
        call_command("seed_demo", "--code-file", str(tmp_path / "demo.csv"), stdout=io.StringIO())
    client = _client(shopper)
    # The first product listed may be one that ships: the shopper has an address for it.
    address_give(shopper)
    slug = re.findall(r'href="/products/([^/"]+)/"', client.get("/").content.decode())[0]
    assert client.post("/cart/add/", {"product": slug, "quantity": "1"}).status_code == 302
    # The demo's credit code (§11) through the code box: a promotion redemption and a credit lot.
    assert client.post("/checkout/code/", {"code": "CREDIT10"}).status_code in (200, 302)
    client.post("/checkout/balance/", {"use_balance": "off"})
    page = client.get("/checkout/").content.decode()
    (key,) = re.findall(r'name="idempotency_key" value="([^"]+)"', page)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the capture runs after commit
        placed = client.post(
            "/checkout/place-order/", {"idempotency_key": key, "card_number": "4242424242424242"}
        )
    assert placed.status_code == 302
    assert placed["Location"].startswith("/orders/")
    # A refund of one unit of its card part, by a superuser (not the shopper).
    order = Order.objects.get(number=placed["Location"].strip("/").split("/")[-1])
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_refund(
            order_id=order.pk,
            from_balance=0,
            from_card=1,
            card_to_balance=False,
            reason="admin smoke",
            idempotency_key="admin-smoke-refund",
            by=superuser(),
        )
    # A card whose capture fails: a failed order and a voided hold, for their admin pages.
    assert client.post("/cart/add/", {"product": slug, "quantity": "1"}).status_code == 302
    page = client.get("/checkout/").content.decode()
    (key,) = re.findall(r'name="idempotency_key" value="([^"]+)"', page)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the capture runs after commit
        client.post(
            "/checkout/place-order/", {"idempotency_key": key, "card_number": "4000000000000341"}
        )
    # A gift card bought for a friend and e-mailed by the worker: an order gift card and the
    # queue's jobs (django-tasks-db's Task results) for their pages.
    gift_order(shopper, {"amount": 2500, "recipient_email": "friend@example.com"})
    jobs_run_pending()
    # A reload by card and auto-reload settings with their saved card.
    reload_make(
        user=shopper, amount=2500, card_number="4242424242424242", idempotency_key=new_key()
    )
    auto_reload_settings_save(
        user=shopper, enabled=True, threshold=1000, amount=2500, card_number="4242424242424242"
    )
    _points_rows(shopper)
    # The demo shopper's subscription (seed_demo) delivered by the day's run: a period of the
    # run history, for its admin pages (subscriptions/admin.py).
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("subscriptions_run", stdout=io.StringIO())


def _points_rows(shopper) -> None:
    """Points earned on an order, released, converted, then taken back by its refund: a points
    earning and the points owed, for their admin pages (wallet/admin/points.py)."""
    import datetime

    from django.utils import timezone

    from wallet.services import points_convert, points_order_settle, points_release

    earning = points_order_settle(
        user=shopper,
        reference="order:CP-ADMIN0001",
        currency=shopper.region.currency,
        paid=70000,
        delivered_at=timezone.now() - datetime.timedelta(days=30),
    )
    points_release()
    points_convert(user=shopper, points=500, idempotency_key="admin-smoke-convert")
    points_order_settle(
        user=shopper, reference=earning.reference, currency=earning.currency, paid=0
    )


def test_every_registered_model_has_working_pages_for_a_superuser(wallet_world, tmp_path):
    _shop_rows(tmp_path, wallet_world["shopper"])
    client = _client(wallet_world["boss"])
    assert client.get("/admin/").status_code == 200

    checked = []
    for model, model_admin in admin.site._registry.items():
        changelist = client.get(_changelist(model))
        assert changelist.status_code == 200, model
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {model._meta.label} to open: extend wallet_world"
        change = client.get(_change(obj))
        assert change.status_code == 200, model
        meta = model._meta
        history = client.get(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[quote(obj.pk)])
        )
        assert history.status_code == 200, model
        request = change.wsgi_request
        if model_admin.has_add_permission(request):
            add = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
            assert client.get(add).status_code == 200, model
        checked.append(model._meta.label)

    assert {m._meta.label for m in WALLET_MODELS} <= set(checked)
    assert {"accounts.User", "catalog.Region", "auth.Group"} <= set(checked)


def _measure(client, url, rows: int | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    if rows is not None:
        assert len(response.context["cl"].result_list) == rows
    return len(queries)


def _shoppers_with_balances(count: int, start: int) -> None:
    for number in range(start, start + count):
        shopper = UserFactory(region_id="GB" if number % 2 else "US")
        wallet_credit(user=shopper, amount=100, idempotency_key=f"q{number}", description="x")


def test_changelist_queries_do_not_grow_from_5_to_50_rows(wallet_world):
    client = _client(wallet_world["boss"])
    cards = list(GiftCard.objects.order_by("pk").values_list("pk", flat=True))
    assert len(cards) >= 50
    customers = Account.objects.filter(kind="customer").count()
    _shoppers_with_balances(5 - customers, 0)
    giftcards, accounts = _changelist(GiftCard), _changelist(Account) + "?kind__exact=customer"

    few = {
        "giftcard": _measure(client, f"{giftcards}?id__lte={cards[4]}", rows=5),
        "account": _measure(client, accounts, rows=5),
    }
    _shoppers_with_balances(45, 10)
    many = {
        "giftcard": _measure(client, f"{giftcards}?id__lte={cards[49]}", rows=50),
        "account": _measure(client, accounts, rows=50),
    }

    print(f"admin changelist queries, 5 rows: {few}; 50 rows: {many}")
    assert many == few
    assert many == CHANGELIST_QUERIES


@pytest.mark.parametrize("model", WALLET_MODELS, ids=lambda m: m._meta.model_name)
def test_every_wallet_changelist_stays_flat(wallet_world, model):
    client = _client(wallet_world["boss"])
    few = _measure(client, _changelist(model))
    for number in range(20):
        shopper = UserFactory()
        wallet_credit(user=shopper, amount=100, idempotency_key=f"f{number}", description="x")
        adjusted = wallet_account_get_or_create(user=shopper)
        wallet_adjust(
            account_id=adjusted.pk,
            amount=5,
            reason="more rows",
            idempotency_key=f"g{number}",
            by=wallet_world["adjuster"],
        )
        issue_card(amount=100)
        batch_request(wallet_world["issuer"], count=1, name=f"b{number}")
        activity_report_create(
            user=shopper, posting=Posting.objects.filter(account=adjusted).first(), message="?"
        )

    more = _measure(client, _changelist(model))
    print(f"{model._meta.model_name} changelist queries: {few}, with 20 more rows: {more}")
    assert more == few


# --- no full code anywhere --------------------------------------------------------------------

SKIP_IN_CRAWL = re.compile(
    r"/logout/|/delete/|/password/|/jsi18n/|/r/\d|/autocomplete/|/adjust/$|/approve/$|"
    r"/reject/$|/codes/$|/status/$"
)


def _crawl(client, seeds: list[str]) -> dict[str, str]:
    """Every admin page reachable from `seeds` by links, with at most one filter at a time and
    each list's filter by one value only: a filtered list shows some of the rows of the whole
    list (which is crawled, its pages too) in the same columns, so one value per filter is
    enough to meet that filter's own code (a custom filter's choices and query)."""
    seen: dict[str, str] = {}
    filters: set[tuple[str, str]] = set()  # (list, parameter) already queued
    queue = deque(seeds)
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        html = response.content.decode()
        seen[url] = html
        for href in re.findall(r'href="([^"#]+)', html):
            href = href.replace("&amp;", "&")
            parts = urlsplit(href)
            path = parts.path or urlsplit(url).path
            if not path.startswith("/admin/") or SKIP_IN_CRAWL.search(path):
                continue
            params = [
                (k, v)
                for k, v in parse_qsl(parts.query)
                # the list again: sorted, with its filters' counts, after a change
                if k not in ("_changelist_filters", "o", "_facets")
            ]
            if len(params) > 1:
                continue
            if params and params[0][0] not in ("p", "q"):
                if (path, params[0][0]) in filters:
                    continue
                filters.add((path, params[0][0]))
            link = path + (f"?{urlencode(params)}" if params else "")
            if link not in seen:
                queue.append(link)
    return seen


def test_no_admin_page_shows_a_full_code(wallet_world):
    codes = wallet_world["codes"]
    assert len(codes) == 8 + 51 + 1
    client = _client(wallet_world["boss"])
    cards = GiftCard.objects.order_by("pk")
    searches = []
    for code in (codes[0], codes[2], codes[-1]):
        canonical = code_normalize(code)
        searches += [
            f"{_changelist(GiftCard)}?{urlencode({'q': term})}"
            for term in (code, canonical, " ".join(canonical.lower()), canonical[-4:])
        ]

    pages = _crawl(client, ["/admin/", *searches, *(_change(card) for card in cards)])

    changelists = {_changelist(model) for model in admin.site._registry}
    assert changelists <= set(pages)
    assert {_change(card) for card in cards} <= set(pages)
    assert any("giftcard/?status__exact=" in url for url in pages)  # filters were followed
    assert len(pages) > 100
    print(f"crawled {len(pages)} admin pages")
    leaks = {url: found for url, html in pages.items() if (found := _codes_in(codes, html))}
    assert leaks == {}


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: " ".join(code_normalize(code).lower()),
        lambda code: code.lower(),
        lambda code: code,
        lambda code: code_normalize(code).replace("0", "o").replace("1", "l"),
    ],
    ids=["lowercase-spaced", "lowercase-dashed", "as-printed", "lookalikes"],
)
def test_searching_by_a_full_code_finds_exactly_that_card(wallet_world, typed):
    code = wallet_world["codes"][3]
    card = GiftCard.objects.get(last4=code_normalize(code)[-4:])
    client = _client(wallet_world["boss"])
    changelist = client.get(_changelist(GiftCard)).content.decode()
    assert f'action="{CODE_SEARCH}"' in changelist  # the list offers the POST form

    # A POST: the code is in the body only, never in an address (nor the access log).
    response = client.post(CODE_SEARCH, {"code": typed(code)})

    assert response.status_code == 200
    assert response.context["card"] == card
    html = response.content.decode()
    assert _codes_in([code], html) == []
    assert f"••••-••••••-•{card.last4}" in html
    assert card.code_hash not in html
    assert _change(card) in html
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CODE_SEARCHED)
    assert (entry.actor, entry.target) == (wallet_world["boss"], f"gift card #{card.pk}")
    assert _codes_in([code], f"{entry.target} {entry.detail}") == []


def test_a_full_code_in_the_get_search_box_is_not_searched_and_leaves_the_address(wallet_world):
    code = wallet_world["codes"][3]
    client = _client(wallet_world["boss"])

    response = client.get(_changelist(GiftCard), {"q": code, "status__exact": "active"})

    assert response.status_code == 302
    assert response["Location"] == f"{_changelist(GiftCard)}?status__exact=active"
    followed = client.get(response["Location"])
    assert any("Only the last 4 symbols" in m for m in _messages(followed))
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CODE_SEARCHED).exists()


def test_the_gift_card_search_box_cannot_hold_more_than_the_last_4_symbols(wallet_world):
    """A full code typed (or pasted) into the GET search box would land in the address and the
    access log before any server could drop it: the box takes 4 symbols at most, and says so;
    full codes have the POST search beside it."""
    page = _client(wallet_world["boss"]).get(_changelist(GiftCard))

    html = page.content.decode()
    box = re.search(r'<input[^>]*id="searchbar"[^>]*>', html).group(0)
    assert 'maxlength="4"' in box
    assert 'name="q"' in box
    assert "Last 4 symbols" in html
    assert hook(page, "code-search-form").attrs["method"] == "post"


def test_the_code_search_refuses_a_mistyped_code_and_echoes_only_its_tail(wallet_world):
    code = code_normalize(wallet_world["codes"][3])
    typo = code[:5] + ("1" if code[5] != "1" else "2") + code[6:]
    client = _client(wallet_world["boss"])

    response = client.post(CODE_SEARCH, {"code": typo})

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "typo"
    html = response.content.decode()
    assert typo not in html.upper()
    assert code[-4:] in html  # the tail, masked, so support can compare with the card
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CODE_SEARCHED).exists()


def test_the_code_search_needs_the_view_permission_and_the_csrf_token(wallet_world):
    code = wallet_world["codes"][3]
    no_groups = _client(staff_user())
    assert no_groups.post(CODE_SEARCH, {"code": code}).status_code == 403
    strict = _client(wallet_world["boss"], enforce_csrf_checks=True)
    assert strict.post(CODE_SEARCH, {"code": code}).status_code == 403
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CODE_SEARCHED).exists()


def test_searching_by_last4_finds_the_card(wallet_world):
    code = code_normalize(wallet_world["codes"][4])
    card = GiftCard.objects.get(last4=code[-4:])
    client = _client(wallet_world["boss"])

    response = client.get(_changelist(GiftCard), {"q": code[-4:].lower()}, follow=True)

    found = list(response.context["cl"].result_list)
    assert card in found
    assert {c.last4 for c in found} == {code[-4:]}


def test_searching_by_an_unknown_code_finds_nothing(wallet_world):
    client = _client(wallet_world["boss"])
    unknown = "0000-000000-00000"  # a valid check symbol, never issued

    response = client.post(CODE_SEARCH, {"code": unknown})

    assert response.status_code == 200
    assert response.context["card"] is None
    assert "0000" in hook(response, "code-search-none").text
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CODE_SEARCHED)
    assert (entry.target, entry.detail) == ("no gift card", "code ending 0000: no match")


# --- permissions by group ---------------------------------------------------------------------


def _visible_wallet_models(client) -> set[str]:
    response = client.get("/admin/")
    assert response.status_code == 200
    return {
        model["object_name"].lower()
        for app in response.context["app_list"]
        if app["app_label"] == "wallet"
        for model in app["models"]
    }


def test_staff_without_groups_see_no_wallet_model(wallet_world):
    client = _client(staff_user())

    assert _visible_wallet_models(client) == set()
    for model in WALLET_MODELS:
        assert client.get(_changelist(model)).status_code == 403, model
    assert client.get(_change(wallet_world["account"])).status_code == 403
    adjust = reverse("admin:wallet_account_adjust", args=[wallet_world["account"].pk])
    assert client.get(adjust).status_code == 403


@pytest.mark.parametrize(
    ("group", "visible"),
    [
        (ISSUERS, {"giftcardbatch", "giftcard"}),
        (APPROVERS, {"giftcardbatch"}),
        (ADJUSTERS, {"account", "posting", "balanceadjustment"}),
        (ADJUSTMENT_APPROVERS, {"account", "balanceadjustment"}),
    ],
)
def test_each_group_sees_only_its_models(wallet_world, group, visible):
    client = _client(staff_user(group))

    assert _visible_wallet_models(client) == visible
    for model in WALLET_MODELS:
        expected = 200 if model._meta.model_name in visible else 403
        assert client.get(_changelist(model)).status_code == expected, model


def test_a_shopper_is_sent_to_the_admin_login(wallet_world):
    client = _client(wallet_world["shopper"])

    response = client.get(_changelist(GiftCard))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- the batch workflow in the admin ----------------------------------------------------------


def test_request_approve_and_download_a_batch_in_the_admin(db):
    issuer = staff_user(ISSUERS)
    approver = staff_user(APPROVERS)
    issuer_client, approver_client = _client(issuer), _client(approver)
    add = reverse("admin:wallet_giftcardbatch_add")
    assert issuer_client.get(add).status_code == 200

    response = issuer_client.post(
        add,
        {
            "name": "Black Friday",
            "region": "US",
            "count": "100",
            "idempotency_key": "black-friday-form",
            "amount": "25.00",
            "expires_on": "",
            "note": "for the partners",
        },
    )

    batch = GiftCardBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _change(batch)
    assert (batch.status, batch.card_count, batch.amount) == ("pending_approval", 100, 2500)
    assert batch.created_by == issuer
    own_page = issuer_client.get(_change(batch))
    assert own_page.status_code == 200
    assert hooks(own_page, "batch-approve") == []
    assert hooks(own_page, "batch-download") == []
    # The creator cannot approve it, not even by posting to the approve URL.
    approve = reverse("admin:wallet_batch_approve", args=[batch.pk])
    refused = issuer_client.post(approve, follow=True)
    assert any("Refused" in m for m in _messages(refused))
    batch.refresh_from_db()
    assert batch.status == "pending_approval"

    approver_page = approver_client.get(_change(batch))
    hook(approver_page, "batch-approve")
    assert approver_client.get(approve).status_code == 403  # POST only
    response = approver_client.post(approve)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.approved_by) == ("approved", approver)

    hook(issuer_client.get(_change(batch)), "batch-download")
    codes_url = reverse("admin:wallet_batch_codes", args=[batch.pk])
    assert approver_client.post(codes_url).status_code == 302  # only the creator
    download = issuer_client.post(codes_url)
    assert download.status_code == 200
    assert download.streaming
    assert download["Content-Type"].startswith("text/csv")
    assert "no-store" in download["Cache-Control"]
    assert f"giftcards-batch-{batch.pk}.csv" in download["Content-Disposition"]
    body = b"".join(download.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 100
    assert {row["amount"] for row in rows} == {"25.00"}
    batch.refresh_from_db()
    assert batch.status == "issued"
    assert GiftCard.objects.filter(batch=batch).count() == 100
    assert ledger_reconcile().clean
    assert redeem_outcome(UserFactory(), rows[0]["code"]) == "redeemed"

    again = issuer_client.post(codes_url)
    assert again.status_code == 302
    assert not again.streaming
    assert "text/csv" not in again.get("Content-Type", "")
    followed = issuer_client.get(again["Location"])
    assert any("already downloaded" in m for m in _messages(followed))
    assert _codes_in([r["code"] for r in rows], followed.content.decode()) == []
    # The creator's self-approval and the approver's download were refused, on the record.
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "batch_requested",
        "refused",
        "batch_approved",
        "refused",
        "batch_codes_downloaded",
    ]


def test_a_small_batch_request_is_approved_at_once_and_a_bad_one_is_refused(db):
    issuer = staff_user(ISSUERS)
    client = _client(issuer)
    add = reverse("admin:wallet_giftcardbatch_add")
    data = {"name": "tiny", "region": "JP", "count": "3", "amount": "500", "note": ""}
    data["idempotency_key"] = "tiny-form"

    assert client.post(add, data).status_code == 302
    assert GiftCardBatch.objects.get().status == "approved"

    for bad in ({"amount": "10.5"}, {"count": "0"}, {"amount": "-1"}, {"expires_on": "2020-01-01"}):
        response = client.post(add, {**data, **bad})
        assert response.status_code == 200, bad
        assert response.context["form"].errors, bad
    assert GiftCardBatch.objects.count() == 1
    assert _client(staff_user(APPROVERS)).get(add).status_code == 403


def test_rejecting_a_batch_in_the_admin_needs_a_reason(db):
    issuer = staff_user(ISSUERS)
    batch = batch_request(issuer, count=51)
    client = _client(staff_user(APPROVERS))
    reject = reverse("admin:wallet_batch_reject", args=[batch.pk])

    client.post(reject, {"reason": ""})
    batch.refresh_from_db()
    assert batch.status == "pending_approval"

    client.post(reject, {"reason": "over budget"})
    batch.refresh_from_db()
    assert (batch.status, batch.failure) == ("rejected", "over budget")


# --- card status, balance adjustment, reports ------------------------------------------------


def test_disable_and_re_enable_a_card_in_the_admin(db):
    issued = issue_card(amount=2500)
    support = staff_user(ISSUERS)
    client = _client(support)
    status_url = reverse("admin:wallet_giftcard_status", args=[issued.card.pk])
    page = client.get(_change(issued.card))
    hook(page, "card-disable")
    assert issued.code not in page.content.decode()

    no_reason = client.post(status_url, {"status": "disabled", "reason": ""}, follow=True)
    assert any("Refused" in m for m in _messages(no_reason))
    assert GiftCard.objects.get().status == "active"

    response = client.post(status_url, {"status": "disabled", "reason": "chargeback"})
    assert response.status_code == 302
    assert response["Location"] == _change(issued.card)
    card = GiftCard.objects.get()
    assert (card.status, card.status_reason) == ("disabled", "chargeback")
    shopper = UserFactory()
    assert redeem_outcome(shopper, issued.code) == "disabled"
    hook(client.get(_change(card)), "card-enable")

    # Someone without the permission cannot.
    other = _client(staff_user(APPROVERS))
    refused = other.post(status_url, {"status": "active", "reason": "x"})
    assert refused.status_code == 302  # back to the card, with the service's refusal
    assert GiftCard.objects.get().status == "disabled"

    client.post(status_url, {"status": "active", "reason": "resolved"})
    assert redeem_outcome(shopper, issued.code) == "redeemed"
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "card_disabled",
        "refused",  # the approver without the permission
        "card_enabled",
    ]


def _adjust_form(client, account) -> dict[str, str]:
    page = client.get(reverse("admin:wallet_account_adjust", args=[account.pk]))
    assert page.status_code == 200
    (key,) = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode())
    return {"idempotency_key": key}


def test_adjust_a_balance_in_the_admin_once_per_form(db):
    shopper = UserFactory()
    wallet_credit(user=shopper, amount=1000, idempotency_key="start", description="start")
    account = Account.objects.get(user=shopper)
    client = _client(staff_user(ADJUSTERS))
    change_page = client.get(_change(account))
    adjust_url = reverse("admin:wallet_account_adjust", args=[account.pk])
    assert adjust_url in change_page.content.decode()
    data = {
        **_adjust_form(client, account),
        "direction": "credit",
        "amount": "12.34",
        "reason": "goodwill",
        "confirm": "Confirm",  # the second step: the amount was read back first
    }

    first = client.post(adjust_url, data)
    second = client.post(adjust_url, data)  # a double click

    assert first.status_code == second.status_code == 302
    assert first["Location"] == _change(account)
    account.refresh_from_db()
    assert account.balance == 1000 + 1234
    assert Transfer.objects.filter(kind="adjustment").count() == 1
    assert AuditEntry.objects.filter(action="balance_adjusted").count() == 1
    assert any("already posted" in m for m in _messages(client.get(second["Location"])))
    assert ledger_reconcile().clean

    # A debit beyond the balance is refused on the form, with nothing written.
    too_much = {
        **_adjust_form(client, account),
        "direction": "debit",
        "amount": "22.35",
        "confirm": "Confirm",
    }
    refused = client.post(adjust_url, {**too_much, "reason": "oops"})
    assert refused.status_code == 200
    hook(refused, "form-error")
    account.refresh_from_db()
    assert account.balance == 2234
    # A debit to exactly zero works and shows on the shopper's wallet page.
    client.post(adjust_url, {**too_much, "amount": "22.34", "reason": "closing"})
    account.refresh_from_db()
    assert account.balance == 0
    wallet_page = _client(shopper).get("/wallet/")
    kinds = [
        (row.attrs["data-kind"], row.attrs["data-amount-minor"])
        for row in hooks(wallet_page, "activity-row")
    ]
    assert kinds[:2] == [("adjustment", "-2234"), ("adjustment", "1234")]


def test_the_adjust_page_refuses_shop_accounts_and_staff_without_the_permission(db):
    issue_card()
    shop = Account.objects.get(kind="giftcards_outstanding")
    shopper_account = wallet_account_get_or_create(user=UserFactory())
    adjuster = _client(staff_user(ADJUSTERS))

    assert adjuster.get(reverse("admin:wallet_account_adjust", args=[shop.pk])).status_code == 404
    issuer = _client(staff_user(ISSUERS))
    url = reverse("admin:wallet_account_adjust", args=[shopper_account.pk])
    assert issuer.get(url).status_code == 403
    response = issuer.post(
        url, {"direction": "credit", "amount": "5", "reason": "x", "idempotency_key": "k"}
    )
    assert response.status_code == 403
    shopper_account.refresh_from_db()
    assert shopper_account.balance == 0


def test_a_report_status_moves_through_the_admin(db):
    shopper = UserFactory()
    wallet_credit(user=shopper, amount=100, idempotency_key="r", description="credit")
    report = activity_report_create(
        user=shopper, posting=Posting.objects.get(account__user=shopper), message="not me"
    )
    client = _client(superuser())

    response = client.post(_change(report), {"status": "investigating", "_save": "Save"})

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "investigating"


# --- the audit log in the admin ---------------------------------------------------------------


def test_the_admin_offers_no_change_or_delete_of_an_audit_entry(wallet_world):
    client = _client(wallet_world["boss"])
    entry = AuditEntry.objects.order_by("pk").first()
    before = list(AuditEntry.objects.values_list("pk", "detail"))
    meta = AuditEntry._meta

    changelist = client.get(_changelist(AuditEntry)).content.decode()
    change = client.get(_change(entry))
    assert change.status_code == 200
    html = change.content.decode()
    assert 'name="_save"' not in html
    assert "deletelink" not in html
    assert "delete_selected" not in changelist
    add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
    assert client.get(add).status_code == 403
    assert client.post(_change(entry), {"detail": "rewritten"}).status_code == 403
    delete = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[entry.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    bulk = client.post(
        _changelist(AuditEntry),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert list(AuditEntry.objects.values_list("pk", "detail")) == before


# --- CSRF -------------------------------------------------------------------------------------


def test_every_staff_post_needs_the_csrf_token(db):
    issuer = staff_user(ISSUERS, APPROVERS)
    batch = batch_request(staff_user(ISSUERS), count=51)
    own = batch_request(issuer, count=3)
    card = issue_card().card
    account = wallet_account_get_or_create(user=UserFactory())
    adjuster = staff_user(ADJUSTERS)
    posts = [
        (issuer, reverse("admin:wallet_giftcardbatch_add"),
         {"name": "x", "region": "US", "count": "1", "amount": "1"}),
        (issuer, reverse("admin:wallet_batch_approve", args=[batch.pk]), {}),
        (issuer, reverse("admin:wallet_batch_reject", args=[batch.pk]), {"reason": "no"}),
        (issuer, reverse("admin:wallet_batch_codes", args=[own.pk]), {}),
        (issuer, reverse("admin:wallet_giftcard_status", args=[card.pk]),
         {"status": "disabled", "reason": "x"}),
        (adjuster, reverse("admin:wallet_account_adjust", args=[account.pk]),
         {"direction": "credit", "amount": "5", "reason": "x", "idempotency_key": "k"}),
    ]  # fmt: skip
    before = (
        list(GiftCardBatch.objects.values_list("pk", "status")),
        list(GiftCard.objects.values_list("pk", "status")),
        Transfer.objects.count(),
        AuditEntry.objects.count(),
    )

    for user, url, data in posts:
        client = _client(user, enforce_csrf_checks=True)
        assert client.post(url, data).status_code == 403, url

    assert before == (
        list(GiftCardBatch.objects.values_list("pk", "status")),
        list(GiftCard.objects.values_list("pk", "status")),
        Transfer.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.mark.django_db
def test_account_page_links_to_its_paginated_postings_instead_of_listing_them(admin_client, user):
    from wallet.services import giftcard_redeem

    for _ in range(2):
        giftcard_redeem(user=user, code=issue_card().code)
    account = Account.objects.get(user=user)

    page = admin_client.get(f"/admin/wallet/account/{account.pk}/change/").content.decode()
    postings = admin_client.get(f"/admin/wallet/posting/?account__id__exact={account.pk}")

    assert f"/admin/wallet/posting/?account__id__exact={account.pk}" in page
    assert postings.status_code == 200
    assert "2 postings" in postings.content.decode()
