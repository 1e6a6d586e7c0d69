"""Staged rollout pieces without servers: sticky cohorts, stage plans, the controller's
decisions on fake records, hooks as real shell commands, flags through OpenFeature, and the
sandbox's flag-scoped and contention regressions."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.engine.cohort import CohortRouter, bucket
from harness.errors import SpecError
from harness.flags import (
    FLAG_HEADER,
    control_value,
    flags_on,
    iteration_flags,
    parse_flag_matrix,
    parse_flags,
)
from harness.gates.config import parse_gates
from harness.records import IterationRecord, Outcome, StepRecord, Touchpoint
from harness.rollout import controller as controller_module
from harness.rollout.controller import RolloutController
from harness.rollout.hooks import call_hook
from harness.rollout.stages import RolloutOutcome, StageDecision, parse_shares
from harness.sandbox.profile import ReleaseProfile
from harness.sandbox.regressions import RegressionKind, parse_regression, parse_regressions
from harness.targets import Target

BASE = Target.from_base_url("http://127.0.0.1:1", name="baseline")
CAND = Target.from_base_url("http://127.0.0.1:2", name="candidate")


def test_cohorts_are_sticky_as_the_share_widens() -> None:
    keys = [f"person-{i}" for i in range(5000)]
    router = CohortRouter(salt="s")
    seen: set[str] = set()
    for share in (1, 5, 25, 50, 100):
        router.set_share(share)
        now = {k for k in keys if router.in_candidate(k)}
        assert seen <= now  # nobody who saw the candidate is sent back
        assert abs(len(now) / len(keys) - share / 100) < 0.03
        seen = now
    router.set_share(0)
    assert not any(router.in_candidate(k) for k in keys)
    assert bucket("a", "x") == bucket("a", "x") != bucket("a", "y")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1,5,25", "end at 100"),
        ("5,5,100", "rise strictly"),
        ("x,100", "not a percentage"),
        ("100", "below 100"),
        ("0,100", "above 0"),
    ],
)
def test_stage_plans_are_checked(text: str, needle: str) -> None:
    with pytest.raises(SpecError, match=needle):
        parse_shares(text)
    assert parse_shares("1,5%,25,50,100") == [1, 5, 25, 50, 100]


def test_flag_specs() -> None:
    assert parse_flags(["new_checkout=on", "a=1,b=v2"]) == {
        "new_checkout": "on",
        "a": "1",
        "b": "v2",
    }
    assert parse_flag_matrix("new_checkout=on,off") == ("new_checkout", ["on", "off"])
    assert control_value(["on", "off"]) == "off" and control_value(["v1", "v2"]) == "v1"
    for bad in ("new_checkout", "=on", "new checkout=on"):
        with pytest.raises(SpecError, match="--flags"):
            parse_flags([bad])
    with pytest.raises(SpecError, match="at least two different values"):
        parse_flag_matrix("new_checkout=on")


def test_flags_are_evaluated_through_openfeature_per_domain() -> None:
    on = iteration_flags("variant-on", {"new_checkout": "on"}, "person-1")
    off = iteration_flags("variant-off", {"new_checkout": "off"}, "person-1")
    assert on.enabled("new_checkout") and not off.enabled("new_checkout")
    assert on.header() == {FLAG_HEADER: "new_checkout=on"}
    assert flags_on(on.header()[FLAG_HEADER]) == {"new_checkout"}
    assert on.value("unknown", "dflt") == "dflt"
    assert iteration_flags("none", {}, "p").header() == {}


def test_flag_scoped_and_contention_regressions_in_the_sandbox_profile() -> None:
    reg = parse_regression("contention:*.orders.create=+40ms;flag=new_checkout")
    assert (reg.kind, reg.flag, reg.delay) == (RegressionKind.CONTENTION, "new_checkout", 0.04)
    with pytest.raises(SpecError, match="did you mean 'new_checkout'"):
        parse_regression("latency:api.orders.create=+1ms;flag=new_chekout")
    specs = parse_regressions(["latency:api.orders.create=+100ms;flag=new_checkout"])
    candidate = ReleaseProfile("candidate", specs, random.Random(1))
    assert candidate.route("api.orders.create").delays == ()
    assert candidate.route("api.orders.create", {"new_checkout"}).delays[0][0] == 0.1
    # The baseline has no new checkout path: a flagged regression never acts there.
    assert not ReleaseProfile("baseline", specs).route("api.orders.create", {"new_checkout"})


def test_contention_waits_only_when_requests_come_close_together() -> None:
    profile = ReleaseProfile("candidate", parse_regressions(["contention:api.orders.create=+20ms"]))
    effects = profile.route("api.orders.create")
    assert profile.contend(effects) == []  # alone: no wait
    time.sleep(0.03)
    assert profile.contend(effects) == []  # the lock was free again
    time.sleep(0.03)
    waits = [w for _ in range(4) for _, w in profile.contend(effects)]  # a burst of four
    assert len(waits) == 3 and waits == sorted(waits) and waits[-1] > 0.05  # the queue grows
    report = profile.effects_report()[0]
    assert report["requests"] == 3 and isinstance(report["first_effect_at"], float)


def _records(target: str, n: int, ms: float, failed: int = 0) -> list[Any]:
    out: list[Any] = []
    rng = random.Random(hash(target) & 0xFFFF)
    for i in range(n):
        duration = ms * (0.8 + 0.4 * rng.random())
        outcome = Outcome.FAILED if i < failed else Outcome.PASSED
        common = dict(
            run_id="r",
            target=target,
            journey="j",
            worker=0,
            user=i,
            iteration=0,
            started_at=time.time(),
            duration_ms=duration,
            outcome=outcome,
        )
        out.append(StepRecord(step="pay", index=0, touchpoint=Touchpoint.API, **common))
        out.append(IterationRecord(steps_passed=1, steps_total=1, **common))
    return out


def _controller(
    tmp_path: Path, hooks: dict[str, str], shares: list[float]
) -> tuple[RolloutController, list[float]]:
    applied: list[float] = []
    gates = parse_gates(
        [
            {"kind": "relative", "metric": "error_rate", "margin": "2pp", "critical": True},
            {"kind": "tail_shift", "quantiles": ["p95"], "margin": "20%"},
        ]
    )
    controller = RolloutController(
        shares=shares,
        stage_duration_s=0.0,
        max_extensions=1,
        gates=gates,
        baseline=BASE,
        candidate=CAND,
        set_share=applied.append,
        hooks=hooks,
        min_samples=50,
    )
    return controller, applied


def test_controller_widens_extends_holds_and_promotes(tmp_path: Path) -> None:
    controller, applied = _controller(tmp_path, {}, [10, 50, 100])
    assert controller.start()
    assert controller(None, 0) is None  # type: ignore[arg-type]  # an empty window: extend
    assert controller.record.stages[-1].decision is StageDecision.EXTEND
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 200, 20)
    assert controller(None, 0) is None  # type: ignore[arg-type]
    assert controller.record.stages[-1].decision is StageDecision.WIDEN and applied[-1] == 50
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 300, 20)
    assert controller(None, 0) == "rollout promoted"  # type: ignore[arg-type]
    assert controller.record.outcome is RolloutOutcome.PROMOTED and applied[-1] == 100
    held, _ = _controller(tmp_path, {}, [10, 100])
    held.start()
    held(None, 0)  # type: ignore[arg-type]
    assert held(None, 0) == "rollout held at 10%"  # type: ignore[arg-type]


def test_controller_rolls_back_and_calls_the_hook_once(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    hooks = {"on_rollback": f"cat >> {out}; echo >> {out}", "on_stage": "true"}
    controller, applied = _controller(tmp_path, hooks, [25, 50, 100])
    assert controller.start()
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 300, 60)
    assert controller(None, 0) == "rollout rolled back"  # type: ignore[arg-type]
    assert applied[-1] == 0 and controller.record.outcome is RolloutOutcome.ROLLED_BACK
    events = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert len(events) == 1 and events[0]["decision"] == "rollback" and events[0]["stage"] == 1
    assert "p95" in events[0]["reason"]
    assert [c.hook for c in controller.record.hooks] == ["on_stage", "on_rollback", "on_stage"]


def test_a_failing_hook_stops_the_rollout_safely(tmp_path: Path) -> None:
    out = tmp_path / "rollback.json"
    hooks = {"on_stage": "echo router refused >&2; exit 7", "on_rollback": f"cat > {out}"}
    controller, applied = _controller(tmp_path, hooks, [25, 50, 100])
    assert not controller.start()  # the start hook failed: nothing ran, nothing to roll back
    assert controller.record.outcome is RolloutOutcome.STOPPED
    assert "exit 7: router refused" in controller.record.reasons[0]
    controller, applied = _controller(
        tmp_path, {**hooks, "on_stage": "grep -q start"}, [25, 50, 100]
    )
    assert controller.start()
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 300, 20)
    reason = controller(None, 0)  # type: ignore[arg-type]  # widen: on_stage now fails
    assert reason is not None and reason.startswith("hook on_stage failed")
    assert applied[-1] == 0 and json.loads(out.read_text())["decision"] == "stop"


def test_hooks_report_timeouts_and_unreachable_urls() -> None:
    slow = call_hook("on_stage", "sleep 5", {"decision": "start"}, timeout_s=0.3)
    assert not slow.ok and "timed out" in slow.detail
    gone = call_hook("on_stage", "http://127.0.0.1:9/hook", {"decision": "start"}, timeout_s=1)
    assert not gone.ok and "could not reach" in gone.detail


def test_journeys_read_flags_and_requests_carry_them() -> None:
    from harness.testing import FakeTransport, json_response, run_once

    seen: list[str] = []

    def checkout(j: Any) -> None:
        with j.step("pay", on="api"):
            path = "/orders/v2" if j.flags.enabled("new_checkout") else "/orders"
            seen.append(path)
            j.api.post(path, json={}, expect=201)

    transport = FakeTransport(lambda request: json_response(201, {}))
    record, _ = run_once(checkout, transport=transport, flags={"new_checkout": "on"})
    assert record.outcome is Outcome.PASSED and seen == ["/orders/v2"]
    assert transport.requests[0].headers[FLAG_HEADER] == "new_checkout=on"
    plain = FakeTransport(lambda request: json_response(201, {}))
    run_once(checkout, transport=plain)
    assert seen[-1] == "/orders" and FLAG_HEADER not in plain.requests[0].headers


class _Receiver:
    """A real HTTP server on loopback that keeps the JSON bodies POSTed to it."""

    def __init__(self, status: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(json.loads(body))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"noted")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/rollout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_receive_the_event_and_a_refusal_is_a_failure() -> None:
    accepting, refusing = _Receiver(200), _Receiver(503)
    try:
        ok = call_hook("on_promote", accepting.url, {"decision": "promote", "stage": 2})
        assert ok.ok and ok.detail == "HTTP 200 noted"
        assert accepting.received == [{"decision": "promote", "stage": 2}]
        refused = call_hook("on_stage", refusing.url, {"decision": "widen"})
        assert not refused.ok and refused.detail.startswith("HTTP 503")
    finally:
        accepting.close()
        refusing.close()


def _watching(
    gate: dict[str, Any], applied: list[float], *, max_extensions: int = 2
) -> RolloutController:
    """A rollout of two stages of an hour each, watching one live gate."""
    return RolloutController(
        shares=[50, 100],
        stage_duration_s=3600.0,
        max_extensions=max_extensions,
        gates=parse_gates([{"abort": True, "for": "0s", **gate}]),
        baseline=BASE,
        candidate=CAND,
        set_share=applied.append,
        hooks={},
    )


#: the anytime-valid error split, and an error-rate gate (valid at one look only)
SPLIT = {"kind": "sequential", "alpha": 0.01}
ERROR_RATE = {"kind": "relative", "metric": "error_rate", "margin": "1pp", "alpha": 0.01}


def test_a_live_error_split_rolls_back_before_the_stage_ends(tmp_path: Path) -> None:
    applied: list[float] = []
    controller = _watching(SPLIT, applied, max_extensions=0)
    assert controller.start()
    controller.window.records += _records("baseline", 200, 20) + _records("candidate", 200, 20)
    assert controller(None, 0) is None  # type: ignore[arg-type]  # no errors: the stage goes on
    controller.window.records += _records("baseline", 200, 20, failed=1)
    controller.window.records += _records("candidate", 200, 20, failed=30)
    assert controller(None, 0) == "rollout rolled back"  # type: ignore[arg-type]
    look = controller.record.stages[-1]
    assert look.early and look.decision is StageDecision.ROLLBACK and applied[-1] == 0


def test_a_live_breach_is_a_fail_when_the_stage_is_judged_at_its_look(tmp_path: Path) -> None:
    # The live watch judges the anytime-valid split at its whole alpha; the stage's judge spent
    # alpha over its 3 planned looks (1/9 at the first) on every gate, the e-value's too, so an
    # e-value of 241 breached (fails at 100) and the judge then passed it (fails at 900): the
    # stage widened on the evidence that had just stopped it.
    applied: list[float] = []
    controller = _watching(SPLIT, applied)
    assert controller.start()
    controller.window.records += _records("baseline", 400, 20, failed=1)
    controller.window.records += _records("candidate", 400, 20, failed=15)
    assert controller(None, 0) == "rollout rolled back"  # type: ignore[arg-type]
    look = controller.record.stages[-1]
    assert look.early and look.decision is StageDecision.ROLLBACK and applied[-1] == 0
    split = look.gates[0]
    assert split.decision == "fail" and "e-value 240.9 (fails at 100)" in split.summary


def test_a_live_gate_is_watched_at_the_alpha_its_look_would_judge_it_at() -> None:
    # 16 failed of 400 against 1: fails at the gate's whole 1%, not at the 1/9 of it the first
    # of 3 looks spends. Watched at 1%, the breach made the look judge at once: inconclusive at
    # 1/9, the stage extended (a look spent seconds into the stage, on no decision).
    applied: list[float] = []
    controller = _watching(ERROR_RATE, applied)
    assert controller.start()
    controller.window.records += _records("baseline", 400, 20, failed=1)
    controller.window.records += _records("candidate", 400, 20, failed=16)
    assert controller(None, 0) is None  # type: ignore[arg-type]
    assert controller.record.stages == [] and controller.look == 1
    controller.window.records += _records("candidate", 100, 20, failed=20)  # now it fails at 1/9
    assert controller(None, 0) == "rollout rolled back"  # type: ignore[arg-type]
    assert controller.record.stages[-1].early


def test_an_early_judgement_that_does_not_fail_lets_the_stage_run_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the live watch pools the journeys; the verdict judges each (Holm across them): where they
    # disagree, the stage neither widens nor spends a look on it, and is not re-judged at once
    applied: list[float] = []
    controller = _watching(ERROR_RATE, applied)
    assert controller.start()
    controller.window.records += _records("baseline", 400, 20) + _records("candidate", 400, 20)
    judged: list[bool] = []
    monkeypatch.setattr(controller, "_breached", lambda now: judged.append(True) or True)
    assert controller(None, 0) is None  # type: ignore[arg-type]
    assert controller(None, 0) is None  # type: ignore[arg-type]
    assert judged == [True]  # quiet for EARLY_QUIET_S after it
    assert controller.record.stages == [] and controller.look == 1 and applied == [50]


def test_a_live_breach_stops_a_stage_once_it_has_held_for_the_gates_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as a rehearsal's abort watch holds it: a rollout rolled back at the first breach, whatever
    # `for` said
    now = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    applied: list[float] = []
    controller = _watching({**SPLIT, "for": "10s"}, applied)
    assert controller.start()
    controller.window.records += _records("baseline", 400, 20, failed=1)
    controller.window.records += _records("candidate", 400, 20, failed=20)
    for _ in range(10):  # failing at every look, for 0 to 9 s
        assert controller(None, 0) is None  # type: ignore[arg-type]
        now[0] += 1.0
    assert controller(None, 0) == "rollout rolled back"  # type: ignore[arg-type]
    assert controller.record.stages[-1].early


def test_a_gates_for_is_checked_when_the_gates_are_read() -> None:
    # before, `for = "ten"` was accepted and raised inside the live watch at the first breach
    with pytest.raises(SpecError, match="'ten' is not a duration"):
        parse_gates([{"kind": "sequential", "abort": True, "for": "ten"}])
    (gate,) = parse_gates([{"kind": "sequential", "abort": True, "for": "0s"}])
    assert gate.hold_s == 0.0


def test_rollout_settings_in_harness_toml(tmp_path: Path) -> None:
    from harness.config import load_config
    from harness.errors import ConfigError

    config = tmp_path / "harness.toml"
    config.write_text('[rollout]\nstages = "10,50,100"\non_rollback = "./router.sh rollback"\n')
    settings = load_config(config).config.rollout
    assert (settings.stages, settings.on_rollback) == ("10,50,100", "./router.sh rollback")
    assert settings.stage_duration == "60s" and settings.on_stage is None
    config.write_text('[rollout]\non_rollbak = "x"\n')
    with pytest.raises(
        ConfigError, match=r"unknown key `rollout\.on_rollbak`; did you mean `on_rollback`"
    ):
        load_config(config)


def test_a_stage_widens_only_when_every_series_has_its_minimum(tmp_path: Path) -> None:
    controller, applied = _controller(tmp_path, {}, [25, 50, 100])
    assert controller.start()
    rare = [
        r.model_copy(update={"step": "receipt"})
        for r in _records("candidate", 10, 20)
        if isinstance(r, StepRecord)
    ]
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 300, 20)
    controller.window.records += rare
    assert controller(None, 0) is None  # type: ignore[arg-type]
    look = controller.record.stages[-1]
    assert look.decision is StageDecision.EXTEND and applied[-1] == 25
    # the tail gate cannot judge `receipt`, so it is inconclusive (not a pass on `pay` alone)
    assert look.reasons[0].startswith(
        "tail_shift: not judged on 1 of 2 series: step `receipt` of `j` on api "
        "(n = 0 / 10 of 200 needed per side; none on the baseline"
    )


def test_a_stage_that_cannot_reach_its_minimum_holds_at_once_with_the_duration_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5 candidate samples of a step in a 20-second look cannot become the 200 its tail gate
    needs in three looks (60 s): the rollout holds after the first look instead of after the
    third, and names the --stage-duration that would reach it (200 samples at 0.25/s = 800 s,
    over 3 looks ≈ 4m30s)."""
    controller, applied = _controller(tmp_path, {}, [5, 50, 100])
    controller.stage_duration_s = 20.0
    controller.max_extensions = 2
    assert controller.start()
    # the look is taken exactly 20 s into the stage, however long the gates take to judge it
    # (beside a CPU hog they took long enough to make it 20.3 s, and the duration 4m35s)
    now = time.time()
    monkeypatch.setattr(controller_module, "time", SimpleNamespace(time=lambda: now))
    controller.stage_started = now - 20.0
    controller.deadline = 0.0
    rare = [
        r.model_copy(update={"step": "receipt"})
        for r in _records("candidate", 5, 20)
        if isinstance(r, StepRecord)
    ]
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 300, 20)
    controller.window.records += rare
    assert controller(None, 0) == "rollout held at 5%"  # type: ignore[arg-type]
    look = controller.record.stages[-1]
    assert look.decision is StageDecision.HOLD and look.look == 1 and applied[-1] == 5
    assert look.reasons[0].startswith("too few samples reachable at 5%: step `receipt`")
    assert "Give --stage-duration 4m30s or more" in look.reasons[0]


