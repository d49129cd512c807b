"""The stack outputs loader: flat-outputs.json or CloudFormation, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from migration.errors import OutputsError
from migration.outputs import (
    SEED_OUTPUTS,
    CutoverSettings,
    ServerMigrationSettings,
    fetch_outputs,
    load_outputs,
    parse_outputs,
)

SETTINGS = {
    "environmentSuffix": "dev",
    "replicationInstanceIdentifier": "migration-dms-dev",
    "replicationTasks": {"orders-db": "orders-db-dev"},
    "alarms": {"vpn-tunnel-down": "VpnTunnelDown-dev"},
    "cdcLatencyAlarms": {"orders-db": "CdcLatency-orders-db-dev"},
}


def outputs(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {name: f"{name}-value" for name in SEED_OUTPUTS}
    data["CutoverSettings"] = json.dumps(SETTINGS)
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "flat-outputs.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_load_a_complete_file(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(outputs(Extra="kept")))
    loaded = load_outputs(path)
    assert loaded.source == str(path)
    assert loaded.hosted_zone_id == "PrivateHostedZoneId-value"
    assert loaded.table_name == "MigrationTrackingTableName-value"
    assert loaded.topic_arn == "SnsTopicArn-value"
    assert loaded.rollback_function_arn == "RollbackLambdaArn-value"
    assert loaded.vpn_connection_id == "VpnConnectionId-value"
    assert loaded["Extra"] == "kept"
    assert loaded.settings == CutoverSettings(
        environment_suffix="dev",
        replication_instance_identifier="migration-dms-dev",
        replication_tasks={"orders-db": "orders-db-dev"},
        alarms={"vpn-tunnel-down": "VpnTunnelDown-dev"},
        cdc_latency_alarms={"orders-db": "CdcLatency-orders-db-dev"},
    )


def test_optional_settings_maps_default_to_empty() -> None:
    settings = {k: SETTINGS[k] for k in ("environmentSuffix", "replicationInstanceIdentifier")}
    parsed = parse_outputs(outputs(CutoverSettings=json.dumps(settings)), "src")
    assert parsed.settings.replication_tasks == {}
    assert parsed.settings.alarms == {}
    assert parsed.settings.cdc_latency_alarms == {}
    assert parsed.settings.reverse_replication_tasks == {}
    assert parsed.settings.reverse_cdc_latency_alarms == {}


# What the stack outputs now: no per-database map (issue 10).
CURRENT = {
    "environmentSuffix": "prod",
    "replicationInstanceIdentifier": "migration-dms-prod",
    "alarms": {"vpn-tunnel-down": "VpnTunnelDown-prod"},
}


def test_per_database_names_are_derived_from_the_suffix() -> None:
    parsed = parse_outputs(outputs(CutoverSettings=json.dumps(CURRENT)), "src").settings
    assert parsed.task_identifier("orders-db") == "orders-db-prod"
    assert parsed.reverse_task_identifier("orders-db") == "orders-db-reverse-prod"
    assert parsed.cdc_latency_alarm("orders-db") == "migration-prod-orders-db-cdc-latency"
    assert (
        parsed.reverse_cdc_latency_alarm("orders-db")
        == "migration-prod-orders-db-reverse-cdc-latency"
    )
    assert parsed.cdc_latency_alarms_of(["orders-db", "shop-db"]) == {
        "orders-db": "migration-prod-orders-db-cdc-latency",
        "shop-db": "migration-prod-shop-db-cdc-latency",
    }


def test_older_outputs_with_per_database_maps_are_read_and_win() -> None:
    older = {
        **SETTINGS,
        "reverseReplicationTasks": {"orders-db": "orders-db-reverse-dev"},
        "reverseCdcLatencyAlarms": {"orders-db": "CdcLatency-orders-db-reverse-dev"},
        "databaseNames": {"orders-db": "orders-db.db.migration.internal"},
    }
    parsed = parse_outputs(outputs(CutoverSettings=json.dumps(older)), "src").settings
    assert parsed.reverse_replication_tasks == {"orders-db": "orders-db-reverse-dev"}
    assert parsed.reverse_cdc_latency_alarms == {"orders-db": "CdcLatency-orders-db-reverse-dev"}
    # The map's entry wins over the derived name; a database not in it gets the derived one.
    assert parsed.task_identifier("orders-db") == "orders-db-dev"
    assert parsed.cdc_latency_alarm("orders-db") == "CdcLatency-orders-db-dev"
    assert parsed.reverse_task_identifier("orders-db") == "orders-db-reverse-dev"
    assert parsed.reverse_cdc_latency_alarm("orders-db") == "CdcLatency-orders-db-reverse-dev"
    assert parsed.cdc_latency_alarm("shop-db") == "migration-dev-shop-db-cdc-latency"
    # A database's name in the zone comes from the plan (DatabaseSpec.dns_name), not from here.
    assert not hasattr(parsed, "database_names")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(OutputsError) as caught:
        load_outputs(path)
    assert str(caught.value) == (
        f"{path}: not found; deploy first (make deploy) or pass --stack NAME (a local "
        "deployment writes cfn-outputs/local/flat-outputs.json: pass --outputs)"
    )
    assert caught.value.source == str(path)


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(OutputsError, match=r": cannot be read \("):
        load_outputs(tmp_path)  # a directory


def test_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"VpcId": "vpc-1",\n  oops}')
    with pytest.raises(OutputsError) as caught:
        load_outputs(path)
    assert str(caught.value).startswith(f"{path}: not valid JSON (line 2: ")


def test_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "[1, 2]")
    with pytest.raises(OutputsError) as caught:
        load_outputs(path)
    assert str(caught.value) == f"{path}: expected a JSON object of stack outputs"


def test_missing_outputs_are_all_named() -> None:
    with pytest.raises(OutputsError) as caught:
        parse_outputs(outputs(SnsTopicArn=None, VpcId="", CutoverSettings=None), "file.json")
    assert str(caught.value) == (
        "file.json: missing output(s) VpcId, SnsTopicArn, CutoverSettings; "
        "is this the migration stack's outputs file?"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "{not json",
            "CutoverSettings: not JSON (Expecting property name enclosed in double quotes)",
        ),
        ("[]", "CutoverSettings: expected a JSON object"),
        (
            json.dumps({**SETTINGS, "environmentSuffix": ""}),
            "CutoverSettings.environmentSuffix: expected a non-empty string",
        ),
        (
            json.dumps({k: v for k, v in SETTINGS.items() if k != "replicationInstanceIdentifier"}),
            "CutoverSettings.replicationInstanceIdentifier: expected a non-empty string",
        ),
        (
            json.dumps({**SETTINGS, "replicationTasks": ["orders-db"]}),
            "CutoverSettings.replicationTasks: expected an object of names",
        ),
        (
            json.dumps({**SETTINGS, "alarms": {"vpn-tunnel-down": ""}}),
            "CutoverSettings.alarms: expected an object of names",
        ),
        (
            json.dumps({**SETTINGS, "cdcLatencyAlarms": {"orders-db": 3}}),
            "CutoverSettings.cdcLatencyAlarms: expected an object of names",
        ),
        (
            json.dumps({**SETTINGS, "reverseReplicationTasks": "orders-db-reverse-dev"}),
            "CutoverSettings.reverseReplicationTasks: expected an object of names",
        ),
        (
            json.dumps({**SETTINGS, "reverseCdcLatencyAlarms": {"orders-db": None}}),
            "CutoverSettings.reverseCdcLatencyAlarms: expected an object of names",
        ),
    ],
)
def test_bad_cutover_settings(settings: str, message: str) -> None:
    with pytest.raises(OutputsError) as caught:
        parse_outputs(outputs(CutoverSettings=settings), "file.json")
    assert str(caught.value) == f"file.json: {message}"


TEMPLATE_OUTPUTS = {name: {"Value": f"{name}-value"} for name in SEED_OUTPUTS}


@mock_aws
def test_fetch_outputs_from_cloudformation() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {**TEMPLATE_OUTPUTS, "CutoverSettings": {"Value": json.dumps(SETTINGS)}},
    }
    cloudformation.create_stack(StackName="TapStackdev", TemplateBody=json.dumps(template))
    fetched = fetch_outputs(cloudformation, "TapStackdev")
    assert fetched.source == "stack TapStackdev"
    assert fetched.table_name == "MigrationTrackingTableName-value"
    assert fetched.settings.replication_tasks == {"orders-db": "orders-db-dev"}


@mock_aws
def test_fetch_outputs_of_a_missing_stack() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with pytest.raises(OutputsError) as caught:
        fetch_outputs(cloudformation, "Nope")
    assert str(caught.value).startswith("stack Nope: cannot be described (")


@mock_aws
def test_fetch_outputs_of_a_stack_without_the_settings_output() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": TEMPLATE_OUTPUTS}
    cloudformation.create_stack(StackName="Old", TemplateBody=json.dumps(template))
    with pytest.raises(OutputsError) as caught:
        fetch_outputs(cloudformation, "Old")
    assert str(caught.value) == (
        "stack Old: missing output(s) CutoverSettings; is this the migration stack's outputs file?"
    )


SERVER_SETTINGS = {
    "stagingSubnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "replicationSecurityGroupId": "sg-0123456789abcdef0",
    "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/abc",
    "launchConfigurationTemplateId": "lct-0123456789abcdef0",
    "validationDocumentName": "migration-validation-dev",
    "launchSecurityGroupId": "sg-0fedcba9876543210",
}


def test_server_migration_settings_are_read_when_asked() -> None:
    loaded = parse_outputs(outputs(ServerMigrationSettings=json.dumps(SERVER_SETTINGS)), "f.json")
    assert loaded.server_migration_settings() == ServerMigrationSettings(
        staging_subnet_ids=("subnet-0123456789abcdef0", "subnet-0fedcba9876543210"),
        replication_security_group_id="sg-0123456789abcdef0",
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/abc",
        launch_configuration_template_id="lct-0123456789abcdef0",
        validation_document_name="migration-validation-dev",
        launch_security_group_id="sg-0fedcba9876543210",
    )
    assert loaded.server_migration_settings().staging_subnet_id == "subnet-0123456789abcdef0"


def test_launch_security_group_is_optional_for_older_stacks() -> None:
    older = {k: v for k, v in SERVER_SETTINGS.items() if k != "launchSecurityGroupId"}
    loaded = parse_outputs(outputs(ServerMigrationSettings=json.dumps(older)), "f.json")
    assert loaded.server_migration_settings().launch_security_group_id is None


def test_server_migration_settings_are_optional_until_asked() -> None:
    loaded = parse_outputs(outputs(), "f.json")  # an older stack: every command still works
    with pytest.raises(OutputsError) as caught:
        loaded.server_migration_settings()
    assert str(caught.value) == (
        "f.json: missing output ServerMigrationSettings; deploy the stack version that creates"
        " MGN's settings, then write the outputs again"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "{",
            "ServerMigrationSettings: not JSON (Expecting property name enclosed in double quotes)",
        ),
        ("[]", "ServerMigrationSettings: expected a JSON object"),
        (
            json.dumps({**SERVER_SETTINGS, "stagingSubnetIds": []}),
            "ServerMigrationSettings.stagingSubnetIds: expected a non-empty list of ids",
        ),
        (
            json.dumps({**SERVER_SETTINGS, "stagingSubnetIds": "subnet-0123456789abcdef0"}),
            "ServerMigrationSettings.stagingSubnetIds: expected a non-empty list of ids",
        ),
        (
            json.dumps({**SERVER_SETTINGS, "kmsKeyArn": ""}),
            "ServerMigrationSettings.kmsKeyArn: expected a non-empty string",
        ),
        (
            json.dumps({k: v for k, v in SERVER_SETTINGS.items() if k != "validationDocumentName"}),
            "ServerMigrationSettings.validationDocumentName: expected a non-empty string",
        ),
        (
            json.dumps({**SERVER_SETTINGS, "launchSecurityGroupId": ""}),
            "ServerMigrationSettings.launchSecurityGroupId: expected a non-empty string",
        ),
    ],
)
def test_bad_server_migration_settings(settings: str, message: str) -> None:
    loaded = parse_outputs(outputs(ServerMigrationSettings=settings), "file.json")
    with pytest.raises(OutputsError) as caught:
        loaded.server_migration_settings()
    assert str(caught.value) == f"file.json: {message}"
