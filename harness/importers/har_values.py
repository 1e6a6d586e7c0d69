"""Which recorded values must not be written as constants: credentials and personal data
(→ `j.user` / `j.synth.card` fields, secrets → `${ENV}`), and values a later request reuses
from an earlier response (→ `j.vars` lookups, with the line that keeps them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.importers.har import Exchange

#: form and JSON keys whose value is the recorded person's, and what replays them
PERSON_FIELDS = {
    "password": "j.user.password",
    "passwd": "j.user.password",
    "pwd": "j.user.password",
    "email": "j.user.email",
    "e-mail": "j.user.email",
    "username": "j.user.username",
    "login": "j.user.email",
    "name": "j.user.name",
    "full_name": "j.user.name",
    "fullname": "j.user.name",
    "first_name": "j.user.first_name",
    "last_name": "j.user.last_name",
    "phone": "j.user.phone",
}
CARD_FIELDS = {
    "number": "j.synth.card.number",
    "card_number": "j.synth.card.number",
    "cardnumber": "j.synth.card.number",
    "pan": "j.synth.card.number",
    "expiry": "j.synth.card.expiry",
    "card_expiry": "j.synth.card.expiry",
    "exp": "j.synth.card.expiry",
    "cvc": "j.synth.card.cvc",
    "cvv": "j.synth.card.cvc",
    "card_cvc": "j.synth.card.cvc",
    "security_code": "j.synth.card.cvc",
}
_SECRET_KEY = re.compile(r"token|secret|api[-_]?key|session|csrf|xsrf|auth|signature", re.I)
_ID_KEY = re.compile(r"(^|_)(id|uuid|key|ref)$|Id$", re.I)
_HIDDEN_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_META = re.compile(r"<meta\b[^>]*>", re.I)
_IDENT = re.compile(r"[^a-z0-9]+")
_ID_VALUE = re.compile(r"^(\d+|[0-9a-f-]{16,})$", re.I)


@dataclass(frozen=True)
class Ref:
    """Python code for a value the journey computes (`j.user.email`, `j.vars['order_id']`)."""

    code: str
    text: bool = False  #: the recorded value was a string where the source holds a number


@dataclass
class Candidate:
    """A value of an earlier response that later requests may reuse."""

    value: str
    var: str
    accessor: str  #: code over the response `r`
    producer: int  #: index (`Exchange.index`) of the call whose response holds it
    number: bool  #: an int in JSON
    used: bool = False


@dataclass
class Values:
    """The table of recorded values and what replaces them, filled as the calls are read."""

    fixed: dict[str, Ref] = field(default_factory=dict)  #: person, card and secret values
    produced: dict[str, Candidate] = field(default_factory=dict)  #: latest producer wins
    env: dict[str, str] = field(default_factory=dict)  #: variable name -> what it stood for
    names: set[str] = field(default_factory=set)
    #: producer index -> the candidates it keeps (in the order they were found)
    by_producer: dict[int, list[Candidate]] = field(default_factory=dict)
    #: collection -> the call that created one of its members, its answer not recorded (a
    #: browser that navigated away before reading it): `POST /orders` then `GET /orders/7`
    created: dict[str, int] = field(default_factory=dict)

    def learn_request(self, exchange: Exchange, body: Any) -> None:
        """Credentials and personal data in a request's form or JSON body."""
        fields = list(exchange.form or ()) + list(_leaves(body))
        account = any(k.lower() in ("password", "email", "passwd", "pwd") for k, _ in fields)
        for key, value in fields:
            name = key.lower()
            text = str(value)
            if not text or text in self.fixed or isinstance(value, bool):
                continue
            code = PERSON_FIELDS.get(name) if account or name != "name" else None
            code = code or CARD_FIELDS.get(name)
            if code is None and _SECRET_KEY.search(name) and text not in self.produced:
                code = self.env_ref(key)
            if code is not None:
                self.fixed[text] = Ref(code)

    def env_ref(self, what: str) -> str:
        """`os.environ['HAR_...']` for a secret of the recording, which is never written."""
        variable = "HAR_" + _IDENT.sub("_", what.lower()).strip("_").upper()
        self.env[variable] = what
        return f"os.environ['{variable}']"

    def learn_response(self, producer: int, final: Exchange, route: str) -> None:
        """The values of a response that a later request could reuse."""
        found: list[tuple[str, str, str, bool]] = []  # value, key, accessor, number
        if final.response_mime.endswith("json") and final.response_text:
            try:
                import json

                body = json.loads(final.response_text)
            except ValueError:
                body = None
            for path, key, value in _json_scalars(body, ()):
                if isinstance(value, bool) or value is None:
                    continue
                number = isinstance(value, int)
                text = str(value)
                if (_ID_KEY.search(key) or _SECRET_KEY.search(key)) or (
                    not number and len(text) >= 16 and " " not in text
                ):
                    accessor = "r.json()" + "".join(f"[{_key_code(p)}]" for p in path)
                    found.append((text, key, accessor, number))
        elif final.response_mime == "text/html" and final.response_text:
            for name, value in _html_tokens(final.response_text):
                found.append((value, name, f"hidden(r.text, '{name}')", False))
        elif final.method in ("POST", "PUT") and final.status in (200, 201):
            parts = [p for p in route.split("/") if p and not p.startswith("{")]
            if parts and final.response_text is None:
                self.created[parts[-1]] = producer
        location = final.header("location", response=True)
        if location:
            found.append((location, "location", "r.headers['location']", False))
        for value, key, accessor, number in found:
            if value in self.fixed or len(value) > 2000 or (len(value) < 2 and not number):
                continue
            var = self._name(route, key)
            self.produced[value] = Candidate(value, var, accessor, producer, number)

    def _name(self, route: str, key: str) -> str:
        parts = [p for p in route.split("/") if p and not p.startswith("{")]
        stem = _IDENT.sub("_", f"{parts[-1] if parts else 'page'}_{key}".lower()).strip("_")
        name, n = stem, 1
        while name in self.names:
            n += 1
            name = f"{stem}_{n}"
        self.names.add(name)
        return name

    def member(self, collection: str, segment: str) -> Any:
        """`segment` after `collection` in a path: the id of the member an earlier call
        created, whose answer the recording lacks, is read from that answer's `id`."""
        producer = self.created.get(collection)
        if producer is not None and segment not in self.produced and _ID_VALUE.match(segment):
            var = self._name(collection, "id")
            number = segment.isdigit()
            accessor = "r.json()['id']"
            self.produced[segment] = Candidate(segment, var, accessor, producer, number)
            del self.created[collection]
        return self.whole(segment)

    def whole(self, value: Any) -> Any:
        """`value` itself, or the `Ref` that replaces it (a whole field, query value or
        path segment)."""
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value
        text = str(value)
        if text in self.fixed:
            return self.fixed[text]
        candidate = self.produced.get(text)
        if candidate is None or (isinstance(value, int) and not candidate.number):
            return value
        candidate.used = True
        self.by_producer.setdefault(candidate.producer, [])
        if candidate not in self.by_producer[candidate.producer]:
            self.by_producer[candidate.producer].append(candidate)
        code = f"j.vars['{candidate.var}']"
        return Ref(code, text=isinstance(value, str) and candidate.number)

    def inside(self, text: str) -> list[str | Ref]:
        """`text` as parts, a produced or fixed value of eight characters or more inside it
        replaced (a token after `Bearer `)."""
        for value in sorted([*self.fixed, *self.produced], key=lambda v: (-len(v), v)):
            if len(value) >= 8 and value in text and value != text:
                before, _, after = text.partition(value)
                ref = self.whole(value)
                middle = ref if isinstance(ref, Ref) else value
                return [*self.inside(before), middle, *self.inside(after)]
        whole = self.whole(text)
        return [whole if isinstance(whole, Ref) else text]


