"""The drill proxy: a fault-injecting HTTP/1.1 reverse proxy placed in front of any target.

`harness.faults.spec` parses fault specs (`latency:api.orders.create=+300ms@10%`), `proxy` is the
asyncio proxy, `process` runs it as a child process (`python -m harness.faults`). Importing this
package loads neither Locust nor gevent.
"""

from __future__ import annotations

from harness.faults.process import ProxyProcess
from harness.faults.proxy import FaultProxy
from harness.faults.spec import Fault, FaultKind, parse_fault, parse_faults

__all__ = ["Fault", "FaultKind", "FaultProxy", "ProxyProcess", "parse_fault", "parse_faults"]
