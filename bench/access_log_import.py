"""Benchmark: `harness import access-log` lines per second and peak memory on a large log.

The same as `python -m bench.access_log` from the repository's root; the code and its usage
are in bench/access_log/. This script only hands over to it (bench/_script.py says why).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.access_log")
