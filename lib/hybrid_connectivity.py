"""Hybrid connectivity: the Site-to-Site VPN between the data centre and the VPC."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from lib.config import OnPremisesConfig


class HybridConnectivity(Construct):
    """Customer gateway, virtual private gateway, BGP VPN connection and route propagation.

    BGP (not static routes) lets the data centre advertise its prefixes; propagation puts them in
    the private subnets' route tables so DMS and migrated servers reach on-premises hosts. The
    connection has two tunnels by design; monitoring alarms on each.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.Vpc,
        on_premises: OnPremisesConfig,
        amazon_side_asn: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.customer_gateway = ec2.CfnCustomerGateway(
            self,
            "CustomerGateway",
            bgp_asn=on_premises.bgp_asn,
            ip_address=on_premises.customer_gateway_ip,
            type="ipsec.1",
        )
        self.vpn_gateway = ec2.CfnVPNGateway(
            self, "VpnGateway", type="ipsec.1", amazon_side_asn=amazon_side_asn
        )
        attachment = ec2.CfnVPCGatewayAttachment(
            self, "VpnGatewayAttachment", vpc_id=vpc.vpc_id, vpn_gateway_id=self.vpn_gateway.ref
        )
        self.vpn_connection = ec2.CfnVPNConnection(
            self,
            "VpnConnection",
            customer_gateway_id=self.customer_gateway.ref,
            type="ipsec.1",
            vpn_gateway_id=self.vpn_gateway.ref,
            static_routes_only=False,
        )
        propagation = ec2.CfnVPNGatewayRoutePropagation(
            self,
            "RoutePropagation",
            route_table_ids=[subnet.route_table.route_table_id for subnet in vpc.private_subnets],
            vpn_gateway_id=self.vpn_gateway.ref,
        )
        # Propagation is only valid once the gateway is attached to the VPC.
        propagation.add_resource_dependency(attachment)
