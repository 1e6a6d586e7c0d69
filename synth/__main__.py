"""`python -m synth`: the synthetic-data command line."""

from synth.cli import main

raise SystemExit(main())
