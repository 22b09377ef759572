"""Every page a signed-in person sees is private: `Cache-Control: private, no-store`.

The navigation shows the shopper's balance on every page (docs/interface.md §9: pages that show
a balance, a code or an order are never stored by a shared or a browser cache), so once the
user is known no page of theirs may be kept — the catalog included. Pages that already chose
(`never_cache` on the wallet and order pages, the admin's own) keep their header; a visitor's
catalog pages stay cacheable.
"""

from django.utils.cache import patch_cache_control


class PrivatePagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
