"""Benchmark: synthetic people per second on one core, synth's factory against raw Faker.

    .venv/bin/python bench/synth.py [--people N] [--rounds R] [--json]
    .venv/bin/python -m bench.people [...]      (the same, from the repository's root)

The factory case is the realistic one: one `SynthSource.scope(user, iteration).person` per
distinct scope (a full person with address, unique email/username, phone, password). The
baseline is raw Faker's `fake.name() + fake.email() + fake.address()` on one Faker instance.
The two alternate `--rounds` times so that machine noise hits both; the best round of each is
reported, with the ratio. Goals: >= 20,000 people/s and >= 0.8 x raw Faker.
"""
