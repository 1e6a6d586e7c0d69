"""The cluster key handshake between master and workers, without sockets."""

from __future__ import annotations

import pytest

from harness.engine.cluster_auth import (
    CHALLENGE,
    REFUSED,
    MasterGate,
    MasterNotTrusted,
    WorkerSide,
    check_key,
    is_loopback,
    master_proof,
    worker_proof,
)
from harness.errors import UsageError

KEY = "k" * 32
OTHER = "o" * 32


def handshake(master: MasterGate, worker: WorkerSide) -> bool:
    """One exchange as the runners do it; True when the master accepted the worker."""
    reply = master.hello(worker.client_id, worker.hello("2.47.0"))
    if reply.accepted:
        return True
    assert reply.send is not None
    kind, data = reply.send
    if kind == REFUSED:
        return False
    assert kind == CHALLENGE
    return master.proof(worker.client_id, worker.challenge(data)).accepted


def test_a_worker_with_the_key_is_accepted_and_trusts_the_master() -> None:
    master, worker = MasterGate(KEY), WorkerSide(KEY, "host_1")
    assert handshake(master, worker)
    assert worker.trusted and master.trusts("host_1", "host_1")


def test_a_worker_with_a_wrong_key_is_refused_and_does_not_trust_the_master() -> None:
    master, worker = MasterGate(KEY), WorkerSide(OTHER, "host_1")
    reply = master.hello("host_1", worker.hello("2.47.0"))
    assert reply.send is not None
    with pytest.raises(MasterNotTrusted, match="did not prove"):
        worker.challenge(reply.send[1])
    assert not worker.trusted
    # Had it answered anyway (a worker that skips the check), its proof is still wrong.
    forged = {"proof": worker_proof(OTHER, "host_1", worker.nonce, reply.send[1]["nonce"])}
    refused = master.proof("host_1", forged)
    assert not refused.accepted and refused.refused == "wrong cluster key"
    assert not master.trusts("host_1", "host_1")


def test_a_worker_without_a_key_is_refused_by_a_master_with_one() -> None:
    master = MasterGate(KEY)
    reply = master.hello("host_1", "2.47.0")  # Locust's own worker says only its version
    assert reply.refused == "no cluster key" and reply.send == (
        REFUSED,
        {"reason": "no cluster key"},
    )
    assert not master.trusts("host_1", "host_1")


def test_messages_are_trusted_only_from_the_accepted_connection_under_its_own_name() -> None:
    master = MasterGate(KEY)
    assert handshake(master, WorkerSide(KEY, "good"))
    assert master.trusts("good", "good")
    assert not master.trusts("evil", "good")  # another connection claiming the good one's name
    assert not master.trusts("good", "evil")
    assert not master.trusts("evil", "evil")


def test_a_proof_is_bound_to_its_connection_and_nonces() -> None:
    master = MasterGate(KEY)
    good = WorkerSide(KEY, "good")
    challenge = master.hello("good", good.hello("v"))
    assert challenge.send is not None
    answer = good.challenge(challenge.send[1])
    # Replayed on another connection (which got a challenge of its own) it is worth nothing.
    master.hello("evil", {"version": "v", "nonce": "e" * 32})
    assert not master.proof("evil", answer).accepted
    # A proof without a challenge, or a second use of one, is refused too.
    assert master.proof("good", answer).accepted
    assert not MasterGate(KEY).proof("good", answer).accepted


def test_a_repeated_hello_gets_the_same_challenge() -> None:
    master, worker = MasterGate(KEY), WorkerSide(KEY, "w")
    first = master.hello("w", worker.hello("v"))
    again = master.hello("w", worker.hello("v"))
    assert first.send == again.send
    assert first.send is not None
    assert master.proof("w", worker.challenge(first.send[1])).accepted


def test_the_master_proves_itself_and_a_master_without_the_key_cannot() -> None:
    worker = WorkerSide(KEY, "w")
    impostor = {"nonce": "m" * 32, "proof": master_proof(OTHER, "w", worker.nonce, "m" * 32)}
    with pytest.raises(MasterNotTrusted):
        worker.challenge(impostor)
    # The worker's own proof is not a master's proof (each side signs its own role).
    mirrored = {"nonce": "m" * 32, "proof": worker_proof(KEY, "w", worker.nonce, "m" * 32)}
    with pytest.raises(MasterNotTrusted):
        worker.challenge(mirrored)
    with pytest.raises(MasterNotTrusted):
        worker.challenge({"nonce": 5, "proof": None})
    genuine = {"nonce": "m" * 32, "proof": master_proof(KEY, "w", worker.nonce, "m" * 32)}
    assert worker.challenge(genuine)["proof"] == worker_proof(KEY, "w", worker.nonce, "m" * 32)


def test_without_keys_every_worker_joins_and_trusts_its_master() -> None:
    master, worker = MasterGate(None), WorkerSide(None, "w")
    assert worker.trusted and worker.hello("2.47.0") == "2.47.0"
    assert handshake(master, worker)
    with pytest.raises(MasterNotTrusted, match="asks for a cluster key"):
        worker.challenge({"nonce": "x", "proof": "y"})


def test_malformed_handshake_data_is_refused_not_raised() -> None:
    master = MasterGate(KEY)
    for data in (None, 3, [], {"nonce": 7}, {"nonce": "short"}, {"nonce": "n" * 500}):
        assert master.hello("x", data).refused == "no cluster key"
    master.hello("y", {"nonce": "n" * 32})
    for data in (None, {"proof": 5}, {"proof": "0" * 64}):
        master.hello("y", {"nonce": "n" * 32})
        assert not master.proof("y", data).accepted


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("*", False),
        ("::", False),
        ("10.0.0.5", False),
        ("loadgen.example", False),
    ],
)
def test_loopback_is_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_short_key_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="at least 16"):
        check_key("short", where="--cluster-key")
    assert check_key(KEY, where="--cluster-key") == KEY


def test_a_repeated_answer_from_an_accepted_worker_is_not_a_refusal() -> None:
    master, worker = MasterGate(KEY), WorkerSide(KEY, "w")
    challenge = master.hello("w", worker.hello("v"))
    assert challenge.send is not None
    answer = worker.challenge(challenge.send[1])
    assert master.proof("w", answer).accepted
    again = master.proof("w", answer)
    assert again.refused is None and again.send is None
    assert master.trusts("w", "w")


def test_a_cluster_key_on_the_command_line_is_not_stored() -> None:
    from harness.redact import command_line

    stored = command_line(["harness", "load", "--worker", "--cluster-key", KEY])
    assert KEY not in " ".join(stored)
