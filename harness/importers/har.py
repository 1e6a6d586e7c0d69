"""Reading a HAR file (HTTP Archive 1.2) into `Exchange`s, refusing a damaged one in one
paragraph (`UsageError`, exit 2)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from harness.errors import UsageError

MAX_HAR_BYTES = 512 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


@dataclass(frozen=True)
class Exchange:
    """One request of a HAR and its response, as the importer needs them."""

    index: int
    started: float  #: seconds since the epoch
    duration_s: float
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]  #: the request's, names in lower case
    body_mime: str
    body_text: str | None
    form: tuple[tuple[str, str], ...] | None  #: an url-encoded form body, field by field
    status: int
    response_headers: tuple[tuple[str, str], ...]  #: names in lower case
    response_mime: str
    response_text: str | None
    resource_type: str  #: Chromium's (`document`, `fetch`, `script`, ...); "" when not said

    @property
    def ended(self) -> float:
        """When the response was complete, in seconds since the epoch."""
        return self.started + self.duration_s

    def header(self, name: str, *, response: bool = False) -> str | None:
        """The first value of header `name` (lower case) of the request or the response."""
        for key, value in self.response_headers if response else self.headers:
            if key == name:
                return value
        return None


def read_har(path: Path) -> list[Exchange]:
    """The exchanges of the HAR at `path`, in the order they started."""
    where = f"{path}"
    try:
        if path.stat().st_size > MAX_HAR_BYTES:
            raise UsageError(f"{where} is larger than {MAX_HAR_BYTES // 2**20} MB; not a HAR")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the HAR {where}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"{where} is not a HAR file: it is not JSON ({exc}). Export one from the browser's "
            "network panel (Save all as HAR) or record it with Playwright's record_har_path"
        ) from None
    entries = data.get("log", {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsageError(
            f"{where} is not a HAR file: it has no log.entries list (HTTP Archive 1.2). Export "
            "one from the browser's network panel or record it with Playwright's record_har_path"
        )
    exchanges = []
    for index, entry in enumerate(entries):
        try:
            exchanges.append(_exchange(index, entry))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"{where} is not a usable HAR: entry {index + 1} of {len(entries)} lacks or "
                f"misspells a field ({type(exc).__name__}: {exc}); each entry needs "
                "startedDateTime, time, request.method, request.url and response.status"
            ) from None
    if not exchanges:
        raise UsageError(f"{where} holds no requests: there is nothing to import")
    return sorted(exchanges, key=lambda e: (e.started, e.index))


def _exchange(index: int, entry: dict[str, Any]) -> Exchange:
    request, response = entry["request"], entry["response"]
    started = datetime.fromisoformat(str(entry["startedDateTime"]).replace("Z", "+00:00"))
    post = request.get("postData") or {}
    mime = str(post.get("mimeType", "")).split(";")[0].strip().lower()
    text = post.get("text")
    form: tuple[tuple[str, str], ...] | None = None
    if mime == "application/x-www-form-urlencoded":
        if isinstance(text, str):
            form = tuple(parse_qsl(text, keep_blank_values=True))
        else:
            form = tuple((str(p["name"]), str(p.get("value", ""))) for p in post.get("params", []))
    content = response.get("content") or {}
    return Exchange(
        index=index,
        started=started.timestamp(),
        duration_s=max(0.0, float(entry.get("time") or 0.0)) / 1000.0,
        method=str(request["method"]).upper(),
        url=str(request["url"]),
        headers=_headers(request.get("headers", [])),
        body_mime=mime,
        body_text=text if isinstance(text, str) else None,
        form=form,
        status=int(response["status"]),
        response_headers=_headers(response.get("headers", [])),
        response_mime=str(content.get("mimeType", "")).split(";")[0].strip().lower(),
        response_text=_content_text(content),
        resource_type=str(entry.get("_resourceType", "")),
    )


def _headers(items: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(h["name"]).lower(), str(h.get("value", ""))) for h in items)


def _content_text(content: dict[str, Any]) -> str | None:
    text = content.get("text")
    if not isinstance(text, str):
        return None
    if content.get("encoding") == "base64":
        mime = str(content.get("mimeType", ""))
        if not mime.startswith(_TEXT_TYPES):
            return None
        try:
            return base64.b64decode(text).decode("utf-8", "replace")
        except ValueError:
            return None
    return text
