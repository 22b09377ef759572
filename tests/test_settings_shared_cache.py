"""With DEBUG off the settings refuse to start without REDIS_URL (docs/interface.md §9), and
TRUSTED_PROXY_COUNT reaches allauth. Each case imports config.settings in a fresh process."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "s" * 60,
    "CODE_PEPPER": "p" * 60,
    "ALLOWED_HOSTS": "shop.example",
}
PRINT = (
    "import config.settings as s; "
    "print(s.CACHES['default']['BACKEND'], s.TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_PROXY_COUNT)"
)


def _settings_import(**env) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DEBUG", "TRUSTED_PROXY_COUNT", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", PRINT],
        cwd=settings.BASE_DIR,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("redis_url", [None, ""])
def test_debug_off_without_redis_url_refuses_to_start_with_a_one_line_reason(redis_url):
    env = dict(PRODUCTION) if redis_url is None else {**PRODUCTION, "REDIS_URL": redis_url}

    result = _settings_import(**env)

    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: REDIS_URL must be set")
    assert "DEBUG is off" in last


def test_debug_off_with_redis_url_starts_on_redis():
    result = _settings_import(**PRODUCTION, REDIS_URL="redis://127.0.0.1:6379/0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["config.cache.RedisCache", "0", "0"]


def test_debug_on_without_redis_url_uses_the_local_memory_cache():
    result = _settings_import(DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "django.core.cache.backends.locmem.LocMemCache"


def test_trusted_proxy_count_reaches_allauth():
    result = _settings_import(DEBUG="true", TRUSTED_PROXY_COUNT="2")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1:] == ["2", "2"]


def test_a_negative_trusted_proxy_count_is_refused():
    result = _settings_import(DEBUG="true", TRUSTED_PROXY_COUNT="-1")

    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT must be 0 or more" in result.stderr
