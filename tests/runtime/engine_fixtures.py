"""Helpers of the gate and cutover engine tests: a plan, DMS/CloudWatch state, fakes.

moto 5 lacks two things the gates read, so two small fakes exist:

* ``DmsWithTableStatistics`` delegates to the moto DMS client but answers
  ``describe_table_statistics`` (not implemented by moto) from a list;
* ``FakeEc2`` answers ``describe_vpn_connections`` with ``VgwTelemetry`` (moto returns
  connections without tunnel telemetry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3

from migration.gates import Gates
from migration.plan import Plan, parse_plan
from migration.tracking import Phase, app_id
from tests.runtime.conftest import Aws

CDC_ALARM = "migration-dms-cdc-latency"
BUILTIN_ALARM_NAMES = {"dms-cdc-latency": CDC_ALARM}


def _app(name: str, host: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "on_premises_address": f"192.168.1.{host}",
        "aws_address": f"10.0.1.{host}",
        "shift_steps": [10, 50, 100],
        "bake_minutes": 1,
        **extra,
    }


def _db(name: str) -> dict[str, Any]:
    side = {"host": f"{name}.example.com", "database": name, "secret": f"{name}/creds"}
    return {
        "name": name,
        "engine": "postgres",
        "source": side,
        "target": side,
        "cdc_latency_threshold_seconds": 60,
    }


def make_plan(bake_minutes: int = 1) -> Plan:
    """wave-1: orders (database orders-db, alarms orders-5xx + dms-cdc-latency), billing."""
    return parse_plan(
        {
            "site": {
                "customer_gateway_ip": "203.0.113.10",
                "bgp_asn": 65000,
                "on_premises_cidrs": ["192.168.0.0/16"],
            },
            "alarms": [{"name": "orders-5xx"}, {"name": "billing-5xx"}],
            "waves": [
                {
                    "name": "wave-1",
                    "applications": [
                        _app(
                            "orders",
                            10,
                            alarms=["orders-5xx", "dms-cdc-latency"],
                            databases=["orders-db"],
                            bake_minutes=bake_minutes,
                        ),
                        _app("billing", 11, alarms=["billing-5xx"], bake_minutes=bake_minutes),
                    ],
                    "databases": [_db("orders-db")],
                }
            ],
        }
    )


class DmsWithTableStatistics:
    """moto DMS client plus a fake ``describe_table_statistics`` (moto lacks it)."""

    def __init__(self, inner: Any, tables: list[dict[str, Any]] | None = None) -> None:
        self._inner = inner
        self.tables: list[dict[str, Any]] = tables if tables is not None else []
        self.calls = 0

    def describe_table_statistics(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        assert kwargs["ReplicationTaskArn"].startswith("arn:aws:dms:")
        return {"TableStatistics": list(self.tables)}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class FakeEc2:
    """``describe_vpn_connections`` with tunnel telemetry (moto returns none)."""

    statuses: list[str] = field(default_factory=lambda: ["UP", "UP"])
    calls: int = 0

    def describe_vpn_connections(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {
            "VpnConnections": [
                {
                    "VpnConnectionId": "vpn-0123",
                    "State": "available",
                    "VgwTelemetry": [
                        {"OutsideIpAddress": f"52.0.0.{i + 1}", "Status": status}
                        for i, status in enumerate(self.statuses)
                    ],
                }
            ]
        }


REPLICATION_INSTANCE = "migration-dms-test"


@dataclass
class GateEnv:
    """moto DMS/CloudWatch state that passes every gate, with knobs to break each one."""

    aws: Aws
    plan: Plan
    cloudwatch: Any
    dms: DmsWithTableStatistics
    ec2: FakeEc2
    task_arn: str

    def gates(self) -> Gates:
        return Gates(
            self.plan,
            dms=self.dms,
            cloudwatch=self.cloudwatch,
            ec2=self.ec2,
            alarm_names=BUILTIN_ALARM_NAMES,
            replication_instance_identifier=REPLICATION_INSTANCE,
            clock=self.aws.time.clock,
        )

    def put_latency(self, seconds: float, minutes: int = 120) -> None:
        """One CDCLatencySource datapoint a minute, from 2 minutes before the fake now."""
        resource_id = self.task_arn.rsplit(":", 1)[-1]
        start = self.aws.time.clock() - timedelta(minutes=2)
        data = [
            {
                "MetricName": "CDCLatencySource",
                # As DMS publishes it: instance name and task resource id.
                "Dimensions": [
                    {"Name": "ReplicationInstanceIdentifier", "Value": REPLICATION_INSTANCE},
                    {"Name": "ReplicationTaskIdentifier", "Value": resource_id},
                ],
                "Timestamp": start + timedelta(minutes=i),
                "Value": seconds,
                "Unit": "Seconds",
            }
            for i in range(minutes)
        ]
        for chunk in range(0, len(data), 20):
            self.cloudwatch.put_metric_data(
                Namespace="AWS/DMS", MetricData=data[chunk : chunk + 20]
            )

    def set_alarm(self, name: str, state: str) -> None:
        self.cloudwatch.set_alarm_state(
            AlarmName=name, StateValue=state, StateReason=f"test {state}"
        )

    def phase(self, app: str) -> Phase | None:
        head = self.aws.tracking().current(app_id(app))
        return head.phase if head else None

    def transitions(self, app: str) -> list[tuple[Phase | None, int | None]]:
        """(phase, step) of every transition of ``app``."""
        return [
            (e.phase, e.details.get("step"))
            for e in self.aws.tracking().history(app_id(app))
            if e.event_type == "TRANSITION"
        ]

    def changes(self) -> list[tuple[str, int]]:
        """(application, AWS weight) written by each ChangeResourceRecordSets call."""
        found = []
        for params in self.aws.route53_calls.api_params("ChangeResourceRecordSets"):
            for change in params["ChangeBatch"]["Changes"]:
                record = change["ResourceRecordSet"]
                if record["SetIdentifier"] == "aws":
                    found.append((record["Name"].split(".")[0], int(record["Weight"])))
        return found


def make_env(aws: Aws, bake_minutes: int = 1) -> GateEnv:
    """Records at 0/100, a running DMS task with low latency, every alarm OK, VPN UP."""
    plan = make_plan(bake_minutes)
    aws.seed({"orders": (0, 100), "billing": (0, 100)})
    cloudwatch = boto3.client("cloudwatch")
    dms = boto3.client("dms")
    task = dms.create_replication_task(
        ReplicationTaskIdentifier="orders-db-cdc",
        SourceEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:SRC",
        TargetEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:TGT",
        ReplicationInstanceArn="arn:aws:dms:us-east-1:123456789012:rep:INSTANCE",
        MigrationType="full-load-and-cdc",
        TableMappings='{"rules": []}',
    )["ReplicationTask"]
    dms.start_replication_task(
        ReplicationTaskArn=task["ReplicationTaskArn"], StartReplicationTaskType="start-replication"
    )
    for name in ("orders-5xx", "billing-5xx", CDC_ALARM):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="5XXError",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")
    env = GateEnv(
        aws=aws,
        plan=plan,
        cloudwatch=cloudwatch,
        dms=DmsWithTableStatistics(
            dms,
            [
                {
                    "SchemaName": "public",
                    "TableName": "orders",
                    "ValidationState": "Validated",
                    "ValidationFailedRecords": 0,
                }
            ],
        ),
        ec2=FakeEc2(),
        task_arn=task["ReplicationTaskArn"],
    )
    env.put_latency(5)
    aws.route53_calls.reset()
    return env
