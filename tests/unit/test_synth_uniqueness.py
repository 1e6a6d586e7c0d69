"""Identifiers never collide across users, iterations, worker processes and seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from synth.factory import SynthSource

ROOT = Path(__file__).resolve().parents[2]
USERS, ITERATIONS = 50, 20

# Runs in a separate interpreter: a real worker process that knows nothing of the other one.
WORKER = f"""
import json, sys
from synth import SynthSource
seed, worker, profile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
source = SynthSource(seed=seed, worker=worker, profile=profile)
rows = []
for user in range({USERS}):
    for iteration in range({ITERATIONS}):
        data = source.scope(user, iteration)
        p = data.person
        rows.append([p.id, p.email, p.username, data.device.device_id])
json.dump(rows, sys.stdout)
"""


def _identifiers(seed: int, profile: str) -> list[list[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(seed), str(worker), profile],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in (0, 1)
    ]
    rows: list[list[str]] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        rows += json.loads(out)
    return rows


def test_two_worker_processes_never_collide() -> None:
    rows = _identifiers(seed=7, profile="default") + _identifiers(seed=7, profile="edge")
    half = len(rows) // 2
    assert half == 2 * USERS * ITERATIONS
    for column in range(4):
        # Within a profile every identifier is distinct; across profiles ids repeat by design
        # (the same tuple), so check each profile's rows on their own.
        for part in (rows[:half], rows[half:]):
            values = [r[column] for r in part]
            assert len(set(values)) == len(values), f"column {column} collides"
    emails = [r[1].lower() for r in rows[:half]]
    assert len(set(emails)) == len(emails)  # even case-insensitively


def test_different_seeds_give_disjoint_identifiers() -> None:
    def ids(seed: int) -> set[str]:
        source = SynthSource(seed=seed)
        out: set[str] = set()
        for user in range(30):
            data = source.scope(user, 0)
            out |= {data.person.id, data.person.email, data.person.username}
            out.add(data.device.device_id)
        return out

    assert not ids(1) & ids(2)
    assert not ids(-1) & ids(1)
    assert len(ids(1)) == 4 * 30


def test_identifiers_end_with_the_scope_token() -> None:
    data = SynthSource(seed=3, worker=4, profile="edge").scope(5, 6)
    person = data.person
    assert person.id.endswith(data.token)
    assert person.email.split("@")[0].endswith(data.token)
    assert person.username.endswith("_" + data.token)
    assert data.device.device_id.endswith(data.token)
