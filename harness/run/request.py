"""`RunRequest`: everything one run was asked to do, typed and frozen, built once.

An entry point (a command from its flags, the pytest plugin from its options) builds one request
from what the user gave, `harness.toml` (read once, here) and the defaults; nothing reads the
config file after that, and the session runs only what the request says. run.json keeps the
request whole under `request`, with the config's hash, secrets redacted (`harness.redact.stored`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.config import HarnessConfig, LoadedConfig
from harness.durations import parse_duration
from harness.engine.plan import ShapeKind, Stage, parse_stages
from harness.errors import UsageError
from harness.gates.config import DEFAULT_GATES, Gate, parse_gates
from harness.redact import stored
from harness.results.schema import config_hash as schema_hash
from harness.workload import Workload

Mode = Literal["smoke", "load", "rehearse", "rollout", "drill", "pytest", "monitor"]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Sides(BaseModel):
    """Where the journeys go: the bundled sandbox, one target, or a baseline and a candidate;
    the feature flags every target gets."""

    model_config = _FROZEN

    sandbox: bool = False
    target: str | None = None
    baseline: str | None = None
    candidate: str | None = None
    regressions: tuple[str, ...] = ()
    allow_production: tuple[str, ...] = ()
    flags: dict[str, str] = Field(default_factory=dict)
    flag_matrix: str | None = None  #: `NAME=A,B`: two variants of one deployment
    #: cores the sandboxes this run starts may use (None: any): set by the session, off
    #: Chromium's cores when web journeys run, so that both sides share the same cores
    sandbox_cpus: frozenset[int] | None = None


class Shape(BaseModel):
    """How many users, how fast, how long (`--users`, `--duration`, `--steps` …)."""

    model_config = _FROZEN

    kind: ShapeKind = ShapeKind.RAMP
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: float = 30.0
    stages: tuple[Stage, ...] = ()
    rate: float = 0.0
    max_users: int = 50
    browser_users: int = 1
    browser_cpus: str = "auto"
    browser_context: str | None = None  #: None: harness.toml's `browser_context`
    browser_trace: bool = False  #: a Playwright trace of every web iteration (`--browser-trace`)
    max_iterations: int = 1_000_000
    step_sample_rate: float = 1.0
    max_error_rate: float = 1.0  #: percent of failed iterations a plain load tolerates
    workload: Workload | None = None  #: `--workload`: the recorded mix, arrivals, think times
    speed: float = 1.0  #: `--speed`: how much faster than recorded a replay runs


class Distribution(BaseModel):
    """Which processes generate the load: this one, `--processes N` local workers, or a master
    and its workers on other machines."""

    model_config = _FROZEN

    processes: int = 0
    master: bool = False
    worker: bool = False
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    expect_workers: int = 1
    master_bind: str = "127.0.0.1"
    cluster_key: str | None = None  #: a secret: run.json keeps `[redacted]`
    master_wait_s: float = 60.0
    web_ui_port: int | None = None  #: Locust's web UI (`--web-ui`)

    @property
    def process_count(self) -> int:
        """Load processes: `--processes`, the workers a master expects, or this one."""
        return self.processes or (self.expect_workers if self.master else 1)


class Tracing(BaseModel):
    """Spans: whether, how many of the passing traces, and where besides traces.jsonl."""

    model_config = _FROZEN

    traces: bool = True
    sample_rate: float = 1.0
    otlp_endpoint: str | None = None
    headed: bool = False  #: show the browser window (smoke, pytest)


class RolloutSettings(BaseModel):
    """`harness rollout`: flags over `[rollout]` of harness.toml over the defaults."""

    model_config = _FROZEN

    shares: tuple[float, ...]
    stage_duration_s: float
    max_extensions: int
    min_samples: int
    hooks: dict[str, str] = Field(default_factory=dict)  #: on_stage/on_promote/on_rollback

    @property
    def bound_s(self) -> float:
        """Room for every stage to use all its extensions, and a few seconds of slack."""
        looks = len(self.shares) - 1
        return round(self.stage_duration_s * looks * (self.max_extensions + 1) + 5)


class DrillSettings(BaseModel):
    """`harness drill`: the faults (each drilled in its own rehearsal) or the A/A runs."""

    model_config = _FROZEN

    faults: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    aa: bool = False
    runs: int = 10
    direct_baseline: bool = False
    replay_step_s: float = 1.0
    preserve_host: bool = False  #: the proxies send the client's Host, not the upstream's


class RunRequest(BaseModel):
    """One run, as asked: mode, config, journeys, seed, results root, sides, shape, processes,
    tracing, gates' minimums, and a rollout's or a drill's own settings."""

    model_config = _FROZEN

    mode: Mode
    config: HarnessConfig
    config_source: Path | None
    config_root: Path
    config_hash: str
    journey_paths: tuple[Path, ...]
    keyword: str | None = None
    seed: int
    #: the seed was given (`--seed`, or `seed` in harness.toml); else each run draws its own
    seed_fixed: bool = True
    results_root: Path
    sides: Sides = Sides()
    shape: Shape = Shape()
    distribution: Distribution = Distribution()
    tracing: Tracing = Tracing()
    min_samples: int | None = None  #: fills the gates' unset minimums (`--min-samples`)
    rollout: RolloutSettings | None = None
    drill: DrillSettings | None = None
    #: a monitor's check: which attempt this run is (2 and up: a retry of a failed one)
    attempt: int = 1
    #: where the default run history is kept (a drill's runs, under its folder, keep the root's)
    history_root: Path | None = None

    def recorded(self) -> dict[str, Any]:
        """The request as run.json keeps it: whole, secrets and URL credentials redacted."""
        kept: dict[str, Any] = stored(self.model_dump(mode="json"))
        return kept

    def gates(self, defaults: Sequence[dict[str, Any]] = DEFAULT_GATES) -> list[Gate]:
        """The gates of the request's config, else `defaults`; `min_samples` fills in unset
        minimums."""
        return configured_gates(self.config, self.config_source, self.min_samples, list(defaults))

    def with_results(self, root: Path) -> RunRequest:
        """The same request writing its run folders under `root` (a drill's runs)."""
        history = self.history_root or self.results_root
        return self.model_copy(update={"results_root": root, "history_root": history})

    def for_next_run(self) -> RunRequest:
        """The request of one more run of it (a drill's): a fresh seed unless one was given,
        so that runs against a long-lived target do not replay the same people."""
        if self.seed_fixed:
            return self
        return self.model_copy(update={"seed": fresh_seed()})


