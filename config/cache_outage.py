"""The last net under a shared-cache (Redis) outage: a plain 503 page, never a 500.

Redemption and the code box do not rely on it: they refuse explicitly and write nothing
(wallet/guessing.py, `data-reason="unavailable"`). What lands here is everything else that
counts in the cache when it cannot be reached — allauth's limits on sign-in, sign-up, password
reset and two-factor codes. Those fail closed too: the limits are what stops password guessing
(at /admin/ as well), and an attacker who can make the cache unreachable must not get unlimited
guesses for it. Pages that never touch the cache keep working: the catalog, the wallet, the
cart and checkout pages, the sign-in form itself (allauth counts only POSTs), and every session
(sessions fall back to the database: config/sessions.py). Signing out answers this page
until the cache is back: a session copy left in the cache could otherwise outlive it.
"""

import logging

from django.shortcuts import render
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 60


class CacheOutageMiddleware:
    """Turn a cache server error escaping a view into a 503 page (`data-reason="unavailable"`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RedisError):
            return None
        logger.warning("shared cache unreachable: %s %s answered 503", request.method, request.path)
        response = render(request, "cache_unavailable.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
