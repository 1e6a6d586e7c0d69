"""Benchmark: what the harness costs over raw Locust, and whether its numbers are honest.

The same as `python -m bench.load` from the repository's root; the code and its usage are in
bench/load/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.load")
