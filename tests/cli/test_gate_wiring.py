"""How ``migrate`` wires the gates from the stack outputs: task ids, alarm names and the
expansion of ``dms-cdc-latency`` into the CDC alarms of the application's databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from migration.gates import Gates
from migration.operations import Runtime
from migration.outputs import SEED_OUTPUTS, parse_outputs
from migration.plan import load_plan
from tests.cli.conftest import EXAMPLE


class Recording:
    """A client answering describe_alarms with every asked alarm in a given state (but the
    ``missing`` ones)."""

    def __init__(
        self, states: dict[str, str] | None = None, missing: frozenset[str] = frozenset()
    ) -> None:
        self.asked: list[str] = []
        self.states = states or {}
        self.missing = missing

    def describe_alarms(self, **kwargs: Any) -> dict[str, Any]:
        self.asked += kwargs["AlarmNames"]
        return {
            "MetricAlarms": [
                {"AlarmName": n, "StateValue": self.states.get(n, "OK")}
                for n in kwargs["AlarmNames"]
                if n not in self.missing
            ]
        }

    def get_paginator(self, operation: str) -> Recording:
        assert operation == "describe_alarms"
        return self

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield self.describe_alarms(**kwargs)


class Clients:
    def __init__(self, cloudwatch: Recording) -> None:
        self.cloudwatch = cloudwatch

    def client(self, service: str) -> Any:
        return self.cloudwatch if service == "cloudwatch" else object()


PLAN = load_plan(EXAMPLE)

SETTINGS = {
    "environmentSuffix": "prod",
    "replicationInstanceIdentifier": "migration-dms-prod",
    "replicationTasks": {"orders-db": "orders-db-prod", "inventory-db": "inventory-db-prod"},
    "alarms": {
        "vpn-tunnel-down": "Tap-VpnTunnelDown-1A2B",
        "vpn-both-tunnels-down": "Tap-VpnBothDown-3C4D",
        "rollback-errors": "Tap-RollbackErrors",
        "rollback-dead-letters": "Tap-RollbackDlq",
    },
    "cdcLatencyAlarms": {"orders-db": "Tap-CdcLatency-orders-db-prod"},
}


def runtime(cloudwatch: Recording, settings: dict[str, Any] | None = None) -> Runtime:
    values = {name: f"value-of-{name}" for name in SEED_OUTPUTS}
    values["CutoverSettings"] = json.dumps(settings or SETTINGS)
    outputs = parse_outputs(values, "test")
    return Runtime(load_plan(EXAMPLE), EXAMPLE, outputs, Clients(cloudwatch))


def test_cdc_latency_alarm_expands_to_the_alarms_of_the_databases() -> None:
    cloudwatch = Recording()
    gates = runtime(cloudwatch).gates()
    orders = PLAN.application("orders-api")

    wanted, problems = gates.alarms_of(orders)
    assert wanted == {
        "orders-api-5xx": "orders-api-5xx",
        "Tap-VpnTunnelDown-1A2B": "vpn-tunnel-down",
        "Tap-CdcLatency-orders-db-prod": "dms-cdc-latency of orders-db",
    }
    assert problems == []
    result = gates.alarm_gate(orders)
    assert result.ok and result.detail == "3 alarm(s) OK"
    assert sorted(cloudwatch.asked) == sorted(wanted)


# What the stack outputs now: no per-database map; the names derive from the suffix (issue 10).
CURRENT = {k: v for k, v in SETTINGS.items() if k not in ("replicationTasks", "cdcLatencyAlarms")}


def test_without_the_maps_the_cdc_alarms_are_the_derived_names() -> None:
    cloudwatch = Recording()
    gates = runtime(cloudwatch, CURRENT).gates()
    wanted, problems = gates.alarms_of(PLAN.application("orders-api"))
    assert wanted["migration-prod-orders-db-cdc-latency"] == "dms-cdc-latency of orders-db"
    assert problems == []
    assert gates.alarm_gate(PLAN.application("orders-api")).ok
    assert gates.task_identifier("orders-db") == "orders-db-prod"


def test_a_database_whose_cdc_alarm_does_not_exist_fails_the_gate() -> None:
    # An outputs map without the database: its derived alarm is looked up, and missing.
    settings = dict(SETTINGS, cdcLatencyAlarms={})
    cloudwatch = Recording(missing=frozenset({"migration-prod-orders-db-cdc-latency"}))
    result = runtime(cloudwatch, settings).gates().alarm_gate(PLAN.application("orders-api"))
    assert not result.ok
    assert result.detail == (
        "alarm migration-prod-orders-db-cdc-latency (plan alarm dms-cdc-latency of orders-db)"
        " does not exist"
    )


def test_alarm_in_alarm_state_names_the_plan_alarm() -> None:
    cloudwatch = Recording({"Tap-CdcLatency-orders-db-prod": "ALARM"})
    gates = runtime(cloudwatch).gates()
    result = gates.alarm_gate(PLAN.application("orders-api"))
    assert not result.ok
    assert result.detail == (
        "alarm Tap-CdcLatency-orders-db-prod (plan alarm dms-cdc-latency of orders-db) is ALARM"
    )


def test_task_identifiers_come_from_the_outputs() -> None:
    gates = runtime(Recording()).gates()
    assert gates.task_identifier("orders-db") == "orders-db-prod"
    assert gates.task_identifier("other-db") == "other-db-prod"  # <db>-<environment suffix>


def test_without_the_mapping_gates_keep_the_old_behaviour() -> None:
    plan = load_plan(EXAMPLE)
    cloudwatch = Recording()
    gates = Gates(
        plan,
        dms=None,
        cloudwatch=cloudwatch,
        ec2=None,
        alarm_names={"dms-cdc-latency": "one-alarm"},
    )
    wanted, _ = gates.alarms_of(plan.application("orders-api"))
    assert wanted["one-alarm"] == "dms-cdc-latency"
    assert gates.task_identifier("orders-db") == "orders-db-cdc"
