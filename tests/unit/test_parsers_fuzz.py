"""Property-based fuzzing of every parser of user input: config files, durations, stages,
regression, fault and gate specs. Whatever the input, the only exceptions that escape are the
documented `UsageError` family (exit 2 with a message), never a traceback."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.config import load_config
from harness.durations import parse_duration
from harness.engine.plan import parse_stages
from harness.errors import UsageError
from harness.faults.spec import parse_fault
from harness.gates.config import parse_gates
from harness.sandbox.regressions import parse_regression

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text shaped like the real specs (kinds, separators, numbers, units) plus arbitrary text.
_TOKENS = st.sampled_from(
    [
        "latency", "errors", "funnel", "ui", "tail", "jitter", "reset", "status", "bandwidth",
        "traceparent", "contention", ":", "=", "+", "-", "@", "%", ";", ",", "*", ".", "x",
        "api", "web", "mobile", "orders", "create", "checkout", "ms", "s", "m", "h", "0", "1",
        "20", "300", "1.5", "1e309", "nan", "after=", "for=", "flag=", "place-order", " ", "",
    ]
)  # fmt: skip
SPEC_TEXT = st.one_of(st.lists(_TOKENS, max_size=12).map("".join), st.text(max_size=40))

_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_GATE_KEYS = st.sampled_from(
    ["kind", "name", "journey", "step", "percentile", "max_increase", "min_samples", "limit",
     "confidence", "metric", "max_rate", "typo", "direction", "threshold", "series"]
)  # fmt: skip


@FUZZ
@given(SPEC_TEXT)
def test_durations_and_stages_raise_only_usage_errors(text: str) -> None:
    for parse in (parse_duration, parse_stages):
        with contextlib.suppress(UsageError):
            parse(text)


@FUZZ
@given(SPEC_TEXT)
def test_regression_specs_raise_only_usage_errors(text: str) -> None:
    with contextlib.suppress(UsageError):
        parse_regression(text)


@FUZZ
@given(SPEC_TEXT)
def test_fault_specs_raise_only_usage_errors(text: str) -> None:
    with contextlib.suppress(UsageError):
        parse_fault(text)


@FUZZ
@given(st.lists(st.dictionaries(_GATE_KEYS, _VALUES, max_size=5), max_size=3))
def test_gate_tables_raise_only_usage_errors(raw: list[dict[str, Any]]) -> None:
    with contextlib.suppress(UsageError):
        parse_gates(raw)


_TOML_KEY = st.sampled_from(
    ["journeys", "results", "seed", "gates", "targets", "request_timeout", "default_target",
     "locale", "profile", "x", "targets.a", "targets.a.url", "targets.a.allow_load"]
)  # fmt: skip
_TOML_VALUE = st.sampled_from(
    ['"journeys"', "1", "-3", "1.5", "true", '["a", 1]', "{}", '{ url = "http://127.0.0.1:1" }',
     '[{ kind = "tail_shift" }]', '"http://x"', "nan", '"', "[", "= =", ""]
)  # fmt: skip


@FUZZ
@given(
    st.one_of(
        st.lists(st.tuples(_TOML_KEY, _TOML_VALUE), max_size=5).map(
            lambda pairs: "\n".join(f"{k} = {v}" for k, v in pairs)
        ),
        st.text(max_size=60),
    )
)
def test_config_files_raise_only_usage_errors(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "harness.toml"
        path.write_text(text, encoding="utf-8")
        try:
            loaded = load_config(path)
            for name, target in loaded.config.targets.items():
                target.resolve(name)
        except UsageError:
            pass
