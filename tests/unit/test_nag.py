"""cdk-nag acknowledgements: exact findings, attached to the construct that raises them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from lib.nag import acknowledge
from lib.replication_tasks import TASKS_FINDING
from tests.unit.conftest import Synthesized

MANAGED_POLICY_FINDING = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]"
)
REASON = "A test role that reads everything on purpose; nothing else may be acknowledged."


def _suppressed(outdir: Path) -> list[dict[str, Any]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin["suppressedViolations"]


def _app_with_role(outdir: Path, finding: str) -> cdk.App:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Nag")
    role = iam.Role(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("ReadOnlyAccess")],
    )
    acknowledge(role, finding, REASON)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def test_acknowledge_suppresses_exactly_the_named_finding(tmp_path: Path) -> None:
    _app_with_role(tmp_path, MANAGED_POLICY_FINDING).synth()
    (finding,) = _suppressed(tmp_path)
    assert finding["ruleName"] == MANAGED_POLICY_FINDING
    assert finding["acknowledgedId"] == f"AwsSolutions::{MANAGED_POLICY_FINDING}"
    assert finding["reason"] == REASON
    assert finding["acknowledgedAt"] == "Nag/Role"


def test_acknowledging_another_policy_does_not_hide_the_finding(tmp_path: Path) -> None:
    other = MANAGED_POLICY_FINDING.replace("ReadOnlyAccess", "ViewOnlyAccess")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        _app_with_role(tmp_path, other).synth()


def test_stack_acknowledgements_sit_on_the_constructs_that_raise_them(
    default_synth: Synthesized,
) -> None:
    placed = {(f["ruleName"], f["acknowledgedAt"]) for f in _suppressed(default_synth.outdir)}
    # The rollback function and the cutover controller share the rollback service's grants.
    shared = {
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]",
        "AwsSolutions-IAM5[Resource::<TrackingTable3514576F.Arn>/index/*]",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    }
    assert placed == {
        (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonDMSVPCManagementRole]",
            "TapStackdev/DatabaseMigration/DmsVpcRole",
        ),
        (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AWSApplicationMigrationAgentInstallationPolicy]",
            "TapStackdev/ServerReplication/AgentInstallationRole",
        ),
        *((rule, "TapStackdev/Rollback/Role") for rule in shared),
        *((rule, "TapStackdev/CutoverController/Role") for rule in shared),
        *((rule, "TapStackdev/DatabaseStep/Role") for rule in shared),
        ("AwsSolutions-IAM5[Resource::*]", "TapStackdev/DatabaseStep/Role"),
        # The plan's secrets, all under migration/ (lib/replication_tasks.py grant_secret_reads).
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
            "<AWS::AccountId>:secret:migration/*]",
            "TapStackdev/DatabaseStep/Role",
        ),
        # Each wave stack's DMS access role: its databases' secrets (one database per wave in
        # the example, so its own folder).
        *(
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
                f"<AWS::AccountId>:secret:migration/{database}/*]",
                f"TapStackdev/Wave-{wave}/ReplicationTasks/SecretsAccessRole",
            )
            for wave, database in (("wave-1", "orders-db"), ("wave-2", "inventory-db"))
        ),
        # Per-task DMS actions on the tasks carrying this stack's tag (lib/replication_tasks.py).
        (TASKS_FINDING, "TapStackdev/DatabaseStep/Role"),
        (TASKS_FINDING, "TapStackdev/CutoverController/Role"),
        # The gates' read-only calls without resource-level permissions, and alarm reads.
        ("AwsSolutions-IAM5[Resource::*]", "TapStackdev/CutoverController/Role"),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:"
            "<AWS::AccountId>:alarm:*]",
            "TapStackdev/CutoverController/Role",
        ),
        ("AwsSolutions-IAM5[Resource::*]", "TapStackdev/Rollback/Role"),
        ("AwsSolutions-SQS3", "TapStackdev/Rollback/TriggerDeadLetterQueue"),
        ("AwsSolutions-SQS3", "TapStackdev/CutoverController/ScheduleDeadLetterQueue"),
    }


def test_no_dms_role_acknowledgement_without_the_role(qa_synth: Synthesized) -> None:
    rules = {f["ruleName"] for f in _suppressed(qa_synth.outdir)}
    assert rules
    assert not [r for r in rules if "AmazonDMSVPCManagementRole" in r]
