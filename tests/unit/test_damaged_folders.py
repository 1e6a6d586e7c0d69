"""Damaged and crafted run folders: `harness report`, `gates`, `compare` and `trace` read them in
bounded memory and answer with a one-paragraph error (exit 2 or 3) or a warning, never a
traceback. A valid rehearsal folder is built once; hypothesis then truncates, flips, inserts,
retypes, deletes and replaces its files (with folders, FIFOs, links to /dev/zero, huge lines)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.folder_io import MAX_JSON_BYTES, MAX_LINE_BYTES, LineTally, lines
from harness.gates.config import DEFAULT_GATES, parse_gates
from harness.gates.data import RunData
from harness.gates.verdict import evaluate
from harness.records import IterationRecord, Outcome, StepRecord, Touchpoint, record_json
from harness.rollout.stages import (
    Cohort,
    GateLine,
    HookCall,
    RolloutOutcome,
    RolloutRecord,
    StageDecision,
    StageRecord,
)
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey
from harness.telemetry.joins import _Root, _write_joins

T0 = 1_795_000_000.0
EXIT_CODES = {0, 1, 2, 3, 4}
JOURNEY = "api_orders"


def _span(trace: str, span: str, parent: str | None, name: str, kind: int, target: str) -> Any:
    found: dict[str, Any] = {"traceId": trace, "spanId": span}
    if parent:
        found["parentSpanId"] = parent
    start = int((T0 + int(trace[-4:], 16) % 60) * 1e9)
    found.update(
        name=name,
        kind=kind,
        startTimeUnixNano=str(start),
        endTimeUnixNano=str(start + 30_000_000),
        attributes=[
            {"key": "harness.journey", "value": {"stringValue": JOURNEY}},
            {"key": "harness.target", "value": {"stringValue": target}},
        ],
        status={"code": 0},
    )
    return found


def _otlp_line(spans: list[Any], service: str) -> str:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    message = {
        "resourceSpans": [
            {"resource": resource, "scopeSpans": [{"scope": {"name": service}, "spans": spans}]}
        ]
    }
    return json.dumps(message, separators=(",", ":")) + "\n"


def build_rehearsal(folder: Path, iterations: int = 60) -> Path:
    """A small but complete rehearsal folder, written with the harness's own writers."""
    folder.mkdir(parents=True)
    targets = {"baseline": {"name": "baseline"}, "candidate": {"name": "candidate"}}
    meta = {
        "run_id": folder.name,
        "mode": "rehearse",
        "status": "passed",
        "started_at": "2026-11-28T16:00:00+00:00",
        "ended_at": "2026-11-28T16:01:00+00:00",
        "seed": 7,
        "targets": targets,
        "config": {"profile": "default"},
        "versions": {"python": "3.12"},
        "command": ["harness", "rehearse"],
    }
    (folder / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    store = HdrStore()
    lines_out: list[str] = []
    spans: list[str] = []
    roots: dict[bytes, _Root] = {}
    counts = []
    for target, slower in (("baseline", 0.0), ("candidate", 5.0)):
        failures = 0
        for i in range(iterations):
            failed = i % 17 == 3
            failures += failed
            trace = f"{(hash(target) & 0xFFFF):04x}{i:024x}{i:04x}"
            for index, step in enumerate(("list", "pay")):
                ms = 5.0 + i % 13 + slower * index
                store.record(SeriesKey(target, JOURNEY, step, "api"), ms)
                record = StepRecord(
                    run_id=folder.name, target=target, journey=JOURNEY, step=step, index=index,
                    touchpoint=Touchpoint.API, worker=0, user=i % 4, iteration=i,
                    started_at=T0 + i, duration_ms=ms,
                    outcome=Outcome.FAILED if failed and step == "pay" else Outcome.PASSED,
                    trace_id=trace,
                )  # fmt: skip
                lines_out.append(record_json(record))
            store.record(SeriesKey(target, JOURNEY, ITERATION, ""), 30.0 + slower)
            iteration = IterationRecord(
                run_id=folder.name, target=target, journey=JOURNEY, worker=0, user=i % 4,
                iteration=i, started_at=T0 + i, duration_ms=30.0 + slower,
                outcome=Outcome.FAILED if failed else Outcome.PASSED, steps_passed=2,
                steps_total=2, trace_id=trace,
                failed_step="pay" if failed else None,
            )  # fmt: skip
            lines_out.append(record_json(iteration))
            root = _span(trace, f"{i:016x}", None, f"journey {JOURNEY}", 1, target)
            step = _span(trace, f"{i + 1:016x}", root["spanId"], "step pay", 1, target)
            server = _span(trace, f"{i + 2:016x}", step["spanId"], "POST /orders", 2, target)
            spans.append(_otlp_line([root, step], "journey-harness"))
            spans.append(_otlp_line([server], "sandbox"))
            roots[trace.encode()] = _Root(target, T0 + i, True)
        counts.append(
            {"target": target, "journey": JOURNEY, "iterations": iterations, "failures": failures}
        )
    store.write(folder / "histograms")
    (folder / "steps.jsonl").write_text("\n".join(lines_out) + "\n", encoding="utf-8")
    (folder / "traces.jsonl").write_text("".join(spans), encoding="utf-8")
    _write_joins(folder / "trace-joins.json", roots, set(roots))
    (folder / "counts.json").write_text(json.dumps({"journeys": counts, "errors": []}))
    timeline = [
        {"target": t, "t": T0 + s, "iterations": 10, "failures": 0, "late": 0}
        for s in range(iterations // 10)
        for t in ("baseline", "candidate")
    ]
    (folder / "timeline.json").write_text(json.dumps(timeline))
    samples = [{"t": T0 + s, "cpu": 30.0, "lag_ms": 2.0, "source": "local"} for s in range(6)]
    health = {"summary": {"saturated": False, "reasons": []}, "samples": samples}
    (folder / "health.json").write_text(json.dumps(health))
    stage = StageRecord(
        stage=1, share=5.0, look=1, started_s=0.0, ended_s=30.0, baseline=Cohort(iterations=57),
        candidate=Cohort(iterations=3), min_candidate_samples=3, decision=StageDecision.WIDEN,
        next_share=25.0, gates=[GateLine(name="errors", decision="pass", summary="ok")],
    )  # fmt: skip
    hook = HookCall(hook="on_stage", action="true", event={}, ok=True, detail="0", elapsed_s=0.1)
    rollout = RolloutRecord(
        shares=[5.0, 25.0, 100.0], stage_duration_s=30.0, max_extensions=2, min_samples=None,
        outcome=RolloutOutcome.PROMOTED, final_share=100.0, stages=[stage], hooks=[hook],
    )  # fmt: skip
    (folder / "rollout.json").write_text(rollout.model_dump_json(indent=2), encoding="utf-8")
    verdict = evaluate(RunData.load(folder), parse_gates(DEFAULT_GATES, where="the default gates"))
    (folder / "verdict.json").write_text(verdict.model_dump_json(indent=2), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def pristine() -> Iterator[Path]:
    """A valid rehearsal folder (built once) and an untouched copy to compare against."""
    with tempfile.TemporaryDirectory(prefix="harness-damaged-") as scratch:
        yield build_rehearsal(Path(scratch) / "20261128-160000-rehearse-ab12")


@pytest.fixture(scope="module")
def fast_charts() -> Iterator[None]:
    """Charts drawn but not rendered to SVG: the damage is in the reading, and the fuzz test
    runs `harness report` some fifty times."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "matplotlib.figure.Figure.savefig", lambda self, out, **_: out.write("<svg></svg>")
        )
        yield


def drive(argv: list[str]) -> tuple[int, str]:
    """Run the CLI in-process; (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


def commands(run: Path, other: Path) -> list[list[str]]:
    return [
        ["report", str(run)],
        ["gates", str(run)],
        ["compare", str(other), str(run)],
        ["compare", str(run), str(other)],
        ["trace", str(run), "--failed"],
    ]


def assert_no_traceback(code: int, stderr: str, argv: list[str]) -> None:
    assert code in EXIT_CODES, (argv, code, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    assert "internal error" not in stderr, (argv, stderr)


# --- the damage -----------------------------------------------------------------------------

FILES = [
    "run.json", "steps.jsonl", "counts.json", "timeline.json", "health.json", "verdict.json",
    "traces.jsonl", "trace-joins.json", "histograms/index.json", "histograms/*.hdr",
    "rollout.json",
]  # fmt: skip

_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)  # fmt: skip


def _resolve(folder: Path, name: str) -> Path:
    if "*" in name:
        return sorted(folder.glob(name))[0]
    return folder / name


def _retype(data: Any, choices: list[int], value: Any) -> Any:
    """`data` with one nested value (picked by `choices`) replaced by `value`."""
    if not choices or not isinstance(data, dict | list) or not data:
        return value
    if isinstance(data, dict):
        key = list(data)[choices[0] % len(data)]
        return {**data, key: _retype(data[key], choices[1:], value)}
    index = choices[0] % len(data)
    return [*data[:index], _retype(data[index], choices[1:], value), *data[index + 1 :]]


def _replace_json_value(path: Path, choices: list[int], value: Any) -> None:
    if path.suffix == ".jsonl":  # one line of a lines file
        text = path.read_bytes().splitlines(keepends=True)
        if not text:
            return
        at = choices[0] % len(text) if choices else 0
        try:
            line = json.loads(text[at])
        except ValueError:
            return
        text[at] = (json.dumps(_retype(line, choices[1:], value)) + "\n").encode()
        path.write_bytes(b"".join(text))
        return
    try:
        data = json.loads(path.read_bytes())
    except ValueError:
        return
    path.write_text(json.dumps(_retype(data, choices, value)), encoding="utf-8")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


DAMAGE = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("nul"), st.floats(0, 1), st.integers(1, 64)),
    st.tuples(st.just("retype"), st.lists(st.integers(0, 50), max_size=4), _VALUES),
    st.tuples(st.just("delete")),
    st.tuples(st.just("folder")),
    st.tuples(st.just("dev_zero")),
    st.tuples(st.just("fifo")),
    st.tuples(st.just("dangling")),
    st.tuples(st.just("huge_line"), st.booleans()),
)


def damage(folder: Path, name: str, how: tuple[Any, ...]) -> None:
    """Apply one damage `how` to the file `name` of `folder`."""
    path = _resolve(folder, name)
    kind = how[0]
    regular = path.is_file() and not path.is_symlink()
    if kind in ("truncate", "flip", "insert", "nul") and regular:
        path.write_bytes(_edited(path.read_bytes(), how))
    elif kind == "retype" and regular:
        _replace_json_value(path, how[1], how[2])
    elif kind == "huge_line" and regular:  # longer than the line cap, with or without its newline
        with open(path, "ab") as out:
            out.write(b"{" + b" " * (MAX_LINE_BYTES + 10) + (b"}\n" if how[1] else b""))
    elif kind in ("delete", "folder", "dev_zero", "dangling", "fifo"):
        _remove(path)
        if kind == "folder":
            path.mkdir()
        elif kind == "dev_zero":
            path.symlink_to("/dev/zero")
        elif kind == "dangling":
            path.symlink_to(path.with_name("nothing-here"))
        elif kind == "fifo":
            os.mkfifo(path)


def _edited(original: bytes, how: tuple[Any, ...]) -> bytes:
    data = bytearray(original)
    kind, at = how[0], int(how[1] * len(data))
    if kind == "truncate":
        del data[at:]
    elif kind == "flip" and data:
        data[min(at, len(data) - 1)] ^= how[2]
    elif kind == "insert":
        data[at:at] = how[2]
    elif kind == "nul":
        data[at : at + how[2]] = bytes(how[2])
    return bytes(data)


@settings(
    max_examples=int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.tuples(st.sampled_from(FILES), DAMAGE), min_size=1, max_size=3))
def test_damaged_folders_never_raise_a_traceback(
    pristine: Path, fast_charts: None, damages: list[tuple[str, tuple[Any, ...]]]
) -> None:
    with tempfile.TemporaryDirectory(prefix="harness-damaged-") as scratch:
        run = Path(scratch) / pristine.name
        shutil.copytree(pristine, run)
        other = Path(scratch) / "20261128-150000-rehearse-0000"
        shutil.copytree(pristine, other)
        for name, how in damages:
            damage(run, name, how)
        for argv in commands(run, other):
            code, stderr = drive(argv)
            assert_no_traceback(code, stderr, argv)
            if argv[0] == "report" and code == 0:  # nothing damaged reached a section
                page = (run / "report.html").read_text(encoding="utf-8")
                assert "could not be drawn" not in page, (
                    damages,
                    page[page.index("could not") - 300 :][:800],
                )


def test_the_pristine_folder_reads_cleanly(pristine: Path, tmp_path: Path) -> None:
    run = tmp_path / pristine.name
    shutil.copytree(pristine, run)
    for argv in commands(run, pristine):
        code, stderr = drive(argv)
        assert code in {0, 1, 4}, (argv, code, stderr)
        assert stderr == "", (argv, stderr)


@pytest.mark.parametrize(
    ("name", "how", "code", "words"),
    [
        ("run.json", ("fifo",), 2, "is a FIFO, not a regular file"),
        ("run.json", ("dev_zero",), 2, "is a character device, not a regular file"),
        ("run.json", ("dangling",), 2, "is a link to nothing"),
        ("counts.json", ("folder",), 2, "is a folder, not a regular file"),
        ("counts.json", ("retype", [0], "x"), 2, "does not have the expected shape"),
        ("trace-joins.json", ("nul", 0.5, 4), 2, "is not valid JSON"),
        ("histograms/*.hdr", ("flip", 0.5, 1), 2, "is not an HDR histogram"),
    ],
)
def test_gates_on_a_damaged_file_names_it_and_exits_2(
    pristine: Path, tmp_path: Path, name: str, how: tuple[Any, ...], code: int, words: str
) -> None:
    run = tmp_path / pristine.name
    shutil.copytree(pristine, run)
    damage(run, name, how)
    found, stderr = drive(["gates", str(run)])
    assert found == code, stderr
    assert words in stderr and "harness gates: " in stderr
    assert len(stderr.strip().splitlines()) == 1  # one paragraph


def test_damaged_steps_lines_are_counted_and_said(pristine: Path, tmp_path: Path) -> None:
    run = tmp_path / pristine.name
    shutil.copytree(pristine, run)
    steps = run / "steps.jsonl"
    good = steps.read_bytes().splitlines(keepends=True)
    steps.write_bytes(b"".join([good[0], b"\x00" * 40 + b"\n", b"[1, 2]\n", *good[1:]]))
    code, stderr = drive(["gates", str(run)])
    assert code in {0, 1, 4}
    assert "steps.jsonl: skipped 2 damaged lines" in stderr
    code, stderr = drive(["report", str(run)])
    assert code == 0 and "steps.jsonl: partly read: skipped 2 damaged lines" in stderr
    assert "partly read: skipped 2 damaged lines" in (run / "report.html").read_text("utf-8")
    steps.write_bytes(b"\x00" * 4096 + b"\nnot json\n")  # nothing readable: refused
    code, stderr = drive(["gates", str(run)])
    assert code == 2 and "holds no readable record" in stderr
    code, stderr = drive(["report", str(run)])
    assert code == 0 and "steps.jsonl: unreadable" in stderr
    assert "steps.jsonl" in (run / "report.html").read_text(encoding="utf-8")


def test_a_line_longer_than_the_cap_is_skipped_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    with open(path, "wb") as out:
        out.write(b'{"a": 1}\n')
        out.truncate(9 + 50 * MAX_LINE_BYTES)  # a sparse run of NULs
    with open(path, "ab") as out:
        out.write(b'\n{"b": 2}\n')
    tally = LineTally(path)
    assert list(lines(path, tally)) == [b'{"a": 1}\n', b'{"b": 2}\n']
    assert (tally.lines, tally.damaged, tally.too_long) == (2, 1, 1)


def test_a_json_document_over_the_cap_is_refused_unread(pristine: Path, tmp_path: Path) -> None:
    run = tmp_path / pristine.name
    shutil.copytree(pristine, run)
    with open(run / "counts.json", "ab") as out:
        out.truncate(MAX_JSON_BYTES + 1)
    code, stderr = drive(["gates", str(run)])
    assert code == 2 and "counts.json is larger than 64 MB" in stderr
