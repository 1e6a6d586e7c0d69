"""The harness's one HTTP stack, below everything that sends a request: the touchpoints'
clients, seeding (`synth.seed_api`), rollout hooks and the reachability check; the drill
proxy's upstream side (`harness.faults.upstream`, on asyncio) takes its settings, TLS context
and proxy rules.

`transport.py` has the seam (`HttpTransport`, `HttpRequest`, `RawResponse`), the real transport
and `settings_for`, the one place a target's settings become the transport's; `wire.py` speaks
HTTP/1.1 on gevent sockets; `urls.py` joins and splits URLs; `redirects.py` makes the request
after a redirect; `headers.py` has the response headers, read in any case. Importing it loads
no gevent.
"""

from harness.http.transport import (
    GeventTransport,
    HttpRequest,
    HttpSettings,
    HttpTransport,
    RawResponse,
    open_transport,
    send_once,
    settings_for,
)

__all__ = [
    "GeventTransport",
    "HttpRequest",
    "HttpSettings",
    "HttpTransport",
    "RawResponse",
    "open_transport",
    "send_once",
    "settings_for",
]
