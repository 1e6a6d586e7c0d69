"""How `python bench/<script>.py` runs its bench package, as `python -m bench.<name>` would.

Python puts a script's own folder (bench/) first on sys.path, so the package `bench` cannot be
imported from a script, and bench/synth.py would shadow the project's `synth` package. `run`
puts the repository's root there instead and runs the package's `__main__`. This is the only
place in bench/ that touches sys.path; every script is a two-line shim calling it.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(module: str) -> None:
    """Run `module` (e.g. "bench.load") as the main program, with the repository's root first on
    sys.path (the checkout's `harness` and `synth`, as `python -m` from the root would)."""
    sys.path[0] = str(ROOT)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
