"""Benchmark: what the drill proxy (`harness.faults`, no fault) costs, against going direct.

    .venv/bin/python bench/proxy_overhead.py [--quick] [--json] [--rounds N] [--seconds S]
    .venv/bin/python -m bench.proxy [...]      (the same, from the repository's root)

Measurements made of pairs alternated within this one run (direct, proxy, proxy, direct, ...)
so that a busy machine hits both sides alike; the ratios are medians per pair:

  harness     throughput of `harness load` itself (20 users of a one-request API journey, one
              process, tracing on, at least 8 s so start-up does not weigh) against nginx, direct
              and through the proxy: the load a drill puts through it (goal: proxy >= 0.8 x
              direct).
  latency     a geventhttpclient client with one connection, one request at a time: p50 through
              the proxy minus p50 direct (goal: < 1 ms).
  saturating  (for information) the same client with 16 greenlets in a tight loop, several times
              what a harness process sends, and wrk's ceiling (1 thread, 16 connections): what the
              proxy can forward on a shared core.

Target: nginx (Debian package `nginx`), started here on a loopback port with its own config and
files in a temporary folder; without nginx, the sandbox's `/api/v1/health`. Every process started
here is stopped by PID, also on failure; load goes only to 127.0.0.1.
"""
