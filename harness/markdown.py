"""Text from a run folder (step names, error messages, gate findings) made safe for summary.md.

summary.md is shown as a CI job summary, where Markdown may carry HTML. A value from a target or
a run folder must reach it as text: no tags, no links or images, no table cells of its own, no
terminal escapes. Every Markdown writer goes through these four functions.

- `md_text`: inline text. `&`, `<`, `>` become entities; `\\`, `` ` ``, `*`, `~`, `[`, `]`, `!`
  and `|` are backslash-escaped (so a value cannot open a link, an image, a code span or a cell);
  `_` is left alone, since CommonMark does not emphasise inside words and names are full of it.
- `md_code`: a name shown as code. Backticks as before for a plain name; a name with markup
  characters becomes `<code>` around `md_text`, which renders the same and holds no raw tag.
- `md_block`: a preformatted block. A fence as before; a `<pre>` of entity-escaped text when the
  body holds markup characters or a fence of its own.
- `plain`: what all three start from: ANSI escape sequences removed, other control characters
  shown as U+FFFD, line breaks kept only where the caller allows them.
"""

from __future__ import annotations

import html
import re

__all__ = ["md_block", "md_code", "md_text", "plain"]

#: CSI and OSC sequences, and the two-character escapes (ESC and one character)
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\t]")
_MARKDOWN = re.compile(r"([\\`*~\[\]!|])")
_MARKUP = re.compile(r"[<>&`|\\]")
REPLACEMENT = "\ufffd"


def plain(value: object, *, lines: bool = False) -> str:
    """`value` as text without terminal escapes or control characters; line breaks and tabs
    become spaces unless `lines` (then a tab is a space and `\\r\\n` is `\\n`)."""
    text = _ANSI.sub("", str(value))
    if lines:
        text = text.replace("\r\n", "\n").replace("\t", " ").replace("\r", "\n")
    else:
        text = _LINE_BREAK.sub(" ", text)
    return _CONTROL.sub(REPLACEMENT, text)


def md_text(value: object) -> str:
    """`value` as one line of Markdown text that renders as itself (see the module doc)."""
    return _MARKDOWN.sub(r"\\\1", html.escape(plain(value), quote=False))


def md_code(value: object) -> str:
    """`value` as inline code: `` `name` ``, or `<code>…</code>` around escaped text when the
    name holds characters a code span would pass through raw."""
    text = plain(value)
    if not _MARKUP.search(text):
        return f"`{text}`"
    return f"<code>{md_text(text)}</code>"


def md_block(body: str) -> str:
    """`body` as a preformatted block: a ``` fence, or `<pre>` with entity-escaped text when a
    fence would pass markup through or be closed early."""
    text = plain(body, lines=True)
    if not re.search(r"[<>&]|```", text):
        return f"```\n{text}\n```"
    return f"<pre>\n{html.escape(text, quote=False)}\n</pre>"
