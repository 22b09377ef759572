"""The admin's sign-in goes through the shop's (allauth's) sign-in.

Django's admin login form checks a password and nothing else: no allauth rate limits, no
second factor. Its URL now leads to allauth's page, which applies both, and comes back.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def admin_login(request):
    """Redirect to the shop's sign-in with `next` (a POSTed password is never checked here).

    A signed-in member of staff goes straight on to `next`; a signed-in shopper is refused,
    as Django's admin login would (sending them to the sign-in page would bounce them back).
    """
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    next_url = next_url or reverse("admin:index")
    if request.user.is_authenticated:
        if not admin.site.has_permission(request):
            raise PermissionDenied("This account has no access to the staff admin.")
        return HttpResponseRedirect(next_url)
    return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")
