"""The deployed cutover controller, run locally for one tick against the local deployment.

A wave of the example plan is started the way ``migrate cutover`` starts it (a guarded write
of the wave's head); then the deployed controller function's handler runs in-process with the
function's own environment (``invoke_controller_locally``) on a fake clock. Its first tick
holds the applications: their servers replicate in MGN (the local MGN stand-in) but were
never launched; once they are launched for cutover and validated, the next tick moves the
wave's applications to their first step in the deployed zone and table.

The account is prepared the way a real one would be on cutover night (DMS task running, CDC
latency datapoints, the plan's alarms existing and every alarm OK). The two signals moto cannot
emulate are supplied explicitly through the controller's client factory: DMS table validation
statistics and VPN tunnel telemetry (``migration.local.signals``). Local only: against a real
account the function runs on its own schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from migration.handlers.rollback import Clients, build_service
from migration.local import LocalInvokeError, invoke_controller_locally
from migration.local import invoke as invoke_module
from migration.local.deploy import client_factory
from migration.local.mgn_stand_in import MgnStandIn
from migration.local.signals import DmsWithValidation, Ec2WithTunnels
from migration.outputs import StackOutputs
from migration.plan import Plan, load_plan
from migration.servers.lifecycle import Run, ServerLifecycle
from migration.servers.mgn import Mgn
from migration.settings import Settings
from migration.tracking import Phase, TrackingStore, app_id
from migration.traffic import ROLLED_BACK, Split, TrafficShifter
from migration.waves import WaveControls
from tests.conftest import ROOT
from tests.integration.conftest import Target

pytestmark = pytest.mark.integration

WAVE = "wave-1"
CDC_LATENCY_SECONDS = 3.0


@dataclass
class FakeTime:
    """A fixed wall clock that only ``sleep`` advances (the controller's pacing sleeps)."""

    wall: datetime
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.wall += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(ROOT / "examples" / "migration-plan.yaml")


@pytest.fixture
def local(target: Target) -> Target:
    if not target.local:
        pytest.skip("runs the controller's handler in-process: local deployment only")
    return target


def _signals_client(target: Target, plan: Plan) -> Callable[[str], Any]:
    """The emulator's clients, with DMS validation and VPN telemetry stated (moto has neither)."""
    assert target.endpoint_url is not None
    emulator = client_factory(target.endpoint_url, target.region)
    tables = [(t.schema_name, t.table_name) for d in plan.databases for t in d.tables]
    wrapped: dict[str, Any] = {
        "dms": DmsWithValidation(emulator("dms"), tables),
        "ec2": Ec2WithTunnels(emulator("ec2")),
    }
    return lambda service: wrapped.get(service) or emulator(service)


@pytest.fixture
def cutover_night(local: Target, plan: Plan, clean_table: None) -> Iterator[FakeTime]:
    """What a real account has when a wave's cutover starts; everything is put back after."""
    outputs, client = local.outputs, local.client
    dms, cloudwatch = client("dms"), client("cloudwatch")
    settings = outputs.settings
    time = FakeTime(datetime.now(UTC).replace(microsecond=0))
    wave = plan.wave(WAVE)
    started: list[str] = []
    for database in wave.databases:
        (task,) = dms.describe_replication_tasks(
            Filters=[
                {
                    "Name": "replication-task-id",
                    "Values": [settings.task_identifier(database.name)],
                }
            ]
        )["ReplicationTasks"]
        arn = task["ReplicationTaskArn"]
        if task["Status"] != "running":
            dms.start_replication_task(
                ReplicationTaskArn=arn, StartReplicationTaskType="start-replication"
            )
            started.append(arn)
        cloudwatch.put_metric_data(
            Namespace="AWS/DMS",
            MetricData=[
                {
                    "MetricName": "CDCLatencySource",
                    "Dimensions": [
                        {
                            "Name": "ReplicationInstanceIdentifier",
                            "Value": settings.replication_instance_identifier,
                        },
                        {"Name": "ReplicationTaskIdentifier", "Value": arn.rsplit(":", 1)[-1]},
                    ],
                    "Timestamp": time.wall - timedelta(minutes=minute),
                    "Value": CDC_LATENCY_SECONDS,
                    "Unit": "Seconds",
                }
                for minute in range(1, 5)
            ],
        )
    existing = {
        a["AlarmName"]: a["StateValue"]
        for page in cloudwatch.get_paginator("describe_alarms").paginate()
        for a in page["MetricAlarms"]
    }
    plan_alarms = sorted({a.name for a in plan.alarms} - set(existing))
    for name in plan_alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="TargetResponseTime",
            Namespace="AWS/ApplicationELB",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    cdc_alarms = settings.cdc_latency_alarms_of(d.name for d in plan.databases)
    stack_alarms = [*settings.alarms.values(), *cdc_alarms.values()]
    for name in [*stack_alarms, *plan_alarms]:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="cutover night")
    shifter = TrafficShifter(
        client("route53"),
        outputs.hosted_zone_id,
        application_records={a.name: a.dns_name for a in plan.applications},
    )
    names = [a.name for a in wave.applications]
    before = shifter.splits(names)
    try:
        yield time
    finally:
        shifter.set_split(before, comment="integration test: weights put back")
        if plan_alarms:
            cloudwatch.delete_alarms(AlarmNames=plan_alarms)
        for name in stack_alarms:
            cloudwatch.set_alarm_state(
                AlarmName=name, StateValue=existing[name], StateReason="integration test done"
            )
        for arn in started:
            dms.stop_replication_task(ReplicationTaskArn=arn)


