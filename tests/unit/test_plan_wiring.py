"""The stack reads the migration plan: cutover records per application, DMS per database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Capture, Match

import tap
from lib.config import ConfigError
from migration.plan import load_plan
from tests.conftest import ROOT

PLAN = load_plan(tap.DEFAULT_PLAN)


def test_default_plan_is_the_example():
    assert tap.DEFAULT_PLAN == ROOT / "examples" / "migration-plan.yaml"
    assert [a.name for a in PLAN.applications] == ["orders-api", "storefront", "inventory"]


def test_no_deploy_can_move_traffic_the_template_owns_no_record(template):
    # Record pairs and database names are created by `migrate plan apply` (the runtime),
    # so no CloudFormation update can write weights or a writer back.
    template.resource_count_is("AWS::Route53::RecordSet", 0)
    template.resource_count_is("AWS::Route53::RecordSetGroup", 0)


@pytest.mark.parametrize("database", PLAN.databases, ids=lambda d: d.name)
def test_each_database_has_a_validated_full_load_and_cdc_task(template, database):
    mappings = Capture()
    settings = Capture()
    template.has_resource_properties(
        "AWS::DMS::ReplicationTask",
        {
            "ReplicationTaskIdentifier": f"{database.name}-dev",
            "MigrationType": "full-load-and-cdc",
            "ReplicationInstanceArn": {"Ref": "DatabaseMigrationReplicationInstanceAF38F1A2"},
            "TableMappings": mappings,
            "ReplicationTaskSettings": settings,
        },
    )
    assert json.loads(settings.as_string())["ValidationSettings"]["EnableValidation"] is True
    rules = json.loads(mappings.as_string())["rules"]
    assert [r["object-locator"] for r in rules] == [
        {"schema-name": t.schema_name, "table-name": t.table_name} for t in database.tables
    ]


@pytest.mark.parametrize("database", PLAN.databases, ids=lambda d: d.name)
def test_endpoints_take_credentials_from_secrets_manager_only(template, database):
    settings_key = {"postgres": "PostgreSqlSettings", "mysql": "MySqlSettings"}[database.engine]
    for endpoint_type, endpoint in (("source", database.source), ("target", database.target)):
        template.has_resource_properties(
            "AWS::DMS::Endpoint",
            {
                "EndpointType": endpoint_type,
                "EngineName": database.engine,
                "DatabaseName": endpoint.database,
                "SslMode": "require",
                "KmsKeyId": {"Fn::GetAtt": ["EncryptionKey3A692D6E", "Arn"]},
                settings_key: {
                    "SecretsManagerSecretId": endpoint.secret,
                    "SecretsManagerAccessRoleArn": {
                        "Fn::GetAtt": [Match.string_like_regexp("SecretsAccessRole"), "Arn"]
                    },
                },
                "Password": Match.absent(),
                "Username": Match.absent(),
            },
        )


def test_no_password_anywhere_in_the_template(default_synth):
    text = default_synth.template_path.read_text().lower()
    assert '"password"' not in text


def _rules(template) -> dict[str, dict]:
    return {k: r["Properties"] for k, r in template.find_resources("AWS::Events::Rule").items()}


def _lambda_environment(template) -> dict:
    """The rollback function's environment (the cutover controller is the other function)."""
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "migration.handlers.rollback.handler"}}
    ).values()
    return function["Properties"]["Environment"]["Variables"]


def test_cdc_latency_alarm_per_database_triggers_rollback(template):
    for database in PLAN.databases:
        task = Match.string_like_regexp(f"ReplicationTasks{database.name.replace('-', '')}Task")
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": "CDCLatencySource",
                "Threshold": database.cdc_latency_threshold_seconds,
                "Dimensions": [
                    {"Name": "ReplicationInstanceIdentifier", "Value": "migration-dms-dev"},
                    # DMS publishes the task's resource id (last part of its ARN), not its name.
                    {
                        "Name": "ReplicationTaskIdentifier",
                        "Value": {
                            "Fn::Select": [
                                6,
                                {
                                    "Fn::Split": [
                                        ":",
                                        {"Ref": task},
                                    ]
                                },
                            ]
                        },
                    },
                ],
            },
        )
    stack_rule = _rules(template)["RollbackTrigger85047A48"]
    # Both-tunnels-down plus one CDC latency alarm per database.
    assert stack_rule["EventPattern"]["resources"] == [
        {"Fn::GetAtt": ["MonitoringVpnBothTunnelsDownE76C8EE6", "Arn"]},
        {"Fn::GetAtt": ["MonitoringCdcLatencyordersdbdev4FF28625", "Arn"]},
        {"Fn::GetAtt": ["MonitoringCdcLatencyinventorydbdevB234FBCE", "Arn"]},
    ]


