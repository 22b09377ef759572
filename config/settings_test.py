"""Settings for the test suite: production settings with throwaway secrets and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("CODE_PEPPER", "test-code-pepper")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Production settings require REDIS_URL; without one (the SQLite stage) the suite passes them a
# placeholder and then uses the local-memory cache, as a single test process may.
os.environ["REDIS_URL"] = os.environ.get("REDIS_URL") or "redis://placeholder.invalid:6379/0"

from config.settings import *  # noqa: F403

if REDIS_URL == "redis://placeholder.invalid:6379/0":  # noqa: F405
    REDIS_URL = ""
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    del os.environ["REDIS_URL"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (WhiteNoise warns when it is missing)

# Parallel test workers (pytest-xdist: gw0, gw1, …) each get a Redis database of their own,
# as each gets a test database of its own: a test clearing the cache or counting guesses must
# not see another worker's counters.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _worker.startswith("gw"):
    REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + f"/{int(_worker[2:]) + 1}"
    CACHES["default"]["LOCATION"] = REDIS_URL
    os.environ["REDIS_URL"] = REDIS_URL

# Every test client builds the middleware anew, and WhiteNoise would then list and stat every
# static file (the finders': the admin's and ours) each time: 14 ms of CPU per client, some
# 5-7 % of the suite's. Autorefresh (as under DEBUG) looks a file up only when one is asked
# for: 0.3 ms. The servers of tests/http and `make run` are unchanged.
WHITENOISE_AUTOREFRESH = True
