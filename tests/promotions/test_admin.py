"""The promotions admin: the list (search, filters, usage and budget left), a promotion's page
and its approval, creating and changing through the services, the preview, the stacking
matrix and the report; staff sign in with two-factor; malformed ids are 404; query counts do
not grow with the rows."""

import dataclasses
import io

import pytest
from django.test import Client
from django.urls import reverse

from catalog.demo import catalog_seed
from catalog.models import Product
from promotions.approval import AmountTerms
from promotions.demo import demo_promotions_load
from promotions.engine import AppliedPromotion
from promotions.models import Promotion, PromotionAmount, PromotionCode
from promotions.selectors import promotion_specs_get
from promotions.services import (
    promotion_create,
    promotion_redemptions_claim,
    promotion_redemptions_release,
)
from promotions.services.staff import APPROVED, CHANGED, CREATED
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.promotions.staff_users import (
    APPROVE,
    MANAGE,
    approver,
    fixed_terms,
    manager,
    percent_terms,
    promo_staff,
)
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db

Status = Promotion.Status
LIST = "admin:promotions_promotion_changelist"


def _client(user) -> Client:
    return login_staff(Client(), user)


def _change_url(promotion):
    return reverse("admin:promotions_promotion_change", args=[promotion.pk])


def _many(n, *, start=0):
    staff = manager()
    for i in range(start, start + n):
        terms = fixed_terms(
            f"promo{i}",
            amounts={"USD": AmountTerms(amount_off=500, budget=5000)},
            region_codes=frozenset({"US"}),
        )
        promotion_create(terms=terms, created_by=staff)


# --- two-factor ---------------------------------------------------------------------------


def test_promotion_permissions_need_two_factor():
    staff = manager()
    client = Client()
    client.force_login(staff)  # no second factor in this session

    response = client.get(reverse(LIST))

    assert response.status_code == 302
    assert "/admin/" not in response["Location"]


# --- list ---------------------------------------------------------------------------------


def test_the_list_shows_code_kind_status_uses_and_budget_left():
    promotion = promotion_create(
        terms=fixed_terms(amounts={"USD": AmountTerms(amount_off=500, budget=5000)}),
        created_by=manager(),
    )
    PromotionAmount.objects.filter(promotion=promotion).update(budget_used=1500)
    Promotion.objects.filter(pk=promotion.pk).update(uses_count=3)

    response = _client(manager()).get(reverse(LIST))

    assert response.status_code == 200
    text = response.content.decode()
    assert "SAVE5" in text
    assert "3 / 10" in text
    assert "$35.00" in text  # budget left


def test_search_and_filters(settings):
    staff = manager()
    promotion_create(terms=fixed_terms(), created_by=staff)
    promotion_create(terms=percent_terms(), created_by=staff)  # waits: unbounded
    promotion_create(
        terms=fixed_terms(
            "usonly",
            region_codes=frozenset({"US"}),
            amounts={"USD": AmountTerms(amount_off=100)},
        ),
        created_by=staff,
    )
    client = _client(staff)

    def slugs(**params):
        response = client.get(reverse(LIST), params)
        assert response.status_code == 200
        return {p.slug for p in response.context["cl"].result_list}

    assert slugs(q="books") == {"books20"}
    assert slugs(q="SAVE5") == {"save5"}
    assert slugs(status="pending_approval") == {"books20"}
    assert slugs(kind="fixed") == {"save5", "usonly"}
    assert slugs(codes="vanity") == {"save5", "books20", "usonly"}
    assert slugs(region="JP") == {"save5", "books20"}
    assert slugs(region="US") == {"save5", "books20", "usonly"}


def test_the_list_query_count_does_not_grow(django_assert_max_num_queries):
    _many(3)
    client = _client(manager())
    client.get(reverse(LIST))  # warm the session and permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(LIST)).status_code == 200
    _many(12, start=3)
    with CaptureQueriesContext(connection) as more:
        assert client.get(reverse(LIST)).status_code == 200
    assert len(more) == len(few)


# --- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/promotions/promotion/abc/change/",
        "/admin/promotions/promotion/999999/change/",
        "/admin/promotions/promotion/abc/edit/",
        "/admin/promotions/promotion/999999/edit/",
        "/admin/promotions/promotion/999999/report/",
        "/admin/promotions/promotion/1.5/preview/",
        "/admin/promotions/promotion/999999/preview/",
        "/admin/promotions/promotionredemption/abc/change/",
    ],
)
def test_malformed_or_missing_ids_are_404(url):
    # Django's catch-all sends `abc/edit/` on to `abc/edit/change/`: a 404 there.
    staff = promo_staff(*MANAGE, *APPROVE, "view_promotionredemption")
    response = _client(staff).get(url, follow=True)
    assert response.status_code == 404


