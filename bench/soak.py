"""Benchmark: the harness's own memory and disk over a long load run.

The same as `python -m bench.endurance` from the repository's root; the code and its usage are in
bench/endurance/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.endurance")
