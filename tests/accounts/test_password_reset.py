import re

import pytest
from django.contrib.auth import get_user
from django.test import Client

from tests.accounts.factories import PASSWORD

NEW_PASSWORD = "brand-new-horse-2027"
RESET_LINK = re.compile(r"http://testserver(/accounts/password/reset/key/\S+/)")


def _reset_link(message) -> str:
    match = RESET_LINK.search(message.body)
    assert match, message.body
    return match.group(1)


@pytest.mark.django_db
def test_password_reset_end_to_end(client, user, sign_in, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": user.email})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [user.email]
    assert mailoutbox[0].subject == "[Coinpurse] Password Reset Email"
    assert mailoutbox[0].body.startswith("Hello from Coinpurse!")

    # allauth moves the key out of the URL into the session, then shows the form.
    link = client.get(_reset_link(mailoutbox[0]))
    assert link.status_code == 302
    form_url = link["Location"]
    page = client.get(form_url)
    assert page.status_code == 200
    assert b'name="password1"' in page.content

    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/key/done/"
    assert client.get(response["Location"]).status_code == 200
    assert sign_in(user.email, PASSWORD).status_code == 200  # the old password is gone
    assert sign_in(user.email, NEW_PASSWORD).status_code == 302
    assert get_user(client) == user


@pytest.mark.django_db
def test_password_reset_link_works_once(client, user, mailoutbox):
    client.post("/accounts/password/reset/", {"email": user.email})
    link = _reset_link(mailoutbox[0])
    form_url = client.get(link)["Location"]
    client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = client.get(link, follow=True)

    assert again.status_code == 200
    assert again.context["token_fail"] is True
    assert b'name="password1"' not in again.content


@pytest.mark.django_db
def test_password_reset_refuses_mismatched_passwords(client, user, sign_in, mailoutbox):
    client.post("/accounts/password/reset/", {"email": user.email})
    form_url = client.get(_reset_link(mailoutbox[0]))["Location"]

    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": "other-2027-horse"})

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="password2"' in response.content
    assert sign_in(user.email, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_password_reset_for_an_unknown_address_does_not_tell(client, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    # Same answer as for a real shopper, so the form cannot be used to test addresses.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert all("/accounts/password/reset/key/" not in m.body for m in mailoutbox)


@pytest.mark.django_db
def test_password_reset_without_csrf_token_is_forbidden(user, mailoutbox):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/password/reset/", {"email": user.email}
    )

    assert response.status_code == 403
    assert mailoutbox == []