# --- create and change --------------------------------------------------------------------


def _form_data(**overrides):
    data = {
        "slug": "spring",
        "name": "Spring 5 off",
        "kind": "fixed",
        "target": "order",
        "codes": "vanity",
        "code": "spring-5",
        "total_limit": "10",
        "amount_off_USD": "5.00",
        "amount_off_JPY": "750",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_goes_through_the_service_and_is_audited():
    staff = manager()
    client = _client(staff)
    assert client.get(reverse("admin:promotions_promotion_add")).status_code == 200

    response = client.post(reverse("admin:promotions_promotion_add"), _form_data())

    promotion = Promotion.objects.get(slug="spring")
    assert response.status_code == 302
    assert response["Location"] == _change_url(promotion)
    assert promotion.code == "SPRING5"
    assert promotion.status == Status.ACTIVE
    assert {a.currency: a.amount_off for a in promotion.amounts.all()} == {"USD": 500, "JPY": 750}
    assert PromotionCode.objects.filter(promotion=promotion).count() == 1
    assert AuditEntry.objects.filter(action=CREATED, actor=staff).count() == 1


def test_a_large_one_is_saved_waiting_and_says_so():
    response = _client(manager()).post(
        reverse("admin:promotions_promotion_add"), _form_data(total_limit=""), follow=True
    )
    assert Promotion.objects.get(slug="spring").status == Status.PENDING_APPROVAL
    assert "waits for approval" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount_off_USD": "5.001"}, "2 decimal places"),
        ({"amount_off_JPY": "7.5"}, "no minor unit"),
        ({"code": "x"}, "3 to 32"),
        ({"kind": "percent"}, "percent: 1 to 100"),
        ({"slug": "Not A Slug"}, "slug"),
    ],
)
def test_invalid_input_comes_back_with_the_reason_and_writes_nothing(overrides, message):
    response = _client(manager()).post(
        reverse("admin:promotions_promotion_add"), _form_data(**overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Promotion.objects.exists()
    assert not AuditEntry.objects.exists()


def test_without_the_add_permission_the_create_page_is_refused():
    viewer = promo_staff("view_promotion")
    client = _client(viewer)
    assert client.get(reverse("admin:promotions_promotion_add")).status_code == 403
    assert client.post(reverse("admin:promotions_promotion_add"), _form_data()).status_code == 403
    assert not Promotion.objects.exists()


def test_change_goes_through_the_service_codes_stay():
    staff = manager()
    promotion = promotion_create(terms=fixed_terms(), created_by=staff)
    client = _client(staff)
    url = reverse("admin:promotions_edit", args=[promotion.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v not in (None, False, "")}
    data.update(
        {
            "categories": [],
            "products": [],
            "regions": [],
            "not_combinable_with": [],
            "name": "Five off",
            "total_limit": "20",
            "code": "HACKED",  # disabled: ignored
        }
    )
    data = {k: v for k, v in data.items() if v != []}

    response = client.post(url, data)

    assert response.status_code == 302, response.context["form"].errors
    promotion.refresh_from_db()
    assert (promotion.name, promotion.total_limit, promotion.code) == ("Five off", 20, "SAVE5")
    assert AuditEntry.objects.filter(action=CHANGED).count() == 1


def test_change_page_for_a_stale_version_is_refused():
    staff = manager()
    promotion = promotion_create(terms=fixed_terms(), created_by=staff)
    client = _client(staff)
    url = reverse("admin:promotions_edit", args=[promotion.pk])
    initial = client.get(url).context["form"].initial
    Promotion.objects.filter(pk=promotion.pk).update(updated_at="2020-01-01T00:00:00Z")
    data = {k: v for k, v in initial.items() if v not in (None, False, "", [])}

    response = client.post(url, data)

    assert response.status_code == 200
    assert "since you opened it" in response.content.decode()


# --- the promotion's page and its approval ------------------------------------------------


def test_the_approver_sees_the_value_and_approves_the_terms_they_saw():
    promotion = promotion_create(terms=percent_terms(), created_by=manager())
    second = approver()
    client = _client(second)

    page = client.get(_change_url(promotion))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="promotion-approve"' in text
    assert "no bound" in text
    assert 'data-testid="promotion-edit-link"' not in text  # no change permission

    response = client.post(
        reverse("admin:promotions_approve", args=[promotion.pk]),
        {"version": page.context["version"]},
    )

    assert response.status_code == 302
    promotion.refresh_from_db()
    assert promotion.status == Status.ACTIVE
    assert promotion.approved_by == second
    assert AuditEntry.objects.filter(action=APPROVED, actor=second).exists()


def test_the_creator_sees_it_waits_and_cannot_approve_by_hand():
    creator = promo_staff(*MANAGE, *APPROVE)
    promotion = promotion_create(terms=percent_terms(), created_by=creator)
    client = _client(creator)

    text = client.get(_change_url(promotion)).content.decode()
    assert 'data-testid="promotion-own-waiting"' in text
    assert 'data-testid="promotion-approve"' not in text

    response = client.post(reverse("admin:promotions_approve", args=[promotion.pk]), follow=True)

    assert "Refused:" in response.content.decode()
    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED, actor=creator).exists()


def test_approving_after_a_change_refuses_the_old_version():
    promotion = promotion_create(terms=percent_terms(), created_by=manager())
    client = _client(approver())
    version = client.get(_change_url(promotion)).context["version"]
    Promotion.objects.filter(pk=promotion.pk).update(percent=90, updated_at="2020-01-01T00:00Z")

    response = client.post(
        reverse("admin:promotions_approve", args=[promotion.pk]), {"version": version}, follow=True
    )

    assert "changed since you opened it" in response.content.decode()
    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL


def test_the_index_counts_what_waits_for_me():
    promotion_create(terms=percent_terms(), created_by=manager())
    response = _client(approver()).get(reverse("admin:index"))
    waiting = {row["model_name"]: row["count"] for row in response.context["waiting_for_me"]}
    assert waiting["promotion"] == 1


def test_reject_and_disable_need_a_reason_and_a_post():
    staff = promo_staff(*MANAGE, *APPROVE)
    waiting = promotion_create(terms=percent_terms(), created_by=manager())
    active = promotion_create(terms=fixed_terms(), created_by=manager())
    client = _client(staff)

    assert client.get(reverse("admin:promotions_reject", args=[waiting.pk])).status_code == 403
    client.post(reverse("admin:promotions_reject", args=[waiting.pk]), {"reason": ""})
    waiting.refresh_from_db()
    assert waiting.status == Status.PENDING_APPROVAL
    client.post(reverse("admin:promotions_reject", args=[waiting.pk]), {"reason": "too much"})
    client.post(reverse("admin:promotions_disable", args=[active.pk]), {"reason": "over"})

    waiting.refresh_from_db()
    active.refresh_from_db()
    assert (waiting.status, active.status) == (Status.REJECTED, Status.DISABLED)


@pytest.mark.parametrize("action", ["approve", "reject", "disable"])
def test_a_missing_promotion_is_a_404_first(action):
    """docs/interface.md §9: whatever the method, before the POST-only check."""
    client = _client(approver())
    url = reverse(f"admin:promotions_{action}", args=[999999])
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 404


# --- preview, matrix, report --------------------------------------------------------------


@pytest.fixture
def demo():
    catalog_seed()
    demo_promotions_load()
    return {p.code: p for p in Promotion.objects.all()}


def _preview(client, promotion=None, **params):
    url = (
        reverse("admin:promotions_preview_one", args=[promotion.pk])
        if promotion
        else reverse("admin:promotions_preview")
    )
    return client.post(url, params)


def test_preview_shows_what_this_cart_would_get(demo):
    ledger = Product.objects.get(slug="the-pragmatic-ledger")  # $29.99, a book
    client = _client(manager())

    response = _preview(client, demo["WELCOME10"], region="US", product_1=ledger.pk, quantity_1="2")

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.subtotal == 5998
    applied = {a.code or a.slug: a.amount for a in preview.evaluation.applied}
    assert applied == {"WELCOME10": 600}
    text = response.content.decode()
    assert 'data-testid="preview-applied"' in text
    assert "$6.00" in text
    assert preview.lines[0].units == (300, 300)
    assert preview.total == 5998 - 600


def test_preview_names_the_refusal_with_its_figures(demo):
    ledger = Product.objects.get(slug="the-pragmatic-ledger")
    response = _preview(
        _client(manager()),
        demo["SAVE5"],
        region="US",
        product_1=ledger.pk,
        quantity_1="1",
    )
    [refusal] = response.context["preview"].evaluation.refusals
    assert refusal.reason == "minimum_not_met"
    assert 'data-reason="minimum_not_met"' in response.content.decode()


def test_preview_of_a_waiting_promotion_prices_it_as_if_live():
    catalog_seed()
    promotion = promotion_create(terms=percent_terms(), created_by=manager())
    ledger = Product.objects.get(slug="the-pragmatic-ledger")

    response = _preview(
        _client(approver()), promotion, region="US", product_1=ledger.pk, quantity_1="1"
    )

    assert response.context["preview"].evaluation.discount == 600  # 20% of 29.99, rounded
    promotion.refresh_from_db()
    assert promotion.status == Status.PENDING_APPROVAL


def test_preview_with_codes_typed_in_yen(demo):
    ledger = Product.objects.get(slug="the-pragmatic-ledger")
    response = _preview(
        _client(manager()),
        region="JP",
        product_1=ledger.pk,
        quantity_1="3",
        codes="books20 nosuchcode",
    )
    evaluation = response.context["preview"].evaluation
    assert [a.code for a in evaluation.applied] == ["BOOKS20"]
    assert [(r.code, r.reason) for r in evaluation.refusals] == [("NOSUCHCODE", "not_found")]
    assert "¥" in response.content.decode()


def test_preview_without_a_region_shows_the_form_only():
    response = _client(manager()).get(reverse("admin:promotions_preview"))
    assert response.status_code == 200
    assert response.context["preview"] is None
    assert 'method="post"' in response.content.decode()


def test_preview_takes_nothing_from_a_query_string(demo):
    """Codes in an address land in access logs: a GET never prices what its query says."""
    ledger = Product.objects.get(slug="the-pragmatic-ledger")
    response = _client(manager()).get(
        reverse("admin:promotions_preview"),
        {"region": "US", "product_1": ledger.pk, "codes": "WELCOME10"},
    )
    assert response.status_code == 200
    assert response.context["preview"] is None
    assert "WELCOME10" not in response.content.decode()


def test_preview_post_needs_the_csrf_token_and_writes_nothing(demo):
    from promotions.models import PromotionRedemption

    ledger = Product.objects.get(slug="the-pragmatic-ledger")
    client = login_staff(Client(enforce_csrf_checks=True), manager())
    data = {"region": "US", "product_1": ledger.pk, "quantity_1": "2", "codes": "WELCOME10"}
    url = reverse("admin:promotions_preview")
    assert client.post(url, data).status_code == 403

    page = client.get(url)
    token = page.cookies["csrftoken"].value
    before = (
        Promotion.objects.values_list("pk", "uses_count", "updated_at").order_by("pk"),
        AuditEntry.objects.count(),
    )
    response = client.post(url, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert response.context["preview"].evaluation.discount == 600
    after = (
        Promotion.objects.values_list("pk", "uses_count", "updated_at").order_by("pk"),
        AuditEntry.objects.count(),
    )
    assert (list(before[0]), before[1]) == (list(after[0]), after[1])
    assert not PromotionRedemption.objects.exists()


def test_preview_bad_input_is_a_form_error_not_a_500(demo):
    response = _preview(_client(manager()), region="US", product_1="abc", shipping="-1")
    assert response.status_code == 200
    assert response.context["preview"] is None
    assert response.context["form"].errors


def test_the_stacking_matrix(demo):
    response = _client(manager()).get(reverse("admin:promotions_matrix"), {"region": "US"})

    assert response.status_code == 200
    matrix = response.context["matrix"]
    cells = {
        (a.code, b.code): cell
        for a, row in matrix.rows
        for b, cell in zip(matrix.specs, row, strict=True)
    }
    assert not cells[("SAVE5", "WELCOME10")].combines
    assert not cells[("WELCOME10", "SAVE5")].combines  # symmetric
    assert cells[("BOOKS20", "WELCOME10")].combines
    assert cells[("SHIPFREE", "SAVE5")].combines
    assert not cells[("WELCOME10", "LIMITED1")].combines  # one order discount at most
    assert cells[("CREDIT10", "SAVE5")].combines
    assert cells[("SAVE5", "SAVE5")] is None
    assert "OLDCODE" in {s.code for s in matrix.specs}  # active, even if over: shown
    text = response.content.decode()
    assert 'data-testid="stacking-matrix"' in text
    assert "set not combinable" in text


def test_the_matrix_query_count_does_not_grow(demo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(manager())
    client.get(reverse("admin:promotions_matrix"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("admin:promotions_matrix"))
    _many(10)
    with CaptureQueriesContext(connection) as more:
        client.get(reverse("admin:promotions_matrix"))
    assert len(more) == len(few)


def _use(promotion, user, order_number, amount, currency="USD"):
    spec = promotion_specs_get(region=user.region, currency=currency, promotion_ids=[promotion.pk])[
        0
    ]
    applied = AppliedPromotion(
        promotion_id=promotion.pk,
        slug=promotion.slug,
        code=promotion.code,
        code_id=None,
        label=promotion.name,
        amount=amount,
        shipping_amount=amount,
    )
    return promotion_redemptions_claim(
        user=user, order_number=order_number, currency=currency, applied=[applied], specs=[spec]
    )


def test_the_report_per_promotion():
    staff = manager()
    promotion = promotion_create(
        terms=fixed_terms(amounts={"USD": AmountTerms(amount_off=500, budget=5000)}),
        created_by=staff,
    )
    shoppers = [UserFactory(region_id="US") for _ in range(3)]
    _use(promotion, shoppers[0], "CP-1", 500)
    _use(promotion, shoppers[1], "CP-2", 500)
    _use(promotion, shoppers[2], "CP-3", 500)
    promotion_redemptions_release(order_number="CP-3")

    response = _client(staff).get(reverse("admin:promotions_report", args=[promotion.pk]))

    assert response.status_code == 200
    [usd] = [r["row"] for r in response.context["rows"] if r["row"].currency == "USD"]
    assert (usd.uses, usd.orders, usd.given, usd.released) == (2, 2, 1000, 1)
    assert usd.budget_left == 5000 - 1000
    text = response.content.decode()
    assert 'data-testid="report-row"' in text
    assert "$10.00" in text
    assert shoppers[0].email in text


def test_the_report_query_count_does_not_grow():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    staff = manager()
    promotion = promotion_create(terms=fixed_terms(total_limit=100), created_by=staff)
    client = _client(staff)
    url = reverse("admin:promotions_report", args=[promotion.pk])
    _use(promotion, UserFactory(region_id="US"), "CP-1", 500)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(2, 12):
        _use(promotion, UserFactory(region_id="US"), f"CP-{i}", 500)
    with CaptureQueriesContext(connection) as more:
        client.get(url)
    assert len(more) == len(few)


def test_the_promotion_page_query_count_does_not_grow():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    staff = promo_staff(*MANAGE, *APPROVE)
    promotion = promotion_create(terms=fixed_terms(total_limit=100), created_by=manager())
    client = _client(staff)
    client.get(_change_url(promotion))
    with CaptureQueriesContext(connection) as few:
        client.get(_change_url(promotion))
    _many(10)
    for i in range(10):
        _use(promotion, UserFactory(region_id="US"), f"CP-{i}", 500)
    with CaptureQueriesContext(connection) as more:
        assert client.get(_change_url(promotion)).status_code == 200
    assert len(more) == len(few)


def test_redemptions_are_read_only_in_the_admin():
    staff = promo_staff("view_promotionredemption")
    promotion = promotion_create(terms=fixed_terms(), created_by=manager())
    [redemption] = _use(promotion, UserFactory(region_id="US"), "CP-9", 500)
    client = _client(staff)

    listing = client.get(reverse("admin:promotions_promotionredemption_changelist"))
    page = client.get(reverse("admin:promotions_promotionredemption_change", args=[redemption.pk]))

    assert listing.status_code == 200
    assert "CP-9" in listing.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(reverse("admin:promotions_promotionredemption_add")).status_code == 403


def test_audit_actions_fit_the_column():
    for action in (CREATED, CHANGED, APPROVED):
        assert len(action) <= AuditEntry._meta.get_field("action").max_length
    assert dataclasses.is_dataclass(fixed_terms())


def test_a_unique_codes_promotion_shows_how_many_codes_were_issued_and_used(tmp_path):
    from django.core.management import call_command

    staff = manager()
    terms = dataclasses.replace(fixed_terms("spring"), codes=Promotion.Codes.UNIQUE, code="")
    promotion = promotion_create(terms=terms, created_by=staff)
    call_command(
        "issue_promocodes",
        "--promotion=spring",
        "--count=7",
        f"--output={tmp_path / 'c.csv'}",
        stdout=io.StringIO(),
    )

    text = _client(staff).get(_change_url(promotion)).content.decode()

    assert 'data-issued="7" data-used="0"' in text
