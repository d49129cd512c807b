"""The composed stack: public attributes, outputs, wiring, stable logical IDs and props."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dms as dms
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_mgn as mgn
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk.assertions import Capture, Match, Template

from lib import config as config_module
from lib.config import MigrationConfig, NetworkConfig
from lib.name_resolution import NameResolution
from lib.tap_stack import LOG_RETENTION, TapStack, TapStackProps
from tests.unit.conftest import Synthesized

# Logical IDs of the resources that hold state. CloudFormation replaces a resource whose logical ID
# changes: renaming a construct on this path would delete the key (and every encrypted thing with
# it), the tracking history, the cutover records or the replication instance. Literal on purpose.
STATEFUL_LOGICAL_IDS = {
    "EncryptionKey3A692D6E": "AWS::KMS::Key",
    "TrackingTable3514576F": "AWS::DynamoDB::Table",
    "TrafficHostedZone35B4C649": "AWS::Route53::HostedZone",
    "DatabaseMigrationReplicationInstanceAF38F1A2": "AWS::DMS::ReplicationInstance",
}

OUTPUT_VALUES = {
    "VpcId": {"Ref": "NetworkVpc7FB7348F"},
    "DmsReplicationInstanceArn": {"Ref": "DatabaseMigrationReplicationInstanceAF38F1A2"},
    "CloudEndureRoleArn": {"Fn::GetAtt": ["ServerReplicationAgentInstallationRoleEB10301E", "Arn"]},
    "VpnConnectionId": {"Ref": "HybridConnectivityVpnConnectionFE7A6FB7"},
    "PrivateHostedZoneId": {"Ref": "TrafficHostedZone35B4C649"},
    "MigrationTrackingTableName": {"Ref": "TrackingTable3514576F"},
    "SnsTopicArn": {"Ref": "NotificationsTopicAE679CBD"},
    "SsmDocumentName": {"Ref": "ValidationPostMigrationValidation26F36B18"},
    "RollbackLambdaArn": {"Fn::GetAtt": ["RollbackFunction0D77E616", "Arn"]},
    "DashboardName": {"Ref": "MonitoringDashboard0C3675C6"},
}
# Added after CutoverSettings: the server-side cutover (optional for the runtime), then the
# addresses on-premises DNS forwards the migration zone to.
CONTROLLER_OUTPUT = {
    "CutoverControllerArn": {"Fn::GetAtt": ["CutoverControllerFunction3CFA05CA", "Arn"]},
    # With planned databases only (tests/unit/test_database_step.py).
    "DatabaseStepFunctionArn": {"Fn::GetAtt": ["DatabaseStepFunctionBD07D551", "Arn"]},
    "ResolverInboundAddresses": "10.0.3.53,10.0.4.53",
}
# Last: what `migrate servers init` configures MGN with (tests/unit/test_server_replication.py).
SERVER_OUTPUT = ["ServerMigrationSettings"]

ATTRIBUTE_TYPES = {
    "kms_key": kms.Key,
    "vpc": ec2.Vpc,
    "customer_gateway": ec2.CfnCustomerGateway,
    "vpn_connection": ec2.CfnVPNConnection,
    "dms_replication_subnet_group": dms.CfnReplicationSubnetGroup,
    "dms_replication_instance": dms.CfnReplicationInstance,
    "cloudendure_role": iam.Role,
    "private_hosted_zone": route53.PrivateHostedZone,
    "migration_tracking_table": dynamodb.Table,
    "sns_topic": sns.Topic,
    "ssm_document": ssm.CfnDocument,
    "rollback_lambda": lambda_.Function,
    "cutover_controller_lambda": lambda_.Function,
    "dashboard": cloudwatch.Dashboard,
    # The database cutover's infrastructure.
    "name_resolution": NameResolution,
    "database_names": dict,
    "dms_reverse_replication_tasks": dict,
    # Server migration (MGN).
    "mgn_launch_template": mgn.CfnLaunchConfigurationTemplate,
    "mgn_replication_security_group": ec2.SecurityGroup,
    "server_migration_settings": dict,
}

RESOURCE_INVENTORY = {
    "AWS::KMS::Key": 1,
    "AWS::EC2::VPC": 1,
    "AWS::EC2::Subnet": 6,
    "AWS::EC2::RouteTable": 6,
    "AWS::EC2::NatGateway": 1,
    "AWS::EC2::EIP": 1,
    "AWS::EC2::InternetGateway": 1,
    "AWS::EC2::VPCGatewayAttachment": 2,
    "AWS::EC2::VPCEndpoint": 2,
    "AWS::EC2::FlowLog": 1,
    # Flow logs, the rollback function's, the cutover controller's and the database step's.
    "AWS::Logs::LogGroup": 4,
    "AWS::EC2::CustomerGateway": 1,
    "AWS::EC2::VPNGateway": 1,
    "AWS::EC2::VPNConnection": 1,
    "AWS::EC2::VPNGatewayRoutePropagation": 1,
    # DMS, the Route 53 Resolver inbound and outbound endpoints, the database step function,
    # MGN's replication servers, MGN's launched instances.
    "AWS::EC2::SecurityGroup": 6,
    "AWS::MGN::LaunchConfigurationTemplate": 1,
    "AWS::DMS::ReplicationSubnetGroup": 1,
    "AWS::DMS::ReplicationInstance": 1,
    "AWS::Route53::HostedZone": 1,
    "AWS::DynamoDB::Table": 1,
    "AWS::SNS::Topic": 1,
    "AWS::SNS::TopicPolicy": 1,
    "AWS::SSM::Document": 1,
    # The rollback function's dead letters, its EventBridge triggers' and the controller
    # schedule's, and the database step function's.
    "AWS::SQS::Queue": 4,
    # The rollback function, the cutover controller and the database step (with its layer).
    "AWS::Lambda::Function": 3,
    "AWS::Lambda::LayerVersion": 1,
    "AWS::CloudWatch::Dashboard": 1,
    # Stack alarms by ARN, the plan's own alarms by name, and the controller's tick.
    # The stack's alarm rule and the controller's schedule (the plan's alarm rules are in the
    # wave stacks).
    "AWS::Events::Rule": 2,
}


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


# --------------------------------------------------------------------------- attributes


@pytest.mark.parametrize(("name", "kind"), ATTRIBUTE_TYPES.items(), ids=list(ATTRIBUTE_TYPES))
def test_seed_attribute_has_its_cdk_type(stack: TapStack, name: str, kind: type) -> None:
    assert isinstance(getattr(stack, name), kind)


def test_stack_keeps_the_environment_suffix(stack: TapStack, qa_synth: Synthesized) -> None:
    assert stack.environment_suffix == "dev"
    assert qa_synth.stack.environment_suffix == "qa"
    assert qa_synth.stack.stack_name == "TapStackqa"


# --------------------------------------------------------------------------- template shape


@pytest.mark.parametrize(
    ("kind", "count"), RESOURCE_INVENTORY.items(), ids=list(RESOURCE_INVENTORY)
)
def test_resource_inventory(template: Template, kind: str, count: int) -> None:
    template.resource_count_is(kind, count)


def test_logical_ids_of_stateful_resources_are_stable(default_synth: Synthesized) -> None:
    resources = default_synth.template_json["Resources"]
    for logical_id, kind in STATEFUL_LOGICAL_IDS.items():
        assert logical_id in resources, f"{kind} {logical_id} renamed: it would be replaced"
        assert resources[logical_id]["Type"] == kind


def test_stateful_attributes_are_the_pinned_resources(stack: TapStack) -> None:
    attributes = {
        "EncryptionKey3A692D6E": stack.kms_key,
        "TrackingTable3514576F": stack.migration_tracking_table,
        "TrafficHostedZone35B4C649": stack.private_hosted_zone,
        "DatabaseMigrationReplicationInstanceAF38F1A2": stack.dms_replication_instance,
    }
    for logical_id, construct in attributes.items():
        resource = (
            construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
        )
        assert stack.get_logical_id(resource) == logical_id


def test_no_log_retention_custom_resource_and_no_inline_code(default_synth: Synthesized) -> None:
    template = default_synth.template_json
    assert not [k for k, v in template["Resources"].items() if v["Type"] == "Custom::LogRetention"]
    assert not [k for k, v in template["Resources"].items() if v["Type"].startswith("Custom::")]
    assert "ZipFile" not in {key for key, _ in _walk(template)}


def test_description_comes_from_the_props(
    default_synth: Synthesized, qa_synth: Synthesized
) -> None:
    assert default_synth.template_json["Description"] == (
        "Phased on-premises to AWS migration orchestration (dev)"
    )
    assert qa_synth.template_json["Description"].endswith("(qa)")


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("name", OUTPUT_VALUES)
def test_output_value_and_export(template: Template, name: str) -> None:
    template.has_output(
        name,
        {
            "Value": OUTPUT_VALUES[name],
            "Export": {"Name": f"{name}-dev"},
            "Description": f"{name} of the migration infrastructure",
        },
    )


def test_the_ten_seed_outputs_then_cutover_settings_then_the_controller(
    default_synth: Synthesized,
) -> None:
    assert list(default_synth.template_json["Outputs"]) == [
        *OUTPUT_VALUES,
        "CutoverSettings",
        *CONTROLLER_OUTPUT,
        *SERVER_OUTPUT,
    ]


def test_cutover_controller_output_and_export(template: Template) -> None:
    template.has_output(
        "CutoverControllerArn",
        {
            "Value": CONTROLLER_OUTPUT["CutoverControllerArn"],
            "Export": {"Name": "CutoverControllerArn-dev"},
            "Description": "CutoverControllerArn of the migration infrastructure",
        },
    )


def test_cutover_settings_name_what_the_runtime_looks_up(default_synth: Synthesized) -> None:
    value = default_synth.template_json["Outputs"]["CutoverSettings"]["Value"]
    parts = value["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "<" + p["Ref"] + ">" for p in parts)
    settings = json.loads(text)
    assert settings["environmentSuffix"] == "dev"
    assert settings["replicationInstanceIdentifier"] == "migration-dms-dev"
    assert settings["alarms"] == {
        "vpn-tunnel-down": "<MonitoringVpnTunnelDown283334FA>",
        "vpn-both-tunnels-down": "<MonitoringVpnBothTunnelsDownE76C8EE6>",
        "rollback-errors": "<MonitoringRollbackErrorsD8B589AF>",
        "rollback-dead-letters": "<MonitoringRollbackDeadLetters06CE06A8>",
    }
    # Nothing per database: the runtime derives those names (migration.database.names) and
    # takes a database's name in the zone from the plan (issue 10).
    assert set(settings) == {"environmentSuffix", "replicationInstanceIdentifier", "alarms"}


def test_export_names_follow_the_suffix(qa_template: Template) -> None:
    outputs = qa_template.find_outputs("*")
    assert {name: o["Export"]["Name"] for name, o in outputs.items()} == {
        name: f"{name}-qa"
        for name in [
            *OUTPUT_VALUES,
            "CutoverSettings",
            *CONTROLLER_OUTPUT,
            *SERVER_OUTPUT,
        ]
    }


# --------------------------------------------------------------------------- rollback trigger


def _rollback_alarm_ids(template: Template) -> set[str]:
    """Alarms that mean "traffic on AWS is unsafe": both tunnels down, and DMS CDC latency."""
    ids = set()
    for logical_id, alarm in template.find_resources("AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        metrics = [properties.get("MetricName")] + [
            q["MetricStat"]["Metric"]["MetricName"] for q in properties.get("Metrics", [])
        ]
        both_down = properties.get("MetricName") == "TunnelState" and (
            properties.get("Statistic") == "Maximum"
        )
        if both_down or "CDCLatencySource" in metrics:
            ids.add(logical_id)
    return ids


def test_alarm_state_changes_of_rollback_alarms_invoke_the_function(template: Template) -> None:
    resources, function = Capture(), Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "resources": resources,
            },
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [function, "Arn"]},
                    "Id": Match.any_value(),
                    "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600},
                    "DeadLetterConfig": {
                        "Arn": {"Fn::GetAtt": ["RollbackTriggerDeadLetterQueue4B181616", "Arn"]}
                    },
                }
            ],
        },
    )
    arns = resources.as_array()
    assert all(set(arn) == {"Fn::GetAtt"} and arn["Fn::GetAtt"][1] == "Arn" for arn in arns)
    alarms = {arn["Fn::GetAtt"][0] for arn in arns}
    assert len(alarms) == len(arns)
    assert "MonitoringVpnBothTunnelsDownE76C8EE6" in alarms
    assert alarms == _rollback_alarm_ids(template)
    # Notify-only alarms never roll back.
    for notify_only in (
        "VpnTunnelDown",
        "RollbackErrors",
        "RollbackDeadLetters",
        "RollbackTriggerDeadLetters",
    ):
        assert not [a for a in alarms if a.startswith(f"Monitoring{notify_only}")]
    assert function.as_string() == "RollbackFunction0D77E616"
    rule = "RollbackTrigger85047A48"
    assert rule in template.find_resources("AWS::Events::Rule")
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [function.as_string(), "Arn"]},
            "SourceArn": {"Fn::GetAtt": [rule, "Arn"]},
        },
    )


# --------------------------------------------------------------------------- log retention map


def test_every_accepted_retention_has_a_cloudwatch_value() -> None:
    assert sorted(LOG_RETENTION) == sorted(config_module._LOG_RETENTION_DAYS)


def test_retention_values_are_the_same_number_of_days() -> None:
    stack = cdk.Stack(cdk.App(), "Retention")
    expected = {}
    for days, retention in LOG_RETENTION.items():
        group = logs.LogGroup(stack, f"Group{days}", retention=retention)
        expected[stack.get_logical_id(group.node.default_child)] = days
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    assert {k: g["Properties"]["RetentionInDays"] for k, g in groups.items()} == expected


# --------------------------------------------------------------------------- props


def test_props_keep_the_suffix_and_build_the_default_config_from_it() -> None:
    props = TapStackProps(environment_suffix="qa")
    assert props.environment_suffix == "qa"
    assert props.config == MigrationConfig(environment_suffix="qa")


def test_props_keep_a_given_config() -> None:
    config = MigrationConfig(environment_suffix="qa", log_retention_days=90)
    assert TapStackProps(environment_suffix="qa", config=config).config is config


def test_props_reject_a_config_for_another_suffix() -> None:
    with pytest.raises(ValueError, match=r"environment_suffix 'qa' differs .* 'dev'"):
        TapStackProps(environment_suffix="qa", config=MigrationConfig())


def test_props_carry_any_stack_props() -> None:
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    props = TapStackProps(
        environment_suffix="dev",
        env=env,
        description="d",
        termination_protection=True,
        stack_name="custom",
    )
    assert props.env == env
    assert props.description == "d"
    assert props.termination_protection is True
    assert props.stack_name == "custom"
    assert isinstance(props, cdk.StackProps)


@pytest.fixture(scope="module")
def stack_from_props() -> TapStack:
    """A TapStack built (not synthesized) from props carrying StackProps, and one keyword."""
    config = MigrationConfig(
        region="eu-west-1",
        network=NetworkConfig(availability_zones=("eu-west-1a", "eu-west-1b")),
    )
    props = TapStackProps(
        environment_suffix="dev",
        config=config,
        env=cdk.Environment(account="111111111111", region="eu-west-1"),
        description="from props",
        termination_protection=True,
    )
    return TapStack(cdk.App(), "FromProps", props=props, description="from keywords")


def test_stack_applies_the_stack_props_of_its_props(stack_from_props: TapStack) -> None:
    assert stack_from_props.region == "eu-west-1"
    assert stack_from_props.account == "111111111111"
    assert stack_from_props.termination_protection is True
    assert stack_from_props.vpc.availability_zones == ["eu-west-1a", "eu-west-1b"]


def test_explicit_keywords_win_over_props(stack_from_props: TapStack) -> None:
    assert stack_from_props.template_options.description == "from keywords"
