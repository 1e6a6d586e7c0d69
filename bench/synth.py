"""Benchmark: synthetic people per second, synth's factory against raw Faker.

The same as `python -m bench.people` from the repository's root; the code and its usage are in
bench/people/. This script only hands over to it (bench/_script.py says why it is needed).
"""

if __name__ == "__main__":
    import _script

    _script.run("bench.people")
