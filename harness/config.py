"""`harness.toml` (or `[tool.harness]` in pyproject.toml): found once, validated by pydantic.

Bad config is a one-paragraph `ConfigError` naming the file, the key, what is allowed and the
closest known key; never a traceback.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.block_patterns import block_regex
from harness.errors import ConfigError, SpecError
from harness.records import TOUCHPOINTS
from harness.target_http import AppIdentity, TargetHttp, TouchpointHttp, WebHttp
from harness.targets import Target, check_url


class TargetConfig(BaseModel):
    """`[targets.NAME]`: one deployment. `url` alone lays the touchpoints out as the sandbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = None
    web: str | None = None
    api: str | None = None
    mobile: str | None = None
    #: this target's web timeouts (seconds), over the top-level `action_timeout` and
    #: `navigation_timeout`
    action_timeout: float | None = Field(default=None, gt=0, le=600, allow_inf_nan=False)
    navigation_timeout: float | None = Field(default=None, gt=0, le=600, allow_inf_nan=False)
    allow_load: bool = False
    production: bool = False
    http: TargetHttp = TargetHttp()
    #: requests every browser context of this target refuses (`harness.block_patterns`)
    block: list[str] = Field(default_factory=list)
    #: what a metric gate's `{name}` placeholders expand to on this side (`release = "v42"`)
    labels: dict[str, str] = Field(default_factory=dict)

    def resolve(self, name: str) -> Target:
        """The `Target` this entry describes."""
        base = Target.from_base_url(self.url, name=name) if self.url else None
        web = self.web or (base.web if base else None)
        api = self.api or (base.api if base else None)
        mobile = self.mobile or (base.mobile if base else None)
        if not (web and api and mobile):
            raise ConfigError(
                f"target {name!r} needs `url`, or all of `web`, `api` and `mobile`, e.g. "
                f'[targets.{name}] url = "http://127.0.0.1:8800"'
            )
        for key, value in zip(TOUCHPOINTS, (web, api, mobile), strict=True):
            check_url(value, f"targets.{name}.{key}")
        block_regex(self.block, where=f"targets.{name}.block")
        return Target(
            name=name,
            web=web,
            api=api,
            mobile=mobile,
            action_timeout=self.action_timeout,
            navigation_timeout=self.navigation_timeout,
            allow_load=self.allow_load,
            production=self.production,
            http=self.http,
            block=tuple(self.block),
            labels=self.labels,
        )


class ProviderConfig(BaseModel):
    """`[providers.NAME]`: a metric provider the `metric` gates query (Prometheus' HTTP API).
    `headers` and `auth` values may name `${ENV}` variables, read when the query is sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["prometheus"] = "prometheus"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    auth: tuple[str, str] | None = None  #: basic authentication (user, password)
    timeout: float = Field(default=10.0, gt=0, le=120, allow_inf_nan=False)
    #: a folder Prometheus reads with `file_sd_configs` (`files: ["FOLDER/*.json"]`): each
    #: sandbox the harness starts is listed there (`RUN-ROLE.json`) while it runs
    file_sd: str | None = None


class RolloutConfig(BaseModel):
    """`[rollout]`: defaults of `harness rollout` (its flags override each one), so that the
    team's hooks live with the targets they drive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stages: str = "1,5,25,50,100"
    stage_duration: str = "60s"
    max_extensions: int = 2
    min_samples: int | None = None
    on_stage: str | None = None  #: shell command or http(s) URL
    on_promote: str | None = None
    on_rollback: str | None = None


class HarnessConfig(BaseModel):
    """The whole configuration; every key has a default so an empty file is valid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    journeys: list[str] = Field(default_factory=lambda: ["journeys"])
    results: str = "results"
    seed: int | None = None  #: None: a fresh seed per run, printed and stored in run.json
    profile: str = "default"
    locale: str = "en_US"
    #: seconds; bounded, so that a typo (0, nan, 1e9) cannot hang or spin a run
    request_timeout: float = Field(default=10.0, gt=0, le=600, allow_inf_nan=False)
    action_timeout: float = Field(default=5.0, gt=0, le=600, allow_inf_nan=False)
    navigation_timeout: float = Field(default=15.0, gt=0, le=600, allow_inf_nan=False)
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    gates: list[dict[str, Any]] = Field(default_factory=list)  #: validated by harness.gates
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    #: `--browser-context`: `fresh` (a new context per iteration) or `reuse` (one per user)
    browser_context: Literal["fresh", "reuse"] = "fresh"
    #: the run history: a SQLite path or a `postgresql://` URL (default: results/history.sqlite)
    history: str | None = None
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)

    @field_validator("journeys", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class LoadedConfig(BaseModel):
    """The configuration and the file it came from (None for built-in defaults)."""

    model_config = ConfigDict(frozen=True)

    config: HarnessConfig
    source: Path | None
    root: Path


def find_config(start: Path) -> Path | None:
    """`harness.toml`, else a pyproject.toml with `[tool.harness]`, walking up from `start`."""
    for folder in (start, *start.parents):
        candidate = folder / "harness.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "harness" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def load_config(path: Path | None = None, *, start: Path | None = None) -> LoadedConfig:
    """Load and validate the configuration; raises `ConfigError`."""
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    source = path or find_config((start or Path.cwd()).resolve())
    if source is None:
        return LoadedConfig(config=HarnessConfig(), source=None, root=(start or Path.cwd()))
    data = _read_toml(source)
    if source.name == "pyproject.toml":
        data = data.get("tool", {}).get("harness", {})
    try:
        config = HarnessConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, data)) from None
    if config.gates:
        from harness.gates.config import parse_gates

        try:
            parse_gates(config.gates, where=str(source))
        except SpecError as exc:
            raise ConfigError(str(exc)) from None
    return LoadedConfig(config=config, source=source, root=source.parent)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _explain(exc: ValidationError, source: Path, data: dict[str, Any]) -> str:
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        model: type[BaseModel] = HarnessConfig
        if len(loc) >= 4 and loc[0] == "targets" and loc[2] == "http":
            model = (TargetHttp, TouchpointHttp, AppIdentity)[min(len(loc), 6) - 4]
            if len(loc) == 5 and loc[3] == "web":
                model = WebHttp
        elif len(loc) >= 3 and loc[0] == "targets":
            model = TargetConfig
        elif len(loc) == 2 and loc[0] == "rollout":
            model = RolloutConfig
        elif len(loc) == 3 and loc[0] == "providers":
            model = ProviderConfig
        allowed = sorted(model.model_fields)
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"{source}: unknown key `{key}`{hint} Allowed keys here: {', '.join(allowed)}."
    value = error.get("input")
    return f"{source}: `{key}` = {value!r} is invalid: {error['msg']}."
