"""The address book, /account/addresses/ (docs/interface.md §10): add, edit, delete, default;
the country is the shopper's region; postal codes checked per region."""

import pytest
from django.test import Client

from accounts.addresses import address_create
from accounts.models import Address
from tests.accounts.factories import UserFactory
from tests.wallet.pages import hooks

pytestmark = pytest.mark.django_db

BOOK = "/account/addresses/"

# Measured on SQLite; flat however many addresses: session, user, addresses (with their
# region), nav balance, region (nav).
BOOK_QUERIES_MAX = 6  # + the nav's cart count


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _data(postal_code="10001", **extra):
    return {
        "full_name": "Ada Lovelace",
        "line1": "12 Analytical Row",
        "line2": "",
        "city": "New York",
        "postal_code": postal_code,
        "phone": "",
        **extra,
    }


def _saved(user, **extra) -> Address:
    data = _data(**extra)
    return address_create(user=user, data=data)


GOOD = {
    "US": ["12345", "12345-6789"],
    "GB": ["SW1A 1AA", "ec1a1bb"],
    "FR": ["75001"],
    "DE": ["10115"],
    "JP": ["100-0001", "1000001"],
}
BAD = {
    "US": ["1234", "123456", "12345-67", "ABCDE"],
    "GB": ["12345", "SW1A", "ZZZ 999"],
    "FR": ["7500", "750011", "AB123"],
    "DE": ["1011", "101155"],
    "JP": ["100-001", "12-34567", "abc-defg"],
}
WRITTEN = {"GB": {"ec1a1bb": "EC1A 1BB"}, "JP": {"1000001": "100-0001"}}


@pytest.mark.parametrize(
    ("region", "code"), [(region, code) for region, codes in GOOD.items() for code in codes]
)
def test_a_good_postal_code_is_saved_in_the_regions_form(region, code):
    user = UserFactory(region_id=region)
    response = _client_for(user).post(BOOK, _data(postal_code=code))
    assert response.status_code == 302
    address = Address.objects.get(user=user)
    assert address.region_id == region  # the country is the region, never asked
    assert address.postal_code == WRITTEN.get(region, {}).get(code, code)
    assert address.is_default  # the first address is the default


@pytest.mark.parametrize(
    ("region", "code"), [(region, code) for region, codes in BAD.items() for code in codes]
)
def test_a_bad_postal_code_is_refused_and_nothing_is_written(region, code):
    user = UserFactory(region_id=region)
    response = _client_for(user).post(BOOK, _data(postal_code=code))
    assert response.status_code == 400
    (error,) = hooks(response, "field-error")
    assert error.attrs["data-field"] == "postal_code"
    assert "valid postal code" in error.text
    html = response.content.decode()
    assert 'aria-describedby="id_postal_code_error"' in html
    assert 'aria-invalid="true"' in html
    assert code in html  # the field keeps what was typed
    assert not Address.objects.exists()


def test_missing_fields_are_refused_with_their_errors():
    user = UserFactory()
    response = _client_for(user).post(BOOK, {"postal_code": "10001"})
    assert response.status_code == 400
    fields = {error.attrs["data-field"] for error in hooks(response, "field-error")}
    assert fields == {"full_name", "line1", "city"}
    assert not Address.objects.exists()


def test_the_list_shows_the_shoppers_addresses_default_first():
    user = UserFactory()
    first = _saved(user)
    second = _saved(user, line1="2 Second St")
    other = UserFactory()
    _saved(other, line1="Not Mine Lane")
    response = _client_for(user).get(BOOK)
    assert response.status_code == 200
    shown = hooks(response, "address")
    assert [int(a.attrs["data-address-id"]) for a in shown] == [first.pk, second.pk]
    assert shown[0].attrs.get("data-default") == "true"
    assert "Not Mine Lane" not in response.content.decode()
    assert "private" in response["Cache-Control"]


