"""Reading access logs, one line at a time, into requests: nginx/Apache `combined` and JSON
lines. Bounded memory whatever the file's size; a line that does not parse is counted."""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

from harness.errors import UsageError

FORMATS = ("combined", "json")
#: `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
#: "$http_referer" "$http_user_agent"`, and whatever a log_format adds after it
_COMBINED = re.compile(
    r'(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) \S+ "(?:[^"\\]|\\.)*" '
    r'"((?:[^"\\]|\\.)*)"(.*)'
)
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
#: lines of a file that is not in the format asked for, before the import gives up
SNIFF_LINES = 50
CHUNK = 1 << 20  #: bytes read at a time


#: One request of an access log, a plain tuple (hundreds of thousands are made a second):
#: seconds since the epoch, client address, method, path without its query string, status,
#: user agent, and the rest of the line (a log_format's added fields) or the JSON line.
LogRequest: TypeAlias = tuple[float, str, str, str, str, str, str]


class Reader:
    """Parses the lines of one format, counting those it could not read."""

    def __init__(self, fmt: str) -> None:
        if fmt not in FORMATS:
            raise UsageError(f"--format {fmt!r} is not a log format; use combined or json")
        self.format = fmt
        self.lines = 0
        self.bad = 0
        self._stamp = ""
        self._stamp_s = 0.0

    def read(self, paths: Iterable[Path]) -> Iterator[LogRequest]:
        """Every request of the files, in file order; refuses (exit 2) a file whose first
        lines are none of them in the format."""
        parse = self._combined if self.format == "combined" else self._json
        for path in paths:
            seen = good = 0
            try:
                with path.open("r", encoding="utf-8", errors="replace", buffering=CHUNK) as lines:
                    for line in lines:
                        seen += 1
                        request = parse(line)
                        if request is None:
                            self.bad += 1
                            if seen == SNIFF_LINES and good == 0:
                                raise UsageError(self._unknown(path))
                            continue
                        good += 1
                        yield request
            except OSError as exc:
                raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
            finally:
                self.lines += seen
            if seen and good == 0:
                raise UsageError(self._unknown(path))

    def _unknown(self, path: Path) -> str:
        return (
            f"{path} is not an access log in the {self.format!r} format: none of its first "
            "lines parse. --format combined reads nginx's and Apache's combined format "
            '(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"`, more fields may follow); --format json reads '
            "one JSON object a line (time, remote_addr, method, path or request, status, "
            "user_agent)"
        )

    def _combined(self, line: str) -> LogRequest | None:
        # str.split is four times faster than the regular expression, which stays for lines
        # whose fields hold an escaped quote
        parts = line.split('"', 6)
        try:
            if len(parts) < 6 or parts[4] != " " or "\\" in parts[5] or "\\" in parts[3]:
                raise ValueError
            head, tail = parts[0], parts[2]
            client = head[: head.index(" ")]
            stamp = head[head.index("[") + 1 : head.index("]")]
            method, target, _ = parts[1].split(" ", 2)
            status = tail[1:4]  # ` 200 5120 `
            agent, extra = parts[5], parts[6] if len(parts) > 6 else ""
            if tail[4:5] != " " or not status.isdigit():
                raise ValueError
        except ValueError:
            match = _COMBINED.match(line)
            if match is None:
                return None
            client, stamp, method, target, status, agent, extra = match.groups()
        if stamp != self._stamp:
            seconds = _time_local(stamp)
            if seconds is None:
                return None
            self._stamp, self._stamp_s = stamp, seconds
        query = target.find("?")
        path = target if query < 0 else target[:query]
        return (self._stamp_s, client, method, path, status, agent, extra)

    def _json(self, line: str) -> LogRequest | None:
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        when = _json_time(_first(data, "time", "timestamp", "time_iso8601", "ts", "time_local"))
        method = _first(data, "method", "request_method")
        path = _first(data, "path", "uri", "request_uri", "url")
        request = _first(data, "request")
        if (method is None or path is None) and isinstance(request, str):
            method, _, rest = request.partition(" ")
            path = rest.split(" ", 1)[0]
        status = _first(data, "status", "status_code")
        if when is None or not method or not isinstance(path, str) or status is None:
            return None
        client = str(_first(data, "remote_addr", "ip", "client", "client_ip") or "")
        agent = str(_first(data, "user_agent", "http_user_agent", "ua", "agent") or "")
        return (when, client, str(method).upper(), path.split("?", 1)[0], str(status), agent, line)


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in data:
            return data[key]
    return None


def _time_local(stamp: str) -> float | None:
    """`07/Dec/2026:02:20:10 +0000` as seconds since the epoch."""
    try:
        day, month, rest = stamp.split("/", 2)
        year, hh, mm, tail = rest.split(":", 3)
        ss, _, zone = tail.partition(" ")
        offset = (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60) * (-1 if zone[0] == "-" else 1)
        whole = calendar.timegm(
            (int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss[:2]), 0, 0, 0)
        )
        return whole + float("0" + ss[2:]) - offset if "." in ss else whole - offset
    except (ValueError, KeyError, IndexError):
        return None


def _json_time(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / (1000.0 if value > 1e11 else 1.0)
    if not isinstance(value, str):
        return None
    if "/" in value:
        return _time_local(value)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def session_key(request: LogRequest, key: str) -> str:
    """Who sent `request`: `ip+ua`, `cookie:NAME` or `header:NAME` (a value in the rest of the
    line: a log_format that logs `$http_cookie`, or the JSON line's field); falls back to
    the client and user agent when the value is missing."""
    _, client, _, _, _, agent, extra = request
    if key == "ip+ua":
        return f"{client}\t{agent}"
    kind, _, name = key.partition(":")
    if kind == "cookie":
        found = re.search(rf"(?:^|[;\s\"]){re.escape(name)}=([^;\s\"]+)", extra)
    else:
        found = re.search(rf'"{re.escape(name)}"\s*:\s*"([^"]*)"', extra, re.I) or (
            re.search(rf"{re.escape(name)}[=:]\s*([^\s\"]+)", extra, re.I)
        )
    return found.group(1) if found else f"{client}\t{agent}"


def check_session_key(key: str) -> str:
    """`key` if it is one the importer knows, else `UsageError`."""
    kind, sep, name = key.partition(":")
    if key == "ip+ua" or (sep and kind in ("cookie", "header") and name):
        return key
    raise UsageError(
        f"--session-key {key!r}: use ip+ua, cookie:NAME (a cookie your log_format logs) or "
        "header:NAME"
    )
