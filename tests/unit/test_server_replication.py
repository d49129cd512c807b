"""Server replication: the MGN (CloudEndure successor) agent-installation role, the replication
servers' security group, the launch configuration template, the key policy for MGN and the
``ServerMigrationSettings`` output."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from lib.server_replication import ServerReplication, launch_defaults
from lib.tap_stack import TapStack
from migration.plan import Plan, parse_plan
from migration.plan.model import ServerDefaults
from migration.servers.spec import VALIDATION_TIMEOUT_SECONDS
from tests.unit.conftest import Synthesized

ROLE_ID = "ServerReplicationAgentInstallationRoleEB10301E"


def test_agent_installation_role(template: Template) -> None:
    role = template.to_json()["Resources"][ROLE_ID]
    assert role["Type"] == "AWS::IAM::Role"
    properties = role["Properties"]
    assert properties["AssumeRolePolicyDocument"] == {
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {
                    "AWS": {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
                },
            }
        ],
        "Version": "2012-10-17",
    }
    # Short-lived credentials for the installer: one hour.
    assert properties["MaxSessionDuration"] == 3600
    assert properties["ManagedPolicyArns"] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::aws:policy/AWSApplicationMigrationAgentInstallationPolicy",
                ],
            ]
        }
    ]
    assert properties["Description"].endswith("agent installation (dev)")
    assert "CloudEndure" in properties["Description"]
    assert "Policies" not in properties


def test_no_inline_policy_widens_the_role(template: Template) -> None:
    assert not template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": ROLE_ID}]}}
    )


def test_cloudendure_role_attribute(stack: TapStack) -> None:
    assert isinstance(stack.cloudendure_role, iam.Role)
    assert stack.resolve(stack.cloudendure_role.role_arn) == {"Fn::GetAtt": [ROLE_ID, "Arn"]}


# --------------------------------------------------------------------------- MGN launch template

LAUNCH_TEMPLATE_ID = "ServerReplicationLaunchConfigurationTemplate0C0D829E"
SECURITY_GROUP_ID = "ServerReplicationReplicationServerSecurityGroup496D1C6B"
LAUNCH_SECURITY_GROUP_ID = "ServerReplicationLaunchedInstanceSecurityGroupE1901144"
KEY_ID = "EncryptionKey3A692D6E"
DOCUMENT_ID = "ValidationPostMigrationValidation26F36B18"


def test_one_launch_template_validating_every_launch_with_the_project_document(
    template: Template,
) -> None:
    template.resource_count_is("AWS::MGN::LaunchConfigurationTemplate", 1)
    properties = template.to_json()["Resources"][LAUNCH_TEMPLATE_ID]["Properties"]
    assert properties["PostLaunchActions"] == {
        "Deployment": "TEST_AND_CUTOVER",
        "SsmDocuments": [
            {
                "ActionName": "post-migration-validation",
                "SsmDocumentName": {"Ref": DOCUMENT_ID},
                "MustSucceedForCutover": True,
                "TimeoutSeconds": VALIDATION_TIMEOUT_SECONDS,
            }
        ],
    }
    assert properties["LaunchDisposition"] == "STARTED"
    assert properties["AssociatePublicIpAddress"] is False
    # The post-launch actions' SSM parameters are encrypted with the project key.
    assert properties["EnableParametersEncryption"] is True
    assert properties["ParametersEncryptionKey"] == {"Fn::GetAtt": [KEY_ID, "Arn"]}


def test_example_plan_first_wave_defaults_are_mgn_defaults(template: Template) -> None:
    properties = template.to_json()["Resources"][LAUNCH_TEMPLATE_ID]["Properties"]
    assert properties["TargetInstanceTypeRightSizingMethod"] == "BASIC"
    assert properties["Licensing"] == {"OsByol": False}
    assert properties["BootMode"] == "USE_SOURCE"


def test_a_plan_without_servers_gets_mgn_defaults(site_template: Template) -> None:
    site_template.has_resource_properties(
        "AWS::MGN::LaunchConfigurationTemplate",
        {
            "TargetInstanceTypeRightSizingMethod": "BASIC",
            "Licensing": {"OsByol": False},
            "BootMode": "USE_SOURCE",
        },
    )


def _plan(*waves: dict[str, Any]) -> Plan:
    site = {
        "customer_gateway_ip": "203.0.113.10",
        "bgp_asn": 65000,
        "on_premises_cidrs": ["192.168.0.0/16"],
    }
    return parse_plan({"site": site, "waves": list(waves)})


SERVER = {"id": "web-01", "hostname": "web-01.corp.example.com", "ip": "192.168.10.5"}
BYOL_DEFAULTS = {"instance_type": "m6i.large", "licensing": "byol", "boot_mode": "uefi"}


def test_launch_defaults_are_the_first_wave_with_servers() -> None:
    plan = _plan(
        {"name": "no-servers", "server_defaults": {"licensing": "byol"}},
        {"name": "servers", "server_defaults": BYOL_DEFAULTS, "servers": [SERVER]},
        {"name": "later", "servers": [{**SERVER, "id": "web-02", "ip": "192.168.10.6"}]},
    )
    assert launch_defaults(plan) == ServerDefaults(
        instance_type="m6i.large", licensing="byol", boot_mode="uefi"
    )
    assert launch_defaults(_plan({"name": "empty"})) == ServerDefaults()
    assert launch_defaults(None) == ServerDefaults()


def test_plan_defaults_other_than_mgn_defaults_reach_the_template() -> None:
    plan = _plan({"name": "w", "server_defaults": BYOL_DEFAULTS, "servers": [SERVER]})
    stack = cdk.Stack(cdk.App(), "Servers", env=cdk.Environment(region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a"], nat_gateways=0)
    ServerReplication(
        stack,
        "ServerReplication",
        environment_suffix="t",
        vpc=vpc,
        key=kms.Key(stack, "Key"),
        on_premises_cidrs=["192.168.0.0/16"],
        validation_document_name="Validate",
        server_defaults=launch_defaults(plan),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::MGN::LaunchConfigurationTemplate",
        {
            # An EC2 type: right-sizing off (the type itself is per server, servers init).
            "TargetInstanceTypeRightSizingMethod": "NONE",
            "Licensing": {"OsByol": True},
            "BootMode": "UEFI",
            "PostLaunchActions": Match.object_like(
                {"SsmDocuments": [Match.object_like({"SsmDocumentName": "Validate"})]}
            ),
        },
    )


def test_replication_security_group_admits_only_replication_from_on_premises(
    template: Template,
) -> None:
    group = template.to_json()["Resources"][SECURITY_GROUP_ID]["Properties"]
    assert group["GroupDescription"] == (
        "MGN replication servers (dev): TCP 1500 from on-premises source servers, HTTPS to "
        "the MGN, S3 and EC2 endpoints"
    )
    assert group["VpcId"] == {"Ref": "NetworkVpc7FB7348F"}
    assert [
        (r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in group["SecurityGroupIngress"]
    ] == [("192.168.0.0/16", "tcp", 1500, 1500)]
    assert [
        (r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in group["SecurityGroupEgress"]
    ] == [("0.0.0.0/0", "tcp", 443, 443)]
    # No separate rule resource widens it.
    own = {"Fn::GetAtt": [SECURITY_GROUP_ID, "GroupId"]}
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        assert not template.find_resources(kind, {"Properties": {"GroupId": own}})


def test_launched_instance_security_group_allows_https_out_and_nothing_in(
    template: Template,
) -> None:
    group = template.to_json()["Resources"][LAUNCH_SECURITY_GROUP_ID]
    assert group["Type"] == "AWS::EC2::SecurityGroup"
    properties = group["Properties"]
    assert properties["GroupDescription"] == (
        "MGN test and cutover instances (dev): HTTPS to SSM and the AWS endpoints, no ingress"
        " (the plan adds application groups)"
    )
    assert properties["VpcId"] == {"Ref": "NetworkVpc7FB7348F"}
    assert "SecurityGroupIngress" not in properties
    assert [
        (r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in properties["SecurityGroupEgress"]
    ] == [("0.0.0.0/0", "tcp", 443, 443)]
    own = {"Fn::GetAtt": [LAUNCH_SECURITY_GROUP_ID, "GroupId"]}
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        assert not template.find_resources(kind, {"Properties": {"GroupId": own}})


def test_replication_ingress_follows_every_on_premises_cidr(site_template: Template) -> None:
    groups = site_template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": Match.string_like_regexp("^MGN replication")}},
    )
    (group,) = groups.values()
    assert [(r["CidrIp"], r["FromPort"]) for r in group["Properties"]["SecurityGroupIngress"]] == [
        ("172.16.0.0/16", 1500),
        ("192.168.10.0/24", 1500),
    ]


def _key_statement(template: Template, sid: str) -> dict[str, Any]:
    key = template.to_json()["Resources"][KEY_ID]["Properties"]["KeyPolicy"]
    (statement,) = [s for s in key["Statement"] if s.get("Sid") == sid]
    return dict(statement)


# The stack's region is known at synth (tap.py), so the partition and EC2's endpoint are too.
MGN_ROLE_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:aws:iam::",
            {"Ref": "AWS::AccountId"},
            ":role/aws-service-role/mgn.amazonaws.com/AWSServiceRoleForApplicationMigrationService",
        ],
    ]
}
MGN_CONDITIONS = {
    "StringEquals": {
        "kms:CallerAccount": {"Ref": "AWS::AccountId"},
        "kms:ViaService": "ec2.us-east-1.amazonaws.com",
    },
    "ArnEquals": {"aws:PrincipalArn": MGN_ROLE_ARN},
}


def test_key_policy_admits_mgn_through_ec2_only(template: Template) -> None:
    use = _key_statement(template, "AllowMgnEbsEncryptionThroughEc2")
    assert use == {
        "Sid": "AllowMgnEbsEncryptionThroughEc2",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": [
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
        ],
        "Resource": "*",
        "Condition": MGN_CONDITIONS,
    }
    grants = _key_statement(template, "AllowMgnGrantsForEbsVolumes")
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Principal"] == {"AWS": "*"}
    assert grants["Condition"] == {
        **MGN_CONDITIONS,
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }


def _settings(synthesized: Synthesized) -> tuple[list[str], dict[str, Any]]:
    """The ServerMigrationSettings output's JSON, references shown as <LogicalId[.Attr]>."""
    value = synthesized.template_json["Outputs"]["ServerMigrationSettings"]["Value"]

    def text(part: Any) -> str:
        if isinstance(part, str):
            return part
        if "Ref" in part:
            return f"<{part['Ref']}>"
        return "<{}.{}>".format(*part["Fn::GetAtt"])

    document = json.loads("".join(text(p) for p in value["Fn::Join"][1]))
    return list(document), document


