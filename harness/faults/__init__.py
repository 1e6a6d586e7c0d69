"""The drill proxy: a fault-injecting HTTP/1.1 reverse proxy placed in front of any target.

`harness.faults.spec` parses fault specs (`latency:api.orders.create=+300ms@10%`), `proxy` is the
asyncio proxy, `process` runs it as a child process (`python -m harness.faults`).
"""

from __future__ import annotations

__all__: list[str] = []
