"""Benchmark: `harness import access-log` on a large combined log, streamed in bounded memory
(issue 26: a 1 GB log at 200,000 lines/s or more)."""
