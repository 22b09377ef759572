"""Requests no page of the shop can answer, refused before any view sees them: a NUL byte in
the URL (404), a form body that is not UTF-8 (400).

PostgreSQL refuses NUL in a string (the driver raises before the query is sent), so a `%00`
in a path or a query string that reaches a look-up is a 500 there, while SQLite quietly finds
nothing. No id, slug, order number, search term or page number of the shop contains one, so
the address names no page: answered here once, for every view and the whole admin, instead of
in each of them (docs/interface.md §9: malformed ids in any URL are a 404).

Form fields need no such guard: Django's form `CharField` already refuses NUL (a form error).

Likewise a form body that says it is not UTF-8 (`application/x-www-form-urlencoded;
charset=latin-1`): Django refuses it (400) when a view reads the form, but leaves the request
half-read, so with DEBUG on its error page reads the form again and fails: a 500 under
`make run`. Answered here, before any view, with Django's own 400 page.
"""

from django.core.exceptions import BadRequest
from django.http import Http404
from django.views.defaults import bad_request


class NulBytesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        # The path arrives decoded; the query string raw (parsed later, `%00` -> NUL).
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            raise Http404("No such page.")
        # Django's own test (the charset's name, lower-cased, must be "utf-8": its alias "utf8"
        # is refused too), on the one method whose form it reads.
        if (
            request.method == "POST"
            and request.content_type == "application/x-www-form-urlencoded"
            and request.encoding is not None
            and request.encoding.lower() != "utf-8"
        ):
            return bad_request(request, BadRequest("A form is sent in UTF-8."))
        return self.get_response(request)
