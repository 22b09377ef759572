import pytest
from django.contrib.auth import get_user

from accounts.models import User
from tests.accounts.factories import UserFactory

REGIONS = ["US", "GB", "FR", "DE", "JP"]


@pytest.mark.django_db
@pytest.mark.parametrize("region", REGIONS)
def test_signup_stores_the_region_and_signs_in(client, signup_data, region):
    email = f"shopper-{region.lower()}@example.com"

    response = client.post("/accounts/signup/", signup_data(email=email, region=region))

    assert response.status_code == 302
    assert response["Location"] == "/wallet/"
    user = User.objects.get(email=email)
    assert user.region_id == region
    assert get_user(client) == user


@pytest.mark.django_db
@pytest.mark.parametrize("region", ["XX", "", "usa"])
def test_signup_with_an_unknown_region_is_refused(client, signup_data, region):
    response = client.post("/accounts/signup/", signup_data(region=region))

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="region"' in response.content
    assert not User.objects.exists()
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_signup_with_a_taken_email_is_refused(client, signup_data):
    existing = UserFactory(email="taken@example.com")

    response = client.post("/accounts/signup/", signup_data(email="taken@example.com"))

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="email"' in response.content
    assert list(User.objects.all()) == [existing]
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_signup_email_is_unique_whatever_its_case(client, signup_data):
    UserFactory(email="taken@example.com")

    response = client.post("/accounts/signup/", signup_data(email="Taken@EXAMPLE.com"))

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="email"' in response.content
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_signup_stores_the_email_in_lower_case(client, signup_data):
    response = client.post("/accounts/signup/", signup_data(email="New.Shopper@Example.COM"))

    assert response.status_code == 302
    assert User.objects.get().email == "new.shopper@example.com"


@pytest.mark.django_db
def test_signup_with_mismatched_passwords_is_refused(client, signup_data):
    response = client.post("/accounts/signup/", signup_data(password2="another-horse-2026"))

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="password2"' in response.content
    assert b'class="form-control is-invalid"' in response.content
    assert not User.objects.exists()


@pytest.mark.django_db
def test_signup_with_a_weak_password_is_refused(client, signup_data):
    response = client.post(
        "/accounts/signup/", signup_data(password1="12345678", password2="12345678")
    )

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="password1"' in response.content
    assert not User.objects.exists()


@pytest.mark.django_db
def test_signup_page_has_exactly_the_contract_fields(client):
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    assert list(response.context["form"].fields) == ["email", "password1", "password2", "region"]


@pytest.mark.django_db
def test_signup_page_offers_the_five_regions_with_the_default_preselected(client):
    html = client.get("/accounts/signup/").content.decode()

    for code in REGIONS:
        assert f'<option value="{code}"' in html
    assert html.count("<option ") == len(REGIONS)
    assert '<option value="US" selected>' in html
    assert "Your storefront and currency." in html
    assert 'id="id_region_helptext"' in html


@pytest.mark.django_db
def test_signup_page_preselects_the_configured_default_region(client, settings):
    settings.DEFAULT_REGION = "JP"

    html = client.get("/accounts/signup/").content.decode()

    assert '<option value="JP" selected>' in html
    assert '<option value="US" selected>' not in html


@pytest.mark.django_db
def test_signup_sends_the_address_confirmation_email(client, signup_data, mailoutbox):
    client.post("/accounts/signup/", signup_data())

    assert [m.to for m in mailoutbox] == [["new.shopper@example.com"]]
    assert "/accounts/confirm-email/" in mailoutbox[0].body
