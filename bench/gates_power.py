"""Benchmark: the default gates' false FAIL rate on identical candidates and their power against
injected regressions, on noise replayed from a recorded sandbox rehearsal.

The same as `python -m bench.power` from the repository's root; the code and its usage are in
bench/power/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.power")
