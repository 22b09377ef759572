"""/help/: the contact and help page (docs/interface.md §10): the FAQ states the shop's own
figures, the contact form stores a message for staff, every "contact support" link leads here."""

import re
from pathlib import Path

import pytest
from django.test import Client, override_settings

from tests.wallet.pages import hook, hooks
from tests.wallet.queries import assert_num_queries
from wallet.exceptions import WalletError
from wallet.models import SupportRequest
from wallet.services import support_request_create

pytestmark = pytest.mark.django_db

HELP = "/help/"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
VALID = {"name": "Sam Shopper", "email": "sam@example.com", "topic": "gift_card", "message": "Hi"}
# user with region (the nav's locale), region names (the FAQ), nav balance
HELP_QUERIES_SIGNED_IN = 3
HELP_QUERIES_ANONYMOUS = 1  # the region names


def test_the_page_states_the_shops_own_limits(client):
    response = client.get(HELP)
    assert response.status_code == 200
    assert hook(response, "help-code-length").text == "15"
    assert hook(response, "help-wrong-codes").text == "10"
    assert hook(response, "help-lockout-minutes").text == "30"
    html = response.content.decode()
    assert "never expires" in html
    assert "United Kingdom" in html
    assert "pays first" in html
    assert "turn this off" in html
    assert "goes back to your card" in html
    assert html.count("<h1") == 1


@override_settings(REDEEM_LIMIT_PER_USER=4, REDEEM_LOCKOUT_SECONDS=15 * 60)
def test_the_figures_follow_the_settings(client):
    response = client.get(HELP)
    assert hook(response, "help-wrong-codes").text == "4"
    assert hook(response, "help-lockout-minutes").text == "15"


def test_a_signed_in_shoppers_email_and_name_are_prefilled(client, user):
    user.first_name, user.last_name = "Ada", "Lovelace"
    user.save()
    client.force_login(user)
    html = client.get(HELP).content.decode()
    assert f'value="{user.email}"' in html
    assert 'value="Ada Lovelace"' in html


def test_the_contact_form_stores_the_message_and_confirms(client, user):
    client.force_login(user)
    response = client.post(HELP, VALID, follow=True)
    assert response.redirect_chain == [(HELP, 302)]
    assert "sam@example.com" in hook(response, "message").text
    request = SupportRequest.objects.get()
    assert (request.user, request.name, request.topic, request.status) == (
        user,
        "Sam Shopper",
        "gift_card",
        "new",
    )


def test_a_visitor_may_write_too(client):
    assert client.post(HELP, VALID).status_code == 302
    assert SupportRequest.objects.get().user is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("email", "not-an-address"),
        ("topic", "bogus"),
        ("message", ""),
        ("message", "x" * 4001),
    ],
)
def test_an_invalid_form_is_shown_again_with_the_error_tied_to_its_input(client, field, value):
    response = client.post(HELP, {**VALID, field: value})
    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == field
    html = response.content.decode()
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="id_{field}"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag
    assert re.search(rf'aria-describedby="[^"]*\bid_{field}_error\b', tag)
    assert f'id="id_{field}_error"' in html
    assert [h.attrs["data-field"] for h in hooks(response, "field-error")] == [field]
    assert not SupportRequest.objects.exists()


def test_the_service_refuses_empty_text_or_an_unknown_topic_and_writes_nothing():
    for overrides in ({"name": " "}, {"message": ""}, {"topic": "nope"}):
        with pytest.raises(WalletError):
            support_request_create(user=None, **{**VALID, **overrides})
    assert not SupportRequest.objects.exists()


def test_posting_without_a_csrf_token_is_forbidden():
    client = Client(enforce_csrf_checks=True)
    assert client.post(HELP, VALID).status_code == 403
    assert not SupportRequest.objects.exists()


@pytest.mark.parametrize("earlier", [0, 30])
def test_query_counts_do_not_grow(client, user, earlier):
    for number in range(earlier):
        support_request_create(user=user, **{**VALID, "message": f"m{number}"})
    with assert_num_queries(HELP_QUERIES_ANONYMOUS):
        assert client.get(HELP).status_code == 200
    client.force_login(user)
    with assert_num_queries(HELP_QUERIES_SIGNED_IN):
        assert client.get(HELP).status_code == 200


def test_every_contact_support_link_in_the_templates_leads_to_help():
    """Whatever says "contact support" (or "contact us") in a page links to /help/."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if "admin" in path.parts or "email" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<a [^>]*>\s*contact (support|us)", text, re.IGNORECASE):
            tag = match.group(0)
            if "wallet:help" not in tag and "/help/" not in tag and "#contact" not in tag:
                offenders.append(f"{path.relative_to(TEMPLATES)}: {tag}")
    assert not offenders


def test_the_admin_lists_support_requests_with_search_and_filters(user):
    from tests.accounts.two_factor import login_staff
    from tests.wallet.staff import superuser

    support_request_create(user=user, **VALID)
    client = login_staff(Client(), superuser())
    listing = client.get("/admin/wallet/supportrequest/", {"q": "sam@example.com", "status": "new"})
    assert listing.status_code == 200
    assert "Sam Shopper" in listing.content.decode()
    request = SupportRequest.objects.get()
    page = client.get(f"/admin/wallet/supportrequest/{request.pk}/change/")
    assert page.status_code == 200