def test_a_stage_that_can_still_reach_its_minimum_extends() -> None:
    controller, _ = _controller(Path("."), {}, [5, 50, 100])
    controller.stage_duration_s = 20.0
    controller.max_extensions = 2
    assert controller.start()
    controller.stage_started = time.time() - 20.0
    controller.deadline = 0.0
    rare = [
        r.model_copy(update={"step": "receipt"})
        for r in _records("candidate", 60, 20)
        if isinstance(r, StepRecord)
    ]
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 300, 20)
    controller.window.records += rare
    assert controller(None, 0) is None  # type: ignore[arg-type]
    assert controller.record.stages[-1].decision is StageDecision.EXTEND


def test_a_command_hook_that_times_out_is_killed_with_everything_it_started(
    tmp_path: Path,
) -> None:
    """The hook's whole process group is killed: killing the shell alone left the hook's script
    running, and it finished after the harness had given up."""
    late = tmp_path / "finished"
    script = tmp_path / "deploy.sh"
    script.write_text(f"sleep 2\ntouch {late}\n")
    call = call_hook("on_stage", f"sh {script}", {"decision": "start"}, timeout_s=0.3)
    assert not call.ok and "timed out" in call.detail
    time.sleep(2.5)
    assert not late.exists()


def test_a_webhook_deadline_covers_the_whole_exchange() -> None:
    """A server that answers a byte every 0.2 s never trips a per-read socket timeout; the
    hook's deadline still ends the exchange."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            while not stop.is_set():
                try:
                    conn.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=drip, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    try:
        started = time.monotonic()
        call = call_hook("on_stage", url, {"decision": "start"}, timeout_s=1.0)
        took = time.monotonic() - started
    finally:
        stop.set()
        server.close()
    assert not call.ok and "timed out after 1 s" in call.detail
    assert took < 10.0  # bounded by the deadline (plus a second to unwind), not the 20 s drip


def _rare_journey(target: str, n: int) -> list[Any]:
    """`n` iterations of a journey `slow` whose one step is `look` (a browser journey's few)."""
    return [
        r.model_copy(update={"journey": "slow", **({"step": "look"} if r.kind == "step" else {})})
        for r in _records(target, n, 900)
    ]


def test_a_first_share_too_small_for_a_journey_holds_part_way_into_the_first_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten seconds into a 20-second first look at 5%, a journey that ran 6 iterations on both
    cohorts together cannot give its candidate cohort 200 samples in 60 s: the rollout holds
    then (exit 4), naming the stage duration that would reach them, instead of
    after the whole first look."""
    controller, applied = _controller(tmp_path, {}, [5, 50, 100])
    controller.stage_duration_s = 20.0
    controller.max_extensions = 2
    assert controller.start()
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 300, 20)
    controller.window.records += _rare_journey("baseline", 6)
    now = time.time()  # the looks are taken 5 and 10 s in, however long the gates take
    monkeypatch.setattr(controller_module, "time", SimpleNamespace(time=lambda: now))
    controller.stage_started = now - 5.0
    assert controller(None, 0) is None and not controller.record.stages  # type: ignore[arg-type]
    controller.stage_started = now - 10.0
    assert controller(None, 0) == "rollout held at 5%"  # type: ignore[arg-type]
    look = controller.record.stages[-1]
    assert look.decision is StageDecision.HOLD and look.ended_s < 11 and applied[-1] == 5
    assert "journey `slow`" in look.reasons[0] or "of `slow`" in look.reasons[0]
    assert "Give --stage-duration" in look.reasons[0]


def test_the_early_reach_check_lets_a_stage_that_can_reach_its_minimum_run_on(
    tmp_path: Path,
) -> None:
    """The same check with the journey at 300 iterations in 10 s (15 a second at 5% reaches 200
    candidate samples well within 60 s) records nothing and the stage runs on; it runs once."""
    controller, _ = _controller(tmp_path, {}, [5, 50, 100])
    controller.stage_duration_s = 20.0
    controller.max_extensions = 2
    assert controller.start()
    controller.window.records += _records("baseline", 300, 20) + _records("candidate", 20, 20)
    controller.stage_started = time.time() - 10.0
    assert controller(None, 0) is None  # type: ignore[arg-type]
    assert not controller.record.stages and controller.probed


def test_a_stage_judges_metric_gates_on_points_fetched_for_its_window(tmp_path: Path) -> None:
    from harness.gates.metric_series import FetchedMetric, FetchedSide

    query = "sum(rate(process_cpu_seconds_total[5s]))"
    windows: list[tuple[float, float]] = []

    def fetch(start: float, end: float) -> list[FetchedMetric]:
        windows.append((start, end))

        def side(level: float) -> FetchedSide:
            points = [(start + i, level + 0.001 * (i % 3)) for i in range(20)]
            return FetchedSide(target="t", query=query, points=points)

        sides = {"baseline": side(0.2), "candidate": side(0.4)}
        return [FetchedMetric(provider="prometheus", kind="prometheus", query=query,
                              resolution_s=1.0, start=start, end=end, sides=sides)]  # fmt: skip

    gates = parse_gates(
        [{"kind": "metric", "name": "cpu", "query": query, "margin": "20%", "min_points": 5}]
    )
    controller = RolloutController(
        shares=[25, 100],
        stage_duration_s=0.0,
        max_extensions=0,
        gates=gates,
        baseline=BASE,
        candidate=CAND,
        set_share=[].append,
        hooks={},
        metrics=fetch,
    )
    assert controller.start()
    assert controller(None, 0) == "rollout rolled back"  # type: ignore[arg-type]
    assert windows and windows[-1][0] == controller.record.started_at
    assert "metric `cpu`" in controller.record.reasons[0]
