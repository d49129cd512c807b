"""Fixtures of the operator command tests: a deployed stack on moto's server on 127.0.0.1.

The state mirrors what the CDK stack creates for ``examples/migration-plan.yaml``: the
tracking table (exact schema), the private hosted zone with each application's weighted
pair at 100 % on-premises (as ``migrate plan apply`` creates them; the plan is not
registered), the SNS topic (with a queue to read what was published), the
DMS replication tasks (started), the CloudWatch alarms (all OK), CDC latency datapoints,
a VPN connection, and ``flat-outputs.json`` written into ``tmp_path``.

moto lacks ``dms.describe_table_statistics`` and VPN tunnel telemetry. In-process tests
wrap those two moto clients through the commands' client factory
(``migration.operations.make_clients``); subprocess runs get the plain moto clients, so
their gates fail honestly. Time is instant in-process (``migration.operations.make_timing``).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from migration import operations
from migration.cli import app as cli_app
from migration.database.names import cdc_latency_alarm_name, task_identifier
from migration.local.emulator import DUMMY_CREDENTIALS
from migration.local.mgn_stand_in import MgnStandIn
from migration.operations import Boto3Clients, Timing
from migration.plan import PLAN_ENV_VAR, Plan, load_plan
from migration.servers.lifecycle import Run, ServerLifecycle
from migration.servers.mgn import Mgn
from migration.tracking import Phase, TrackingStore, app_id
from tests.runtime.conftest import (
    FakeTime,
    Inbox,
    all_items,
    create_private_zone,
    create_topic_with_queue,
    create_tracking_table,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "migration-plan.yaml"
SUFFIX = "test"
TABLE = f"migration-tracking-{SUFFIX}"
INSTANCE = f"migration-dms-{SUFFIX}"
ALARMS = {
    "vpn-tunnel-down": f"migration-vpn-tunnel-down-{SUFFIX}",
    "vpn-both-tunnels-down": f"migration-vpn-both-tunnels-down-{SUFFIX}",
    "rollback-errors": f"migration-rollback-errors-{SUFFIX}",
    "rollback-dead-letters": f"migration-rollback-dead-letters-{SUFFIX}",
}
PLAN_ALARMS = ("orders-api-5xx", "storefront-latency-p99")

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise


def cdc_alarm(database: str) -> str:
    return cdc_latency_alarm_name(database, SUFFIX)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and an OS-chosen port; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class DmsWithTableStatistics:
    """The moto DMS client plus ``describe_table_statistics`` (moto lacks it)."""

    def __init__(self, inner: Any, tables: list[dict[str, Any]]) -> None:
        self._inner = inner
        self._tables = tables

    def describe_table_statistics(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["ReplicationTaskArn"].startswith("arn:aws:dms:")
        return {"TableStatistics": list(self._tables)}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Ec2WithTelemetry:
    """The moto EC2 client; its VPN connections get tunnel telemetry (moto has none)."""

    def __init__(self, inner: Any, statuses: list[str]) -> None:
        self._inner = inner
        self._statuses = statuses

    def describe_vpn_connections(self, **kwargs: Any) -> dict[str, Any]:
        response = self._inner.describe_vpn_connections(**kwargs)
        for connection in response.get("VpnConnections", []):
            connection["VgwTelemetry"] = [
                {"OutsideIpAddress": f"52.0.0.{i + 1}", "Status": status}
                for i, status in enumerate(self._statuses)
            ]
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class Knobs:
    """What the fakes report: tunnel statuses and DMS table statistics."""

    vpn: list[str] = field(default_factory=lambda: ["UP", "UP"])
    mgn_endpoint: str | None = None
    """The local MGN stand-in the ``mgn`` clients go to (the ``server`` fixture's)."""
    tables: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "SchemaName": "public",
                "TableName": "orders",
                "ValidationState": "Validated",
                "ValidationFailedRecords": 0,
            }
        ]
    )


class FakedClients:
    """The production factory, with moto's DMS and EC2 clients wrapped by the fakes."""

    def __init__(self, region: str | None, knobs: Knobs) -> None:
        self._inner = Boto3Clients(region)
        self._knobs = knobs

    def client(self, service: str) -> Any:
        client = self._inner.client(service)
        if service == "dms":
            return DmsWithTableStatistics(client, self._knobs.tables)
        if service == "ec2":
            return Ec2WithTelemetry(client, self._knobs.vpn)
        if service == "mgn" and self._knobs.mgn_endpoint:
            return boto3.client(
                "mgn",
                endpoint_url=self._knobs.mgn_endpoint,
                region_name="us-east-1",
                **DUMMY_CREDENTIALS,
            )
        return client


