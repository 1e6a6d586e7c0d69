"""The benchmarks, one package: `bench.lib` is what they share, and each bench is a subpackage.

Run one as `python -m bench.load` from the repository's root, or through its script,
`python bench/load_overhead.py` (see bench/README.md for the list).
"""
