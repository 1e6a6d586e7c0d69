"""Load throughput with tracing at its defaults against tracing off, alternated in one run.

    .venv/bin/python bench/tracing_overhead.py [--rounds 15] [--generator-rounds 7] [--duration 8s]
                                               [--users 10] [--quick] [--parts sandbox,generator]
    .venv/bin/python -m bench.tracing [...]      (the same, from the repository's root)

Part `sandbox` (the goal): starts one sandbox, then runs `harness load` against it (API and
mobile journeys, no browser) alternately with full tracing and with `--no-traces`, and prints
iterations per second of each and the ratio traced / untraced, the median of the rounds' ratios
(goal ≥ 0.9). Also the CPU seconds per iteration of the harness with its span exporter, which
throughput alone does not show (the exporter runs on another core); start-up and reports are
included, so this second ratio is pessimistic for tracing.

Part `generator` (the worst case, reported, no goal): the same pairs with the one-request
journey `bench_ping` against nginx (started by `bench.lib.servers` as for the load bench;
skipped without nginx), 20 users, so that the generator, not the target, is the bound and every
microsecond tracing adds to an iteration shows in throughput.

rounds.py runs one `harness load` and the paired rounds; parts.py holds the two parts.
"""