def _leaves(body: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(body, dict):
        for k, v in body.items():
            yield from _leaves(v, str(k))
    elif isinstance(body, list):
        for item in body:
            yield from _leaves(item, key)
    elif key:
        yield key, body


def _json_scalars(body: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    if isinstance(body, dict):
        for k, v in body.items():
            yield from _json_scalars(v, (*path, str(k)))
    elif isinstance(body, list):
        for i, item in enumerate(body[:50]):
            yield from _json_scalars(item, (*path, i))
    elif path and isinstance(path[-1], str):
        yield path, path[-1], body


def _key_code(part: Any) -> str:
    return str(part) if isinstance(part, int) else "'" + str(part).replace("'", "\\'") + "'"


def _html_tokens(html: str) -> Iterator[tuple[str, str]]:
    """(name, value) of hidden inputs and csrf meta tags of a page."""
    for tag in _HIDDEN_INPUT.findall(html):
        attrs = {m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _ATTR.finditer(tag)}
        if attrs.get("type", "").lower() == "hidden" and attrs.get("name") and attrs.get("value"):
            yield attrs["name"], attrs["value"]
    for tag in _META.findall(html):
        attrs = {m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _ATTR.finditer(tag)}
        if _SECRET_KEY.search(attrs.get("name", "")) and attrs.get("content"):
            yield attrs["name"], attrs["content"]
