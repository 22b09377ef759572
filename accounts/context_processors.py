from django.utils.functional import LazyObject, empty


def user_itself(request):
    """`user`, after Django's `auth` processor, as the user itself rather than the lazy stand-in
    AuthenticationMiddleware puts on the request. Every page reads it (the navigation bar asks
    who is signed in; config/private_pages.py already did), and each of the dozens of `user.…`
    lookups a page makes on a lazy object goes through its proxy: a failed `user[name]`, then
    several attribute reads."""
    user = getattr(request, "user", None)
    if not isinstance(user, LazyObject):
        return {}
    if user._wrapped is empty:
        user._setup()
    return {"user": user._wrapped}
