"""Benchmark: what the drill proxy costs against going direct.

The same as `python -m bench.proxy` from the repository's root; the code and its usage are in
bench/proxy/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.proxy")