def test_server_migration_settings_output(default_synth: Synthesized) -> None:
    keys, settings = _settings(default_synth)
    assert keys == [
        "stagingSubnetIds",
        "replicationSecurityGroupId",
        "kmsKeyArn",
        "launchConfigurationTemplateId",
        "validationDocumentName",
        "launchSecurityGroupId",
    ]
    assert settings == {
        "stagingSubnetIds": [
            "<NetworkVpcPrivateSubnet1Subnet6DD86AE6>",
            "<NetworkVpcPrivateSubnet2Subnet1BDBE877>",
            "<NetworkVpcPrivateSubnet3Subnet8ABFAF5C>",
        ],
        "replicationSecurityGroupId": f"<{SECURITY_GROUP_ID}.GroupId>",
        "kmsKeyArn": f"<{KEY_ID}.Arn>",
        # The ID MGN's API takes (Ref is the template's ARN).
        "launchConfigurationTemplateId": f"<{LAUNCH_TEMPLATE_ID}.LaunchConfigurationTemplateID>",
        "validationDocumentName": f"<{DOCUMENT_ID}>",
        "launchSecurityGroupId": f"<{LAUNCH_SECURITY_GROUP_ID}.GroupId>",
    }
    output = default_synth.template_json["Outputs"]["ServerMigrationSettings"]
    assert output["Export"] == {"Name": "ServerMigrationSettings-dev"}


def test_staging_subnets_follow_the_availability_zones(site_synth: Synthesized) -> None:
    _keys, settings = _settings(site_synth)
    assert len(settings["stagingSubnetIds"]) == 2


def test_server_migration_attributes(stack: TapStack) -> None:
    assert stack.resolve(stack.mgn_launch_template.ref) == {"Ref": LAUNCH_TEMPLATE_ID}
    assert stack.resolve(stack.mgn_replication_security_group.security_group_id) == {
        "Fn::GetAtt": [SECURITY_GROUP_ID, "GroupId"]
    }
    assert list(stack.server_migration_settings) == [
        "stagingSubnetIds",
        "replicationSecurityGroupId",
        "kmsKeyArn",
        "launchConfigurationTemplateId",
        "validationDocumentName",
        "launchSecurityGroupId",
    ]
    assert stack.resolve(stack.mgn_launch_security_group.security_group_id) == {
        "Fn::GetAtt": [LAUNCH_SECURITY_GROUP_ID, "GroupId"]
    }
