"""Locust's master and worker runners with the cluster key handshake (`cluster_auth`) in front.

`KeyedMasterRunner` reads nothing from a connection until it has proved the key: no stats, no
final report, no "ready". Only accepted workers become Locust clients, and only clients are sent
the plan. Each refusal is printed once, with the peer's address. `KeyedWorkerRunner` runs
nothing from a master that has not proved the key, and gives up, with a reason, when no master
answers within `wait_s` or the master stops answering for that long.

Both are subclasses over Locust's `handle_message`, `connect_to_master`,
`heartbeat_timeout_checker` and `reset_connection` seams. One thing is not reachable by
subclassing: Locust's `rpc.Server` reads a message with `recv_multipart()` (copying), which drops
the frame's "Peer-Address", and lets a malformed message escape as an `IndexError` or a msgpack
error that kills its listener. `PeerAddressServer` replaces that one method. Checked against
Locust 2.47.0 (pyzmq 27.3, libzmq 4.3.5).
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

import gevent
import zmq.error as zmqerr
from gevent.event import Event
from locust import __version__ as locust_version
from locust.exception import RPCError, RPCReceiveError
from locust.rpc import Message, rpc
from locust.runners import MasterRunner, WorkerRunner

from harness.engine.cluster_auth import (
    CHALLENGE,
    PROOF,
    REFUSED,
    MasterGate,
    MasterNotTrusted,
    WorkerSide,
)

MAX_REFUSAL_LINES = 20  #: refusals printed; later ones are only counted
RECONNECT_S = 5.0  #: a worker says hello again this often while no master answers
_REASONS = {"no cluster key", "wrong cluster key"}


class PeerAddressServer(rpc.Server):
    """Locust's ZeroMQ server, remembering each connection's peer address and refusing malformed
    messages instead of dying on them."""

    peers: dict[str, str]

    def recv_from_client(self) -> tuple[str, Message]:
        """The next (connection id, message); raises Locust's RPC errors as Locust's does."""
        try:
            frames = self.socket.recv_multipart(copy=False)
            addr = frames[0].bytes.decode()
        except UnicodeDecodeError as exc:
            raise RPCReceiveError("ZMQ interrupted or corrupted message") from exc
        except zmqerr.ZMQError as exc:
            raise RPCError("ZMQ network broken") from exc
        try:
            self.peers[addr] = str(frames[-1].get("Peer-Address"))
        except zmqerr.ZMQError:
            self.peers.setdefault(addr, "unknown address")
        if len(self.peers) > 4096:  # a flood of new ids must not grow the master without bound
            self.peers.pop(next(iter(self.peers)))
        try:
            if len(frames) != 2:
                raise ValueError(f"{len(frames)} frames")
            msg = Message.unserialize(frames[1].bytes)
            if not isinstance(msg.type, str):
                raise ValueError("message type")
        except Exception as exc:  # anything a stranger sends must not end the master
            raise RPCReceiveError("malformed message", addr=addr) from exc
        return addr, msg


def _adopt(server: rpc.Server) -> PeerAddressServer:
    # The server is built and bound inside MasterRunner.__init__; only its class changes here.
    server.__class__ = PeerAddressServer
    adopted: PeerAddressServer = server  # type: ignore[assignment] # the class was just changed
    adopted.peers = {}
    return adopted


class KeyedMasterRunner(MasterRunner):
    """Locust's master that accepts a worker only after the cluster key handshake."""

    def __init__(
        self, environment: Any, master_bind_host: str, master_bind_port: int, gate: MasterGate
    ) -> None:
        """Bind on `master_bind_host:master_bind_port` and admit workers through `gate`."""
        self.gate = gate
        self.refused: dict[str, dict[str, str]] = {}
        super().__init__(environment, master_bind_host, master_bind_port)
        self.server = _adopt(self.server)

    def reset_connection(self) -> None:
        """Locust's, with the peer-aware server."""
        super().reset_connection()
        if not isinstance(self.server, PeerAddressServer):
            self.server = _adopt(self.server)

    def address(self, client_id: str) -> str:
        """The peer address of a connection, as ZeroMQ saw it."""
        peers = getattr(self.server, "peers", {})
        return str(peers.get(client_id) or "unknown address")

    def handle_message(self, client_id: str, msg: Message) -> None:
        """Handshake messages go to the gate; anything else only from an accepted worker."""
        if msg.type == "client_ready":
            reply = self.gate.hello(client_id, msg.data)
        elif msg.type == PROOF:
            reply = self.gate.proof(client_id, msg.data)
        elif self.gate.trusts(client_id, msg.node_id):
            super().handle_message(client_id, msg)
            return
        else:
            self._refuse(client_id, f"sent {str(msg.type)[:40]!r} before proving the cluster key")
            return
        if reply.send is not None:
            self.server.send_to_client(Message(*reply.send, client_id))
        if reply.refused is not None:
            self._refuse(client_id, reply.refused)
        if reply.accepted:
            data = msg.data.get("version") if isinstance(msg.data, dict) else msg.data
            version = data if isinstance(data, str) and data else locust_version
            super().handle_message(client_id, Message("client_ready", version, client_id))

    def _refuse(self, client_id: str, reason: str) -> None:
        if client_id in self.refused or len(self.refused) > 10 * MAX_REFUSAL_LINES:
            return
        address = self.address(client_id)
        self.refused[client_id] = {"address": address, "id": client_id[:80], "reason": reason}
        if len(self.refused) <= MAX_REFUSAL_LINES:
            print(
                f"  WORKER REFUSED from {address} (id {client_id[:80]!r}): {reason}",
                flush=True,
            )
        elif len(self.refused) == MAX_REFUSAL_LINES + 1:
            print("  further refused workers are counted in run.json, not printed", flush=True)


