"""Soak: a long load run against the sandbox, watching the harness's own memory and disk.

    .venv/bin/python bench/soak.py [--minutes 10] [--users 50] [--quick] [--json]
    .venv/bin/python -m bench.endurance [...]      (the same, from the repository's root)

Starts one sandbox and runs `harness load` against it (API and mobile journeys, no browser) for
the given time, sampling every 5 s the resident memory of the harness process and of its span
sidecar, and the size of the run folder. Prints memory after warm-up (the first 20% of the run)
against memory at the end of the load — the growth, goal < 10% — the peak while the reports are
written, and the results' size per minute.
"""
