"""Feeders in every mode, exhaustion, sharding and bad files."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from synth.errors import FeederExhausted, SynthUsageError
from synth.feeders import FEEDER_MODES, Feeder, load_records, pick

N = 10


@pytest.fixture(params=["csv", "jsonl"])
def data_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "csv":
        path = tmp_path / "accounts.csv"
        lines = ["\ufeffid,email"] + [f'{i},"user{i}@example.test"' for i in range(N)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path = tmp_path / "accounts.jsonl"
        rows = [json.dumps({"id": str(i), "email": f"user{i}@example.test"}) for i in range(N)]
        path.write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    return path


def _ids(feeder: Feeder, n: int) -> list[str]:
    return [feeder.next()["id"] for _ in range(n)]


def test_both_formats_load_the_same_records(data_file: Path) -> None:
    records = load_records(data_file)
    assert records[3] == {"id": "3", "email": "user3@example.test"}
    assert len(records) == N


def test_sequential_is_file_order_then_exhausted(data_file: Path) -> None:
    feeder = Feeder.from_file(data_file, mode="sequential")
    assert _ids(feeder, N) == [str(i) for i in range(N)]
    assert feeder.remaining == 0
    with pytest.raises(FeederExhausted) as info:
        feeder.next()
    message = str(info.value)
    assert str(data_file) in message and f"all {N} records" in message and "circular" in message
    assert info.value.count == N and info.value.path == str(data_file)


def test_unique_hands_each_record_once_in_seeded_order(data_file: Path) -> None:
    feeder = Feeder.from_file(data_file, mode="unique", seed=3)
    got = _ids(feeder, N)
    assert sorted(got, key=int) == [str(i) for i in range(N)] and got != sorted(got, key=int)
    assert got == _ids(Feeder.from_file(data_file, mode="unique", seed=3), N)
    assert got != _ids(Feeder.from_file(data_file, mode="unique", seed=4), N)
    with pytest.raises(FeederExhausted, match="'unique' mode"):
        feeder.next()
    assert list(Feeder.from_file(data_file, mode="unique")) != []  # iteration ends cleanly


def test_circular_wraps_around(data_file: Path) -> None:
    feeder = Feeder.from_file(data_file, mode="circular")
    assert _ids(feeder, 2 * N + 1) == [str(i % N) for i in range(2 * N + 1)]
    assert feeder.remaining is None


def test_shuffle_covers_every_record_each_pass(data_file: Path) -> None:
    feeder = Feeder.from_file(data_file, mode="shuffle", seed=1)
    first, second = _ids(feeder, N), _ids(feeder, N)
    assert set(first) == set(second) == {str(i) for i in range(N)}
    assert first != second  # reshuffled per pass
    again = Feeder.from_file(data_file, mode="shuffle", seed=1)
    assert _ids(again, 2 * N) == first + second


def test_random_repeats_and_never_ends(data_file: Path) -> None:
    feeder = Feeder.from_file(data_file, mode="random", seed=5)
    got = _ids(feeder, 200)
    counts = Counter(got)
    assert set(counts) == {str(i) for i in range(N)} and max(counts.values()) > 1
    assert got == _ids(Feeder.from_file(data_file, mode="random", seed=5), 200)


@pytest.mark.parametrize("mode", FEEDER_MODES)
def test_shards_are_disjoint_and_cover_the_file(data_file: Path, mode: str) -> None:
    seen: list[set[str]] = []
    for worker in range(3):
        feeder = Feeder.from_file(data_file, mode=mode, worker_index=worker, worker_count=3)
        draws = 100 if mode == "random" else len(feeder)
        seen.append(set(_ids(feeder, draws)))
    assert set.union(*seen) == {str(i) for i in range(N)}
    assert sum(len(s) for s in seen) == N  # pairwise disjoint


def test_records_are_copies(data_file: Path) -> None:
    feeder = Feeder.from_file(data_file, mode="circular")
    feeder.next()["id"] = "changed"
    assert _ids(feeder, N)[-1] == "0"


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("", ".csv", "no header"),
        ("a,b\n1\n", ".csv", "line 2: 1 fields"),
        ('{"a": 1}\n[1]\n', ".jsonl", "line 2: each line must be a JSON object"),
        ('{"a": 1}\n{oops\n', ".jsonl", "line 2 is not JSON"),
        ("x", ".txt", "use a .csv"),
    ],
)
def test_bad_files_are_usage_errors(
    tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SynthUsageError, match=message):
        Feeder.from_file(path)


def test_bad_arguments_are_usage_errors(tmp_path: Path, data_file: Path) -> None:
    with pytest.raises(SynthUsageError, match="cannot be read"):
        Feeder.from_file(tmp_path / "missing.csv")
    with pytest.raises(SynthUsageError, match="did you mean 'shuffle'"):
        Feeder.from_file(data_file, mode="shufle")
    with pytest.raises(SynthUsageError, match="worker_index"):
        Feeder.from_file(data_file, worker_index=2, worker_count=2)
    with pytest.raises(SynthUsageError, match="no records for worker 10 of 11"):
        Feeder.from_file(data_file, worker_index=10, worker_count=11)


def test_pick_is_deterministic_and_rejects_empty() -> None:
    items = list(range(100))
    assert [pick(items, random.Random(1)) for _ in range(3)] == [pick(items, random.Random(1))] * 3
    with pytest.raises(SynthUsageError, match="empty"):
        pick([], random.Random(1))
