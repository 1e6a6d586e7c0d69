"""`RunRequest`: built once from flags, harness.toml and defaults; frozen; recorded whole in
run.json with the config's hash and without secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.cli import _parser
from harness.commands.requests import request_from_options
from harness.config import load_config
from harness.errors import UsageError
from harness.results import RunDirectory
from harness.run.request import RunRequest, build_request, config_hash

CONFIG = """
seed = 7
results = "out"
journeys = ["flows"]

[targets.staging]
url = "http://user:hunter2@staging.example:8800"
allow_load = true

[[gates]]
kind = "threshold"
name = "errors under half"
metric = "error_rate"
value = "50%"

[rollout]
stages = "10,50,100"
stage_duration = "20s"
on_stage = "echo stage"
"""


def _request(tmp_path: Path, *argv: str) -> RunRequest:
    (tmp_path / "harness.toml").write_text(CONFIG)
    options = _parser().parse_args([*argv, "--config", str(tmp_path / "harness.toml")])
    return request_from_options(options, options.command)


def test_a_request_takes_flags_over_the_config_over_the_defaults(tmp_path: Path) -> None:
    request = _request(tmp_path, "load", "--target", "staging", "--users", "4", "--steps", "2x5s")
    assert request.mode == "load"
    assert request.seed == 7  # from harness.toml
    assert request.results_root == (tmp_path / "out").resolve()
    assert request.journey_paths == (tmp_path / "flows",)
    assert request.shape.users == 4 and request.shape.duration_s == 30.0  # flag, default
    assert [s.users for s in request.shape.stages] == [2]
    assert request.tracing.sample_rate == 0.01  # a load keeps 1% of the passing traces
    assert request.config.gates[0]["name"] == "errors under half"
    given = _request(tmp_path, "load", "--target", "staging", "--seed", "9", "--results", "r")
    assert given.seed == 9 and given.results_root == Path("r").resolve()


def test_a_request_is_frozen_all_the_way_down(tmp_path: Path) -> None:
    request = _request(tmp_path, "rehearse", "--sandbox")
    with pytest.raises(ValidationError):
        request.seed = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        request.shape.users = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        request.config.seed = 1  # type: ignore[misc]


def test_the_config_file_is_read_once_when_the_request_is_built(tmp_path: Path) -> None:
    request = _request(tmp_path, "rehearse", "--sandbox")
    (tmp_path / "harness.toml").write_text('seed = 8\n[[gates]]\nkind = "burn_rate"\n')
    assert request.seed == 7
    assert [g.name for g in request.gates()] == ["errors under half"]
    assert request.config_hash == config_hash(request.config)
    assert request.config_hash != config_hash(load_config(tmp_path / "harness.toml").config)


def test_a_fresh_seed_when_none_is_given_anywhere(tmp_path: Path) -> None:
    loaded = load_config(None, start=tmp_path)
    seeds = {build_request("smoke", loaded).seed for _ in range(5)}
    assert len(seeds) > 1 and all(1 <= s < 2**24 for s in seeds)
    # a drill's runs against a long-lived target each get their own people, unless fixed
    drawn = build_request("drill", loaded)
    assert not drawn.seed_fixed
    assert len({drawn.for_next_run().seed for _ in range(5)}) > 1
    fixed = build_request("drill", loaded, seed=5)
    assert fixed.seed_fixed and fixed.for_next_run().seed == 5


def test_a_malformed_duration_is_refused_while_the_request_is_built(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="duration '5x'"):
        _request(tmp_path, "load", "--target", "staging", "--duration", "5x")
    with pytest.raises(UsageError, match="--master-wait"):
        _request(tmp_path, "load", "--worker", "--master-wait", "soon")


def test_a_rollout_takes_its_stages_from_the_config_and_keeps_the_users_duration(
    tmp_path: Path,
) -> None:
    request = _request(tmp_path, "rollout", "--sandbox", "--max-extensions", "1")
    settings = request.rollout
    assert settings is not None
    assert settings.shares == (10.0, 50.0, 100.0) and settings.stage_duration_s == 20.0
    assert settings.max_extensions == 1 and settings.hooks == {"on_stage": "echo stage"}
    assert settings.min_samples == request.min_samples == 100
    # no --duration: room for every stage and extension (2 looks of 20 s, each twice, plus 5 s)
    assert request.shape.duration_s == settings.bound_s == 85
    given = _request(tmp_path, "rollout", "--sandbox", "--duration", "40s", "--stages", "50,100")
    assert given.shape.duration_s == 40.0  # the user's --duration is theirs, never rewritten
    assert given.rollout is not None and given.rollout.shares == (50.0, 100.0)


def test_run_json_records_the_request_whole_with_the_config_hash_and_no_secret(
    tmp_path: Path,
) -> None:
    request = _request(
        tmp_path,
        "load",
        "--target",
        "http://me:s3cret@127.0.0.1:9/?token=abc",
        "--cluster-key",
        "k" * 20,
        "--master",
    )
    run = RunDirectory(tmp_path, "run-1")
    run.start(mode="load", target={}, seed=request.seed, config={}, request=request.recorded())
    run.close()
    text = (tmp_path / "run-1" / "run.json").read_text()
    recorded = json.loads(text)["request"]
    assert "s3cret" not in text and "token=abc" not in text and "k" * 20 not in text
    assert recorded["distribution"]["cluster_key"] == "[redacted]"
    assert recorded["sides"]["target"] == "http://127.0.0.1:9/?token=[redacted]"
    assert recorded["config_hash"] == request.config_hash and len(request.config_hash) == 16
    assert recorded["config"]["targets"]["staging"]["url"] == "http://staging.example:8800"
    assert recorded["seed"] == 7 and recorded["shape"]["users"] == 10
    assert recorded["mode"] == "load"


def test_a_drills_runs_keep_the_results_roots_history(tmp_path: Path) -> None:
    request = _request(tmp_path, "load", "--target", "staging")
    assert request.history_root is None
    drill_run = request.with_results(tmp_path / "out" / "drill-1").with_results(tmp_path / "x")
    assert drill_run.results_root == tmp_path / "x"
    assert drill_run.history_root == (tmp_path / "out").resolve()
