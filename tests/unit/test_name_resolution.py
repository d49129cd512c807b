"""Name resolution: Route 53 Resolver inbound endpoint, outbound endpoint and forwarding rules."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from lib.name_resolution import pinned_address, reserved_block
from lib.tap_stack import TapStack

VPC = {"Ref": "NetworkVpc7FB7348F"}
PRIVATE_SUBNETS = (
    {"Ref": "NetworkVpcPrivateSubnet1Subnet6DD86AE6"},
    {"Ref": "NetworkVpcPrivateSubnet2Subnet1BDBE877"},
)
# Stateful-ish: replacing an endpoint changes nothing on-premises can see only if its addresses
# stay; renaming these constructs would still recreate them (and briefly break forwarding).
INBOUND_ID = "NameResolutionInboundEndpointDB90AE9C"
OUTBOUND_ID = "NameResolutionOutboundEndpoint9D41B924"
RULE_ID = "NameResolutioncorpexamplecomRule89D9C95A"
ASSOCIATION_ID = "NameResolutioncorpexamplecomAssociationC4F27664"
RESERVATION_IDS = ("NameResolutionReservation1F34E3F03", "NameResolutionReservation2ED1D3AAD")


def _dns(cidr: str, direction: str) -> list[dict[str, Any]]:
    description = "DNS" if direction == "in" else "DNS to an on-premises resolver"
    return [
        {"CidrIp": cidr, "Description": description, "FromPort": 53, "IpProtocol": p, "ToPort": 53}
        for p in ("tcp", "udp")
    ]


def _group(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template.to_json()["Resources"][logical_id]["Properties"]
    return properties


def test_pinned_address_is_a_host_of_the_subnet() -> None:
    assert pinned_address("10.0.3.0/24", 53) == "10.0.3.53"
    assert reserved_block("10.0.3.0/24") == "10.0.3.48/28"


@pytest.mark.parametrize("host", [0, 3, 255, 300])
def test_pinned_address_refuses_reserved_or_outside_hosts(host: int) -> None:
    with pytest.raises(ValueError, match=r"reserved by AWS or outside 10\.0\.3\.0/24"):
        pinned_address("10.0.3.0/24", host)


def test_logical_ids_are_pinned(template: Template) -> None:
    resources = template.to_json()["Resources"]
    assert resources[INBOUND_ID]["Type"] == "AWS::Route53Resolver::ResolverEndpoint"
    assert resources[OUTBOUND_ID]["Type"] == "AWS::Route53Resolver::ResolverEndpoint"
    assert resources[RULE_ID]["Type"] == "AWS::Route53Resolver::ResolverRule"
    assert resources[ASSOCIATION_ID]["Type"] == "AWS::Route53Resolver::ResolverRuleAssociation"
    for reservation in RESERVATION_IDS:
        assert resources[reservation]["Type"] == "AWS::EC2::SubnetCidrReservation"


def test_inbound_endpoint_has_pinned_addresses_in_two_private_subnets(template: Template) -> None:
    template.resource_count_is("AWS::Route53Resolver::ResolverEndpoint", 2)
    inbound = template.to_json()["Resources"][INBOUND_ID]
    assert inbound["Properties"]["Direction"] == "INBOUND"
    assert inbound["Properties"]["Name"] == "migration-inbound-dev"
    assert inbound["Properties"]["IpAddresses"] == [
        {"Ip": "10.0.3.53", "SubnetId": PRIVATE_SUBNETS[0]},
        {"Ip": "10.0.4.53", "SubnetId": PRIVATE_SUBNETS[1]},
    ]
    assert inbound["Properties"]["SecurityGroupIds"] == [
        {"Fn::GetAtt": ["NameResolutionInboundSecurityGroup5D31BB63", "GroupId"]}
    ]
    # The reservations exist before the endpoints take their addresses.
    assert inbound["DependsOn"] == list(RESERVATION_IDS)


def test_subnets_of_the_endpoints_are_in_different_zones(template: Template) -> None:
    resources = template.to_json()["Resources"]
    zones = {
        resources[subnet["Ref"]]["Properties"]["AvailabilityZone"] for subnet in PRIVATE_SUBNETS
    }
    assert zones == {"us-east-1a", "us-east-1b"}


def test_addresses_are_reserved_explicitly(template: Template) -> None:
    template.resource_count_is("AWS::EC2::SubnetCidrReservation", 2)
    for subnet, cidr in zip(PRIVATE_SUBNETS, ("10.0.3.48/28", "10.0.4.48/28"), strict=True):
        template.has_resource_properties(
            "AWS::EC2::SubnetCidrReservation",
            {"SubnetId": subnet, "Cidr": cidr, "ReservationType": "explicit"},
        )


def test_inbound_security_group_admits_dns_from_on_premises_and_the_vpc_only(
    template: Template,
) -> None:
    group = _group(template, "NameResolutionInboundSecurityGroup5D31BB63")
    assert group["VpcId"] == VPC
    assert sorted(map(str, group["SecurityGroupIngress"])) == sorted(
        map(str, _dns("192.168.0.0/16", "in") + _dns("10.0.0.0/16", "in"))
    )
    # allow_all_outbound=False: CDK's placeholder rule that matches no traffic.
    assert group["SecurityGroupEgress"] == [
        {
            "CidrIp": "255.255.255.255/32",
            "Description": "Disallow all traffic",
            "FromPort": 252,
            "IpProtocol": "icmp",
            "ToPort": 86,
        }
    ]


def test_outbound_endpoint_sends_dns_to_the_resolvers_only(template: Template) -> None:
    outbound = template.to_json()["Resources"][OUTBOUND_ID]["Properties"]
    assert outbound["Direction"] == "OUTBOUND"
    assert outbound["IpAddresses"] == [
        {"Ip": "10.0.3.54", "SubnetId": PRIVATE_SUBNETS[0]},
        {"Ip": "10.0.4.54", "SubnetId": PRIVATE_SUBNETS[1]},
    ]
    group = _group(template, "NameResolutionOutboundSecurityGroup040330B0")
    assert "SecurityGroupIngress" not in group
    assert sorted(map(str, group["SecurityGroupEgress"])) == sorted(
        map(str, _dns("192.168.0.2/32", "out") + _dns("192.168.0.3/32", "out"))
    )


def test_one_forward_rule_per_domain_associated_with_the_vpc(template: Template) -> None:
    template.resource_count_is("AWS::Route53Resolver::ResolverRule", 1)
    template.has_resource_properties(
        "AWS::Route53Resolver::ResolverRule",
        {
            "RuleType": "FORWARD",
            "DomainName": "corp.example.com",
            "Name": "migration-dev-corp-example-com",
            "ResolverEndpointId": {"Fn::GetAtt": [OUTBOUND_ID, "ResolverEndpointId"]},
            "TargetIps": [{"Ip": "192.168.0.2", "Port": "53"}, {"Ip": "192.168.0.3", "Port": "53"}],
        },
    )
    template.resource_count_is("AWS::Route53Resolver::ResolverRuleAssociation", 1)
    template.has_resource_properties(
        "AWS::Route53Resolver::ResolverRuleAssociation",
        {"ResolverRuleId": {"Fn::GetAtt": [RULE_ID, "ResolverRuleId"]}, "VPCId": VPC},
    )


def test_inbound_addresses_are_a_stack_output(template: Template, stack: TapStack) -> None:
    assert stack.name_resolution.inbound_addresses == ["10.0.3.53", "10.0.4.53"]
    template.has_output(
        "ResolverInboundAddresses",
        {
            "Value": "10.0.3.53,10.0.4.53",
            "Export": {"Name": "ResolverInboundAddresses-dev"},
            "Description": "ResolverInboundAddresses of the migration infrastructure",
        },
    )


def test_without_domains_only_the_inbound_endpoint(site_template: Template) -> None:
    # The empty plan (no on_premises_domains) in a two-zone VPC of another site.
    site_template.resource_count_is("AWS::Route53Resolver::ResolverEndpoint", 1)
    site_template.has_resource_properties(
        "AWS::Route53Resolver::ResolverEndpoint",
        {
            "Direction": "INBOUND",
            "IpAddresses": [
                {"Ip": "10.0.2.53", "SubnetId": Match.any_value()},
                {"Ip": "10.0.3.53", "SubnetId": Match.any_value()},
            ],
        },
    )
    site_template.resource_count_is("AWS::Route53Resolver::ResolverRule", 0)
    site_template.resource_count_is("AWS::Route53Resolver::ResolverRuleAssociation", 0)
    groups = site_template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": Match.string_like_regexp("Route 53 Resolver")}},
    )
    (group,) = groups.values()
    cidrs = {rule["CidrIp"] for rule in group["Properties"]["SecurityGroupIngress"]}
    assert cidrs == {"172.16.0.0/16", "192.168.10.0/24", "10.0.0.0/16"}
    site_template.has_output("ResolverInboundAddresses", {"Value": "10.0.2.53,10.0.3.53"})
