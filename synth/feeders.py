"""Feeders: records of CSV or JSON Lines files handed to journeys one at a time.

Modes, as in Gatling's feeder strategies:

| mode         | order                        | each record          | at the end           |
|--------------|------------------------------|----------------------|----------------------|
| `sequential` | file order                   | at most once         | `FeederExhausted`    |
| `unique`     | seeded shuffle               | at most once         | `FeederExhausted`    |
| `circular`   | file order                   | again and again      | starts over          |
| `shuffle`    | seeded shuffle, new per pass | once per pass        | reshuffles           |
| `random`     | seeded random picks          | any number of times  | never ends           |

With `worker_count > 1` each worker sees only its shard (records `worker_index`,
`worker_index + worker_count`, ...), so shards are disjoint and `unique` stays unique across
workers without coordination. Given the same seed, file and shard a feeder always hands out the
same records in the same order.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast

from synth.errors import FeederExhausted, SynthUsageError

_T = TypeVar("_T")

FeederMode = Literal["sequential", "unique", "circular", "shuffle", "random"]
FEEDER_MODES: Final[tuple[str, ...]] = ("circular", "random", "sequential", "shuffle", "unique")
Record = dict[str, Any]


def pick(items: Sequence[_T], rng: random.Random) -> _T:
    """One item of `items` drawn with `rng`; SynthUsageError if `items` is empty."""
    if not items:
        raise SynthUsageError("cannot pick from an empty sequence (is the catalog empty?)")
    return items[rng.randrange(len(items))]


def _check_mode(mode: str) -> FeederMode:
    if mode not in FEEDER_MODES:
        close = difflib.get_close_matches(mode, FEEDER_MODES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SynthUsageError(
            f"unknown feeder mode {mode!r}: use one of {', '.join(FEEDER_MODES)}{hint}"
        )
    return cast(FeederMode, mode)


class Feeder:
    """Hands out records of one shard of a data set according to a mode (see module docs).

    Raises SynthUsageError for an unknown mode, an invalid shard or an empty shard.
    `next()` raises FeederExhausted in the `sequential` and `unique` modes once every record of
    the shard was handed out.
    """

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        name: str = "<records>",
        mode: str = "sequential",
        seed: int = 0,
        worker_index: int = 0,
        worker_count: int = 1,
    ) -> None:
        self.mode: FeederMode = _check_mode(mode)
        if worker_count < 1 or not 0 <= worker_index < worker_count:
            raise SynthUsageError(
                f"feeder {name!r}: worker_index must be in [0, worker_count), "
                f"got worker_index={worker_index}, worker_count={worker_count}"
            )
        self.name = name
        self.worker_index = worker_index
        self.worker_count = worker_count
        self._records: tuple[Mapping[str, Any], ...] = tuple(records[worker_index::worker_count])
        if not self._records:
            raise SynthUsageError(
                f"feeder {name!r} has no records for worker {worker_index} of {worker_count} "
                f"({len(records)} records in all); add records or use fewer workers"
            )
        # A str seed is hashed with SHA-512, not Python's randomised hash: same on every run.
        self._rng = random.Random(f"feeder/{seed}/{worker_index}/{worker_count}/{self.mode}")
        self._order: list[int] = list(range(len(self._records)))
        if self.mode in ("unique", "shuffle"):
            self._rng.shuffle(self._order)
        self._position = 0

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        mode: str = "sequential",
        seed: int = 0,
        worker_index: int = 0,
        worker_count: int = 1,
    ) -> Feeder:
        """A feeder over a `.csv` file (with a header row) or a `.jsonl`/`.ndjson` file."""
        records = load_records(path)
        return cls(
            records,
            name=str(path),
            mode=mode,
            seed=seed,
            worker_index=worker_index,
            worker_count=worker_count,
        )

    def __len__(self) -> int:
        """How many records this worker's shard holds."""
        return len(self._records)

    @property
    def remaining(self) -> int | None:
        """Records still to hand out in `sequential`/`unique` mode; None in the endless modes."""
        if self.mode in ("sequential", "unique"):
            return len(self._records) - self._position
        return None

    def next(self) -> Record:
        """The next record (a fresh dict, safe to modify)."""
        n = len(self._records)
        if self.mode == "random":
            return dict(self._records[self._rng.randrange(n)])
        if self._position >= n:
            if self.mode in ("sequential", "unique"):
                raise FeederExhausted(
                    path=self.name,
                    count=n,
                    mode=self.mode,
                    worker_index=self.worker_index,
                    worker_count=self.worker_count,
                )
            self._position = 0
            if self.mode == "shuffle":
                self._rng.shuffle(self._order)
        record = self._records[self._order[self._position]]
        self._position += 1
        return dict(record)

    def __iter__(self) -> Feeder:
        return self

    def __next__(self) -> Record:
        """Like `next()`, but ends a for loop instead of raising FeederExhausted."""
        try:
            return self.next()
        except FeederExhausted:
            raise StopIteration from None

    def __repr__(self) -> str:
        return (
            f"Feeder({self.name!r}, mode={self.mode!r}, records={len(self)}, "
            f"shard={self.worker_index + 1}/{self.worker_count})"
        )


def load_records(path: str | os.PathLike[str]) -> list[Record]:
    """All records of a CSV (header row required) or JSON Lines file.

    Raises SynthUsageError naming the file (and line) if it is missing, of an unknown type,
    empty or malformed.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise SynthUsageError(f"feeder file {str(file)!r}: use a .csv, .jsonl or .ndjson file")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SynthUsageError(f"feeder file {str(file)!r} cannot be read: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SynthUsageError(f"feeder file {str(file)!r} is not UTF-8: {exc}") from None
    return _read_csv(file, text) if suffix == ".csv" else _read_jsonl(file, text)


def _read_csv(file: Path, text: str) -> list[Record]:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header or not any(header):
        raise SynthUsageError(f"feeder file {str(file)!r} is empty or has no header row")
    records: list[Record] = []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise SynthUsageError(
                f"feeder file {str(file)!r} line {reader.line_num}: {len(row)} fields, "
                f"the header has {len(header)}"
            )
        records.append(dict(zip(header, row, strict=True)))
    return records


def _read_jsonl(file: Path, text: str) -> list[Record]:
    records: list[Record] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SynthUsageError(
                f"feeder file {str(file)!r} line {number} is not JSON: {exc.msg}"
            ) from None
        if not isinstance(value, dict):
            raise SynthUsageError(
                f"feeder file {str(file)!r} line {number}: each line must be a JSON object, "
                f"got {type(value).__name__}"
            )
        records.append(value)
    return records
