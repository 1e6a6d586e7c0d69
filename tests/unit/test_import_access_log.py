"""`harness import access-log` and `load --workload`: logs parsed line by line, sessions split
by inactivity and matched to journeys by their routes, the model written and read back, and
the replay's arrivals following the recorded curve."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.engine.plan import LoadPlan, ShapeKind
from harness.errors import UsageError
from harness.importers.access_log import Reader, _time_local, session_key
from harness.importers.log_workload import RoutePatterns, Sessions, build_workload
from harness.run.request import Shape
from harness.run.workload_run import parse_speed, with_workload
from harness.targets import Target
from harness.think import parse_think
from harness.workload import dump_workload, load_workload

T0 = 1_796_000_000.0
JOURNEYS = """
from harness import journey

@journey(routes=["GET /", "GET /products/{id}", "POST /api/v1/orders", "GET /orders/*"])
def buy(j):
    pass

@journey(routes=["GET /api/v1/products", "POST /api/v1/users"])
def api_signup(j):
    pass
"""


def combined(t: float, ip: str, method: str, path: str, agent: str = "Mozilla/5.0") -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" 200 512 "-" "{agent}" "sid=s{ip}"'


def log_lines() -> list[str]:
    lines: list[tuple[float, str]] = []
    for s in range(40):
        ip = f"10.0.0.{s}"
        t = T0 + s * 3.0  # 20 sessions a minute
        if s % 4 == 3:
            seq = [("GET", "/admin/users/7"), ("GET", "/admin/users/8")]
        elif s % 2 == 0:
            seq = [("GET", "/"), ("GET", f"/products/{s}"), ("POST", "/api/v1/orders")]
            seq.append(("GET", f"/orders/{s}"))
        else:
            seq = [("GET", "/api/v1/products?q=x"), ("POST", "/api/v1/users")]
        for method, path in seq:
            lines.append((t, combined(t, ip, method, path)))
            lines.append((t, combined(t, ip, "GET", "/static/app.js")))
            t += 2.0
    return [line for _, line in sorted(lines)]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "journeys").mkdir()
    (tmp_path / "journeys" / "shop.py").write_text(JOURNEYS)
    (tmp_path / "access.log").write_text("\n".join(log_lines()) + "\n")
    return tmp_path


def test_time_local_and_combined_lines() -> None:
    assert _time_local("07/Dec/2026:02:20:10 +0100") == _time_local("07/Dec/2026:01:20:10 +0000")
    reader = Reader("combined")
    got = reader._combined(combined(T0, "1.2.3.4", "GET", "/a/b?x=1"))
    assert got is not None and got[:5] == (T0, "1.2.3.4", "GET", "/a/b", "200")
    assert session_key(got, "cookie:sid") == "s1.2.3.4"
    assert session_key(got, "ip+ua") == "1.2.3.4\tMozilla/5.0"


def test_json_lines() -> None:
    reader = Reader("json")
    line = json.dumps(
        {"time": "2026-12-07T10:00:00Z", "remote_addr": "1.1.1.1", "request": "GET /x?y HTTP/1.1"}
        | {"status": 200, "user_agent": "ua"}
    )
    got = reader._json(line)
    assert got is not None and got[2:5] == ("GET", "/x", "200")
    assert reader._json('{"path": "/x"}') is None


def test_sessions_mix_touchpoints_rate_think_and_unmatched(workspace: Path) -> None:
    out = workspace / "workload.toml"
    argv = ["import", "access-log", str(workspace / "access.log"), "-o", str(out)]
    argv += ["--journeys", str(workspace / "journeys"), "--session-key", "cookie:sid"]
    assert main(argv) == 0
    workload = load_workload(out)
    assert (workload.sessions, workload.matched_sessions) == (40, 30)
    assert workload.mix == {"buy": 66.67, "api_signup": 33.33}
    assert workload.touchpoints == {"web": 66.67, "api": 33.33}
    assert workload.unmatched_share == 25.0
    assert [r.route for r in workload.unmatched_routes] == ["GET /admin/users/{id}"]
    assert workload.arrivals == [15, 15, 0]  # every 3 s a session, a quarter unmatched
    assert workload.rate_per_minute == pytest.approx(29 / 114 * 60, rel=1e-3)  # 30 starts in 114 s
    assert workload.think["buy"] == [2.0] * 11
    assert parse_think(workload.think_specs()["buy"]).quantile(0.5) == 2.0
    first = out.read_bytes()
    assert main(argv) == 0 and out.read_bytes() == first  # deterministic


def test_inactivity_splits_a_clients_sessions() -> None:
    patterns = RoutePatterns([("buy", ["GET /"])])
    sessions = Sessions(patterns, Target.from_base_url("http://x"), inactivity_s=60.0)
    reader = Reader("combined")
    lines = [combined(T0 + t, "1.1.1.1", "GET", "/") for t in (0, 30, 200, 210)]
    sessions.feed(r for r in map(reader._combined, lines) if r is not None)
    assert sessions.close_all().sessions == 2


def test_route_patterns() -> None:
    patterns = RoutePatterns([("a", ["GET /orders/{id}", "/static/**"]), ("b", ["* /x/*"])])
    assert patterns.match("GET", "/orders/12") == (0,)
    assert patterns.match("POST", "/orders/12") == ()
    assert patterns.match("GET", "/static/css/a.css") == (0,)
    assert patterns.match("DELETE", "/x/y") == ()  # `*` as a method is literal: use no method


def test_a_log_in_another_format_is_refused(workspace: Path) -> None:
    (workspace / "odd.log").write_text("\n".join(f"line {i} of nothing" for i in range(80)))
    with pytest.raises(UsageError, match="not an access log in the 'combined' format"):
        list(Reader("combined").read([workspace / "odd.log"]))
    with pytest.raises(UsageError, match="combined or json"):
        Reader("w3c")


def test_a_log_no_journey_matches_is_one_paragraph_and_exit_2(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "other.log").write_text(combined(T0, "1.1.1.1", "GET", "/elsewhere") + "\n")
    argv = ["import", "access-log", str(workspace / "other.log"), "-o", str(workspace / "w")]
    assert main([*argv, "--journeys", str(workspace / "journeys")]) == 2
    err = capsys.readouterr().err
    assert "no session" in err and "GET /elsewhere" in err and err.count("\n") == 1
    assert main([*argv, "--format", "xml", "--journeys", str(workspace / "journeys")]) == 2


def test_the_model_round_trips_and_is_refused_when_damaged(tmp_path: Path) -> None:
    tally_sessions = Sessions(RoutePatterns([("a", ["GET /"])]), Target.from_base_url("http://x"))
    reader = Reader("combined")
    tally_sessions.feed(
        r for r in [reader._combined(combined(T0, "1.1.1.1", "GET", "/"))] if r is not None
    )
    workload = build_workload(
        tally_sessions.close_all(),
        ["a"],
        sources=['we"ird.log'],
        fmt="combined",
        key="ip+ua",
        inactivity_s=60.0,
        bucket_s=60.0,
        lines=1,
    )
    path = tmp_path / "w.toml"
    path.write_text(dump_workload(workload, "a comment"))
    assert load_workload(path) == workload
    path.write_text("[workload]\nmix = 3\n")
    with pytest.raises(UsageError, match=r"workload\.mix"):
        load_workload(path)
    path.write_text("[other]\n")
    with pytest.raises(UsageError, match="no \\[workload\\] table"):
        load_workload(path)


def test_replay_follows_the_curve_compressed_by_speed() -> None:
    plan = LoadPlan(
        run_id="r",
        shape=ShapeKind.REPLAY,
        curve=[2, 0, 4],
        curve_bucket_s=60.0,
        speed=10.0,
        duration_s=18.0,
        targets=[{}],
        results_root="/tmp",
    )
    offsets = list(plan.arrival_offsets(0))
    assert offsets == pytest.approx([1.5, 4.5, 12.75, 14.25, 15.75, 17.25])
    two = plan.model_copy(update={"workers": 2})
    assert sorted([*two.arrival_offsets(0), *two.arrival_offsets(1)]) == pytest.approx(offsets)


def test_a_workload_shapes_the_run(workspace: Path) -> None:
    out = workspace / "workload.toml"
    argv = ["import", "access-log", str(workspace / "access.log"), "-o", str(out)]
    assert main([*argv, "--journeys", str(workspace / "journeys"), "--bucket", "30s"]) == 0
    arrival = with_workload(Shape(), out, "2x")
    assert arrival.kind is ShapeKind.ARRIVAL
    assert arrival.rate == pytest.approx(load_workload(out).rate_per_minute / 60 * 2)
    replay = with_workload(Shape(kind=ShapeKind.REPLAY), out, "10x")
    assert replay.duration_s == pytest.approx(len(load_workload(out).arrivals) * 3.0)
    assert parse_speed("2.5x") == 2.5
    with pytest.raises(UsageError, match="--speed"):
        parse_speed("fast")
    with pytest.raises(UsageError, match="needs --workload"):
        with_workload(Shape(kind=ShapeKind.REPLAY), None, None)


def test_the_run_says_the_workload_it_used_against_the_recorded_one() -> None:
    from harness.engine.collector import LoadAggregator, Tally
    from harness.journey import journey as declare
    from harness.run.workload_run import compare_workload, workload_markdown
    from harness.workload import Workload

    @declare(think="workload")
    def buy(j):  # pragma: no cover - never runs
        pass

    recorded = Workload(
        mix={"buy": 60.0, "browse": 40.0},
        arrivals=[6, 4],
        bucket_s=60.0,
        rate_per_minute=5.0,
        think={"buy": [1.0] * 11},
    )
    plan = LoadPlan(
        run_id="r",
        shape=ShapeKind.REPLAY,
        curve=[6, 4],
        speed=10.0,
        duration_s=12.0,
        targets=[{}],
        results_root="/tmp",
        workload_think=recorded.think_specs(),
    )
    aggregator = LoadAggregator()
    aggregator.journeys[("t", "buy")].add(Tally(iterations=5))
    aggregator.journeys[("t", "browse")].add(Tally(iterations=5))
    for second, count in ((100, 4), (105, 2), (107, 4)):
        aggregator.seconds[("t", second)].add(Tally(iterations=count))
    compared = compare_workload(plan, recorded, [buy.__harness_journey__], aggregator)
    assert compared["mix"] == {
        "browse": {"recorded": 40.0, "used": 50.0},
        "buy": {"recorded": 60.0, "used": 50.0},
    }
    assert compared["arrivals"] == {"recorded": [6, 4], "used": [6, 4]}
    assert compared["rate_per_minute"] == {"recorded": 5.0, "used": 5.0}
    assert compared["think"]["buy"] == {"recorded": [1.0, 1.0], "used": [1.0, 1.0]}
    assert "| buy | 60.0% | 50.0% | 1 s / 1 s | 1 s / 1 s |" in workload_markdown(compared)


def test_routes_learned_from_a_smoke_run(workspace: Path) -> None:
    from harness.importers.learned_routes import learned_routes
    from harness.records import Outcome, RequestRecord, StepRecord, Touchpoint
    from harness.results import RunDirectory

    run = RunDirectory(workspace / "results", "20261207-000000-smoke-abcd")
    run.start(mode="smoke", target={"target": {"name": "shop"}}, seed=1, config={})
    sent = [("GET", "http://x/api/v1/products?q=1"), ("GET", "http://x/static/a.css")]
    sent.append(("POST", "http://x/api/v1/users/41/orders"))
    run.step_finished(
        StepRecord(
            run_id=run.run_id,
            target="shop",
            journey="quiet",
            step="s",
            index=0,
            touchpoint=Touchpoint.API,
            worker=0,
            user=0,
            iteration=0,
            started_at=T0,
            duration_ms=1.0,
            outcome=Outcome.PASSED,
            requests=tuple(RequestRecord(method=m, url=u, duration_ms=1.0) for m, u in sent),
        )
    )
    run.close()
    assert learned_routes([run.path]) == {
        "quiet": ["GET /api/v1/products", "POST /api/v1/users/{id}/orders"]
    }
    with pytest.raises(UsageError, match="not a run folder"):
        learned_routes([workspace])
    (workspace / "journeys" / "quiet.py").write_text(
        "from harness import journey\n\n\n@journey\ndef quiet(j):\n    pass\n"
    )
    (workspace / "api.log").write_text(
        "\n".join(
            combined(T0 + i, f"10.1.0.{i}", "POST", f"/api/v1/users/{i}/orders") for i in range(5)
        )
        + "\n"
    )
    out = workspace / "learned.toml"
    argv = ["import", "access-log", str(workspace / "api.log"), "-o", str(out)]
    argv += ["--journeys", str(workspace / "journeys"), "--learn-from", str(run.path)]
    assert main(argv) == 0
    assert load_workload(out).mix == {"quiet": 100.0}


def test_an_apps_user_agent_is_the_mobile_touchpoint() -> None:
    from harness.importers.log_workload import is_app_agent

    assert is_app_agent("ShopApp/3.2 (iOS 17.1; iPhone15,2) journey-harness")
    assert is_app_agent("okhttp/4.12.0")
    assert not is_app_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148")
    patterns = RoutePatterns([("app", ["GET /feed"])])
    sessions = Sessions(patterns, Target.from_base_url("http://x"))
    reader = Reader("combined")
    line = combined(T0, "1.1.1.1", "GET", "/feed", agent="ShopApp/3.2 (Android 14; Pixel 8)")
    sessions.feed(r for r in [reader._combined(line)] if r is not None)
    assert sessions.close_all().touchpoints == {"mobile": 1}


def test_ids_in_paths_share_a_cache_entry_unless_a_route_names_one() -> None:
    # a log of a million orders must not miss the route cache on every line
    patterns = RoutePatterns([("order", ["GET /orders/{id}"]), ("new", ["GET /orders/new"])])
    assert all(patterns.match("GET", f"/orders/{i}") == (0,) for i in range(1000))
    assert patterns.match("GET", "/orders/new") == (0, 1)
    assert len(patterns._cache) == 2
    # a literal id in a route: ids are then matched as they are
    literal = RoutePatterns([("answer", ["GET /v/42"]), ("any", ["GET /v/{n}"])])
    assert literal.match("GET", "/v/42") == (0, 1)
    assert literal.match("GET", "/v/7") == (1,)


def test_the_run_header_shows_the_workloads_weights(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.journey import Journey
    from harness.run.session import _announce

    def shop(j: object) -> None:
        pass

    journeys = [Journey(name="shop", func=shop, weight=3), Journey(name="api", func=shop)]
    target = Target.from_base_url("http://x")
    _announce("load", [target], "replay", 1, "r1", journeys, {"shop": 750, "api": 250})
    out = capsys.readouterr().out
    assert "shop (workload weight 750)" in out and "api (workload weight 250)" in out
    _announce("load", [target], "ramp", 1, "r1", journeys)
    assert "shop (weight 3)" in capsys.readouterr().out


def test_sessions_cache_a_paths_shape_not_each_id() -> None:
    patterns = RoutePatterns([("order", ["GET /orders/{id}"])])
    sessions = Sessions(patterns, Target.from_base_url("http://x"))
    ids = [(T0 + i, f"10.0.{i // 250}.{i % 250}", "GET", f"/orders/{i}", "200", "ua", "")
           for i in range(1000)]  # fmt: skip
    admin = [(T0 + 1000, "10.9.9.9", "GET", "/admin/7", "200", "ua", "")]
    sessions.feed([*ids, *admin])
    assert len(sessions._routes) == 2  # GET /orders/0 and GET /admin/0
    tally = sessions.close_all()
    assert tally.mix == {0: 1000} and tally.unmatched_routes == {"GET /admin/{id}": 1}
    # a base with an id in its path: ids are kept as they are
    base = Target.from_base_url("http://x").model_copy(update={"api": "http://x/api/2"})
    numbered = Sessions(patterns, base)
    assert not numbered._ids
