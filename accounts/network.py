"""The client's address, as the shop's limits see it (docs/interface.md §9).

`TRUSTED_PROXY_COUNT` says how many proxies under our control stand in front of the app, each
appending the address it saw to `X-Forwarded-For`. Only those entries can be believed: whatever
is further left was written by the client and may be anything. So:

- 0 (the default): `REMOTE_ADDR`; `X-Forwarded-For` is ignored, spoofing it changes nothing.
- N > 0: the Nth entry from the right, the address the outermost trusted proxy saw.
- fewer than N entries (or none, or a malformed one): the request did not come through every
  trusted proxy, so no entry is known good: `REMOTE_ADDR`. Behind a proxy that address is the
  proxy's, which every such request shares: a limit keyed on it gets stricter, never looser.

The claim-code guessing limits (wallet/guessing.py) and allauth's sign-in limits
(accounts/adapter.py) both call `client_ip`, so they always count the same address.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address (normalised text), or None when not even `REMOTE_ADDR` is usable."""
    remote = address_clean(request.META.get("REMOTE_ADDR", ""))
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    header = request.headers.get("X-Forwarded-For", "")
    entries = [entry.strip() for entry in header.split(",")] if header.strip() else []
    if len(entries) < trusted:
        return remote
    return address_clean(entries[-trusted]) or remote


def address_clean(text: str) -> str | None:
    """`text` as a normalised IP address (a port and IPv6 brackets dropped), None if it is not one.

    An IPv4 address written as IPv6 (`::ffff:192.0.2.1`, a dual-stack socket) becomes the IPv4
    address, so one client is one address whichever way its connection was accepted.
    """
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # 192.0.2.1:443 (an IPv6 address has at least two colons)
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)
