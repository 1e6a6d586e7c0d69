"""Benchmark: the harness's browser path against raw Playwright, fresh and reused contexts.

The same as `python -m bench.browser` from the repository's root; the code and its usage are in
bench/browser/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.browser")
