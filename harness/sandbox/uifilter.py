"""Removing elements by `data-testid` from rendered HTML, for `ui:TESTID` regressions.

A small rewriting pass over the standard library's HTML tokenizer; it runs only when the
release has ui regressions, so pages of an unregressed release cost nothing extra.
"""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["strip_testids"]

_VOID = frozenset(
    [
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
        "track",
        "wbr",
    ]
)


class _Stripper(HTMLParser):
    def __init__(self, hidden: frozenset[str]) -> None:
        super().__init__(convert_charrefs=False)
        self.hidden = hidden
        self.out: list[str] = []
        self.depth = 0  # > 0 while inside a removed element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        void = tag in _VOID
        if self.depth:
            self.depth += 0 if void else 1
        elif dict(attrs).get("data-testid") in self.hidden:
            self.depth = 0 if void else 1
        else:
            self.out.append(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.depth and dict(attrs).get("data-testid") not in self.hidden:
            self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
        else:
            self.out.append(f"</{tag}>")

    def _raw(self, text: str) -> None:
        if not self.depth:
            self.out.append(text)

    def handle_data(self, data: str) -> None:
        self._raw(data)

    def handle_entityref(self, name: str) -> None:
        self._raw(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._raw(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self._raw(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self._raw(f"<!{decl}>")


def strip_testids(html: str, hidden: frozenset[str]) -> str:
    """Remove every element (with its content) whose `data-testid` is in `hidden`.

    Relies on the pages above closing every non-void element explicitly.
    """
    if not hidden:
        return html
    stripper = _Stripper(hidden)
    stripper.feed(html)
    stripper.close()
    return "".join(stripper.out)
