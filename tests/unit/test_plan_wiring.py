"""The stack reads the migration plan: cutover records per application, DMS per database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Capture, Match, Template

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


def _wave_of(database) -> str:
    return next(w.name for w in PLAN.waves if database in w.databases)


def _parameter(fragment: str) -> Any:
    """A Ref to a parameter the main stack passes to a wave stack (its name holds ``fragment``)."""
    return {"Ref": Match.string_like_regexp(f"^referencetoTapStackdev.*{fragment}")}


@pytest.mark.parametrize("database", PLAN.databases, ids=lambda d: d.name)
def test_each_database_has_a_validated_full_load_and_cdc_task(default_synth, database):
    mappings = Capture()
    settings = Capture()
    default_synth.wave_template(_wave_of(database)).has_resource_properties(
        "AWS::DMS::ReplicationTask",
        {
            "ReplicationTaskIdentifier": f"{database.name}-dev",
            "MigrationType": "full-load-and-cdc",
            "ReplicationInstanceArn": _parameter("ReplicationInstance"),
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
def test_endpoints_take_credentials_from_secrets_manager_only(default_synth, database):
    settings_key = {"postgres": "PostgreSqlSettings", "mysql": "MySqlSettings"}[database.engine]
    template = default_synth.wave_template(_wave_of(database))
    for endpoint_type, endpoint in (("source", database.source), ("target", database.target)):
        template.has_resource_properties(
            "AWS::DMS::Endpoint",
            {
                "EndpointType": endpoint_type,
                "EngineName": database.engine,
                "DatabaseName": endpoint.database,
                "SslMode": "require",
                "KmsKeyId": _parameter("EncryptionKey"),
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


def test_cdc_latency_alarm_per_database_triggers_rollback(default_synth):
    for database in PLAN.databases:
        template = default_synth.wave_template(_wave_of(database))
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
                        "Value": {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": task}]}]},
                    },
                ],
            },
        )
    # The stack's rule: both tunnels down; each wave's rule: its databases' CDC latency alarms
    # (by their derived names) and its applications' plan alarms.
    stack_rule = _rules(default_synth.template)["RollbackTrigger85047A48"]
    assert stack_rule["EventPattern"]["resources"] == [
        {"Fn::GetAtt": ["MonitoringVpnBothTunnelsDownE76C8EE6", "Arn"]}
    ]
    assert _wave_alarm_names(default_synth, "wave-1") == [
        "migration-dev-orders-db-cdc-latency",
        "orders-api-5xx",
        "storefront-latency-p99",
    ]
    assert _wave_alarm_names(default_synth, "wave-2") == ["migration-dev-inventory-db-cdc-latency"]


def _wave_alarm_names(synthesized, wave: str) -> list[str]:
    (rule,) = [r for r in _rules(synthesized.wave_template(wave)).values() if "EventPattern" in r]
    return list(rule["EventPattern"]["detail"]["alarmName"])


def test_no_plan_mapping_in_the_rollback_functions_environment(template):
    # Whom each alarm targets and each application's record name are read at run time
    # from the registered plan (migration.registry): the environment does not grow.
    env = _lambda_environment(template)
    assert "ALARM_APPLICATIONS" not in env
    assert "APPLICATION_RECORDS" not in env


def test_a_database_no_application_uses_notifies_but_never_rolls_back(synth):
    plan = ROOT / "tests" / "fixtures" / "plans" / "unused-database.yaml"
    synthesized = synth(planFile=str(plan))
    (wave,) = synthesized.stack.wave_stacks
    template = Template.from_stack(wave)
    # The forward task and the prepared reverse task; neither alarm rolls anything back.
    template.resource_count_is("AWS::DMS::ReplicationTask", 2)
    template.resource_count_is("AWS::CloudWatch::Alarm", 2)
    template.resource_count_is("AWS::Events::Rule", 0)
    # The stack's alarm rule only; the other rule is the controller's tick.
    alarm_rules = {k: r for k, r in _rules(synthesized.template).items() if "EventPattern" in r}
    (rule,) = alarm_rules.values()
    assert rule["EventPattern"]["resources"] == [
        {"Fn::GetAtt": ["MonitoringVpnBothTunnelsDownE76C8EE6", "Arn"]}
    ]


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