@pytest.fixture
def mgn(local: Target, plan: Plan) -> Iterator[MgnStandIn]:
    """The local MGN stand-in with the wave's servers replicating (agents installed, initial
    sync done: READY_FOR_TEST), their launches validated by the deployed SSM document."""
    actions = [
        {
            "actionName": "migration-validation",
            "ssmDocumentName": local.outputs["SsmDocumentName"],
            "mustSucceedForCutover": True,
        }
    ]
    with MgnStandIn(post_launch_actions=actions, region=local.region) as stand_in:
        for server in plan.wave_spec(WAVE).servers:
            stand_in.add_server(server.hostname, server.ip, server.os)
        stand_in.advance(60)
        yield stand_in


def _launch_for_cutover(tracking: TrackingStore, mgn: MgnStandIn, plan: Plan) -> None:
    """What `migrate servers test` then `migrate servers cutover` do, each validated."""
    lifecycle = ServerLifecycle(tracking, Mgn(mgn.client()), actor="integration-test")
    servers = plan.wave_spec(WAVE).servers
    for run in (Run.TEST, Run.CUTOVER):
        for server in servers:
            lifecycle.run(run, lifecycle.view(server))
        mgn.advance(2)  # launched, then the post-launch validation succeeded


def test_the_wave_waits_for_its_servers_then_moves_to_its_first_step(
    local: Target, plan: Plan, cutover_night: FakeTime, mgn: MgnStandIn
) -> None:
    outputs, client = local.outputs, local.client
    assert local.endpoint_url is not None
    settings = Settings(outputs.hosted_zone_id, outputs.table_name, outputs.topic_arn)
    rollbacks = build_service(
        settings, Clients(client("route53"), client("dynamodb"), client("sns"))
    )
    tracking = TrackingStore(client("dynamodb"), outputs.table_name, clock=cutover_night.clock)
    spec = plan.wave_spec(WAVE)
    WaveControls(tracking, rollbacks, actor="integration-test").start(spec)

    def tick() -> dict[str, Any]:
        return invoke_controller_locally(
            outputs,
            endpoint_url=local.endpoint_url or "",
            region=local.region,
            clock=cutover_night.clock,
            monotonic=cutover_night.monotonic,
            sleep=cutover_night.sleep,
            client=_signals_client(local, plan),
            mgn_endpoint_url=mgn.endpoint_url,
        )

    # The servers replicate but were never launched: no traffic moves, each wait names them.
    waiting = tick()
    assert waiting["moved"] == {} and waiting["errors"] == []
    for app in spec.applications:
        (server,) = app.servers
        assert waiting["waiting"][app.name] == (
            f"gates failed: servers: {app.name} waits for its servers: server {server} is"
            " READY_FOR_TEST (not launched for cutover)"
        )
    assert sorted(waiting["servers"]) == [f"server {s.id}: READY_FOR_TEST" for s in spec.servers]

    _launch_for_cutover(tracking, mgn, plan)
    summary = tick()

    assert summary["errors"] == [] and summary["waves"] == [WAVE]
    assert summary["moved"] == {app.name: 1 for app in spec.applications}
    assert summary["rolledBack"] == [] and summary["waiting"] == {}
    assert summary["route53Changes"] == 1  # the whole wave in one conditional request
    shifter = TrafficShifter(
        client("route53"),
        outputs.hosted_zone_id,
        application_records={a.name: a.dns_name for a in plan.applications},
    )
    splits = shifter.splits([app.name for app in spec.applications])
    for app in spec.applications:
        assert (splits[app.name].aws, splits[app.name].on_premises) == (
            app.shift_steps[0],
            100 - app.shift_steps[0],
        )
        head = tracking.current(app_id(app.name))
        assert head is not None and head.phase is Phase.SHIFTING
        assert head.state["step"] == 1
        assert "dms-validation:orders-db ok" in head.state["gates"]
        assert "vpn ok" in head.state["gates"]
        assert "servers ok" in head.state["gates"]

    # The bake has not passed on the fake clock: the next tick watches and moves nothing.
    again = tick()
    assert again["moved"] == {} and again["errors"] == [] and again["route53Changes"] == 0
    assert shifter.splits([app.name for app in spec.applications]) == splits


