"""A NUL byte in a URL is a 404 before any view sees it.

PostgreSQL refuses NUL in a string (the driver raises before the query is sent), so a `%00`
in a path or a query string that reaches a look-up is a 500 there, while SQLite quietly finds
nothing. No id, slug, order number, search term or page number of the shop contains one, so
the address names no page: answered here once, for every view and the whole admin, instead of
in each of them (docs/interface.md §9: malformed ids in any URL are a 404).

Form fields need no such guard: Django's form `CharField` already refuses NUL (a form error).
"""

from django.http import Http404


class NulBytesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        # The path arrives decoded; the query string raw (parsed later, `%00` -> NUL).
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            raise Http404("No such page.")
        return self.get_response(request)
