"""The rollback Lambda handler with in-process moto: wiring, settings, errors, imports."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from migration.errors import (
    ConfigurationError,
    IncompleteRecordPairsError,
    InvalidEventError,
    UnknownApplicationError,
)
from migration.handlers import rollback as rollback_handler
from tests.runtime.conftest import Aws, CallRecorder, eventbridge_alarm_event, sns_alarm_event
from tests.runtime.test_events import MALFORMED

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lambda_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The function's environment pointing at this test's moto resources."""
    monkeypatch.setenv("HOSTED_ZONE_ID", aws.zone_id)
    monkeypatch.setenv("TABLE_NAME", aws.table)
    monkeypatch.setenv("SNS_TOPIC_ARN", aws.topic_arn)
    monkeypatch.delenv("ALARM_APPLICATIONS", raising=False)
    rollback_handler.reset_clients()
    yield aws
    rollback_handler.reset_clients()


def context(request_id: str = "req-1") -> Any:
    return SimpleNamespace(aws_request_id=request_id, function_name="rollback")


def test_handler_rolls_back_and_returns_a_json_summary(lambda_env: Aws) -> None:
    lambda_env.seed({"orders": (50, 50), "billing": (0, 100)})
    summary = rollback_handler.handler(sns_alarm_event("orders-5xx"), context())
    assert json.loads(json.dumps(summary)) == summary
    assert summary["status"] == "rolled_back"
    assert summary["eventKey"] == "alarm:orders-5xx:2026-11-28T12:00:00.123000Z"
    assert summary["rolledBack"][0]["application"] == "orders"
    assert summary["rolledBack"][0]["previousWeights"] == {"aws": 50, "onPremises": 50}
    assert summary["alreadyOnPremises"] == ["billing"]
    assert summary["changeIds"] and summary["notificationId"]
    assert lambda_env.weights()["orders"] == {"aws": 0, "on-premises": 100}
    assert lambda_env.inbox.count() == 1


def test_clients_are_created_lazily_and_reused(lambda_env: Aws) -> None:
    lambda_env.seed({"orders": (50, 50)})
    assert rollback_handler._clients == {}
    rollback_handler.handler(eventbridge_alarm_event("a", "OK"), context())
    first = rollback_handler.get_clients()
    assert len(rollback_handler._clients) == 1
    calls = CallRecorder(first.route53)
    result = rollback_handler.handler(
        {"applications": ["orders"], "reason": "bad deploy"}, context("req-2")
    )
    assert rollback_handler.get_clients() is first
    assert result["status"] == "rolled_back"
    assert calls.attempts["ChangeResourceRecordSets"] == 1  # the cached client did the work


def test_direct_invocation_falls_back_to_the_request_id(lambda_env: Aws) -> None:
    lambda_env.seed({"orders": (50, 50)})
    event = {"applications": "all", "reason": "drill"}
    first = rollback_handler.handler(event, context("req-7"))
    # Lambda retries an async invocation with the same request id: a duplicate.
    again = rollback_handler.handler(event, context("req-7"))
    assert (first["status"], again["status"]) == ("rolled_back", "duplicate")
    assert first["eventKey"] == "invocation:req-7"
    assert lambda_env.inbox.count() == 1


