"""The promotions admin passes axe-core at 1280 and 390 px: the list, a promotion waiting for
approval (and approving it), the create form refused, the change form, the preview with its
result, the stacking matrix and the report. Screenshots in var/test-results/admin-promotions/.
"""

import re

import pytest
from playwright.sync_api import expect

from catalog.demo import catalog_seed
from promotions.demo import demo_promotions_load
from promotions.models import Promotion
from promotions.services import promotion_create
from tests.e2e.test_admin_a11y import SHOTS, VIEWPORTS, Audit, _sign_in
from tests.promotions.staff_users import APPROVE, MANAGE, manager, percent_terms, promo_staff

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.parametrize("width", sorted(VIEWPORTS))
def test_the_promotions_admin_has_no_axe_violation(browser, live_server, width):
    catalog_seed()
    demo_promotions_load()
    waiting = promotion_create(terms=percent_terms("spring"), created_by=manager())
    staff = promo_staff(*MANAGE, *APPROVE, email="promo-boss@example.com")
    url = live_server.url
    context = browser.new_context(viewport=VIEWPORTS[width])
    page = context.new_page()
    audit = Audit(page, width)
    audit.shots = SHOTS.parent / "admin-promotions" / width
    audit.shots.mkdir(parents=True, exist_ok=True)
    _sign_in(context, live_server, staff)

    page.goto(f"{url}/admin/promotions/promotion/")
    expect(page.locator("#result_list")).to_contain_text("WELCOME10")
    audit.check("list")

    page.goto(f"{url}/admin/promotions/promotion/{waiting.pk}/change/")
    expect(page.get_by_test_id("promotion-value")).to_contain_text("no bound")
    audit.check("waiting")
    page.get_by_test_id("promotion-approve").click()
    expect(page.locator(".messagelist")).to_contain_text("approved")
    audit.check("approved")

    page.goto(f"{url}/admin/promotions/promotion/add/")
    audit.check("add")
    page.get_by_label("Slug").fill("autumn")
    page.get_by_label("Name").fill("Autumn")
    page.get_by_label("Kind").select_option("fixed")
    page.get_by_label("USD amount off / credit").fill("5.001")
    page.get_by_test_id("promotion-save").click()
    expect(page.locator(".errorlist").first).to_be_visible()
    audit.check("add-refused")

    welcome = Promotion.objects.get(slug="welcome10")
    page.goto(f"{url}/admin/promotions/promotion/{welcome.pk}/edit/")
    audit.check("edit")

    page.goto(f"{url}/admin/promotions/promotion/{welcome.pk}/preview/")
    page.get_by_label("Region").select_option("US")
    page.locator("#id_product_1").select_option(label="The Pragmatic Ledger")
    page.locator("#id_quantity_1").fill("2")
    page.get_by_label("Codes").fill("SAVE5")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-applied")).to_have_attribute("data-code", "WELCOME10")
    expect(page.get_by_test_id("preview-refusal")).to_have_attribute(
        "data-reason", "not_combinable"
    )
    # A POST: the codes typed never ride in the address (access logs, history).
    expect(page).to_have_url(re.compile(r"/preview/$"))
    audit.check("preview")

    page.goto(f"{url}/admin/promotions/promotion/matrix/")
    expect(page.get_by_test_id("stacking-matrix")).to_contain_text("set not combinable")
    audit.check("matrix")

    page.goto(f"{url}/admin/promotions/promotion/{welcome.pk}/report/")
    audit.check("report")

    context.close()
    assert audit.violations == [], "\n".join(audit.violations)
