"""Prometheus as a metric provider: `GET /api/v1/query_range` through the harness's one HTTP
stack, with the provider's headers and basic auth (`[providers.NAME]`).

A query must come down to one series (aggregate it: `sum(rate(...))`); values that are not
numbers (`NaN` from 0/0, `+Inf` from x/0) are returned as such. Prometheus refuses a range
of more than 11,000 steps ("exceeded maximum resolution"), as Thanos and Mimir do, so a longer
window is asked for in pieces on the same grid: a 4-hour run at 1 s is two requests, and every
point keeps the gate's resolution (raising the step, as Grafana does, would change what is
judged).

Each request also tells Prometheus how long it may evaluate (the API's `timeout` parameter: 1 s
less than `providers.NAME.timeout`, half of it below 2 s): without it, a query the harness had
stopped waiting for ran on to the server's own `--query.timeout` (2 minutes by default) wherever
the connection's close did not reach Prometheus (a load balancer or proxy in front of it); now
the server's own "query timed out" comes first, and the gate's error says so."""

from __future__ import annotations

import json
import math
import time
from typing import Any
from urllib.parse import urlencode

from harness.config import ProviderConfig
from harness.errors import ConnectionFailed, StepTimeout
from harness.http import HttpRequest, HttpTransport, open_transport
from harness.providers import Answer, ProviderError
from harness.target_http import expand
from harness.targets import basic_authorization, check_url

__all__ = ["PrometheusProvider"]

#: how much of an error body a message keeps
_SHOWN = 200
#: points per request: Prometheus answers 400 beyond 11,000 steps of one query
POINTS_PER_QUERY = 11_000
#: pauses before the retries of a request Prometheus did not serve (unreachable, or a 502,
#: 503 or 504 from it or a proxy in front of it): a server restarting or a load balancer
#: between two replicas, which Argo Rollouts (`consecutiveErrorLimit`) and Grafana ride out
#: too. A slow query (a timeout) and an answer Prometheus gave (400, 422) are not retried.
RETRY_PAUSES_S = (0.5, 1.0, 2.0)
_RETRIED = frozenset({502, 503, 504})
#: how much of the harness's timeout is kept from Prometheus' (at most half of it): the time
#: for the request and the answer, so that the server's own "query timed out" comes first (it
#: came 0.1 s after its deadline here, for a query holding 2.4 million points)
SERVER_MARGIN_S = 1.0


