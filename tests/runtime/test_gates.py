"""Go/no-go gates against moto (DMS tasks, CloudWatch metrics and alarms) and two fakes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from botocore.stub import Stubber

from migration.gates import GateResult, Gates, all_ok
from tests.runtime.conftest import Aws
from tests.runtime.engine_fixtures import CDC_ALARM, GateEnv, make_env


@pytest.fixture
def env(aws: Aws) -> Iterator[GateEnv]:
    yield make_env(aws)


def by_name(results: list[GateResult]) -> dict[str, GateResult]:
    return {r.name: r for r in results}


def test_everything_healthy_passes(env: GateEnv) -> None:
    results = env.gates().check_gates(env.plan.application("orders"))
    assert [r.name for r in results] == [
        "dms-task:orders-db",
        "dms-latency:orders-db",
        "dms-validation:orders-db",
        "vpn",
        "alarms",
    ]
    assert all_ok(results), results
    assert "5s" in by_name(results)["dms-latency:orders-db"].detail
    assert env.gates().gate_names(env.plan.application("orders")) == [r.name for r in results]


def test_application_without_database_has_no_dms_gate(env: GateEnv) -> None:
    results = env.gates().check_gates(env.plan.application("billing"))
    assert [r.name for r in results] == ["vpn", "alarms"]
    assert all_ok(results)


def test_high_cdc_latency_fails(env: GateEnv) -> None:
    env.put_latency(90, minutes=1)
    result = by_name(env.gates().check_gates(env.plan.application("orders")))
    gate = result["dms-latency:orders-db"]
    assert not gate.ok and "90s" in gate.detail and "60s" in gate.detail


def test_no_latency_datapoint_fails(env: GateEnv) -> None:
    env.aws.time.sleep(3 * 3600)  # past every datapoint
    gate = by_name(env.gates().check_gates(env.plan.application("orders")))["dms-latency:orders-db"]
    assert not gate.ok and "no CDCLatencySource datapoint" in gate.detail


def test_stopped_task_fails(env: GateEnv) -> None:
    env.dms.stop_replication_task(ReplicationTaskArn=env.task_arn)
    gate = by_name(env.gates().check_gates(env.plan.application("orders")))["dms-task:orders-db"]
    assert not gate.ok and "stopped" in gate.detail


def test_missing_task_fails_every_dms_gate(env: GateEnv) -> None:
    env.dms.delete_replication_task(ReplicationTaskArn=env.task_arn)
    results = env.gates().check_gates(env.plan.application("orders"))
    dms = [r for r in results if r.name.startswith("dms-")]
    assert len(dms) == 3
    assert all(not r.ok and "orders-db-cdc does not exist" in r.detail for r in dms)


@pytest.mark.parametrize(
    "table",
    [
        {"ValidationState": "Mismatched records", "ValidationFailedRecords": 0},
        {"ValidationState": "Validated", "ValidationFailedRecords": 3},
    ],
)
def test_validation_mismatch_fails(env: GateEnv, table: dict[str, object]) -> None:
    env.dms.tables.append({"SchemaName": "public", "TableName": "lines", **table})
    gate = by_name(env.gates().check_gates(env.plan.application("orders")))[
        "dms-validation:orders-db"
    ]
    assert not gate.ok and "public.lines" in gate.detail
    assert "public.orders" not in gate.detail


@pytest.mark.parametrize("statuses", [["UP", "DOWN"], ["DOWN", "DOWN"], ["UP"]])
def test_vpn_tunnel_not_up_fails(env: GateEnv, statuses: list[str]) -> None:
    env.ec2.statuses = statuses
    gate = env.gates().vpn_gate()
    assert not gate.ok and "vpn-0123" in gate.detail


def test_vpn_with_no_connection_fails(env: GateEnv) -> None:
    # moto's own EC2: no VPN connection exists in the fresh account.
    gates = Gates(env.plan, dms=env.dms, cloudwatch=env.cloudwatch, ec2=boto3.client("ec2"))
    gate = gates.vpn_gate()
    assert not gate.ok and gate.detail == "no VPN connection found"


def test_alarm_in_alarm_fails(env: GateEnv) -> None:
    env.set_alarm("orders-5xx", "ALARM")
    gate = env.gates().alarm_gate(env.plan.application("orders"))
    assert not gate.ok and gate.detail == "alarm orders-5xx is ALARM"


def test_builtin_alarm_maps_to_real_name(env: GateEnv) -> None:
    env.set_alarm(CDC_ALARM, "INSUFFICIENT_DATA")
    gate = env.gates().alarm_gate(env.plan.application("orders"))
    assert not gate.ok
    assert gate.detail == f"alarm {CDC_ALARM} (plan alarm dms-cdc-latency) is INSUFFICIENT_DATA"


def test_missing_alarm_fails_with_clear_detail(env: GateEnv) -> None:
    env.cloudwatch.delete_alarms(AlarmNames=["billing-5xx"])
    gate = env.gates().alarm_gate(env.plan.application("billing"))
    assert not gate.ok and gate.detail == "alarm billing-5xx does not exist"


@dataclass(frozen=True)
class App:
    name: str = "orders"
    alarms: tuple[str, ...] = tuple(f"alarm-{i:03}" for i in range(101))
    databases: tuple[str, ...] = ()


def test_alarm_gate_follows_describe_alarms_pages() -> None:
    """The paginator follows NextToken within each call of at most 100 names."""
    names = sorted(App.alarms)
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    types = ["MetricAlarm", "CompositeAlarm"]

    def page(batch: list[str], state: str = "OK") -> list[dict[str, object]]:
        return [{"AlarmName": n, "StateValue": state} for n in batch]

    with Stubber(cloudwatch) as stubber:
        first = {"AlarmNames": names[:100], "AlarmTypes": types}
        stubber.add_response(
            "describe_alarms", {"MetricAlarms": page(names[:60]), "NextToken": "t"}, first
        )
        stubber.add_response(
            "describe_alarms",
            {"MetricAlarms": page(names[60:99]), "CompositeAlarms": page(names[99:100], "ALARM")},
            {**first, "NextToken": "t"},
        )
        stubber.add_response(
            "describe_alarms",
            {"MetricAlarms": page(names[100:])},
            {"AlarmNames": names[100:], "AlarmTypes": types},
        )
        gates = Gates(None, dms=None, cloudwatch=cloudwatch, ec2=None)  # type: ignore[arg-type]
        result = gates.alarm_gate(App())
        stubber.assert_no_pending_responses()
    assert not result.ok
    assert result.detail == "alarm alarm-099 is ALARM"
