"""`/healthz/` (config/health.py): the liveness probe and the HTTP bench's baseline."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_health_answers_ok_without_a_query_and_is_never_stored(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz/")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert response["Content-Type"] == "text/plain"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_takes_no_post():
    assert Client().post("/healthz/").status_code == 405
