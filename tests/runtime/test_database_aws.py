"""The database cutover's AWS side against moto: credentials, the name, the DMS tasks."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from migration.database.credentials import read_credentials
from migration.database.dms import DmsReplication
from migration.database.errors import DatabaseAccessError, DatabaseStepError
from migration.database.writer_name import NameTarget, WriterName
from migration.errors import MigrationError
from migration.gates import CDC_LATENCY_METRIC, Gates
from migration.local import route53_fidelity
from tests.runtime.conftest import create_private_zone

WHERE = "orders-db on-premises (192.168.20.10:5432)"


@pytest.fixture
def secrets() -> Any:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _read(secrets: Any, value: str | None) -> Any:
    if value is not None:
        secrets.create_secret(Name="db/source", SecretString=value)
    return read_credentials(
        secrets, "db/source", host="192.168.20.10", port=5432, database="orders", where=WHERE
    )


def test_credentials_from_a_secret_in_the_rds_shape(secrets: Any) -> None:
    credentials = _read(secrets, json.dumps({"username": "dms", "password": "s3cret"}))
    assert (credentials.host, credentials.port, credentials.database) == (
        "192.168.20.10", 5432, "orders",
    )  # fmt: skip
    assert (credentials.username, credentials.sslmode, credentials.where) == (
        "dms",
        "prefer",
        WHERE,
    )
    assert "s3cret" not in repr(credentials)
    override = json.dumps(
        {"username": "u", "password": "p", "host": "10.9.8.7", "port": "6432", "dbname": "o2",
         "sslmode": "verify-full"}
    )  # fmt: skip
    secrets.create_secret(Name="db/other", SecretString=override)
    other = read_credentials(
        secrets, "db/other", host="192.168.20.10", port=5432, database="orders", where=WHERE
    )
    assert (other.host, other.port, other.database, other.sslmode) == (
        "10.9.8.7", 6432, "o2", "verify-full",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "cannot be read (ResourceNotFoundException)"),
        ("not json", "is not a JSON object with username and password"),
        ("[1, 2]", "is not a JSON object with username and password"),
        (json.dumps({"username": "u"}), "needs the keys username and password (strings)"),
        (json.dumps({"username": "u", "password": "p", "sslmode": "maybe"}),
         "sslmode must be one of prefer, require, verify-full, disable"),
        (json.dumps({"username": "u", "password": "p", "port": "x"}), "port must be a number"),
    ],
)  # fmt: skip
def test_a_bad_secret_is_one_line_naming_it(secrets: Any, value: str | None, problem: str) -> None:
    with pytest.raises(DatabaseAccessError) as err:
        _read(secrets, value)
    assert str(err.value) == f"{WHERE}: secret db/source: {problem}"


@pytest.fixture
def zone() -> Any:
    with mock_aws():
        route53_fidelity.install()
        route53 = boto3.client("route53", region_name="us-east-1")
        zone_id = create_private_zone(boto3.client("ec2", region_name="us-east-1"), route53)
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                "Name": "orders-db.db.migration.internal", "Type": "A", "TTL": 30,
                "ResourceRecords": [{"Value": "192.168.20.10"}]}}]},
        )  # fmt: skip
        yield route53, zone_id


def test_the_name_switches_between_a_and_cname_in_one_change(zone: Any) -> None:
    route53, zone_id = zone
    names = WriterName(route53, zone_id)
    name = "orders-db.db.migration.internal"
    aws = NameTarget.for_address("Orders.Cluster-x.eu-west-1.rds.amazonaws.com.")
    assert aws == NameTarget("CNAME", "orders.cluster-x.eu-west-1.rds.amazonaws.com")
    assert names.current(name) == NameTarget("A", "192.168.20.10")
    assert names.point(name, aws) is True
    assert names.current(name) == aws
    assert names.point(name, aws) is False  # already there: no change sent
    sets = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert [(r["Type"], r["TTL"]) for r in sets if r["Name"].startswith("orders-db")] == [
        ("CNAME", 30)
    ]
    assert names.point(name, NameTarget.for_address("192.168.20.10")) is True
    assert names.current(name) == NameTarget("A", "192.168.20.10")


def test_a_missing_name_is_a_clear_error(zone: Any) -> None:
    route53, zone_id = zone
    with pytest.raises(MigrationError, match=r"nope.db.migration.internal has no A or CNAME"):
        WriterName(route53, zone_id).point("nope.db.migration.internal", NameTarget("A", "1.2.3.4"))
    assert WriterName(route53, zone_id).current("nope.db.migration.internal") is None


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def dms() -> Any:
    with mock_aws():
        client = boto3.client("dms", region_name="us-east-1")
        for name, kind in (
            ("orders-db-dev", "full-load-and-cdc"),
            ("orders-db-reverse-dev", "cdc"),
        ):
            client.create_replication_task(
                ReplicationTaskIdentifier=name,
                SourceEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:a",
                TargetEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:b",
                ReplicationInstanceArn="arn:aws:dms:us-east-1:123456789012:rep:x",
                MigrationType=kind,
                TableMappings=json.dumps({"rules": []}),
            )
        yield client


class _Recorder:
    """Records the start calls' parameters (moto does not keep the CDC start position)."""

    def __init__(self, client: Any) -> None:
        self.starts: list[dict[str, Any]] = []
        client.meta.events.register("provide-client-params.dms.StartReplicationTask", self._on)

    def _on(self, params: dict[str, Any], **_: Any) -> None:
        self.starts.append(dict(params))


