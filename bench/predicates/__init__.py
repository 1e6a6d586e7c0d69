"""Benchmark: what a predicate given to `j.web.page`'s event waits costs per event."""
