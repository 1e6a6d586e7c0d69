"""Process exit codes, one documented meaning each."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What `harness` returns to the shell."""

    PASSED = 0  #: every journey (or gate) passed
    FAILED = 1  #: a journey or gate failed
    USAGE = 2  #: bad arguments, config, spec or journey module
    HARNESS_ERROR = 3  #: the harness could not do its job (target down, internal error)
    INCONCLUSIVE = 4  #: not enough evidence to decide
