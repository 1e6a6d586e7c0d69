"""Request bodies and query strings of the API and mobile touchpoints, as requests and httpx
make them: `params` with lists, `data=` as a form, `files=` as multipart, `content=` as it is."""

from __future__ import annotations

import json as jsonlib
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

__all__ = ["FileValue", "Params", "encode_body", "with_params"]

#: a query string's or form's values: a mapping (a value may be a list) or (name, value) pairs
Params = Mapping[str, Any] | Iterable[tuple[str, Any]]
#: a file to upload: its content, or (file name, content) or (file name, content, content type)
FileValue = bytes | str | tuple[str, bytes | str] | tuple[str, bytes | str, str]


def _pairs(values: Params) -> list[tuple[str, str]]:
    """(name, value) pairs: lists and tuples repeat the name, None values are left out (as
    requests does)."""
    items = values.items() if isinstance(values, Mapping) else values
    pairs = []
    for name, value in items:
        for one in value if isinstance(value, list | tuple) else (value,):
            if one is not None:
                pairs.append((str(name), one if isinstance(one, str) else str(one)))
    return pairs


def with_params(url: str, params: Params | None) -> str:
    """`url` with `params` added to its query string."""
    if not params:
        return url
    query = urlencode(_pairs(params))
    return url + ("&" if "?" in url else "?") + query if query else url


def encode_body(
    *,
    json: Any = None,
    data: Params | bytes | str | None = None,
    files: Mapping[str, FileValue] | None = None,
    content: bytes | str | None = None,
) -> tuple[bytes | None, str | None]:
    """(body, its content type) for the given keyword arguments; at most one kind is given
    (`data` may go with `files`, as the form's fields)."""
    if json is not None:
        return jsonlib.dumps(json, separators=(",", ":")).encode(), "application/json"
    if files:
        fields = _pairs(data) if data is not None and not isinstance(data, bytes | str) else []
        return _multipart(fields, files)
    if isinstance(data, bytes | str):
        content, data = data, None
    if data is not None:
        return urlencode(_pairs(data)).encode(), "application/x-www-form-urlencoded"
    if content is not None:
        if isinstance(content, str):
            return content.encode(), "text/plain; charset=utf-8"
        return content, "application/octet-stream"
    return None, None


def _multipart(fields: list[tuple[str, str]], files: Mapping[str, FileValue]) -> tuple[bytes, str]:
    boundary = os.urandom(16).hex()
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(_part(boundary, f'form-data; name="{_quote(name)}"', None, value.encode()))
    for name, file in files.items():
        if isinstance(file, tuple):
            filename, body, *rest = file
            kind = rest[0] if rest else "application/octet-stream"
        else:
            filename, body, kind = name, file, "application/octet-stream"
        raw = body.encode() if isinstance(body, str) else body
        disposition = f'form-data; name="{_quote(name)}"; filename="{_quote(filename)}"'
        parts.append(_part(boundary, disposition, kind, raw))
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _part(boundary: str, disposition: str, kind: str | None, body: bytes) -> bytes:
    head = f"--{boundary}\r\ncontent-disposition: {disposition}\r\n"
    if kind is not None:
        head += f"content-type: {kind}\r\n"
    return (head + "\r\n").encode() + body + b"\r\n"


def _quote(name: str) -> str:
    """A name inside a quoted `Content-Disposition` parameter (HTML's form encoding)."""
    return name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