class MotoStack:
    """The migration stack's resources on the moto server, and what tests look at."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.plan: Plan = load_plan(EXAMPLE)

        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=url, region_name="us-east-1")

        self.route53 = client("route53")
        self.dynamodb = client("dynamodb")
        self.cloudwatch = client("cloudwatch")
        self.dms = client("dms")
        ec2 = client("ec2")
        sqs = client("sqs")
        self.zone_id = create_private_zone(ec2, self.route53).rsplit("/", 1)[-1]
        self.table = create_tracking_table(self.dynamodb, TABLE)
        self.topic_arn, queue_url = create_topic_with_queue(client("sns"), sqs)
        self.inbox = Inbox(sqs, queue_url)
        self._records()
        self.tasks = self._tasks()
        self._alarms()
        self.put_latency(5)
        gateway = ec2.create_customer_gateway(
            BgpAsn=65000, PublicIp="203.0.113.10", Type="ipsec.1"
        )["CustomerGateway"]["CustomerGatewayId"]
        vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
        self.vpn_id = ec2.create_vpn_connection(
            Type="ipsec.1", CustomerGatewayId=gateway, VpnGatewayId=vgw
        )["VpnConnection"]["VpnConnectionId"]
        # As the stack outputs it: no per-database map, the names derive from the suffix.
        self.settings = {
            "environmentSuffix": SUFFIX,
            "replicationInstanceIdentifier": INSTANCE,
            "alarms": ALARMS,
        }
        self.outputs = {
            "VpcId": "vpc-0123456789abcdef0",
            "DmsReplicationInstanceArn": "arn:aws:dms:us-east-1:123456789012:rep:INSTANCE",
            "CloudEndureRoleArn": "arn:aws:iam::123456789012:role/cloudendure-test",
            "VpnConnectionId": self.vpn_id,
            "PrivateHostedZoneId": self.zone_id,
            "MigrationTrackingTableName": self.table,
            "SnsTopicArn": self.topic_arn,
            "SsmDocumentName": "migration-cutover-test",
            "RollbackLambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:rollback-test",
            "DashboardName": "migration-test",
            "CutoverSettings": json.dumps(self.settings),
        }
        self.outputs_path = tmp_path / "cfn-outputs" / "flat-outputs.json"
        self.outputs_path.parent.mkdir(parents=True, exist_ok=True)
        self.outputs_path.write_text(json.dumps(self.outputs, indent=2), encoding="utf-8")

    # -- set-up -------------------------------------------------------------------------

    def _records(self) -> None:
        changes = []
        for app in self.plan.applications:
            for identifier, weight, value in (
                ("on-premises", 100, app.on_premises_address),
                ("aws", 0, app.aws_address),
            ):
                changes.append(
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": app.dns_name,
                            "Type": app.record_type,
                            "SetIdentifier": identifier,
                            "Weight": weight,
                            "TTL": 60,
                            "ResourceRecords": [{"Value": value}],
                        },
                    }
                )
        self.route53.change_resource_record_sets(
            HostedZoneId=self.zone_id, ChangeBatch={"Changes": changes}
        )

    def _tasks(self) -> dict[str, tuple[str, str]]:
        tasks = {}
        for db in self.plan.databases:
            identifier = task_identifier(db.name, SUFFIX)
            arn = self.dms.create_replication_task(
                ReplicationTaskIdentifier=identifier,
                SourceEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:SRC",
                TargetEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:TGT",
                ReplicationInstanceArn="arn:aws:dms:us-east-1:123456789012:rep:INSTANCE",
                MigrationType="full-load-and-cdc",
                TableMappings='{"rules": []}',
            )["ReplicationTask"]["ReplicationTaskArn"]
            self.dms.start_replication_task(
                ReplicationTaskArn=arn, StartReplicationTaskType="start-replication"
            )
            tasks[db.name] = (identifier, arn)
        return tasks

    def _alarms(self) -> None:
        names = [*PLAN_ALARMS, *ALARMS.values(), *(cdc_alarm(d.name) for d in self.plan.databases)]
        for name in names:
            self.cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="5XXError",
                Namespace="AWS/ApplicationELB",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
            self.set_alarm(name, "OK")

    def put_latency(self, seconds: float) -> None:
        """A CDCLatencySource datapoint a minute around the fake clock's start (3 h) and
        around the real now (for subprocess runs), per task, as DMS publishes them."""
        starts = [FakeTime().wall - timedelta(minutes=2), datetime.now(UTC) - timedelta(minutes=4)]
        for _, arn in self.tasks.values():
            dimensions = [
                {"Name": "ReplicationInstanceIdentifier", "Value": INSTANCE},
                {"Name": "ReplicationTaskIdentifier", "Value": arn.rsplit(":", 1)[-1]},
            ]
            points = [
                {
                    "MetricName": "CDCLatencySource",
                    "Dimensions": dimensions,
                    "Timestamp": start + timedelta(minutes=i),
                    "Value": seconds,
                    "Unit": "Seconds",
                }
                for start, minutes in zip(starts, (180, 10), strict=True)
                for i in range(minutes)
            ]
            for chunk in range(0, len(points), 20):
                self.cloudwatch.put_metric_data(
                    Namespace="AWS/DMS", MetricData=points[chunk : chunk + 20]
                )

    # -- inspection ---------------------------------------------------------------------

    def set_alarm(self, name: str, state: str) -> None:
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")

    def set_weights(self, app: str, aws: int) -> None:
        from migration.traffic import Split, TrafficShifter

        shifter = TrafficShifter(
            self.route53,
            self.zone_id,
            application_records={a.name: a.dns_name for a in self.plan.applications},
        )
        shifter.set_split({app: Split.percent_on_aws(aws)})

    def weights(self) -> dict[str, tuple[int, int]]:
        """Application -> (aws, on-premises) weights, straight from Route 53 (names outside
        the example plan under their record name)."""
        by_name = {a.dns_name + ".": a.name for a in self.plan.applications}
        found: dict[str, dict[str, int]] = {}
        for record in self.route53.list_resource_record_sets(HostedZoneId=self.zone_id)[
            "ResourceRecordSets"
        ]:
            if "SetIdentifier" in record:
                app = by_name.get(record["Name"], record["Name"])
                found.setdefault(app, {})[record["SetIdentifier"]] = record["Weight"]
        return {app: (w["aws"], w["on-premises"]) for app, w in found.items()}

    def items(self) -> list[dict[str, Any]]:
        return all_items(self.dynamodb, self.table)

    def phase(self, app: str) -> str | None:
        for item in self.items():
            if item["serverId"]["S"] == app_id(app) and item["timestamp"]["S"] == "CURRENT":
                return str(item["migrationPhase"]["S"])
        return None

    def history_phases(self, app: str) -> list[str]:
        return [
            i.get("migrationPhase", {}).get("S", i["eventType"]["S"])
            for i in self.items()
            if i["serverId"]["S"] == app_id(app) and i["timestamp"]["S"] != "CURRENT"
        ]

    def snapshot(self) -> tuple[str, str, int]:
        """Records, table items and messages published so far ('nothing changed')."""
        records = self.route53.list_resource_record_sets(HostedZoneId=self.zone_id)
        return (
            json.dumps(records["ResourceRecordSets"], sort_keys=True, default=str),
            json.dumps(self.items(), sort_keys=True),
            self.inbox.count(),
        )

    def env(self) -> dict[str, str]:
        """Environment of a subprocess run of ``migrate`` against this stack."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        env.pop(PLAN_ENV_VAR, None)
        return env