class WorkerGaveUp(Exception):
    """A worker stopped waiting for its master; `trust` says it was the key, not the network."""

    def __init__(self, message: str, *, trust: bool) -> None:
        super().__init__(message)
        self.trust = trust


class KeyedWorkerRunner(WorkerRunner):
    """Locust's worker that runs a plan only from a master that proved the cluster key, and gives
    up after `wait_s` without a master."""

    def __init__(
        self,
        environment: Any,
        master_host: str,
        master_port: int,
        *,
        key: str | None,
        wait_s: float,
    ) -> None:
        """Connect to the master; raises `WorkerGaveUp` when it does not answer in `wait_s` or
        cannot be trusted."""
        self.key = key
        self.wait_s = wait_s
        self.gave_up: WorkerGaveUp | None = None
        self._settled = Event()
        self.side = WorkerSide(key, "")
        super().__init__(environment, master_host, master_port)

    @property
    def where(self) -> str:
        """The master's address."""
        return f"{self.master_host}:{self.master_port}"

    def connect_to_master(self) -> None:
        """Say hello (again every few seconds) until the master accepts this worker, refuses it,
        or `wait_s` has passed."""
        self.side = WorkerSide(self.key, self.client_id)
        deadline = time.monotonic() + self.wait_s
        while not self.connection_event.is_set() and self.gave_up is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.gave_up = WorkerGaveUp(
                    f"no master answered at {self.where} within {self.wait_s:g} s "
                    "(is it running, and is this the port it listens on?)",
                    trust=False,
                )
                break
            hello = self.side.hello(locust_version)
            self.client.send(Message("client_ready", hello, self.client_id))
            self._settled.wait(timeout=min(RECONNECT_S, left))
        if self.gave_up is not None:
            # Receivers first (a receiver on a closed socket would spin without yielding).
            self.greenlet.kill(block=True)
            self.client.close(linger=0)
            raise self.gave_up
        self.connected = True

    def handle_message(self, msg: Message) -> None:
        """The handshake first; nothing else from a master that has not proved the key."""
        if msg.type == CHALLENGE:
            if self.side.trusted and self.key is not None:
                return  # a repeated challenge (a hello sent twice) was answered already
            try:
                proof = self.side.challenge(msg.data)
            except MasterNotTrusted as exc:
                # Say so without a proof (which would let a false master guess at the key), so
                # that a genuine master with another key logs this worker as refused.
                self.client.send(Message(PROOF, {"proof": None}, self.client_id))
                self._give_up(f"{exc} (master {self.where})", trust=True)
                return
            self.client.send(Message(PROOF, proof, self.client_id))
            return
        if msg.type == REFUSED:
            if not self.connected:
                data = msg.data if isinstance(msg.data, dict) else {}
                reason = data.get("reason") if data.get("reason") in _REASONS else "refused"
                self._give_up(
                    f"the master at {self.where} refused this worker: {reason} (give the "
                    "master's key with --cluster-key or HARNESS_CLUSTER_KEY)",
                    trust=True,
                )
            return
        if not self.side.trusted:
            self._give_up(
                f"the master at {self.where} sent {str(msg.type)[:40]!r} without proving the "
                "cluster key (it runs without one?); its plan was not run",
                trust=True,
            )
            return
        super().handle_message(msg)
        if msg.type == "ack":
            self._settled.set()

    def heartbeat_timeout_checker(self) -> NoReturn:
        """Give up once the master has not been heard from for `wait_s`."""
        while True:
            gevent.sleep(1)
            last = self.last_heartbeat_timestamp
            if last is not None and time.time() - last > self.wait_s:
                self.gave_up = WorkerGaveUp(
                    f"the master at {self.where} stopped answering (nothing for "
                    f"{self.wait_s:g} s); this worker ends",
                    trust=False,
                )
                self.quit()  # kills this greenlet too

    def _give_up(self, reason: str, *, trust: bool) -> None:
        if self.gave_up is None:
            self.gave_up = WorkerGaveUp(reason, trust=trust)
        self._settled.set()
        if self.connected:  # a master that turned untrusted mid-run: stop what it started
            gevent.spawn(self.quit)
