"""CutoverEngine end to end against moto: steps, gates, bake rollback, crashes, dry run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from migration.engine import EngineEvent
from migration.tracking import Phase, app_id
from tests.runtime.conftest import Aws
from tests.runtime.engine_fixtures import GateEnv, Recorder, make_env

APPS = ("billing", "orders")
EXPECTED_TRANSITIONS: list[tuple[Phase | None, int | None]] = [
    (Phase.PLANNED, None),
    (Phase.REPLICATING, None),
    (Phase.READY, None),
    (Phase.SHIFTING, 1),
    (Phase.SHIFTING, 2),
    (Phase.SHIFTING, 3),
    (Phase.CUTOVER_COMPLETE, 3),
]
# An uninterrupted run of wave-1 (2 applications, 3 steps, bake 1 minute polled every 30 s).
SLEEPS_PER_RUN = 2 * 3 * 2
OUTPUTS_PER_RUN = 2 * (3 * 3 + 1)  # gates, shifted, baked per step + complete


@pytest.fixture
def env(aws: Aws) -> Iterator[GateEnv]:
    yield make_env(aws)


def on_aws(env: GateEnv) -> None:
    for app in APPS:
        assert env.aws.weights()[app] == {"aws": 100, "on-premises": 0}
        assert env.phase(app) is Phase.CUTOVER_COMPLETE
        assert env.transitions(app) == EXPECTED_TRANSITIONS


def test_full_wave_step_by_step(env: GateEnv) -> None:
    recorder = Recorder(env)
    result = env.engine(output=recorder).cutover("wave-1")

    assert result.ok
    assert [(r.application, r.status, r.steps_applied) for r in result.applications] == [
        ("orders", "completed", (1, 2, 3)),
        ("billing", "completed", (1, 2, 3)),
    ]
    assert recorder.weights == [
        (app, step, {"aws": aws, "on-premises": 100 - aws})
        for app in ("orders", "billing")
        for step, aws in ((1, 10), (2, 50), (3, 100))
    ]
    on_aws(env)
    history = env.aws.tracking().history(app_id("orders"))
    shifting = [e.details for e in history if e.phase is Phase.SHIFTING]
    assert shifting == [
        {"step": 1, "percent": 10},
        {"step": 2, "percent": 50},
        {"step": 3, "percent": 100},
    ]
    assert Counter(env.changes()) == Counter((app, p) for app in APPS for p in (10, 50, 100))
    assert env.aws.time.sleeps == [30.0] * SLEEPS_PER_RUN
    assert len(recorder.events) == OUTPUTS_PER_RUN
    # Another run changes nothing.
    env.aws.route53_calls.reset()
    again = env.engine().cutover("wave-1")
    assert {r.status for r in again.applications} == {"already_complete"}
    assert env.changes() == []


def break_latency(env: GateEnv) -> None:
    env.put_latency(500, minutes=1)


def break_vpn(env: GateEnv) -> None:
    env.ec2.statuses = ["UP", "DOWN"]


def break_alarm(env: GateEnv) -> None:
    env.set_alarm("orders-5xx", "ALARM")


@pytest.mark.parametrize(
    ("breaker", "gate"),
    [
        (break_latency, "dms-latency:orders-db"),
        (break_vpn, "vpn"),
        (break_alarm, "alarms"),
    ],
    ids=["dms-latency-high", "vpn-tunnel-down", "alarm-in-alarm"],
)
def test_failing_gate_stops_before_weights_move(
    env: GateEnv, breaker: Callable[[GateEnv], None], gate: str
) -> None:
    breaker(env)
    records_before = env.aws.weights()
    result = env.engine().cutover("wave-1", app="orders")

    (outcome,) = result.applications
    assert not result.ok and outcome.status == "gate_failed"
    assert gate in outcome.detail
    assert outcome.steps_applied == ()
    assert env.aws.weights() == records_before
    assert env.aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert env.phase("orders") is Phase.REPLICATING
    events = [
        e for e in env.aws.tracking().history(app_id("orders")) if e.event_type != "TRANSITION"
    ]
    assert [(e.event_type, e.details["step"]) for e in events] == [("GATE_FAILED", 1)]
    assert gate in events[0].details["failedGates"]


def test_gate_failing_at_a_later_step_then_resume(env: GateEnv) -> None:
    def output(event: EngineEvent) -> None:
        if event.kind == "baked" and event.step == 1:
            break_vpn(env)

    first = env.engine(output=output).cutover("wave-1", app="orders")
    assert first.applications[0].status == "gate_failed"
    assert first.applications[0].last_step == 1
    assert env.aws.weights()["orders"] == {"aws": 10, "on-premises": 90}

    env.ec2.statuses = ["UP", "UP"]
    second = env.engine().cutover("wave-1", app="orders")
    assert second.applications[0].steps_applied == (2, 3)
    assert Counter(p for _, p in env.changes()) == Counter({10: 1, 50: 1, 100: 1})
    assert env.phase("orders") is Phase.CUTOVER_COMPLETE


def test_alarm_during_bake_rolls_back(env: GateEnv) -> None:
    sleeps = 0

    def sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        env.aws.time.sleep(seconds)
        if sleeps == 3:  # first poll interval of the bake of step 2
            env.set_alarm("orders-5xx", "ALARM")

    result = env.engine(sleep=sleep).cutover("wave-1")

    orders, billing = result.applications
    assert orders.status == "rolled_back" and orders.last_step == 2
    assert "orders-5xx is ALARM" in orders.detail
    assert env.aws.weights()["orders"] == {"aws": 0, "on-premises": 100}
    assert env.phase("orders") is Phase.ROLLED_BACK
    assert billing.status == "completed"  # its own alarm stayed OK
    assert env.aws.inbox.count() == 1
    # A re-run does not touch a rolled-back application.
    env.aws.route53_calls.reset()
    again = env.engine().cutover("wave-1", app="orders")
    assert again.applications[0].status == "rolled_back"
    assert env.changes() == []


class Crash(Exception):
    """Injected: the process dies here."""


def crashing(k: int, inner: Callable[[Any], None]) -> Callable[[Any], None]:
    calls = 0

    def wrapper(arg: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == k:
            raise Crash(f"call {k}")
        inner(arg)

    return wrapper


@pytest.mark.parametrize(
    ("where", "k"),
    [("sleep", k) for k in range(1, SLEEPS_PER_RUN + 1)]
    + [("output", k) for k in range(1, OUTPUTS_PER_RUN + 1)],
)
def test_crash_then_rerun_ends_like_an_uninterrupted_run(env: GateEnv, where: str, k: int) -> None:
    recorder = Recorder(env)
    if where == "sleep":
        engine = env.engine(sleep=crashing(k, env.aws.time.sleep), output=recorder)
    else:
        engine = env.engine(output=crashing(k, recorder))
    with pytest.raises(Crash):
        engine.cutover("wave-1")

    result = env.engine().cutover("wave-1")

    assert result.ok
    on_aws(env)
    # No step applied twice: one Route 53 change per application and step.
    assert Counter(env.changes()) == Counter((app, p) for app in APPS for p in (10, 50, 100))


def test_dry_run_changes_nothing(env: GateEnv) -> None:
    before = env.aws.snapshot()
    events: list[EngineEvent] = []
    result = env.engine(output=events.append).cutover("wave-1", dry_run=True)

    assert result.dry_run and result.ok
    assert env.aws.snapshot() == before
    assert env.aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert env.aws.time.sleeps == []
    orders = result.by_application()["orders"]
    assert [(e.kind, e.step, e.percent) for e in orders.planned] == [
        (kind, step, percent)
        for step, percent in ((1, 10), (2, 50), (3, 100))
        for kind in ("would_check", "would_shift")
    ]
    assert "dms-latency:orders-db" in orders.planned[0].detail
    assert "aws=50 on-premises=50" in orders.planned[3].detail
    assert events == [*orders.planned, *result.by_application()["billing"].planned]


def test_dry_run_after_a_partial_run_lists_only_remaining_steps(env: GateEnv) -> None:
    with pytest.raises(Crash):
        env.engine(sleep=crashing(3, env.aws.time.sleep)).cutover("wave-1", app="orders")
    before = env.aws.snapshot()
    result = env.engine().cutover("wave-1", app="orders", dry_run=True)
    assert env.aws.snapshot() == before
    assert [e.step for e in result.applications[0].planned if e.kind == "would_shift"] == [3]