def _replication(dms: Any, task: str, clock: _Clock) -> DmsReplication:
    gates = Gates(
        {},  # type: ignore[arg-type]
        dms=dms, cloudwatch=boto3.client("cloudwatch", region_name="us-east-1"), ec2=None,
        task_identifiers={"orders-db": task},
    )  # fmt: skip
    return DmsReplication(
        dms, gates, database="orders-db", task_identifier=task,
        slot="migration_orders_db_reverse", sleep=clock.sleep, monotonic=clock.monotonic,
    )  # fmt: skip


def test_reverse_task_starts_from_the_position_then_resumes(dms: Any) -> None:
    clock = _Clock()
    recorder = _Recorder(dms)
    reverse = _replication(dms, "orders-db-reverse-dev", clock)
    assert not reverse.running()
    reverse.start("0/1A2B3C4")
    assert reverse.running()
    reverse.start("0/1A2B3C4")  # running: nothing sent
    reverse.stop()
    assert reverse.status() == "stopped"
    reverse.stop()  # stopped: nothing sent
    reverse.start("0/2000000")
    assert [(s["StartReplicationTaskType"], s["CdcStartPosition"]) for s in recorder.starts] == [
        ("start-replication", "0/1A2B3C4"),
        ("resume-processing", "0/2000000"),
    ]


def test_a_missing_task_or_one_that_will_not_stop_is_a_clear_error(dms: Any) -> None:
    clock = _Clock()
    with pytest.raises(MigrationError, match="replication task gone-dev does not exist"):
        _replication(dms, "gone-dev", clock).running()
    forward = _replication(dms, "orders-db-dev", clock)
    forward.start("0/10")

    class Stuck:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def stop_replication_task(self, **_: Any) -> None:
            return None  # DMS accepted the stop, the task keeps running

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    stuck = _replication(Stuck(dms), "orders-db-dev", clock)
    with pytest.raises(MigrationError, match=r"orders-db-dev is running after the stop \(waited"):
        stuck.stop()
    assert clock.now >= 900


