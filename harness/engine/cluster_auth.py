"""The cluster key handshake between a Locust master and its workers, as pure functions and two
small state machines (no sockets, no Locust), so that it can be tested on its own.

Mutual, challenge-response, HMAC-SHA256 over the worker's connection id and two fresh nonces:

1. worker → master  `client_ready`  {"version", "nonce": Nw}
2. master → worker  `harness_challenge`  {"nonce": Nm, "proof": HMAC(K, master|id|Nw|Nm)}
3. worker checks the master's proof (else it refuses the master and its plan), then
   worker → master  `harness_proof`  {"proof": HMAC(K, worker|id|Nw|Nm)}
4. master checks it; only then is the worker one of its clients, and only clients are ever sent
   the plan.

The key itself never crosses the wire; each proof is bound to its side, its connection id and
both nonces, so a proof seen once is worth nothing on another connection. Proofs are compared
with `hmac.compare_digest`. A master without a key (loopback only) accepts workers without one.
A connection is known by its ZeroMQ identity, which Locust makes random (`host_uuid4`); a ROUTER
socket refuses a second connection under an identity in use.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UsageError

KEY_ENV = "HARNESS_CLUSTER_KEY"
MIN_KEY_CHARS = 16
CHALLENGE = "harness_challenge"
PROOF = "harness_proof"
REFUSED = "harness_refused"
MAX_PENDING = 1024  #: handshakes in progress kept at once (a flood of new ids evicts the oldest)


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); False for `*`, `0.0.0.0`,
    other addresses and other names."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_key(key: str, *, where: str) -> str:
    """`key` if it is long enough to resist guessing; raises `UsageError` otherwise."""
    if len(key) < MIN_KEY_CHARS:
        raise UsageError(
            f"the cluster key from {where} has {len(key)} characters; use at least "
            f"{MIN_KEY_CHARS}, e.g. {KEY_ENV}=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    return key


def new_key() -> str:
    """A fresh random key (for `--processes`, whose workers are the harness's own children)."""
    return secrets.token_urlsafe(32)


def new_nonce() -> str:
    """128 random bits, hex."""
    return secrets.token_hex(16)


def _proof(side: str, key: str, client_id: str, worker_nonce: str, master_nonce: str) -> str:
    text = "\0".join(("journey-harness cluster v1", side, client_id, worker_nonce, master_nonce))
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def master_proof(key: str, client_id: str, worker_nonce: str, master_nonce: str) -> str:
    """What the master sends to show it holds `key`."""
    return _proof("master", key, client_id, worker_nonce, master_nonce)


def worker_proof(key: str, client_id: str, worker_nonce: str, master_nonce: str) -> str:
    """What a worker sends to show it holds `key`."""
    return _proof("worker", key, client_id, worker_nonce, master_nonce)


def _same(expected: str, given: Any) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True)
class Reply:
    """What the master answers a message of the handshake with: a message to send back (type and
    data, or None), whether the worker is now accepted, and why it was refused (None if not)."""

    send: tuple[str, dict[str, Any]] | None = None
    accepted: bool = False
    refused: str | None = None


@dataclass
class MasterGate:
    """The master's side: which connection ids have proved the key. With `key=None` every worker
    is accepted at once (the master then listens on loopback only)."""

    key: str | None
    accepted: set[str] = field(default_factory=set)
    _pending: OrderedDict[str, tuple[str, str]] = field(default_factory=OrderedDict)

    def hello(self, client_id: str, data: Any) -> Reply:
        """A worker's `client_ready`. An accepted worker saying it is ready again (after a stop)
        stays accepted."""
        if client_id in self.accepted or self.key is None:
            self.accepted.add(client_id)
            return Reply(accepted=True)
        nonce = data.get("nonce") if isinstance(data, dict) else None
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128:
            return Reply(send=(REFUSED, {"reason": "no cluster key"}), refused="no cluster key")
        pending = self._pending.get(client_id)
        if pending is None or pending[0] != nonce:  # a repeated hello gets the same challenge
            pending = (nonce, new_nonce())
            self._pending[client_id] = pending
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        worker_nonce, master_nonce = pending
        proof = master_proof(self.key, client_id, worker_nonce, master_nonce)
        return Reply(send=(CHALLENGE, {"nonce": master_nonce, "proof": proof}))

    def proof(self, client_id: str, data: Any) -> Reply:
        """A worker's answer to the challenge (an accepted worker's repeated answer is ignored)."""
        if client_id in self.accepted:
            return Reply()
        pending = self._pending.pop(client_id, None)
        if self.key is None or pending is None:
            return Reply(refused="a proof without a challenge")
        given = data.get("proof") if isinstance(data, dict) else None
        if not _same(worker_proof(self.key, client_id, *pending), given):
            reason = "wrong cluster key"
            return Reply(send=(REFUSED, {"reason": reason}), refused=reason)
        self.accepted.add(client_id)
        return Reply(accepted=True)

    def trusts(self, client_id: str, node_id: Any) -> bool:
        """Whether a message from connection `client_id` claiming to be `node_id` may be read."""
        return client_id in self.accepted and node_id == client_id


class MasterNotTrusted(Exception):
    """The master did not prove that it holds the cluster key; its plan must not be run."""


@dataclass
class WorkerSide:
    """The worker's side. With `key=None` the worker trusts whichever master answers."""

    key: str | None
    client_id: str
    nonce: str = field(default_factory=new_nonce)
    trusted: bool = False

    def __post_init__(self) -> None:
        self.trusted = self.key is None

    def hello(self, version: str) -> Any:
        """The data of this worker's `client_ready` (Locust's own, a version, without a key)."""
        return version if self.key is None else {"version": version, "nonce": self.nonce}

    def challenge(self, data: Any) -> dict[str, str]:
        """Check the master's proof and return this worker's; raises `MasterNotTrusted`."""
        if self.key is None:
            raise MasterNotTrusted(
                "the master asks for a cluster key: give --cluster-key or set " + KEY_ENV
            )
        nonce = data.get("nonce") if isinstance(data, dict) else None
        given = data.get("proof") if isinstance(data, dict) else None
        if not isinstance(nonce, str) or not _same(
            master_proof(self.key, self.client_id, self.nonce, nonce), given
        ):
            raise MasterNotTrusted(
                "the master did not prove that it holds the cluster key (a different key, or "
                "not a journey-harness master); its plan was not run"
            )
        self.trusted = True
        return {"proof": worker_proof(self.key, self.client_id, self.nonce, nonce)}