def test_plan_alarms_trigger_rollback_by_name(template):
    rule = _rules(template)["PlanAlarmRollbackTrigger31E22309"]
    assert rule["EventPattern"]["detail"] == {
        "alarmName": ["orders-api-5xx", "storefront-latency-p99"]
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RollbackFunction0D77E616", "Arn"]}


def test_no_plan_mapping_in_the_rollback_functions_environment(template):
    # Whom each alarm targets and each application's record name are read at run time
    # from the registered plan (migration.registry): the environment does not grow.
    env = _lambda_environment(template)
    assert "ALARM_APPLICATIONS" not in env
    assert "APPLICATION_RECORDS" not in env


def test_a_database_no_application_uses_notifies_but_never_rolls_back(synth):
    plan = ROOT / "tests" / "fixtures" / "plans" / "unused-database.yaml"
    template = synth(planFile=str(plan)).template
    # The forward task and the prepared reverse task; neither alarm rolls anything back.
    template.resource_count_is("AWS::DMS::ReplicationTask", 2)
    # The stack's alarm rule only (no plan alarm rule); the other rule is the controller's tick.
    alarm_rules = {k: r for k, r in _rules(template).items() if "EventPattern" in r}
    (rule,) = alarm_rules.values()
    assert rule["EventPattern"]["resources"] == [
        {"Fn::GetAtt": ["MonitoringVpnBothTunnelsDownE76C8EE6", "Arn"]}
    ]
    env = _lambda_environment(template)
    assert "ALARM_APPLICATIONS" not in env
    # billing.migration.internal follows the convention: nothing to tell the runtime.
    assert "APPLICATION_RECORDS" not in env


def test_dms_security_group_allows_the_plans_database_ports(template):
    ports = {e.port for d in PLAN.databases for e in (d.source, d.target)}
    groups = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": Match.string_like_regexp("DMS")}},
    )
    (group,) = groups.values()
    egress_ports = {rule["FromPort"] for rule in group["Properties"]["SecurityGroupEgress"]}
    assert egress_ports == ports | {443}


def test_an_empty_plan_keeps_every_seed_resource_and_adds_none(site_template):
    site_template.resource_count_is("AWS::Route53::RecordSet", 0)
    site_template.resource_count_is("AWS::DMS::ReplicationTask", 0)
    site_template.resource_count_is("AWS::DMS::Endpoint", 0)
    for seed_type in (
        "AWS::KMS::Key",
        "AWS::EC2::VPC",
        "AWS::EC2::VPNConnection",
        "AWS::DMS::ReplicationInstance",
        "AWS::Route53::HostedZone",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SSM::Document",
        "AWS::CloudWatch::Dashboard",
    ):
        site_template.resource_count_is(seed_type, 1)
    # The rollback function and the cutover controller, with or without a plan.
    site_template.resource_count_is("AWS::Lambda::Function", 2)
    # The inbound Resolver endpoint always; no domains to forward: no outbound endpoint, no rule.
    site_template.resource_count_is("AWS::Route53Resolver::ResolverEndpoint", 1)
    site_template.has_resource_properties(
        "AWS::Route53Resolver::ResolverEndpoint", {"Direction": "INBOUND"}
    )
    site_template.resource_count_is("AWS::Route53Resolver::ResolverRule", 0)


def test_plan_site_configures_the_vpn_unless_context_overrides(tmp_path):
    plan = ROOT / "tests" / "fixtures" / "plans" / "empty-wave.yaml"
    app = tap.build_app(cdk.App(context={"planFile": str(plan)}, outdir=str(tmp_path)))
    stack = app.node.find_child("TapStackdev")
    assert stack.customer_gateway.ip_address == "203.0.113.99"
    assert stack.customer_gateway.bgp_asn == 65100


def test_zone_name_context_must_match_the_plan():
    with pytest.raises(ConfigError, match=r"zoneName: 'other.internal' differs from the plan"):
        tap.build_app(cdk.App(context={"zoneName": "other.internal"}))


def test_bad_plan_file_stops_synth_with_field_path_and_exit_2(tmp_path):
    bad = ROOT / "tests" / "fixtures" / "bad_plans" / "shift_steps_not_increasing.yaml"
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"planFile": str(bad)}),
    }
    result = subprocess.run(
        [sys.executable, "tap.py"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "waves[0].applications[0].shift_steps[2]: must be increasing" in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "TapStackdev.template.json").exists()
