"""Benchmark: the admin's "Issue and download codes" of the largest batch it issues.

Makes a throwaway test database (SQLite, or PostgreSQL when DATABASE_URL says so), requests a
batch of GIFTCARD_ADMIN_MAX_CARDS cards through the admin as one staff member, approves it as
another, then POSTs the download and consumes the streamed CSV. Prints the seconds to the first
byte and to the last, the size of the file and the time a slow client would need at a few
rates: what gunicorn's `--timeout` must allow with sync workers (README, "Running in
production").

    .venv/bin/python bench/admin_batch_download.py                 # SQLite
    scripts/test-services.sh .venv/bin/python bench/admin_batch_download.py   # PostgreSQL
Options: --count N (default GIFTCARD_ADMIN_MAX_CARDS).
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from tests.accounts.two_factor import login_staff
    from tests.wallet.staff import APPROVERS, ISSUERS, staff_user
    from wallet.models import GiftCardBatch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=settings.GIFTCARD_ADMIN_MAX_CARDS)
    count = parser.parse_args().count

    setup_test_environment()
    from django.test.runner import DiscoverRunner

    runner = DiscoverRunner(verbosity=0)
    old = runner.setup_databases()
    try:
        issuer, approver = staff_user(ISSUERS), staff_user(APPROVERS)
        client = login_staff(Client(), issuer)
        response = client.post(
            reverse("admin:wallet_giftcardbatch_add"),
            {
                "idempotency_key": "bench",
                "name": "bench",
                "region": "US",
                "count": str(count),
                "amount": "25.00",
                "note": "",
            },
        )
        assert response.status_code == 302, response.status_code
        batch = GiftCardBatch.objects.get()
        if batch.status == GiftCardBatch.Status.PENDING_APPROVAL:
            approving = login_staff(Client(), approver)
            approving.post(reverse("admin:wallet_batch_approve", args=[batch.pk]))

        started = time.perf_counter()
        download = client.post(reverse("admin:wallet_batch_codes", args=[batch.pk]))
        chunks = iter(download.streaming_content)
        size = len(next(chunks))
        first = time.perf_counter() - started
        size += sum(len(chunk) for chunk in chunks)
        last = time.perf_counter() - started
        batch.refresh_from_db()
        assert batch.status == GiftCardBatch.Status.ISSUED, batch.status

        print(
            f"{connection.vendor}: {count:,} cards, CSV {size / 1e6:.2f} MB; first byte after "
            f"{first:.2f} s, last after {last:.2f} s ({count / last:,.0f} cards/s)"
        )
        for rate_kb in (1000, 100, 20):
            seconds = size / (rate_kb * 1000)
            print(f"  a client reading {rate_kb} kB/s needs {max(seconds, last):.0f} s")
    finally:
        runner.teardown_databases(old)


if __name__ == "__main__":
    main()
