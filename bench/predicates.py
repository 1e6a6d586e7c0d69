"""Benchmark: what a predicate given to `j.web.page`'s event waits costs per event.

The same as `python -m bench.predicates` from the repository's root; the code and its usage are
in bench/predicates/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.predicates")
