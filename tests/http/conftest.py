"""Two gunicorn processes on one PostgreSQL and one Redis, for the tests of tests/http/.

Run by scripts/test-http.sh (the `http` stage of `make test`), under scripts/test-services.sh.
The servers and this process share the database (not a test database: the servers cannot see
pytest-django's), the cache and the secrets; state is built here through the real services,
then driven over HTTP, each burst of requests spread over both processes.
"""

import contextlib
import http.client
import os
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.db import connection

from tests.http.servers import shop_servers
from tests.http.shoppers import Shopper, form_body

# The client address the servers believe: one proxy of ours in front (X-Forwarded-For), so a
# test chooses the address each request comes from (docs/interface.md §9, TRUSTED_PROXY_COUNT).
TRUSTED_PROXY_COUNT = 1
SERVERS = 2
JOIN_TIMEOUT = 60
REASON = re.compile(r'data-testid="form-error" data-reason="([a-z_]+)"')


@pytest.fixture(scope="session")
def servers(django_db_blocker) -> list[int]:
    """The ports of two gunicorn processes (2 workers of 4 threads each), started once."""
    with (
        django_db_blocker.unblock(),
        shop_servers(
            count=SERVERS, workers=2, threads=4, trusted_proxy_count=TRUSTED_PROXY_COUNT
        ) as ports,
    ):
        yield ports


@pytest.fixture
def live_db(servers, django_db_blocker):
    """This process may use the servers' database during the test (no test database)."""
    with django_db_blocker.unblock(), _the_servers_database():
        yield


@contextlib.contextmanager
def _the_servers_database():
    """This process's connection on the servers' database (DATABASE_URL's) while inside. In a
    session of its own (scripts/test-http.sh) it is already; in one with other tests,
    pytest-django has pointed the connection at its test database, which the servers do not
    read, and which the other tests must not find these tests' rows in."""
    name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
    settings_dict = connection.settings_dict
    before = settings_dict["NAME"]
    if before == name:
        yield
        return
    connection.close()
    settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = before


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    reason: str  # the page's form-error data-reason, "" when it has none


def send(
    port: int,
    method: str,
    path: str,
    *,
    shopper: Shopper | None = None,
    address: str = "192.0.2.1",
    **fields: str,
) -> Answer:
    """One request to the server on `port`, from client `address`, as `shopper` (cookies and
    CSRF token), with `fields` as a urlencoded form for a POST."""
    headers = {"X-Forwarded-For": address, "Host": "127.0.0.1"}
    body = None
    if shopper is not None:
        headers["Cookie"] = shopper.cookie
    if method == "POST":
        body = form_body(shopper, **fields) if shopper else ""
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=JOIN_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        page = response.read().decode("utf-8", "replace")
        found = REASON.search(page)
        return Answer(
            status=response.status,
            location=response.getheader("Location", ""),
            reason=found.group(1) if found else "",
        )
    finally:
        connection.close()


def send_together(servers: list[int], requests: list[dict]) -> list[Answer]:
    """Send every request (the keyword arguments of `send` but the port) from its own thread,
    all released at once by a barrier, alternating between the servers; the answers in order."""
    barrier = threading.Barrier(len(requests))
    answers: list[Answer | BaseException | None] = [None] * len(requests)

    def worker(index: int, request: dict) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            answers[index] = send(servers[index % len(servers)], **request)
        except BaseException as error:  # reported below, with the request's index
            answers[index] = error

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    failed = [(i, a) for i, a in enumerate(answers) if not isinstance(a, Answer)]
    assert not failed, f"requests that got no answer: {failed[:3]}"
    return answers
