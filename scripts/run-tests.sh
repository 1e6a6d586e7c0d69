#!/usr/bin/env bash
# `make test`'s pytest passes (after lint and types); BIN is the virtualenv's bin folder.
#
# 1. Every test that reads no verdict, but the unit tests, three at a time (pytest-xdist; many
#    wait on servers, timeouts and loads at a set rate, so a third worker fills the two cores),
#    an idle worker taking tests queued on a busy one (`--dist worksteal`).
# 2. The tests marked `alone` (rehearsals, drills, rollouts, load gates) one at a time, so that
#    no verdict shares the two cores with another test; they use about 1.3 of them. Beside
#    them, the unit tests at nice 19: they time nothing, take only what the alone tests leave,
#    and print when both are done. They keep their own pytest cache (two runs writing one
#    `lastfailed` at once keep only the later one's failures), folded into the main one at the
#    end, so that `pytest --lf` reruns whatever failed in either.
set -uo pipefail
BIN=${1:-.venv/bin}

"$BIN/pytest" -n 3 --dist worksteal -m "not alone" --ignore=tests/unit || exit $?

log=$(mktemp -t harness-unit-tests.XXXXXX)
units_cache=.pytest_cache/units
nice -n 19 "$BIN/pytest" -n 2 -m "not alone" -o cache_dir="$units_cache" tests/unit >"$log" 2>&1 &
unit=$!
trap 'kill "$unit" 2>/dev/null; wait "$unit"; rm -f "$log"; exit 130' INT TERM
"$BIN/pytest" -m alone
alone=$?
wait "$unit"
units=$?
trap - INT TERM
"$BIN/python" scripts/fold-lastfailed.py .pytest_cache "$units_cache" tests/unit
echo
echo "=== unit tests (run beside the alone tests, at nice 19) ==="
cat "$log"
rm -f "$log"
if [ "$alone" -ne 0 ]; then exit "$alone"; fi
exit "$units"
