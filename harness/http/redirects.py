"""The request that follows a redirect, as requests and httpx make it: its method and body
(302 and 303 go on as GET, 307 and 308 repeat the request), its URL (relative and
scheme-relative `Location`s joined, the fragment carried over) and its headers (no credentials
to another origin, the cookies left to the jar)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin

from harness.http.urls import origin_and_target

__all__ = ["REDIRECTS", "next_request"]

#: the statuses a client follows when their answer names a `Location`
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def next_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    status: int,
    location: str,
) -> tuple[str, str, dict[str, str], bytes | None]:
    """(method, URL, headers, body) of the request that follows `status` with `location` to
    `method url`, whose lower-case `headers` are left as they were.

    302 and 303 make it a GET without a body (but a HEAD stays one), and so does a 301 to a
    POST; 307 and 308 repeat the request as it was. A `Cookie` header goes (the caller's
    cookie jar picks those of the new URL), and so does `Authorization` when the origin
    changes, but from http on port 80 to https on 443 of the same host."""
    headers = dict(headers)
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        headers.pop("content-type", None)
        method, body = "GET", None
    headers.pop("cookie", None)
    next_url = urljoin(url, location)
    if "#" in url and "#" not in location:  # the fragment carries over (RFC 9110 10.2.2)
        next_url += url[url.index("#") :]
    before, after = origin_and_target(url)[0], origin_and_target(next_url)[0]
    if after != before and (before, after) != (("http", after[1], 80), ("https", before[1], 443)):
        headers.pop("authorization", None)
    return method, next_url, headers, body
