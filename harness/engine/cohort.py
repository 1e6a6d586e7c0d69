"""Sticky cohorts: which people see the candidate at a given share of traffic.

Each targeting key (the synthetic person's id) hashes to a fixed bucket in [0, 100); the key is
in the candidate cohort while the candidate's share is above its bucket. Widening the share
only adds people, so a person who saw the candidate keeps seeing it as the cohort widens; a
rollback (share 0) sends everyone to the baseline.
"""

from __future__ import annotations

import hashlib

BUCKETS = 10_000


def bucket(key: str, salt: str = "") -> float:
    """The key's fixed place in [0, 100), to 0.01: a SHA-256 hash of salt and key."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") % BUCKETS) * 100.0 / BUCKETS


class CohortRouter:
    """Sends each person to the baseline (side 0) or the candidate (side 1); `share` is the
    candidate's share of people in percent and may be changed while the run goes on."""

    def __init__(self, share: float = 0.0, *, salt: str = "") -> None:
        self.salt = salt
        self.share = 0.0
        self.set_share(share)

    def set_share(self, share: float) -> None:
        """Route `share` percent of people (by bucket) to the candidate from now on."""
        if not 0.0 <= share <= 100.0:
            raise ValueError(f"a candidate share is a percentage from 0 to 100, got {share!r}")
        self.share = share

    def in_candidate(self, key: str) -> bool:
        """Whether this person is in the candidate cohort at the current share."""
        return bucket(key, self.salt) < self.share

    def side(self, key: str) -> int:
        """0 for the baseline, 1 for the candidate."""
        return int(self.in_candidate(key))