@pytest.fixture
def knobs() -> Knobs:
    return Knobs()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def stack(
    moto_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    knobs: Knobs,
    fake_time: FakeTime,
) -> MotoStack:
    """A fresh stack on the server; in-process commands use it with fakes and fake time."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv(PLAN_ENV_VAR, raising=False)
    monkeypatch.setattr(operations, "make_clients", lambda region: FakedClients(region, knobs))
    monkeypatch.setattr(
        operations,
        "make_timing",
        lambda: Timing(monotonic=fake_time.monotonic, sleep=fake_time.sleep, wall=fake_time.clock),
    )
    return MotoStack(moto_server, tmp_path)


@dataclass
class Cli:
    """Runs ``migrate`` in-process against the stack (outputs and plan passed explicitly)."""

    stack: MotoStack

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        outputs: Path | None = None,
        plan: Path | None = None,
    ) -> Any:
        extra = []
        if "--outputs" not in args and "--stack" not in args:
            extra += ["--outputs", str(outputs or self.stack.outputs_path)]
        if "--plan" not in args:
            extra += ["--plan", str(plan or EXAMPLE)]
        return CliRunner().invoke(cli_app, [*args, *extra], input=input)


@pytest.fixture
def cli(stack: MotoStack) -> Cli:
    return Cli(stack)


def phases(stack: MotoStack) -> dict[str, str | None]:
    return {app.name: stack.phase(app.name) for app in stack.plan.applications}


__all__ = ["EXAMPLE", "Cli", "Knobs", "MotoStack", "Phase", "cdc_alarm", "phases"]


MAX_FOLLOWED_TICKS = 200
"""Simulated minutes a followed watch may last in a test (every wave here ends far sooner)."""


@dataclass
class Server:
    """The cutover controller's handler, run in-process against the stack (the schedule).

    ``tick()`` runs ``migration.handlers.controller.run`` with the environment the deployed
    function gets, the test's clients (moto plus the two fakes) and the fake clock.
    ``follow()`` makes the fake clock's sleeps tick it, as the real schedule would while
    ``migrate watch`` waits: every sleep of at least a minute is one tick.
    """

    stack: MotoStack
    knobs: Knobs
    fake_time: FakeTime
    reports: list[dict[str, Any]] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        outputs = self.stack.outputs
        return {
            "HOSTED_ZONE_ID": outputs["PrivateHostedZoneId"],
            "TABLE_NAME": outputs["MigrationTrackingTableName"],
            "SNS_TOPIC_ARN": outputs["SnsTopicArn"],
            "CUTOVER_SETTINGS": outputs["CutoverSettings"],
            "VPN_CONNECTION_ID": outputs["VpnConnectionId"],
            "APPLICATION_RECORDS": json.dumps(
                {app.name: app.dns_name for app in self.stack.plan.applications}
            ),
        }

    def tick(self) -> dict[str, Any]:
        from migration.handlers.controller import run

        clients = FakedClients("us-east-1", self.knobs)
        report = run(
            self.environment(),
            client=clients.client,
            clock=self.fake_time.clock,
            monotonic=self.fake_time.monotonic,
            sleep=self.fake_time.sleep,
        )
        self.reports.append(report)
        return report

    def follow(self, monkeypatch: pytest.MonkeyPatch, on_tick: Any = None) -> None:
        fake_time = self.fake_time

        def sleep(seconds: float) -> None:
            fake_time.sleep(seconds)
            # A watch that never ends would hang the suite: fail it instead.
            assert len(self.reports) < MAX_FOLLOWED_TICKS, "the watch did not end"
            if seconds >= 60:
                if on_tick is not None:
                    on_tick(len(self.reports))
                self.tick()

        monkeypatch.setattr(
            operations,
            "make_timing",
            lambda: Timing(monotonic=fake_time.monotonic, sleep=sleep, wall=fake_time.clock),
        )


def launch_servers_for_cutover(stack: MotoStack, mgn: MgnStandIn) -> None:
    """Every ``mgn`` server of the plan replicating in the stand-in, tested and launched for
    cutover with its validation done (through the runtime, as ``migrate servers test`` and
    ``cutover`` do): the traffic tests start where the servers gate lets traffic move."""
    plan = stack.plan
    specs = [plan.server_spec(s.id) for s in plan.servers if s.replication == "mgn"]
    for spec in specs:
        mgn.add_server(spec.hostname, spec.ip, spec.os)
    mgn.advance(60)
    tracking = TrackingStore(stack.dynamodb, stack.table)
    lifecycle = ServerLifecycle(tracking, Mgn(mgn.client()), actor="test")
    for run in (Run.TEST, Run.CUTOVER):
        for spec in specs:
            lifecycle.run(run, lifecycle.view(spec))
        mgn.advance(2)


@pytest.fixture
def server(stack: MotoStack, knobs: Knobs, fake_time: FakeTime) -> Iterator[Server]:
    """The controller's handler, with the plan's servers launched for cutover in the local
    MGN stand-in (validated by the stack's validation document)."""
    from migration.handlers import rollback

    rollback.reset_clients()
    actions = [
        {
            "actionName": "post-migration-validation",
            "ssmDocumentName": stack.outputs["SsmDocumentName"],
            "mustSucceedForCutover": True,
        }
    ]
    with MgnStandIn(post_launch_actions=actions) as mgn:
        launch_servers_for_cutover(stack, mgn)
        knobs.mgn_endpoint = mgn.endpoint_url
        yield Server(stack, knobs, fake_time)
        knobs.mgn_endpoint = None