class PrometheusProvider:
    """One `[providers.NAME]` of kind `prometheus`."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        transport: HttpTransport | None = None,
        *,
        pauses: tuple[float, ...] | None = None,
    ) -> None:
        check_url(config.url, f"providers.{name}.url")
        self.name = name
        self.config = config
        self.transport = transport
        #: the pauses before the retries of a request not served (None: `RETRY_PAUSES_S`)
        self.pauses = pauses

    def headers(self) -> dict[str, str]:
        """The request's headers: `Accept`, the provider's own (`${ENV}` read now), basic auth."""
        where = f"providers.{self.name}"
        found = {"accept": "application/json"}
        for key, value in self.config.headers.items():
            found[key.lower()] = expand(value, f"{where}.headers.{key}")
        if self.config.auth is not None:
            user, password = self.config.auth
            credentials = (expand(user, f"{where}.auth"), expand(password, f"{where}.auth"))
            found["authorization"] = basic_authorization(credentials)
        return found

    def server_timeout(self) -> float:
        """The seconds Prometheus is asked to give up evaluating a query after (`timeout`)."""
        timeout = self.config.timeout
        return max(timeout / 2, timeout - SERVER_MARGIN_S)

    def fetch(self, query: str, start: float, end: float, step_s: float) -> Answer:
        """The query's points over [start, end] every `step_s` (from `start`), in as many
        requests as Prometheus' limit of points per query needs, with its warnings and infos;
        raises `ProviderError` with a one-line reason."""
        steps = math.floor((end - start) / step_s + 1e-9) if step_s > 0 else 0
        if steps < POINTS_PER_QUERY:
            return self._fetch(query, start, end, step_s)
        found: dict[float, float] = {}
        warnings: dict[str, None] = {}
        infos: dict[str, None] = {}
        for first in range(0, steps + 1, POINTS_PER_QUERY):
            last = first + POINTS_PER_QUERY - 1
            until = end if last >= steps else start + last * step_s
            piece = self._fetch(query, start + first * step_s, until, step_s)
            found.update(piece.points)
            warnings.update(dict.fromkeys(piece.warnings))
            infos.update(dict.fromkeys(piece.infos))
        return Answer(sorted(found.items()), list(warnings), list(infos))

    def _fetch(self, query: str, start: float, end: float, step_s: float) -> Answer:
        params = urlencode({"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}"})
        url = f"{self.config.url.rstrip('/')}/api/v1/query_range?{params}&step={step_s:g}"
        url += f"&timeout={self.server_timeout():.3f}"  # seconds, as Prometheus reads a float
        request = HttpRequest("GET", url, self.headers(), None, self.config.timeout)
        pauses = RETRY_PAUSES_S if self.pauses is None else self.pauses
        failed: ProviderError | None = None
        for pause in (0.0, *pauses):
            time.sleep(pause)
            try:
                return self._once(request, query)
            except _Retried as exc:
                failed = exc.error
        assert failed is not None
        if not pauses:
            raise failed
        raise ProviderError(f"{failed} ({1 + len(pauses)} tries over {sum(pauses):g} s)")

    def _once(self, request: HttpRequest, query: str) -> Answer:
        url = request.url
        transport = self.transport or open_transport()
        try:
            response = transport.send(request)
        except StepTimeout:
            # reachable, but slow: the query (said elsewhere) or a busy server
            raise ProviderError(
                f"prometheus at {self.config.url} did not answer within {self.config.timeout:g} s "
                f"(providers.{self.name}.timeout; the query was sent with timeout="
                f"{self.server_timeout():g}s, so Prometheus stops evaluating it too; a query over "
                "a long window at a fine resolution can take longer)"
            ) from None
        except ConnectionFailed as exc:
            reason = str(exc).split(url, 1)[-1].strip()  # the query is said elsewhere
            unreachable = ProviderError(f"prometheus at {self.config.url} unreachable: {reason}")
            raise _Retried(unreachable) from None
        finally:
            if self.transport is None:
                transport.close()
        body = _json(response.body)
        if body.get("errorType") == "timeout":  # Prometheus gave up, as it was asked: no retry
            raise ProviderError(
                f"prometheus at {self.config.url} stopped evaluating the query after "
                f"{self.server_timeout():g} s, as the harness asked (the timeout sent with it, "
                f"for providers.{self.name}.timeout = {self.config.timeout:g} s; a query over a "
                "long window at a fine resolution can take longer): "
                f"{' '.join(str(body.get('error', '')).split())[:_SHOWN]}"
            )
        if response.status in _RETRIED:
            raise _Retried(ProviderError(_error(response.status, body, response.body)))
        if response.status != 200 or body.get("status") != "success":
            raise ProviderError(_error(response.status, body, response.body))
        return Answer(_points(body, query), _notes(body, "warnings"), _notes(body, "infos"))


class _Retried(Exception):
    """A request worth another try; `error` says why it failed."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def _json(raw: bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _error(status: int, body: dict[str, Any], raw: bytes) -> str:
    """`HTTP 400: bad_data: parse error at char 5: ...` on one line."""
    if body.get("error"):
        detail = f"{body.get('errorType', 'error')}: {body['error']}"
    else:
        detail = raw.decode("utf-8", "replace").strip() or "(empty body)"
    detail = " ".join(detail.split())[:_SHOWN]
    return f"prometheus answered HTTP {status}: {detail}"


def _notes(body: dict[str, Any], key: str) -> list[str]:
    """The answer's `warnings` (or `infos`), each on one line."""
    found = body.get(key)
    if not isinstance(found, list):
        return []
    return [" ".join(str(note).split())[:_SHOWN] for note in found]


def _points(body: dict[str, Any], query: str) -> list[tuple[float, float]]:
    data = body.get("data") or {}
    result = data.get("result")
    if data.get("resultType") != "matrix" or not isinstance(result, list):
        raise ProviderError(f"prometheus answered a {data.get('resultType')!r}, not a matrix")
    if len(result) > 1:
        raise ProviderError(
            f"query {query!r} returned {len(result)} series; aggregate it to one "
            "(e.g. sum(rate(...)) or sum by () (...))"
        )
    points = []
    for row in result[0].get("values", []) if result else []:
        try:
            t, value = float(row[0]), float(row[1])
        except (TypeError, ValueError, IndexError):
            raise ProviderError(f"prometheus answered a malformed point {row!r}") from None
        points.append((t, value))  # NaN and ±Inf too: the gate says what it does with them
    return points