def test_the_controller_runs_with_the_deployed_functions_environment(local: Target) -> None:
    assert local.endpoint_url is not None
    arn = invoke_module.controller_function_arn(
        local.outputs, endpoint_url=local.endpoint_url, region=local.region
    )
    assert arn == local.outputs["CutoverControllerArn"]
    configuration = local.client("lambda").get_function_configuration(FunctionName=arn)
    assert configuration["Handler"] == "migration.handlers.controller.handler"
    variables = configuration["Environment"]["Variables"]
    assert variables["CUTOVER_SETTINGS"] == local.outputs["CutoverSettings"]
    assert variables["VPN_CONNECTION_ID"] == local.outputs.vpn_connection_id
    assert variables["TABLE_NAME"] == local.outputs.table_name


def test_an_outputs_file_without_the_controller_output_finds_it_by_handler(
    local: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.endpoint_url is not None
    values = {k: v for k, v in local.outputs.values.items() if k != "CutoverControllerArn"}
    older = StackOutputs("older-outputs.json", values, local.outputs.settings)
    found = invoke_module.controller_function_arn(
        older, endpoint_url=local.endpoint_url, region=local.region
    )
    assert found == local.outputs["CutoverControllerArn"]
    monkeypatch.setattr(invoke_module, "CONTROLLER_HANDLER", "migration.handlers.nothing.handler")
    with pytest.raises(LocalInvokeError, match=r"older-outputs.json has no CutoverControllerArn"):
        invoke_module.controller_function_arn(
            older, endpoint_url=local.endpoint_url, region=local.region
        )


def test_no_tick_leaves_a_rolled_back_application_on_aws(
    local: Target, plan: Plan, cutover_night: FakeTime
) -> None:
    """The rollback always wins: a ROLLED_BACK application's records are forced on-premises."""
    outputs, client = local.outputs, local.client
    assert local.endpoint_url is not None
    app = plan.wave(WAVE).applications[0]
    tracking = TrackingStore(client("dynamodb"), outputs.table_name, clock=cutover_night.clock)
    tracking.transition(
        app_id(app.name),
        Phase.ROLLED_BACK,
        expected_version=0,
        actor="integration-test",
        reason="rolled back by the integration test",
    )
    shifter = TrafficShifter(
        client("route53"),
        outputs.hosted_zone_id,
        application_records={a.name: a.dns_name for a in plan.applications},
    )
    # Something (a stale tick, a manual change) put it back on AWS.
    shifter.set_split({app.name: Split.percent_on_aws(30)})

    summary = invoke_controller_locally(
        outputs,
        endpoint_url=local.endpoint_url,
        region=local.region,
        clock=cutover_night.clock,
        monotonic=cutover_night.monotonic,
        sleep=cutover_night.sleep,
        client=_signals_client(local, plan),
    )

    assert summary["enforced"] == [app.name]
    assert shifter.splits([app.name])[app.name] == ROLLED_BACK
