"""Secrets out of everything a run writes: `steps.jsonl`, traces, reports and JUnit.

Redacted wherever the harness turns something it saw into text it keeps: request URLs (query
parameters with a sensitive name), step and iteration messages (which quote response bodies),
and span attributes and messages. What counts as a secret: values of `Authorization`, `Cookie`
and `Set-Cookie`; bearer and basic credentials; values of keys named like a token, password,
secret, API or private key, session, credential, signature, one-time password, card number or
security code anywhere in the name (in query strings, forms, JSON and `key: value` text, so
`new_password`, `secret_key`, `privateKey`, `x-api-key` and `X-Auth-Token` too), and of keys
named exactly `key`, `sig`, `pan`, `pin` or `auth`; a password given in words ("password
Hunter2"); and card numbers (13–19 digits passing the Luhn check), kept as their last four
digits. Text is redacted whole, before anything cuts it.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

#: words that make a key sensitive wherever they appear in its name (`new_password`,
#: `secret_key`, `privateKey`, `x-api-key`, `X-Auth-Token`, `sessionid`)
_WORD = (
    r"token|password|passwd|passcode|pwd|secret|api[_-]?key|private[_-]?key|access[_-]?key|"
    r"session|credential|card[_-]?number|cvc|cvv|security[_-]?code|signature|otp|"
    r"(?<=[_-])key\b|(?-i:(?<=[a-z])Key\b)"
)
#: short names sensitive only on their own (a `key` query parameter, not `monkey`)
_EXACT = r"key|sig|pan|pin|auth"
_NAME = rf"(?:[\w.-]*?(?:{_WORD})[\w.-]*|{_EXACT})"
_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie)(\s*[:=]\s*)([^\n]+)"
)
_SCHEME = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_JSON_PAIR = re.compile(rf'(?i)("{_NAME}"\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.]*)')
_KEY_VALUE = re.compile(rf"(?i)(?<![\w-])({_NAME})(=|:\s*)([^\s&;,\"']+)")
#: a secret named in plain words: "password Hunter2", "passcode is 1234"
_SPOKEN = re.compile(r"(?i)\b(password|passwd|passcode|pwd)(\s+(?:is\s+)?)(?!\[redacted\])(\S{4,})")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_QUERY_NAME = re.compile(rf"(?i)^{_NAME}$")


#: values known to be secret wherever they appear: those of `${VARIABLES}` in harness.toml
_SECRETS: set[str] = set()


def add_secret(value: str) -> None:
    """Redact `value` wherever it appears from now on, in this process (values shorter than 4
    characters are not worth hiding and would mangle every text)."""
    if len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with every secret it holds replaced (and the user and password of every URL)."""
    if not text:
        return text
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(r"\1", text)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JSON_PAIR.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _SPOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _CARD.sub(_card, text)


#: ANSI escape sequences (CSI, OSC, and two-character ones) and every other control character
#: but tab and newline: text a target sends must not move a terminal's cursor, retitle it, or
#: make junit.xml invalid XML
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|"
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def plain(text: str) -> str:
    """`text` redacted and without control characters or terminal escapes (a message quoting
    what a target sent, as every output may show it)."""
    return _CONTROL.sub("", redact(text)) if text else text


def redact_url(url: str) -> str:
    """`url` with the values of sensitive query parameters replaced (and any card number);
    cached, since journeys repeat their URLs."""
    found = _URLS.get(url)
    if found is not None:
        return found
    found = _USERINFO.sub(r"\1", url)
    found = _redact_query(found) if "?" in found else found
    found = _CARD.sub(_card, found) if _CARD.search(found) else found
    if len(_URLS) >= _URLS_LIMIT:
        _URLS.clear()
    _URLS[url] = found
    return found


#: the `user:password@` of a URL
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")


def stored(value: Any, name: str = "") -> Any:
    """A value as run.json, rollout.json and reports may keep it: strings under a sensitive
    name replaced, every URL without its user and password and with its sensitive query
    parameters replaced; dicts and lists gone through in depth."""
    if isinstance(value, dict):
        return {k: stored(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stored(v, name) for v in value]
    if not isinstance(value, str) or not value:
        return value
    if name and _QUERY_NAME.match(name.lstrip("-")):
        return REDACTED
    if "://" in value:
        return _redact_query(_USERINFO.sub(r"\1", value))
    return value


def command_line(argv: list[str]) -> list[str]:
    """A command line as it may be stored or printed: the value after an option with a
    sensitive name (`--cluster-key K`, `--token=T`) replaced, URLs as `stored` keeps them."""
    shown: list[str] = []
    for index, arg in enumerate(argv):
        option, equals, _ = arg.partition("=")
        previous = argv[index - 1] if index else ""
        if previous.startswith("--") and "=" not in previous and _QUERY_NAME.match(previous[2:]):
            shown.append(REDACTED)
        elif arg.startswith("--") and equals and _QUERY_NAME.match(option[2:]):
            shown.append(f"{option}={REDACTED}")
        else:
            shown.append(stored(arg))
    return shown


def _redact_query(url: str) -> str:
    if "?" not in url:
        return url
    base, _, query = url.partition("?")
    query, hash_mark, fragment = query.partition("#")
    pairs = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if equals and _QUERY_NAME.match(name) else pair)
    return f"{base}?{'&'.join(pairs)}{hash_mark}{fragment}"


_URLS: dict[str, str] = {}
_URLS_LIMIT = 4096


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not _luhn(digits):
        return match.group(0)
    return f"••••{digits[-4:]}"


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
