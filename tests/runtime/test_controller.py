"""The server-side cutover controller against moto: progress, bounds, controls, crashes.

Every scenario of the issue where the terminal engine let a cutover undo a rollback is
reproduced here against the controller, and ends the same way: aws=0/on-premises=100,
phase ROLLED_BACK, one ROLLED_BACK item.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migration.gates import GateResult
from migration.spec import WaveSpec
from migration.summary import SummarySnapshots
from migration.tracking import Phase, db_id, iso_timestamp, wave_id
from migration.traffic import Split
from migration.waves import ControlError
from tests.runtime.conftest import Aws
from tests.runtime.controller_fixtures import Cutover, make_cutover
from tests.runtime.engine_fixtures import CDC_ALARM, make_env


@pytest.fixture
def cut(aws: Aws) -> Cutover:
    return make_cutover(make_env(aws, bake_minutes=2))


def spec_with(cut: Cutover, **changes: Any) -> WaveSpec:
    """wave-1 with wave fields replaced and ``apps={name: {field: value}}`` per application."""
    spec = cut.plan.wave_spec("wave-1")
    per_app = changes.pop("apps", {})
    apps = tuple(replace(app, **per_app.get(app.name, {})) for app in spec.applications)
    return replace(spec, applications=apps, **changes)


def assert_rolled_back(cut: Cutover, app: str, *, notifications: int | None = 1) -> None:
    """aws=0/on-premises=100, phase ROLLED_BACK, one item, and (by default) one message in
    total naming it once."""
    assert cut.split(app) == (0, 100)
    assert cut.phase(app) is Phase.ROLLED_BACK
    assert cut.rolled_back_items(app) == 1
    if notifications is not None:
        messages = cut.env.aws.inbox.drain()
        assert len(messages) == notifications
        assert sum(app in message for message in messages) == 1


# -- progress ---------------------------------------------------------------------------


def test_a_wave_completes_in_parallel_sharing_route53_requests(cut: Cutover) -> None:
    cut.start()
    reports = cut.run()
    assert cut.split("orders") == (100, 0) and cut.split("billing") == (100, 0)
    assert cut.phase("orders") is Phase.CUTOVER_COMPLETE
    assert cut.phase("billing") is Phase.CUTOVER_COMPLETE
    assert cut.wave_phase() is Phase.WAVE_COMPLETE
    moved = [r.moved for r in reports if r.moved]
    # Both applications step in the same ticks: three steps, one shared request each.
    assert moved == [{"orders": k, "billing": k} for k in (1, 2, 3)]
    assert len(cut.limiter.calls) == 3
    assert cut.limiter.highest_rate() <= 5


def test_the_bake_is_waited_between_steps(cut: Cutover) -> None:
    cut.start()
    first = cut.tick()
    assert first.moved == {"orders": 1, "billing": 1}
    assert cut.tick().moved == {}  # 1 minute into a 2-minute bake
    assert cut.tick().moved == {"orders": 2, "billing": 2}


def test_max_parallel_bounds_applications_in_flight(cut: Cutover) -> None:
    cut.controls().start(spec_with(cut, max_parallel=1))
    first = cut.tick()
    assert first.moved == {"orders": 1}
    assert "waiting for a slot" in first.waiting["billing"]
    cut.run()
    assert cut.phase("orders") is Phase.CUTOVER_COMPLETE
    assert cut.phase("billing") is Phase.CUTOVER_COMPLETE


def test_a_manual_approval_step_waits_for_approve(cut: Cutover) -> None:
    cut.controls().start(spec_with(cut, apps={"orders": {"manual_approval_steps": (100,)}}))
    for _ in range(8):
        cut.tick()
    assert cut.step("orders") == 2 and cut.phase("billing") is Phase.CUTOVER_COMPLETE
    assert "waiting for approval of step 3" in cut.head("orders").state["waiting"]  # type: ignore[union-attr]
    assert cut.controls().approve("wave-1") == "approved: orders step 3 (100%)"
    cut.run()
    assert cut.phase("orders") is Phase.CUTOVER_COMPLETE
    with pytest.raises(ControlError, match="nothing to approve"):
        cut.controls().approve("wave-1")


def test_pause_stops_new_steps_but_keeps_watching_alarms(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    assert cut.controls().pause("wave-1") == (
        "wave wave-1 paused: no new step starts; alarms stay watched"
    )
    for _ in range(4):
        assert cut.tick().moved == {}
    cut.env.set_alarm("orders-5xx", "ALARM")
    report = cut.tick()
    assert report.rolled_back == ["orders"]
    assert_rolled_back(cut, "orders")
    assert cut.split("billing") == (10, 90)
    assert cut.controls().resume("wave-1") == "wave wave-1 resumed"
    cut.run()
    assert cut.phase("billing") is Phase.CUTOVER_COMPLETE
    assert_rolled_back(cut, "orders")


def test_abort_rolls_the_wave_back_at_once(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    message, result = cut.controls().abort("wave-1", reason="change freeze")
    assert message == "wave wave-1 aborted; its applications are rolled back"
    assert result.status == "rolled_back"
    assert cut.wave_phase() is Phase.WAVE_ABORTED
    for _ in range(3):
        cut.tick()
    assert_rolled_back(cut, "orders")
    assert_rolled_back(cut, "billing")  # the same single message names both


# -- the rollback always wins ------------------------------------------------------------


class RollbackDuringGates:
    """Gates that let an operator's rollback land while the next step's gates are checked."""

    def __init__(self, cut: Cutover, app: str, before_step: int) -> None:
        self.cut, self.app, self.before_step, self.fired = cut, app, before_step, False

    def __call__(self, spec: WaveSpec) -> Any:
        inner = self.cut.gates_for(spec)
        outer = self

        class Gates:
            def alarm_gate(self, app: Any) -> GateResult:
                return inner.alarm_gate(app)

            def observe_servers(self) -> list[str]:
                return inner.observe_servers()

            def check_gates(self, app: Any) -> list[GateResult]:
                results = inner.check_gates(app)
                if (
                    app.name == outer.app
                    and not outer.fired
                    and outer.cut.step(app.name) == outer.before_step - 1
                ):
                    outer.fired = True
                    outer.cut.operator_rollback(outer.app)
                return results

        return Gates()


def test_a_rollback_during_the_gates_of_the_next_step_wins(cut: Cutover) -> None:
    cut.start()
    cut.tick()  # step 1 (10%)
    racing = RollbackDuringGates(cut, "orders", before_step=2)
    cut.env.aws.time.sleep(120)
    report = cut.controller(gates_for=racing).tick()
    assert racing.fired
    assert "orders" in report.conflicts  # Route 53 refused the DELETE of the old pair
    cut.run()
    assert_rolled_back(cut, "orders")
    assert cut.phase("billing") is Phase.CUTOVER_COMPLETE


def test_a_rollback_just_before_step_one_wins(cut: Cutover) -> None:
    cut.start()
    racing = RollbackDuringGates(cut, "orders", before_step=1)
    cut.controller(gates_for=racing).tick()
    assert racing.fired
    cut.run()
    assert_rolled_back(cut, "orders")
    assert cut.phase("billing") is Phase.CUTOVER_COMPLETE


def test_an_operator_rollback_during_a_bake_is_not_undone(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    cut.operator_rollback("orders")
    cut.run()
    assert_rolled_back(cut, "orders")


def test_a_rollback_during_the_last_bake_is_reported_not_crashed(cut: Cutover) -> None:
    cut.start()
    while cut.step("orders") < 3:
        cut.tick()
    cut.operator_rollback("orders")
    reports = cut.run()
    assert not any(r.errors for r in reports)
    assert_rolled_back(cut, "orders")
    assert cut.wave_phase() is Phase.WAVE_COMPLETE


def test_records_moved_after_a_rollback_are_forced_back(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    cut.operator_rollback("orders")
    # Something (a stale script, a person) puts traffic back on AWS.
    cut.env.aws.shifter().set_split({"orders": Split(50, 50)})
    report = cut.tick()
    assert report.enforced == ["orders"]
    assert_rolled_back(cut, "orders")


def test_after_reset_an_alarm_at_the_same_step_rolls_back_again(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    cut.env.set_alarm("orders-5xx", "ALARM")
    cut.tick()
    assert_rolled_back(cut, "orders")
    cut.env.set_alarm("orders-5xx", "OK")
    cut.run()
    assert cut.controls().reset("orders", reason="fixed the 5xx") == (
        "orders reset for attempt 2 by alice"
    )
    assert cut.phase("orders") is Phase.PLANNED
    cut.start()
    cut.tick()
    assert cut.split("orders") == (10, 90)
    cut.env.set_alarm("orders-5xx", "ALARM")
    report = cut.tick()
    assert report.rolled_back == ["orders"]
    assert cut.split("orders") == (0, 100)
    assert cut.phase("orders") is Phase.ROLLED_BACK
    assert cut.rolled_back_items("orders") == 2  # one per attempt


def test_reset_refuses_an_application_that_was_not_rolled_back(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    before = cut.env.aws.snapshot()
    with pytest.raises(ControlError, match="orders is SHIFTING: only a ROLLED_BACK"):
        cut.controls().reset("orders", reason="x")
    assert cut.env.aws.snapshot() == before


# -- gates after traffic moved -------------------------------------------------------------


def test_a_gate_failing_after_step_one_rolls_back_by_default(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    cut.env.ec2.statuses = ["UP", "DOWN"]
    cut.run()
    assert_rolled_back(cut, "orders")
    assert_rolled_back(cut, "billing")  # one message for the tick's rollback of both


def test_on_gate_failure_hold_keeps_the_split_and_watches_alarms(cut: Cutover) -> None:
    cut.controls().start(spec_with(cut, apps={"orders": {"on_gate_failure": "hold"}}))
    cut.tick()
    cut.env.put_latency(500)  # the CDC latency gate fails
    for _ in range(3):
        cut.tick()
    assert cut.phase("orders") is Phase.HELD
    assert cut.split("orders") == (10, 90)
    cut.env.set_alarm(CDC_ALARM, "INSUFFICIENT_DATA")  # a stopped DMS task
    report = cut.tick()
    assert report.rolled_back == ["orders"]
    assert_rolled_back(cut, "orders")


def test_insufficient_data_during_a_bake_rolls_back(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    cut.env.set_alarm(CDC_ALARM, "INSUFFICIENT_DATA")
    cut.tick()
    assert_rolled_back(cut, "orders")


def test_gates_failing_before_any_traffic_moved_wait(cut: Cutover) -> None:
    cut.env.ec2.statuses = ["UP", "DOWN"]
    cut.start()
    report = cut.tick()
    assert report.moved == {}
    assert report.waiting["orders"].startswith("gates failed: vpn:")
    assert cut.split("orders") == (0, 100)
    cut.env.ec2.statuses = ["UP", "UP"]
    assert cut.tick().moved == {"orders": 1, "billing": 1}


# -- crashes -------------------------------------------------------------------------------


def test_a_crash_between_route53_and_the_record_is_repaired(cut: Cutover) -> None:
    cut.start()
    cut.tick()
    cut.env.aws.time.sleep(120)
    faults = cut.env.aws.dynamodb_faults
    faults.fail("TransactWriteItems", ["InternalServerError"] * 2)
    report = cut.controller().tick()
    assert "InternalServerError" in report.errors[0]
    faults.clear()
    assert cut.split("orders") == (50, 50) and cut.step("orders") == 1
    report = cut.tick(minutes=0)
    assert report.moved["orders"] == 2  # recorded from Route 53, no second change
    cut.run()
    assert cut.phase("orders") is Phase.CUTOVER_COMPLETE


@pytest.mark.parametrize("failing_call", range(1, 9))
def test_a_crash_at_any_write_of_an_alarm_tick_reaches_the_same_end(
    cut: Cutover, failing_call: int
) -> None:
    cut.start()
    cut.tick()
    cut.env.set_alarm("orders-5xx", "ALARM")
    faults = cut.env.aws.dynamodb_faults
    calls = {"n": 0}

    def nth(_: int) -> str | None:
        calls["n"] += 1
        return "InternalServerError" if calls["n"] == failing_call else None

    faults.fail("TransactWriteItems", nth)
    cut.tick()  # a failed write ends the wave's tick; the handler then fails the invocation
    faults.clear()
    cut.run()
    assert_rolled_back(cut, "orders")
    assert cut.phase("billing") is Phase.CUTOVER_COMPLETE


@pytest.mark.parametrize("operation", ["ChangeResourceRecordSets", "ListResourceRecordSets"])
def test_a_route53_failure_in_a_tick_is_repaired_by_the_next(cut: Cutover, operation: str) -> None:
    cut.start()
    cut.tick()
    cut.env.aws.time.sleep(120)
    cut.env.aws.route53_faults.fail(operation, ["InternalError"])
    report = cut.controller().tick()
    assert report.errors and "InternalError" in report.errors[0]
    cut.env.aws.route53_faults.clear()
    cut.run()
    assert cut.phase("orders") is Phase.CUTOVER_COMPLETE
    assert cut.phase("billing") is Phase.CUTOVER_COMPLETE
    assert cut.split("orders") == (100, 0)


# -- databases -------------------------------------------------------------------------------


def _database_gates(cut: Cutover) -> Any:
    tracking = cut.env.aws.tracking()

    def gates_for(spec: WaveSpec) -> Any:
        gates = cut.gates_for(spec)
        gates._database_phase = tracking.database_phase
        return gates

    return gates_for


def _set_database_phase(cut: Cutover, phase: Phase) -> None:
    cut.env.aws.tracking().transition(db_id("orders-db"), phase, actor="dba")


def test_a_database_cut_over_before_its_applications_holds_them_until_it_is(cut: Cutover) -> None:
    spec = cut.plan.wave_spec("wave-1")
    databases = tuple(replace(db, cutover="before-applications") for db in spec.databases)
    cut.controls().start(replace(spec, databases=databases))
    gates_for = _database_gates(cut)
    report = cut.tick(gates_for=gates_for)
    assert report.moved == {"billing": 1}
    assert report.waiting["orders"].endswith(
        "database:orders-db: database orders-db is not cut over; the plan cuts it over before"
        " its applications: migrate db cutover orders-db"
    )
    _set_database_phase(cut, Phase.CUT_OVER)
    # The forward task may stop once the database is cut over: its gates no longer apply.
    task = cut.env.dms.describe_replication_tasks()["ReplicationTasks"][0]
    cut.env.dms.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
    assert cut.tick(gates_for=gates_for).moved == {"orders": 1}


def test_a_database_writer_moving_makes_applications_wait_never_roll_back(cut: Cutover) -> None:
    cut.start()
    gates_for = _database_gates(cut)
    assert cut.tick(gates_for=gates_for).moved == {"orders": 1, "billing": 1}
    _set_database_phase(cut, Phase.WRITES_FROZEN)
    cut.env.aws.time.sleep(120)  # past the bake: the next step's gates are checked
    report = cut.tick(gates_for=gates_for)
    assert "orders" not in report.moved and cut.phase("orders") is Phase.SHIFTING
    assert report.waiting["orders"] == (
        "gates failed: database:orders-db: database orders-db is WRITES_FROZEN: its writer is"
        " moving"
    )
    assert cut.split("orders") == (10, 90)
    _set_database_phase(cut, Phase.CUT_OVER)
    assert cut.tick(gates_for=gates_for).moved == {"orders": 2}


def _ordered(cut: Cutover, order: str) -> WaveSpec:
    spec = cut.plan.wave_spec("wave-1")
    return replace(spec, databases=tuple(replace(db, cutover=order) for db in spec.databases))


def test_before_applications_asks_the_database_step_once_then_again_after_15_minutes(
    cut: Cutover,
) -> None:
    requests: list[tuple[str, str]] = []
    start = lambda wave, db: requests.append((wave, db))  # noqa: E731
    cut.controls().start(_ordered(cut, "before-applications"))
    gates_for = _database_gates(cut)
    report = cut.tick(gates_for=gates_for, start_database_step=start)
    assert report.database_steps == ["orders-db"] and requests == [("wave-1", "orders-db")]
    assert report.moved == {"billing": 1}
    assert cut.tick(gates_for=gates_for, start_database_step=start).database_steps == []
    _set_database_phase(cut, Phase.WRITES_FROZEN)  # the step is running: never asked again
    assert cut.tick(minutes=20, gates_for=gates_for, start_database_step=start).database_steps == []
    _set_database_phase(cut, Phase.REPLICATING)  # it gave up (drain timeout): asked again
    report = cut.tick(minutes=1, gates_for=gates_for, start_database_step=start)
    assert report.database_steps == ["orders-db"] and len(requests) == 2
    history = [e.reason for e in cut.env.aws.tracking().history(wave_id("wave-1"))]
    assert history.count("database cutover requested: orders-db") == 2


def test_after_applications_asks_once_they_completed_and_the_wave_waits_for_it(
    cut: Cutover,
) -> None:
    requests: list[tuple[str, str]] = []
    start = lambda wave, db: requests.append((wave, db))  # noqa: E731
    cut.controls().start(_ordered(cut, "after-applications"))
    gates_for = _database_gates(cut)
    for _ in range(12):
        cut.tick(gates_for=gates_for, start_database_step=start)
    assert cut.phase("orders") is Phase.CUTOVER_COMPLETE
    assert requests == [("wave-1", "orders-db")]
    assert cut.wave_phase() is Phase.WAVE_RUNNING  # waits for the database
    _set_database_phase(cut, Phase.CUT_OVER)
    report = cut.tick(gates_for=gates_for, start_database_step=start)
    assert report.waves_completed == ["wave-1"] and requests == [("wave-1", "orders-db")]


def test_a_paused_wave_asks_for_no_database_step(cut: Cutover) -> None:
    requests: list[tuple[str, str]] = []
    cut.controls().start(_ordered(cut, "before-applications"))
    cut.controls().pause("wave-1")
    report = cut.tick(
        gates_for=_database_gates(cut), start_database_step=lambda w, d: requests.append((w, d))
    )
    assert report.database_steps == [] and requests == []


def test_an_application_rolled_back_keeps_its_database_where_it_is(cut: Cutover) -> None:
    requests: list[tuple[str, str]] = []
    start = lambda wave, db: requests.append((wave, db))  # noqa: E731
    cut.controls().start(_ordered(cut, "after-applications"))
    gates_for = _database_gates(cut)
    cut.tick(gates_for=gates_for, start_database_step=start)
    cut.env.set_alarm("orders-5xx", "ALARM")
    for _ in range(12):
        cut.tick(gates_for=gates_for, start_database_step=start)
    assert cut.phase("orders") is Phase.ROLLED_BACK
    assert cut.wave_phase() is Phase.WAVE_COMPLETE and requests == []


# -- the summary snapshot -----------------------------------------------------------------


def _snapshots(cut: Cutover, client: Any = None) -> SummarySnapshots:
    aws = cut.env.aws
    return SummarySnapshots(client or aws.dynamodb, aws.table, clock=aws.time.clock)


def _writer(cut: Cutover, client: Any = None) -> Any:
    wave_of = {app.name: wave.name for wave in cut.plan.waves for app in wave.applications}
    waves = [wave.name for wave in cut.plan.waves]
    snapshots = _snapshots(cut, client)
    return lambda: snapshots.write(waves, wave_of, "digest-1", by="controller")


def test_each_tick_writes_the_summary_snapshot_after_its_work(cut: Cutover) -> None:
    cut.start()
    report = cut.tick(summary=_writer(cut))
    assert report.moved == {"orders": 1, "billing": 1} and report.summary == "written"
    snapshot = _snapshots(cut).read()
    assert snapshot is not None
    assert snapshot.computed_by == "controller" and snapshot.digest == "digest-1"
    assert snapshot.computed_at == iso_timestamp(cut.env.aws.time.clock())
    assert snapshot.counts["wave-1"] == Counter({Phase.SHIFTING: 2})  # after this tick's steps
    assert report.to_dict()["summary"] == "written"
    # Without a writer (no registered plan) nothing is written and nothing is said.
    assert cut.tick().summary == ""


class _FailingPut:
    """The tracking table's client, except that PutItem of the snapshot is refused."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def put_item(self, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "PutItem",
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_failing_snapshot_write_is_logged_and_never_fails_the_tick(
    cut: Cutover, caplog: pytest.LogCaptureFixture
) -> None:
    cut.start()
    failing = _writer(cut, _FailingPut(cut.env.aws.dynamodb))
    report = cut.tick(summary=failing)
    assert report.moved == {"orders": 1, "billing": 1}  # the tick's real work was done
    assert report.errors == []  # so the invocation does not fail
    assert report.summary.startswith("not written: An error occurred")
    assert "summary snapshot not written" in caplog.text
    assert _snapshots(cut).read() is None

    def broken() -> None:
        raise RuntimeError("anything at all")

    assert cut.tick(minutes=2, summary=broken).moved == {"orders": 2, "billing": 2}
