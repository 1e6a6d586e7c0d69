"""Every selected journey gets a virtual user, or the run refuses before any request."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.engine.allocation import allocate, weighted_turns
from harness.errors import UsageError
from harness.journey import Journey

REPO = Path(__file__).resolve().parents[2]


def _journey(name: str, weight: int, *, browser: bool) -> Journey:
    def run(j: object) -> None:
        return None

    return Journey(name=name, func=run, weight=weight, browser=browser)


#: the sample journeys' shape: two browser journeys, two protocol ones
SAMPLE = [
    _journey("api_catalog_and_orders", 2, browser=False),
    _journey("web_mobile_api_order", 2, browser=True),
    _journey("mobile_reorder", 3, browser=False),
    _journey("browse_and_buy", 3, browser=True),
]


def test_too_few_users_refuse_naming_the_unrun_journey_and_the_users_needed() -> None:
    with pytest.raises(UsageError) as caught:
        allocate(SAMPLE, users=2, browser_users=1)
    message = str(caught.value)
    assert "`api_catalog_and_orders` would never run" in message  # the lighter of the two
    assert "mobile_reorder" not in message
    assert "--users 3 or more" in message


def test_enough_users_allocate_every_journey() -> None:
    allocation = allocate(SAMPLE, users=4, browser_users=1)
    assert set(allocation.protocol) == {"api_catalog_and_orders", "mobile_reorder"}
    assert set(allocation.browser) == {"web_mobile_api_order", "browse_and_buy"}
    assert allocation.browser_slots == 1
    assert allocation.fewest_users == 3


def test_browser_slots_count_every_process() -> None:
    with pytest.raises(UsageError, match="--users 6 or more"):
        allocate(SAMPLE, users=5, browser_users=2, workers=2)  # 4 slots + 2 protocol


def test_no_browser_slot_for_browser_journeys_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        allocate(SAMPLE, users=10, browser_users=0)
    assert "`web_mobile_api_order`, `browse_and_buy` unrun" in str(caught.value)
    assert "--browser-users 1" in str(caught.value)


def test_protocol_only_runs_need_no_browser_slot() -> None:
    protocol = [j for j in SAMPLE if not j.uses_browser]
    assert allocate(protocol, users=2, browser_users=0).fewest_users == 2
    assert allocate(protocol, users=None, browser_users=0).browser_slots == 0


@pytest.mark.parametrize("weights", [[1, 1], [5, 1], [3, 2, 1], [1, 100]])
@pytest.mark.parametrize("offset", [0, 1, 7])
def test_weighted_turns_reach_every_journey_within_a_cycle(weights: list[int], offset: int) -> None:
    cycle = list(itertools.islice(weighted_turns(weights, offset), sum(weights)))
    assert Counter(cycle) == dict(enumerate(weights))


def test_weighted_turns_start_apart_with_an_offset() -> None:
    first = [next(weighted_turns([1, 1], offset)) for offset in range(2)]
    assert sorted(first) == [0, 1]


def test_locust_dispatches_a_user_to_every_journey() -> None:
    """Locust's own dispatcher, given the user classes, gives every journey at least one user
    (before this change `browse_and_buy`'s weight 3 took the only browser slot and
    `api_catalog_and_orders` got none of two protocol users with weights 2 and 3)."""
    script = """
import json, sys
from locust.dispatch import UsersDispatcher
from locust.runners import WorkerNode
from harness.engine.locust_users import user_classes, BROWSER_SLOTS
from harness.engine.plan import LoadPlan
from harness.journey import Journey
journeys = [Journey(name=n, func=print, weight=w, browser=b) for n, w, b in json.loads(sys.argv[1])]
target = {"name": "t", "web": "http://127.0.0.1:1/", "api": "http://127.0.0.1:1/api", "mobile": "http://127.0.0.1:1/m"}
plan = LoadPlan(run_id="r", users=4, browser_users=1, seed=1, targets=[target], results_root="/tmp")
classes = user_classes(journeys, plan)
dispatcher = UsersDispatcher([WorkerNode(id="local")], classes)
dispatcher.new_dispatch(4, 100.0)
counts = {}
for dispatched in dispatcher:
    counts = dispatched["local"]
rotation = [c for c in classes if c.__name__ == BROWSER_SLOTS][0].rotation
print(json.dumps({"counts": counts, "rotation": [j.name for j in rotation]}))
"""
    spec = [[j.name, j.weight, j.uses_browser] for j in SAMPLE]
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    counts = {name: n for name, n in found["counts"].items() if n}
    per_journey = Counter()
    for name, n in counts.items():
        per_journey[name.removeprefix("journey:").removesuffix("#1")] += n
    assert per_journey == {"api_catalog_and_orders": 1, "mobile_reorder": 2, "browser-slots": 1}
    assert sorted(found["rotation"]) == ["browse_and_buy", "web_mobile_api_order"]
