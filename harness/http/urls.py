"""URLs of the HTTP transport and the touchpoints over it: joining a path to a base URL,
splitting a URL into its origin and request target, and comparing origins. Journeys repeat their
paths and `urljoin` and `urlsplit` are slow, so joins and splits are cached (bounded)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from harness.http.wire import default_port

_JOINED: dict[tuple[str, str], str] = {}
_SPLIT: dict[str, tuple[tuple[str, str, int], str]] = {}
_CACHE_LIMIT = 4096


def same_origin(url: str, other: str) -> bool:
    """Whether the two URLs have the same scheme, host and port."""
    return origin_and_target(url)[0] == origin_and_target(other)[0]


def url_path(url: str) -> str:
    """The path and query of a URL (for messages)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def origin_and_target(url: str) -> tuple[tuple[str, str, int], str]:
    """((scheme, host, port), path?query) of a URL, cached like `join_url`."""
    found = _SPLIT.get(url)
    if found is None:
        parts = urlsplit(url)
        port = parts.port or default_port(parts.scheme)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if len(_SPLIT) >= _CACHE_LIMIT:
            _SPLIT.clear()
        found = _SPLIT[url] = ((parts.scheme, parts.hostname or "", port), target)
    return found


def is_absolute(path: str) -> bool:
    """Whether `path` is a URL of its own (it starts with a scheme), not a path under the base:
    `/login?next=https://...` is a path, as requests and httpx read it."""
    return "://" in path and path.partition("://")[0].isalpha()


def join_url(base_url: str, path: str) -> str:
    """`path` under `base_url`, cached: journeys repeat their paths and `urljoin` is slow."""
    url = _JOINED.get((base_url, path))
    if url is None:
        if len(_JOINED) >= _CACHE_LIMIT:
            _JOINED.clear()
        url = _JOINED[(base_url, path)] = urljoin(base_url, path.lstrip("/"))
    return url
