"""`harness synth ...`: the synthetic-data command line of `synth.cli`, with harness.toml read
here, once, through `load_config`: `seed` and `cleanup` get its results folder, profile, locale,
request timeout and target names as `SeedSettings` (synth itself reads no configuration)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import LoadedConfig, load_config
from harness.errors import UsageError
from harness.targets import Target

if TYPE_CHECKING:
    from synth.cli import SeedSettings


def main(argv: Sequence[str], prog: str = "harness synth") -> int:
    """Run `harness synth ARGS`; returns the exit code."""
    from synth.cli import main as synth_main

    return synth_main(list(argv), prog=prog, settings=seed_settings)


def seed_settings(path: str | None) -> SeedSettings:
    """The settings `seed` and `cleanup` take from harness.toml (`path`, else found from the
    current folder); raises `ConfigError`."""
    from synth.cli import SeedSettings

    loaded = load_config(Path(path) if path else None)
    config = loaded.config
    return SeedSettings(
        results=loaded.root / config.results,
        profile=config.profile,
        locale=config.locale,
        timeout=config.request_timeout,
        source=str(loaded.source) if loaded.source is not None else None,
        resolve=lambda spec: resolve_seed_target(spec, loaded),
    )


def resolve_seed_target(spec: str, loaded: LoadedConfig) -> Target:
    """A configured target by name, else a base URL laid out as the sandbox."""
    targets = loaded.config.targets
    if spec in targets:
        return targets[spec].resolve(spec)
    if "://" not in spec:
        close = difflib.get_close_matches(spec, list(targets), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if loaded.source is None:
            known = "no harness.toml found, so no target names are configured"
        else:
            known = f"targets in {loaded.source}: {', '.join(sorted(targets)) or 'none'}"
        raise UsageError(
            f"unknown target {spec!r}{hint} ({known}); give a configured name or a base URL "
            "such as http://127.0.0.1:8800"
        )
    return Target.from_base_url(spec)
