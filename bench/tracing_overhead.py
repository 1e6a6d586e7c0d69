"""Benchmark: load throughput with tracing at its defaults against tracing off.

The same as `python -m bench.tracing` from the repository's root; the code and its usage are in
bench/tracing/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.tracing")
