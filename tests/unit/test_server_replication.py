"""Server replication: the MGN (CloudEndure successor) agent-installation role."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from lib.tap_stack import TapStack

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