class _WithStatistics:
    """moto has no describe_table_statistics: one table with a validation mismatch."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def describe_table_statistics(self, **_: Any) -> dict[str, Any]:
        return {"TableStatistics": [{"SchemaName": "public", "TableName": "orders",
                                     "ValidationState": "Mismatched records",
                                     "ValidationFailedRecords": 2}]}  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_health_reports_the_gates_that_fail(dms: Any) -> None:
    forward = _replication(_WithStatistics(dms), "orders-db-dev", _Clock())
    problems = forward.health(30)
    assert problems[0] == "replication task orders-db-dev is creating (expected running)"
    assert problems[1:] == [
        f"orders-db-dev: no {CDC_LATENCY_METRIC} datapoint in the last 5 minutes",
        "orders-db-dev: validation mismatches in public.orders (Mismatched records, 2 failed"
        " records)",
    ]


# -- freeze hooks: SSM Automation (botocore's Stubber validates every call against the model) --


def _ssm_hook(**kwargs: Any) -> tuple[Any, Any, _Clock]:
    from botocore.stub import Stubber

    from migration.database.freeze_hooks import SsmAutomationFreeze

    ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    stubber = Stubber(ssm)
    clock = _Clock()
    hook = SsmAutomationFreeze(
        ssm, "Freeze-Orders", database="orders-db", side="on-premises", timeout_s=60,
        sleep=clock.sleep, monotonic=clock.monotonic, poll_s=5, **kwargs,
    )  # fmt: skip
    return hook, stubber, clock


EXECUTIONS = {
    "freeze": "11111111-2222-3333-4444-555555555555",
    "status": "66666666-7777-8888-9999-000000000000",
}


def _start(stubber: Any, action: str) -> None:
    stubber.add_response(
        "start_automation_execution",
        {"AutomationExecutionId": EXECUTIONS[action]},
        {
            "DocumentName": "Freeze-Orders",
            "Parameters": {"Action": [action], "Database": ["orders-db"], "Side": ["on-premises"]},
        },
    )


def _status(stubber: Any, action: str, status: str, **extra: Any) -> None:
    stubber.add_response(
        "get_automation_execution",
        {"AutomationExecution": {"AutomationExecutionStatus": status, **extra}},
        {"AutomationExecutionId": EXECUTIONS[action]},
    )


def test_ssm_freeze_hook_runs_the_document_and_waits_for_success() -> None:
    hook, stubber, clock = _ssm_hook()
    _start(stubber, "freeze")
    _status(stubber, "freeze", "InProgress")
    _status(stubber, "freeze", "Success")
    _start(stubber, "status")
    _status(stubber, "status", "Success", Outputs={"Frozen": ["true"]})
    with stubber:
        assert hook.freeze() == 0
        assert hook.is_frozen() is True
    stubber.assert_no_pending_responses()
    assert clock.now == 5


def test_ssm_freeze_hook_failures_are_step_errors() -> None:
    hook, stubber, _clock = _ssm_hook()
    _start(stubber, "freeze")
    _status(stubber, "freeze", "Failed", FailureMessage="Step StopApp failed")
    _start(stubber, "freeze")
    for _ in range(13):
        _status(stubber, "freeze", "InProgress")
    stubber.add_response(
        "stop_automation_execution", {}, {"AutomationExecutionId": EXECUTIONS["freeze"]}
    )
    _start(stubber, "status")
    _status(stubber, "status", "Success", Outputs={"Frozen": ["maybe"]})
    with stubber:
        with pytest.raises(DatabaseStepError) as failed:
            hook.freeze()
        with pytest.raises(DatabaseStepError) as slow:
            hook.freeze()
        with pytest.raises(DatabaseStepError) as unclear:
            hook.is_frozen()
    stubber.assert_no_pending_responses()
    prefix = "database orders-db: freeze hook ssm:Freeze-Orders"
    assert str(failed.value) == (
        f"{prefix} (freeze, on-premises) failed: execution {EXECUTIONS['freeze']}: Step StopApp"
        " failed"
    )
    assert str(slow.value) == (
        f"{prefix} (freeze, on-premises) failed: execution {EXECUTIONS['freeze']} still"
        " InProgress after 60 s; stopped"
    )
    assert str(unclear.value) == (
        f"{prefix} (status, on-premises) failed: the execution must output Frozen = true or false"
    )