def test_make_default_moves_the_default():
    user = UserFactory()
    first = _saved(user)
    second = _saved(user, line1="2 Second St")
    response = _client_for(user).post(f"{BOOK}{second.pk}/default/")
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_make_default_when_adding():
    user = UserFactory()
    first = _saved(user)
    _client_for(user).post(BOOK, {**_data(line1="3 New St"), "make_default": "on"})
    first.refresh_from_db()
    assert not first.is_default
    assert Address.objects.get(user=user, is_default=True).line1 == "3 New St"


def test_edit_changes_the_address_and_checks_the_postal_code():
    user = UserFactory()
    address = _saved(user)
    client = _client_for(user)
    page = client.get(f"{BOOK}{address.pk}/edit/")
    assert page.status_code == 200
    assert "12 Analytical Row" in page.content.decode()

    refused = client.post(f"{BOOK}{address.pk}/edit/", _data(postal_code="nope"))
    assert refused.status_code == 400
    address.refresh_from_db()
    assert address.postal_code == "10001"

    done = client.post(f"{BOOK}{address.pk}/edit/", _data(city="Boston", postal_code="02108"))
    assert done.status_code == 302
    address.refresh_from_db()
    assert (address.city, address.postal_code) == ("Boston", "02108")


def test_deleting_the_default_makes_the_next_one_default():
    user = UserFactory()
    first = _saved(user)
    second = _saved(user, line1="2 Second St")
    response = _client_for(user).post(f"{BOOK}{first.pk}/delete/")
    assert response.status_code == 302
    assert list(Address.objects.filter(user=user)) == [second]
    second.refresh_from_db()
    assert second.is_default


@pytest.mark.parametrize("action", ["edit/", "delete/", "default/"])
def test_another_shoppers_address_is_a_404_and_untouched(action):
    owner = UserFactory()
    address = _saved(owner)
    intruder = _client_for(UserFactory())
    response = intruder.post(f"{BOOK}{address.pk}/{action}", _data(city="Elsewhere"))
    assert response.status_code == 404
    address.refresh_from_db()
    assert (address.city, address.is_default) == ("New York", True)
    assert intruder.get(f"{BOOK}{address.pk}/edit/").status_code == 404


def test_unknown_and_huge_ids_are_404s():
    client = _client_for(UserFactory())
    assert client.get(f"{BOOK}999999/edit/").status_code == 404
    assert client.post(f"{BOOK}99999999999999999999/delete/").status_code == 404


@pytest.mark.parametrize("action", ["delete/", "default/"])
def test_delete_and_default_are_post_only(action):
    user = UserFactory()
    address = _saved(user)
    assert _client_for(user).get(f"{BOOK}{address.pk}/{action}").status_code == 405
    assert Address.objects.filter(pk=address.pk).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(BOOK)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.post(BOOK, _data()).status_code == 302
    assert not Address.objects.exists()


def test_a_post_without_the_csrf_token_is_refused():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(BOOK, _data()).status_code == 403
    assert not Address.objects.exists()


def test_the_book_query_count_does_not_grow(django_assert_max_num_queries):
    user = UserFactory()
    _saved(user)
    client = _client_for(user)
    client.get(BOOK)
    with django_assert_max_num_queries(BOOK_QUERIES_MAX) as one:
        client.get(BOOK)
    for n in range(5):
        _saved(user, line1=f"{n} More St")
    with django_assert_max_num_queries(BOOK_QUERIES_MAX) as six:
        assert len(hooks(client.get(BOOK), "address")) == 6
    assert len(one.captured_queries) == len(six.captured_queries)


def test_an_address_of_another_region_is_not_offered():
    user = UserFactory(region_id="US")
    _saved(user)
    Address.objects.update(region_id="GB")  # saved before a region change
    assert hooks(_client_for(user).get(BOOK), "address") == []


def test_the_demo_shopper_has_a_saved_default_address(tmp_path, settings):
    from wallet.demo import DEMO_SHOPPER, demo_seed

    settings.DEBUG = True
    demo_seed(code_file=tmp_path / "codes.csv")
    demo_seed(code_file=tmp_path / "codes.csv")  # again: still one
    (address,) = Address.objects.filter(user__email=DEMO_SHOPPER[0])
    assert (address.is_default, address.region_id, address.postal_code) == (True, "US", "10118")
