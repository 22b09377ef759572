"""`/healthz/`: the process answers, without touching the database or the cache.

For a load balancer's liveness probe, and the baseline of the HTTP load bench
(bench/http_load.py: the cheapest page the full middleware stack can serve).
"""

from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
def health(request):
    return HttpResponse("ok\n", content_type="text/plain")