def configured_gates(
    config: HarnessConfig,
    source: Path | None,
    min_samples: int | None,
    defaults: list[dict[str, Any]] = DEFAULT_GATES,
) -> list[Gate]:
    """The gates of `config`, or `defaults`; `min_samples` fills in unset minimums."""
    where = str(source or "the default gates")
    gates = parse_gates(config.gates or defaults, where=where)
    if min_samples is not None:
        gates = [
            g if g.min_samples else g.model_copy(update={"min_samples": min_samples}) for g in gates
        ]
    return gates


def fresh_seed() -> int:
    """A seed of its own for a run given none."""
    return random.SystemRandom().randrange(1, 2**24)


def config_hash(config: HarnessConfig) -> str:
    """A short hash of the configuration a run was given: the results schema's one hash, of
    harness.toml's settings alone (the verdict's also covers the engine's plan, which run.json
    keeps beside them)."""
    return schema_hash({"config": config.model_dump()})


def build_request(
    mode: Mode,
    loaded: LoadedConfig,
    *,
    journeys: Sequence[Path] | None = None,
    keyword: str | None = None,
    seed: int | None = None,
    results: Path | None = None,
    base: Path | None = None,
    **sections: Any,
) -> RunRequest:
    """The request of one run: what was given, else `harness.toml` (`loaded`), else the
    defaults. Relative `journeys` and `results` are taken from `base` (default: the current
    folder); with no seed anywhere, a fresh one, so that runs against a long-lived target do not
    replay the same people (and hit "email taken"); it is printed and stored so `--seed`
    replays the run."""
    config = loaded.config
    here = base or Path.cwd()
    if journeys:
        paths = [here / p for p in journeys] if base is not None else list(journeys)
    else:
        paths = [loaded.root / p for p in config.journeys]
    chosen = seed if seed is not None else config.seed
    root = here / results if results is not None else loaded.root / config.results
    return RunRequest(
        mode=mode,
        config=config,
        config_source=loaded.source,
        config_root=loaded.root,
        config_hash=config_hash(config),
        journey_paths=tuple(paths),
        keyword=keyword,
        seed=chosen if chosen is not None else fresh_seed(),
        seed_fixed=chosen is not None,
        results_root=root.resolve(),
        **sections,
    )


def parse_shape(
    *,
    kind: str = ShapeKind.RAMP.value,
    duration: str = "30s",
    steps: str | None = None,
    **values: Any,
) -> Shape:
    """The shape from its flags; a malformed duration or stage list is the user's mistake
    (exit 2), said before any target is started or reached."""
    return Shape(
        kind=ShapeKind(kind),
        duration_s=parse_duration(duration),
        stages=tuple(parse_stages(steps)) if steps else (),
        **values,
    )


def rollout_settings(
    loaded: LoadedConfig,
    *,
    stages: str | None = None,
    stage_duration: str | None = None,
    max_extensions: int | None = None,
    min_samples: int | None = None,
    hooks: dict[str, str | None] | None = None,
    default_min_samples: int = 100,
) -> RolloutSettings:
    """A rollout's settings: each flag given, else `[rollout]` of harness.toml, else its
    default; hooks that are URLs must be http(s)."""
    from harness.rollout.hooks import is_url
    from harness.rollout.stages import parse_shares
    from harness.targets import check_url

    table = loaded.config.rollout
    extensions = table.max_extensions if max_extensions is None else max_extensions
    if not 0 <= extensions <= 20:
        raise UsageError(
            f"--max-extensions {extensions}: give 0 to 20 (how many times an "
            "inconclusive stage runs again before the rollout holds), e.g. --max-extensions 2"
        )
    actions: dict[str, str] = {}
    for name in ("on_stage", "on_promote", "on_rollback"):
        given = (hooks or {}).get(name)
        action = (given if given is not None else getattr(table, name) or "").strip()
        if not action:
            continue
        if is_url(action):
            check_url(action, f"--{name.replace('_', '-')}")
        actions[name] = action
    minimum = min_samples if min_samples is not None else table.min_samples
    return RolloutSettings(
        shares=tuple(parse_shares(stages if stages is not None else table.stages)),
        stage_duration_s=parse_duration(
            stage_duration if stage_duration is not None else table.stage_duration,
            what="--stage-duration",
        ),
        max_extensions=extensions,
        min_samples=minimum or default_min_samples,
        hooks=actions,
    )