def test_alarm_applications_setting_is_honoured(
    lambda_env: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_env.seed({"orders": (50, 50), "billing": (50, 50)})
    monkeypatch.setenv("ALARM_APPLICATIONS", json.dumps({"orders-5xx": ["orders"]}))
    summary = rollback_handler.handler(sns_alarm_event("orders-5xx"), context())
    assert [r["application"] for r in summary["rolledBack"]] == ["orders"]
    assert lambda_env.weights()["billing"] == {"aws": 50, "on-premises": 50}


def test_alarm_targets_come_from_the_registered_plan(lambda_env: Aws) -> None:
    # No ALARM_APPLICATIONS in the environment: the registry (migrate plan apply) says that
    # orders-5xx rolls back orders only, and the CDC alarm of orders-db both users of it.
    from migration.registry import (
        RegisteredApplication,
        RegisteredDatabase,
        Registry,
        application_item,
        database_item,
    )

    lambda_env.seed({"orders": (50, 50), "billing": (50, 50)})
    apps = [
        RegisteredApplication(
            name,
            "wave-1",
            f"{name}.migration.internal",
            "A",
            "192.168.0.1",
            "10.0.0.1",
            databases=("orders-db",),
            alarms=alarms,
        )
        for name, alarms in (("orders", ("orders-5xx", "vpn-tunnel-down")), ("billing", ()))
    ]
    database = RegisteredDatabase(
        "orders-db",
        "wave-1",
        "orders-db.db.migration.internal",
        "postgres",
        "192.168.0.9",
        cdc_latency_alarm="cdc-orders-db",
    )
    Registry(lambda_env.dynamodb, lambda_env.table).write(
        [*map(application_item, apps), database_item(database)], [], {"digest": "d", "waves": []}
    )
    summary = rollback_handler.handler(sns_alarm_event("orders-5xx"), context())
    assert [r["application"] for r in summary["rolledBack"]] == ["orders"]
    assert lambda_env.weights()["billing"] == {"aws": 50, "on-premises": 50}
    summary = rollback_handler.handler(sns_alarm_event("cdc-orders-db"), context("req-2"))
    assert [r["application"] for r in summary["rolledBack"]] == ["billing"]
    assert summary["alreadyRolledBack"] == ["orders"]


def test_malformed_events_fail_visibly_and_change_nothing(lambda_env: Aws) -> None:
    lambda_env.seed({"orders": (50, 50)})
    before = lambda_env.snapshot()
    for case_id, event, field in MALFORMED:
        with pytest.raises(InvalidEventError) as caught:
            rollback_handler.handler(event, context())
        assert caught.value.field == field, case_id
    assert lambda_env.snapshot() == before
    assert lambda_env.route53_calls.attempts["ChangeResourceRecordSets"] == 0


def test_unknown_application_fails_and_changes_nothing(lambda_env: Aws) -> None:
    lambda_env.seed({"orders": (50, 50)})
    before = lambda_env.snapshot()
    with pytest.raises(UnknownApplicationError, match="nope"):
        rollback_handler.handler({"applications": ["orders", "nope"], "reason": "x"}, context())
    assert lambda_env.snapshot() == before


@pytest.mark.parametrize("missing", ["HOSTED_ZONE_ID", "TABLE_NAME", "SNS_TOPIC_ARN"])
def test_missing_setting_is_named(
    lambda_env: Aws, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    lambda_env.seed({"orders": (50, 50)})
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigurationError, match=f"setting {missing}: missing") as caught:
        rollback_handler.handler(sns_alarm_event("a"), context())
    assert caught.value.name == missing
    assert lambda_env.weights()["orders"] == {"aws": 50, "on-premises": 50}


def test_logs_are_json_lines(lambda_env: Aws, caplog: pytest.LogCaptureFixture) -> None:
    lambda_env.seed({"orders": (50, 50)})
    with caplog.at_level(logging.INFO, logger="migration.rollback"):
        rollback_handler.handler(sns_alarm_event("orders-5xx"), context("req-9"))
        with pytest.raises(InvalidEventError):
            rollback_handler.handler({"Records": []}, context("req-10"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "migration.rollback"]
    handled = next(line for line in lines if line["message"] == "rollback handled")
    assert handled["status"] == "rolled_back" and handled["requestId"] == "req-9"
    assert handled["rolledBack"] == 1
    failed = next(line for line in lines if line["message"] == "rollback failed")
    assert failed["error"] == "InvalidEventError" and "Records" in failed["detail"]


def test_handler_module_needs_only_stdlib_and_boto3() -> None:
    # A fresh interpreter where every non-stdlib import except boto3's own dependencies
    # fails, as in the Lambda Python runtime, and where creating a client at import
    # time would fail too.
    script = textwrap.dedent(
        """
        import importlib.abc, sys
        ALLOWED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3",
                   "six", "migration"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ALLOWED or top.startswith("_"):
                    return None
                raise ImportError(f"blocked import {name}")
        sys.meta_path.insert(0, Block())
        import boto3
        def no_clients(*args, **kwargs):
            raise AssertionError("client created at import time")
        boto3.client = no_clients
        import migration.handlers.rollback as handler
        assert handler._clients == {}
        assert "migration.plan" not in sys.modules
        assert not any(m.startswith("aws_cdk") for m in sys.modules)
        print("ok")
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"


def test_the_function_waits_for_insync_and_records_recovery_times(lambda_env: Aws) -> None:
    lambda_env.seed({"orders": (50, 50)})
    calls = CallRecorder(rollback_handler.get_clients().route53)
    summary = rollback_handler.handler(sns_alarm_event("orders-5xx"), context())
    assert summary["inSync"] is True
    assert calls.attempts["GetChange"] == 1
    (entry,) = summary["rolledBack"]
    assert entry["dnsSubmittedAt"] and entry["dnsInSyncAt"]
    assert isinstance(entry["recoverySeconds"], float)
    assert summary["alarmChangedAt"] == "2026-11-28T12:00:00.123000Z"


def test_half_record_pairs_fail_the_invocation_once_everything_else_is_done(
    lambda_env: Aws, caplog: pytest.LogCaptureFixture
) -> None:
    lambda_env.seed({"orders": (50, 50)})
    lambda_env.route53.change_resource_record_sets(
        HostedZoneId=lambda_env.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "legacy.migration.internal",
                        "Type": "A",
                        "SetIdentifier": "aws",
                        "Weight": 100,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.9.9.9"}],
                    },
                }
            ]
        },
    )
    event = {"applications": "all", "reason": "incident"}
    with caplog.at_level(logging.INFO, logger="migration.rollback"):
        with pytest.raises(IncompleteRecordPairsError, match="legacy"):
            rollback_handler.handler(event, context("req-5"))
        # Lambda retries the failed asynchronous invocation with the same request id.
        with pytest.raises(IncompleteRecordPairsError, match="legacy"):
            rollback_handler.handler(event, context("req-5"))
    assert lambda_env.weights()["orders"] == {"aws": 0, "on-premises": 100}
    assert lambda_env.inbox.count() == 1
    lines = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "migration.rollback" and r.getMessage().startswith("{")
    ]
    handled = [line for line in lines if line["message"].startswith("rollback handled")]
    assert [line["status"] for line in handled] == ["rolled_back", "duplicate"]
    assert handled[0]["incompletePairs"] == {"legacy": "only the 'aws' record (weight 100)"}
    failed = [line for line in lines if line["message"] == "rollback failed"]
    assert [line["error"] for line in failed] == ["IncompleteRecordPairsError"] * 2


def test_the_services_waits_are_bounded_by_the_invocations_remaining_time() -> None:
    lambda_context = SimpleNamespace(get_remaining_time_in_millis=lambda: 1500)
    remaining = rollback_handler._remaining_seconds(lambda_context)
    assert remaining is not None and remaining() == 1.5
    assert rollback_handler._remaining_seconds(context()) is None
