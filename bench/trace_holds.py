"""Benchmark: trace headers on popups' first documents, and what a traced action costs.

The same as `python -m bench.trace_holds` from the repository's root; the code and its usage are
in bench/trace_holds/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.trace_holds")
