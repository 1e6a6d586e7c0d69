"""Per-target `block` patterns: requests a browser context refuses before they leave Chromium
(analytics and third-party hosts, optionally fonts or images), compiled to ONE regular
expression, so that Playwright's driver matches URLs itself and only blocked requests make a
round trip to Python (a callable matcher would pause every request of the page).

An entry is one of:

- `fonts`, `images`, `media`: requests for files of that kind, by URL extension;
- a host, `google-analytics.com` or `*.doubleclick.net`: that host and its subdomains, any
  scheme, port and path;
- a URL glob (has a `/`): `*` within one path segment, `**` across segments, e.g.
  `**/analytics.js` or `https://cdn.example.com/**`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from harness.errors import UsageError

KINDS = {
    "fonts": ("woff2", "woff", "ttf", "otf", "eot"),
    "images": ("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp"),
    "media": ("mp4", "webm", "ogg", "mp3", "wav", "m4a", "mov"),
}
_HOST = re.compile(r"^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$")


def block_regex(patterns: Sequence[str], *, where: str = "block") -> re.Pattern[str] | None:
    """One regular expression matching every URL any of `patterns` blocks (None: no pattern);
    a malformed pattern is the user's mistake, named with `where`."""
    parts = [_one(p.strip(), where) for p in patterns if p.strip()]
    if not parts:
        return None
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)


@functools.lru_cache(maxsize=32)
def compiled(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """`block_regex` of a target's patterns, compiled once per process."""
    return block_regex(patterns)


def _one(pattern: str, where: str) -> str:
    lowered = pattern.lower()
    if lowered in KINDS:
        extensions = "|".join(KINDS[lowered])
        return rf"^[^?#]*\.(?:{extensions})(?:[?#].*)?$"
    if "/" in pattern:
        return _glob(pattern)
    if _HOST.match(lowered):
        host = re.escape(lowered.removeprefix("*."))
        return rf"^[a-z][a-z0-9+.-]*://(?:[^/@]*@)?(?:[^/@]*\.)?{host}(?::\d+)?(?:[/?#]|$)"
    raise UsageError(
        f"{where}: {pattern!r} is not a block pattern; give a host (analytics.example.com, "
        f"*.doubleclick.net), a URL glob with a / (**/tracker.js), or one of "
        f"{', '.join(sorted(KINDS))}"
    )


def _glob(pattern: str) -> str:
    out = ["^"]
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    out.append("$")
    return "".join(out)
