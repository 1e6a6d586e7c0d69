"""Benchmark: `harness history index` over 1,000 run folders (goal: under 30 s).

The same as `python -m bench.history` from the repository's root; the code and its usage are in
bench/history/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.history")
