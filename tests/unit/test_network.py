"""Network: VPC, subnets across the configured AZs, NAT, gateway endpoints and flow logs."""

from __future__ import annotations

import ipaddress
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Capture, Match, Template

from lib.tap_stack import TapStack


def _subnets(template: Template) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template.find_resources("AWS::EC2::Subnet").items()}


def _subnet_type(subnet: dict[str, Any]) -> str:
    tags = {t["Key"]: t["Value"] for t in subnet["Tags"]}
    return tags["aws-cdk:subnet-type"]


def test_one_vpc_with_the_seed_cidr_and_dns(template: Template) -> None:
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.has_resource_properties(
        "AWS::EC2::VPC",
        {"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True},
    )


def test_vpc_attribute(stack: TapStack) -> None:
    assert isinstance(stack.vpc, ec2.Vpc)
    assert stack.resolve(stack.vpc.vpc_id) == {"Ref": "NetworkVpc7FB7348F"}


def test_six_24_subnets_public_and_private_in_each_of_three_zones(template: Template) -> None:
    subnets = _subnets(template)
    assert len(subnets) == 6
    vpc = ipaddress.IPv4Network("10.0.0.0/16")
    networks = [ipaddress.IPv4Network(s["CidrBlock"]) for s in subnets.values()]
    assert all(n.prefixlen == 24 and n.subnet_of(vpc) for n in networks)
    assert len(set(networks)) == 6
    by_type: dict[str, list[str]] = {}
    for subnet in subnets.values():
        by_type.setdefault(_subnet_type(subnet), []).append(subnet["AvailabilityZone"])
    expected = ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert sorted(by_type["Public"]) == expected
    assert sorted(by_type["Private"]) == expected
    assert set(by_type) == {"Public", "Private"}


def test_no_subnet_assigns_public_ips_on_launch(template: Template) -> None:
    subnets = _subnets(template)
    assert {_subnet_type(s) for s in subnets.values()} == {"Public", "Private"}
    assert {s["MapPublicIpOnLaunch"] for s in subnets.values()} == {False}


def test_the_nat_gateway_has_its_own_elastic_ip(template: Template) -> None:
    template.resource_count_is("AWS::EC2::EIP", 1)
    eip = next(iter(template.find_resources("AWS::EC2::EIP")))
    template.has_resource_properties(
        "AWS::EC2::NatGateway", {"AllocationId": {"Fn::GetAtt": [eip, "AllocationId"]}}
    )


def test_one_nat_gateway_in_a_public_subnet_serves_every_private_subnet(
    template: Template,
) -> None:
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    nat_subnet = Capture()
    template.has_resource_properties("AWS::EC2::NatGateway", {"SubnetId": {"Ref": nat_subnet}})
    assert _subnet_type(_subnets(template)[nat_subnet.as_string()]) == "Public"
    nat = next(iter(template.find_resources("AWS::EC2::NatGateway")))
    nat_routes = template.find_resources(
        "AWS::EC2::Route",
        {"Properties": {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": nat}}},
    )
    assert len(nat_routes) == 3


def test_s3_and_dynamodb_gateway_endpoints(template: Template) -> None:
    template.resource_count_is("AWS::EC2::VPCEndpoint", 2)
    for service in (".s3", ".dynamodb"):
        template.has_resource_properties(
            "AWS::EC2::VPCEndpoint",
            {
                "VpcEndpointType": "Gateway",
                "VpcId": {"Ref": "NetworkVpc7FB7348F"},
                "ServiceName": {
                    "Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, service]]
                },
                # Private route tables at least: that is where the replication traffic starts.
                "RouteTableIds": Match.any_value(),
            },
        )


def test_all_traffic_flow_log_to_a_kms_encrypted_log_group(template: Template) -> None:
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    log_group = Capture()
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceId": {"Ref": "NetworkVpc7FB7348F"},
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": {"Ref": log_group},
        },
    )
    group = template.to_json()["Resources"][log_group.as_string()]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["EncryptionKey3A692D6E", "Arn"]}
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Delete"


def test_flow_log_role_may_write_to_its_log_group_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Effect": "Allow",
                            "Resource": {"Fn::GetAtt": ["NetworkFlowLogGroup4F8CEEEF", "Arn"]},
                        }
                    )
                ],
                "Version": "2012-10-17",
            },
            "Roles": [{"Ref": "NetworkVpcFlowLogIAMRole654CF7A1"}],
        },
    )


def test_zones_and_region_come_from_context(site_template: Template) -> None:
    subnets = _subnets(site_template)
    assert len(subnets) == 4
    assert sorted(s["AvailabilityZone"] for s in subnets.values()) == [
        "eu-west-1b",
        "eu-west-1b",
        "eu-west-1c",
        "eu-west-1c",
    ]
    site_template.resource_count_is("AWS::EC2::NatGateway", 1)
    site_template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})
