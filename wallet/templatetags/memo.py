"""`{% money_memo %}` and `{% url_memo %}`: `{% money %}` and `{% url %}` with their answers
remembered by the process, for the pages every shopper loads most (base.html's navigation,
the wallet page). The formatted amounts are remembered by `catalog.money.format_money` itself.

Both are pure functions of what the key holds, so a remembered answer is the one a fresh call
gives: the formatted text of an amount in a currency and locale (Babel's data does not change
while the process runs), and the path of a URL name with its arguments under the request's
URL configuration, script prefix and language (the URL patterns are fixed at start-up). Each
cache is bounded (least recently used out first). Measured: Babel's formatting about 20 µs an
amount and `{% url %}` about 40 µs a link, a third of the wallet page's template time (issue 13).
"""

import itertools
import threading
from collections import OrderedDict
from functools import lru_cache

from django import template
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as url_tag
from django.template.loader_tags import BlockNode
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.translation import get_language

from catalog.money import format_money

register = template.Library()


@register.simple_tag(takes_context=True)
def money_memo(context, minor, currency):
    """As `{% money minor currency %}` (catalog/templatetags/money.py): in the signed-in
    shopper's locale when the currency is their region's."""
    if minor is None:
        return ""
    user = getattr(context.get("request"), "user", None)
    region = getattr(user, "region", None) if user is not None else None
    locale = region.locale if region is not None and region.currency == currency else None
    return format_money(int(minor), currency=currency, locale=locale)  # remembered there


@lru_cache(maxsize=4096)
def _reverse(key) -> str:
    _, urlconf, _, view_name, args, kwargs, current_app = key
    return reverse(
        view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app
    )


class MemoURLNode(URLNode):
    def render(self, context):
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple(sorted((k, v.resolve(context)) for k, v in self.kwargs.items()))
        view_name = self.view_name.resolve(context)
        current_app = None
        request = context.get("request")
        if request is not None:
            current_app = getattr(request, "current_app", None)
            if current_app is None and getattr(request, "resolver_match", None) is not None:
                current_app = request.resolver_match.namespace
        key = (
            get_script_prefix(),
            get_urlconf(),
            get_language(),
            view_name,
            args,
            kwargs,
            current_app,
        )
        try:
            url = _reverse(key)
        except TypeError:  # an argument that cannot be a key (a list): asked afresh
            url = reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url_memo(parser, token):
    """`{% url_memo 'name' arg … %}`: as `{% url %}` (same arguments, `as var` too), except
    that an unknown name raises `NoReverseMatch` even with `as var` (every use names a URL of
    ours, so a mistake shows at once)."""
    node = url_tag(parser, token)
    return MemoURLNode(node.view_name, node.args, node.kwargs, node.asvar)


# ---- {% memo key %}…{% endmemo %}: a fragment rendered once per key ---------------------------

# Bounded by the characters kept, not the entries: a wallet page's fragment is 15,000 to 60,000
# characters (more with symbols outside Latin-1, which Python stores in 2 or 4 bytes each), so
# a count of entries would let a busy process hold hundreds of megabytes. Each process keeps at
# most this many characters (at most 4 bytes each, usually 1 or 2), least recently used out first.
FRAGMENTS_MAX_CHARS = 4_000_000
_fragments: OrderedDict = OrderedDict()
_fragments_chars = 0
_node_ids = itertools.count()
_lock = threading.Lock()  # gthread workers share the process's fragments


class MemoNode(template.Node):
    # Not searched for the {% block %}s of a template that others extend, which Django does on
    # every render of a child (ExtendsNode): `memo` refuses a block inside, so none is missed,
    # and a parent's memos are not walked node by node on every page (issue 13).
    child_nodelists = ()

    def __init__(self, nodelist, keys):
        self.nodelist, self.keys, self.node_id = nodelist, keys, next(_node_ids)

    def render(self, context):
        # The key holds every value the fragment reads, so the text kept for it is the text a
        # render gives; with the language, time zone and URL prefix it is rendered under.
        key = (
            self.node_id,
            get_script_prefix(),
            get_urlconf(),
            get_language(),
            timezone.get_current_timezone_name(),
            *(key.resolve(context) for key in self.keys),
        )
        try:
            with _lock:
                text = _fragments.get(key)
                if text is not None:
                    _fragments.move_to_end(key)
        except TypeError:  # a key that cannot be one: rendered afresh
            return self.nodelist.render(context)
        if text is None:
            text = self.nodelist.render(context)
            _fragment_keep(key, text)
        return text


def _fragment_keep(key, text: str) -> None:
    global _fragments_chars
    if len(text) > FRAGMENTS_MAX_CHARS // 8:  # too large to be worth a place: never kept
        return
    with _lock:
        previous = _fragments.pop(key, None)
        _fragments_chars -= len(previous) if previous is not None else 0
        _fragments[key] = text
        _fragments_chars += len(text)
        while _fragments_chars > FRAGMENTS_MAX_CHARS:
            _, dropped = _fragments.popitem(last=False)
            _fragments_chars -= len(dropped)


def fragments_clear() -> None:
    """Forget every fragment kept (tests)."""
    global _fragments_chars
    with _lock:
        _fragments.clear()
        _fragments_chars = 0


@register.tag
def memo(parser, token):
    """`{% memo key … %}…{% endmemo %}`: the fragment's text for its keys (values, or a tuple
    the view builds, of everything the fragment shows; never a model instance, which compares by
    its id alone), rendered once and then reused. Only for a fragment that reads nothing but its
    keys (no `request`, no CSRF token, no messages), and holds no `{% block %}`."""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("{% memo key %} takes at least one key")
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    if nodelist.get_nodes_by_type(BlockNode):
        raise template.TemplateSyntaxError("{% memo %} cannot hold a {% block %}")
    return MemoNode(nodelist, [parser.compile_filter(bit) for bit in bits[1:]])
