"""The run folder's schema: its file names, its version, and the config hash of a run.

run.json's `schema` is the version of the folder's layout, an integer. A folder written before
the field existed is version 1: the same layout, without the field. A reader refuses a folder
of a newer version than its own (`check_schema`): it cannot know what changed in it.

    results/<run-id>/
      run.json          what ran, with what, when, and its status (`schema`, `run_id`, ...)
      steps.jsonl       step and iteration records, one a line (failures always; passes
                        sampled by --step-sample-rate at load)
      histograms/       HDR histograms per series (`index.json`, one `.hdr` a series),
                        every step counted; `by-source/N/` per load process
      vitals/           Web Vitals histograms of web steps (the same layout; the metric,
                        `lcp`, ..., in the touchpoint's place; CLS unitless, the rest in ms)
      counts.json       exact iterations and failures per (target, journey), errors per step
      timeline.json     iterations and failures per second and target
      health.json       the load generator's health: summary and samples
      verdict.json      the gates' decision record (rehearsals, rollouts, drills)
      rollout.json      a staged rollout's stages
      summary.md, summary.json, report.html, junit.xml   rendered from the files above
      traces.jsonl, traces/, trace-joins.json            journey traces
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.errors import UsageError

#: the layout this harness writes and the newest it reads
SCHEMA_VERSION = 1
#: what a run.json without `schema` is
UNVERSIONED = 1

RUN_FILE = "run.json"
STEPS_FILE = "steps.jsonl"
HISTOGRAMS = "histograms"
VITALS = "vitals"  #: Web Vitals histograms per (target, journey, step, metric); web runs only
COUNTS_FILE = "counts.json"
TIMELINE_FILE = "timeline.json"
HEALTH_FILE = "health.json"
VERDICT_FILE = "verdict.json"
ROLLOUT_FILE = "rollout.json"

#: the files a reader reports on, in the order it names them
FILES = (
    RUN_FILE,
    STEPS_FILE,
    HISTOGRAMS,
    COUNTS_FILE,
    TIMELINE_FILE,
    HEALTH_FILE,
    ROLLOUT_FILE,
    VERDICT_FILE,
)


def schema_of(meta: dict[str, Any], path: Path) -> int:
    """The schema version of a run folder whose run.json (at `path`) holds `meta`: its `schema`,
    or 1 when it has none. Raises `UsageError` (exit 2) for a newer version than this harness
    reads."""
    version = meta.get("schema")
    if version is None:
        return UNVERSIONED
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"{path} is a run folder of schema version {version}, written by a newer "
            f"journey-harness; this one reads versions 1 to {SCHEMA_VERSION}. Read it with the "
            "journey-harness that wrote it (run.json `versions`), or a newer one"
        )
    return int(version)


def config_hash(meta: dict[str, Any]) -> str:
    """A short hash of a run's configuration (run.json `config`), for the decision record."""
    config = json.dumps(meta.get("config", {}), sort_keys=True, default=str)
    return hashlib.sha256(config.encode()).hexdigest()[:16]
