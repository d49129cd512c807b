"""Database migration: DMS subnet group, egress-only security group, replication instance, role."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_dms as dms
from aws_cdk.assertions import Capture, Match, Template

from lib.tap_stack import TapStack

INSTANCE_ID = "DatabaseMigrationReplicationInstanceAF38F1A2"
VPC_CIDR = {"Fn::GetAtt": ["NetworkVpc7FB7348F", "CidrBlock"]}
SECURITY_GROUP_ID = "DatabaseMigrationSecurityGroupD549D940"


def _egress(cidr: Any, port: int, description: str) -> dict[str, Any]:
    return {
        "CidrIp": cidr,
        "Description": description,
        "FromPort": port,
        "IpProtocol": "tcp",
        "ToPort": port,
    }


def _private_subnets(template: Template) -> set[str]:
    return set(
        template.find_resources(
            "AWS::EC2::Subnet",
            {
                "Properties": {
                    "Tags": Match.array_with([{"Key": "aws-cdk:subnet-type", "Value": "Private"}])
                }
            },
        )
    )


def test_replication_instance_is_private_multi_az_and_encrypted(template: Template) -> None:
    template.resource_count_is("AWS::DMS::ReplicationInstance", 1)
    template.has_resource_properties(
        "AWS::DMS::ReplicationInstance",
        {
            "ReplicationInstanceIdentifier": "migration-dms-dev",
            "ReplicationInstanceClass": "dms.t3.medium",
            "AllocatedStorage": 100,
            "MultiAZ": True,
            "PubliclyAccessible": False,
            "AutoMinorVersionUpgrade": True,
            "KmsKeyId": Match.any_value(),
        },
    )


def test_replication_instance_encrypts_with_the_project_key(template: Template) -> None:
    key = Capture()
    template.has_resource_properties(
        "AWS::DMS::ReplicationInstance", {"KmsKeyId": {"Fn::GetAtt": [key, "Arn"]}}
    )
    assert [key.as_string()] == list(template.find_resources("AWS::KMS::Key"))


def test_replication_instance_uses_the_subnet_group_and_security_group(
    template: Template,
) -> None:
    subnet_group, security_group = Capture(), Capture()
    template.has_resource_properties(
        "AWS::DMS::ReplicationInstance",
        {
            "ReplicationSubnetGroupIdentifier": {"Ref": subnet_group},
            "VpcSecurityGroupIds": [{"Fn::GetAtt": [security_group, "GroupId"]}],
        },
    )
    assert [subnet_group.as_string()] == list(
        template.find_resources("AWS::DMS::ReplicationSubnetGroup")
    )
    assert security_group.as_string() == "DatabaseMigrationSecurityGroupD549D940"


def test_subnet_group_spans_the_private_subnets(template: Template) -> None:
    template.resource_count_is("AWS::DMS::ReplicationSubnetGroup", 1)
    (group,) = template.find_resources("AWS::DMS::ReplicationSubnetGroup").values()
    subnets = {ref["Ref"] for ref in group["Properties"]["SubnetIds"]}
    assert len(subnets) == 3
    assert subnets == _private_subnets(template)
    assert group["Properties"]["ReplicationSubnetGroupDescription"] == (
        "Private subnets for DMS replication (dev)"
    )
    # DMS creates the subnet group's ENIs through dms-vpc-role: it must exist first.
    assert group["DependsOn"] == ["DatabaseMigrationDmsVpcRoleB51C1320"]


def test_dms_vpc_role_has_its_exact_name_and_the_dms_policy(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "dms-vpc-role",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "dms.amazonaws.com"},
                    }
                ],
                "Version": "2012-10-17",
            },
            "ManagedPolicyArns": [
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":iam::aws:policy/service-role/AmazonDMSVPCManagementRole",
                        ],
                    ]
                }
            ],
        },
    )


def test_dms_vpc_role_can_be_left_to_an_existing_one(qa_template: Template) -> None:
    assert not qa_template.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": "dms-vpc-role"}}
    )
    assert "dms-vpc-role" not in str(qa_template.to_json())
    (group,) = qa_template.find_resources("AWS::DMS::ReplicationSubnetGroup").values()
    assert "DependsOn" not in group
    qa_template.has_resource_properties(
        "AWS::DMS::ReplicationInstance", {"ReplicationInstanceIdentifier": "migration-dms-qa"}
    )


def test_dms_vpc_role_is_created_when_context_says_true(site_template: Template) -> None:
    site_template.has_resource_properties("AWS::IAM::Role", {"RoleName": "dms-vpc-role"})


def test_security_group_allows_no_ingress(template: Template) -> None:
    (group,) = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": "DMS replication instance (dev): egress only"}},
    ).values()
    assert "SecurityGroupIngress" not in group["Properties"]
    assert group["Properties"]["VpcId"] == {"Ref": "NetworkVpc7FB7348F"}
    template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)


def test_security_group_egress_is_database_ports_to_on_premises_and_vpc_plus_https(
    template: Template,
) -> None:
    template.resource_count_is("AWS::EC2::SecurityGroupEgress", 0)
    group = template.find_resources("AWS::EC2::SecurityGroup")[SECURITY_GROUP_ID]
    egress = group["Properties"]["SecurityGroupEgress"]
    expected = [
        _egress("192.168.0.0/16", 5432, "Database port 5432"),
        _egress("192.168.0.0/16", 3306, "Database port 3306"),
        _egress(VPC_CIDR, 5432, "Database port 5432"),
        _egress(VPC_CIDR, 3306, "Database port 3306"),
        _egress("0.0.0.0/0", 443, "AWS APIs (Secrets Manager, KMS) over HTTPS"),
    ]
    assert sorted(map(str, egress)) == sorted(map(str, expected))
    # No "allow all" rule (protocol -1) anywhere.
    assert all(rule["IpProtocol"] == "tcp" for rule in egress)


def test_security_group_egress_follows_the_site_configuration(site_template: Template) -> None:
    group = site_template.find_resources("AWS::EC2::SecurityGroup")[SECURITY_GROUP_ID]
    egress = group["Properties"]["SecurityGroupEgress"]
    expected = [
        _egress("172.16.0.0/16", 1521, "Database port 1521"),
        _egress("192.168.10.0/24", 1521, "Database port 1521"),
        _egress(VPC_CIDR, 1521, "Database port 1521"),
        _egress("0.0.0.0/0", 443, "AWS APIs (Secrets Manager, KMS) over HTTPS"),
    ]
    assert sorted(map(str, egress)) == sorted(map(str, expected))


def test_database_attributes(stack: TapStack) -> None:
    assert isinstance(stack.dms_replication_instance, dms.CfnReplicationInstance)
    assert isinstance(stack.dms_replication_subnet_group, dms.CfnReplicationSubnetGroup)
    assert stack.resolve(stack.dms_replication_instance.ref) == {"Ref": INSTANCE_ID}
    assert stack.resolve(stack.dms_replication_subnet_group.ref) == {
        "Ref": "DatabaseMigrationSubnetGroupDE9A03DB"
    }
