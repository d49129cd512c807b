"""Hybrid connectivity: customer gateway, VPN gateway, BGP VPN connection, route propagation."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Capture, Template

from lib.tap_stack import TapStack


def _private_route_tables(template: Template) -> set[str]:
    (nat,) = template.find_resources("AWS::EC2::NatGateway")
    nat_routes = template.find_resources(
        "AWS::EC2::Route", {"Properties": {"NatGatewayId": {"Ref": nat}}}
    )
    return {r["Properties"]["RouteTableId"]["Ref"] for r in nat_routes.values()}


def test_customer_gateway_from_the_default_configuration(template: Template) -> None:
    template.resource_count_is("AWS::EC2::CustomerGateway", 1)
    template.has_resource_properties(
        "AWS::EC2::CustomerGateway",
        {"BgpAsn": 65000, "IpAddress": "203.0.113.10", "Type": "ipsec.1"},
    )


def test_customer_gateway_from_context(site_template: Template) -> None:
    site_template.has_resource_properties(
        "AWS::EC2::CustomerGateway",
        {"BgpAsn": 65010, "IpAddress": "198.51.100.7", "Type": "ipsec.1"},
    )


def test_vpn_gateway_with_amazon_side_asn_attached_to_the_vpc(template: Template) -> None:
    template.resource_count_is("AWS::EC2::VPNGateway", 1)
    template.has_resource_properties(
        "AWS::EC2::VPNGateway", {"AmazonSideAsn": 64512, "Type": "ipsec.1"}
    )
    template.has_resource_properties(
        "AWS::EC2::VPCGatewayAttachment",
        {
            "VpcId": {"Ref": "NetworkVpc7FB7348F"},
            "VpnGatewayId": {"Ref": "HybridConnectivityVpnGatewayACF09C7B"},
        },
    )


def test_bgp_vpn_connection_between_the_two_gateways(template: Template) -> None:
    template.resource_count_is("AWS::EC2::VPNConnection", 1)
    customer_gateway, vpn_gateway = Capture(), Capture()
    template.has_resource_properties(
        "AWS::EC2::VPNConnection",
        {
            "StaticRoutesOnly": False,
            "Type": "ipsec.1",
            "CustomerGatewayId": {"Ref": customer_gateway},
            "VpnGatewayId": {"Ref": vpn_gateway},
        },
    )
    assert set(template.find_resources("AWS::EC2::CustomerGateway")) == {
        customer_gateway.as_string()
    }
    assert set(template.find_resources("AWS::EC2::VPNGateway")) == {vpn_gateway.as_string()}


def test_routes_propagate_to_the_three_private_route_tables(template: Template) -> None:
    propagations = template.find_resources("AWS::EC2::VPNGatewayRoutePropagation")
    assert len(propagations) == 1
    (propagation,) = propagations.values()
    tables = [ref["Ref"] for ref in propagation["Properties"]["RouteTableIds"]]
    assert len(tables) == 3
    assert set(tables) == _private_route_tables(template)
    assert propagation["Properties"]["VpnGatewayId"] == {
        "Ref": "HybridConnectivityVpnGatewayACF09C7B"
    }
    # Propagation is rejected until the VPN gateway is attached.
    assert propagation["DependsOn"] == ["HybridConnectivityVpnGatewayAttachment63337B1E"]


def test_route_propagation_follows_the_zone_count(site_template: Template) -> None:
    (propagation,) = site_template.find_resources("AWS::EC2::VPNGatewayRoutePropagation").values()
    assert len(propagation["Properties"]["RouteTableIds"]) == 2


def test_connectivity_attributes(stack: TapStack) -> None:
    assert isinstance(stack.customer_gateway, ec2.CfnCustomerGateway)
    assert isinstance(stack.vpn_connection, ec2.CfnVPNConnection)
    assert isinstance(stack.vpn_gateway, ec2.CfnVPNGateway)
    assert stack.resolve(stack.vpn_connection.ref) == {
        "Ref": "HybridConnectivityVpnConnectionFE7A6FB7"
    }
    assert stack.resolve(stack.customer_gateway.ref) == {
        "Ref": "HybridConnectivityCustomerGatewayAB15EC32"
    }
