"""What a run command reads before it starts: its config (once), its journeys, its seed and
the folder its results go to."""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

from harness.config import HarnessConfig, LoadedConfig, load_config
from harness.errors import UsageError
from harness.journey import Journey, discover, select
from harness.results import check_folder


@dataclass(frozen=True)
class RunInputs:
    """Config, journeys, seed and results folder of a run command."""

    loaded: LoadedConfig
    journeys: list[Journey]
    seed: int
    results_root: Path
    journey_paths: list[Path]

    @property
    def config(self) -> HarnessConfig:
        """The validated configuration."""
        return self.loaded.config


def run_inputs(
    options: argparse.Namespace,
    *,
    select_journeys: bool = True,
    loaded: LoadedConfig | None = None,
) -> RunInputs:
    """Config (`loaded`, else read now) and journeys for a run; raises `UsageError` when no
    journey matches. A command reads harness.toml once, at its start: what a run judges is
    what it recorded, whatever happens to the file meanwhile."""
    loaded = loaded if loaded is not None else load_config(options.config)
    config = loaded.config
    if getattr(options, "regression", None) and not getattr(options, "sandbox", False):
        raise UsageError("--regression needs --sandbox (it configures the bundled sandbox)")
    paths = options.journeys or [loaded.root / p for p in config.journeys]
    found = discover(paths)
    journeys = select(found, options.keyword) if select_journeys else found
    if not journeys:
        where = ", ".join(str(p) for p in paths)
        matching = f" matching -k {options.keyword!r}" if options.keyword else ""
        raise UsageError(f"no journeys found in {where}{matching}")
    seed = options.seed if options.seed is not None else config.seed
    if seed is None:
        # A fresh seed per run, so that runs against a long-lived target do not replay the same
        # people (and hit "email taken"); it is printed and stored so `--seed` replays the run.
        seed = random.SystemRandom().randrange(1, 2**24)
    results_root = Path(options.results or (loaded.root / config.results)).resolve()
    check_folder(results_root)  # a folder that cannot be made is the user's to fix: exit 2
    return RunInputs(loaded, journeys, seed, results_root, list(paths))
