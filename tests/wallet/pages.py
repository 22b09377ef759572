"""Read docs/interface.md §6 page hooks (`data-testid` elements) out of a response."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}


@dataclass
class Hook:
    testid: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The element's text, whitespace collapsed, non-breaking spaces made plain."""
        text = "".join(self.parts).replace("\u202f", " ").replace("\xa0", " ")
        return " ".join(text.split())


class _HookParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hooks: list[Hook] = []
        self._open: list[tuple[str, Hook | None]] = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        hook = Hook(attrs["data-testid"], attrs) if "data-testid" in attrs else None
        if hook is not None:
            self.hooks.append(hook)
        if tag not in _VOID:
            self._open.append((tag, hook))

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        for _, hook in self._open:
            if hook is not None:
                hook.parts.append(data)


def hooks(response, testid: str) -> list[Hook]:
    """Every element of the page with `data-testid=testid`, in document order."""
    parser = _HookParser()
    parser.feed(response.content.decode())
    return [hook for hook in parser.hooks if hook.testid == testid]


def hook(response, testid: str) -> Hook:
    """The one element with `data-testid=testid` (fails when there is none or several)."""
    found = hooks(response, testid)
    assert len(found) == 1, f"{len(found)} elements with data-testid={testid!r}"
    return found[0]
