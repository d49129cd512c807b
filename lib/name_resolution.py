"""Name resolution: Route 53 Resolver endpoints so both sites resolve each other's names.

On-premises DNS forwards the migration zone to the inbound endpoint (its addresses are the stack
output ``ResolverInboundAddresses``); AWS forwards the plan's on-premises domains to the
on-premises resolvers through the outbound endpoint and one forwarding rule per domain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_route53resolver as resolver
from constructs import Construct

DNS_PORT = 53
# Two subnets in different zones: the minimum Route 53 Resolver accepts, and AZ redundancy.
ENDPOINT_SUBNETS = 2
# CloudFormation returns no attribute listing an endpoint's addresses, so they are pinned: host
# numbers inside each private subnet's CIDR (which CDK knows at synth). A small block around them
# is reserved "explicit" (AWS never hands its addresses to another interface automatically), so
# a DMS or Lambda interface cannot take a pinned address first.
RESERVED_BLOCK_OFFSET = 48
RESERVED_BLOCK_PREFIX = 28
INBOUND_HOST = 53
OUTBOUND_HOST = 54


def pinned_address(cidr: str, host: int) -> str:
    """The address ``host`` positions into ``cidr`` (``10.0.2.0/24``, 53 -> ``10.0.2.53``)."""
    network = ipaddress.IPv4Network(cidr)
    if not 4 <= host < network.num_addresses - 1:  # AWS reserves the first four and the last
        raise ValueError(f"host {host} is reserved by AWS or outside {cidr}")
    return str(network.network_address + host)


def reserved_block(cidr: str) -> str:
    """The explicit reservation that holds the pinned addresses of one subnet."""
    network = ipaddress.IPv4Network(cidr)
    return f"{network.network_address + RESERVED_BLOCK_OFFSET}/{RESERVED_BLOCK_PREFIX}"


def _rule_name(domain: str, environment_suffix: str) -> str:
    # Resolver rule names allow letters, digits, hyphens, underscores and spaces: no dots.
    return f"migration-{environment_suffix}-{domain.replace('.', '-')}"[:64]


class NameResolution(Construct):
    """An inbound Resolver endpoint (always) and, when the plan names on-premises domains, an
    outbound endpoint with one FORWARD rule per domain associated with the VPC.

    Each endpoint has its own security group and sits in the first two private subnets at a
    pinned address (``inbound_addresses``). The inbound endpoint's group admits DNS (TCP and UDP
    53) only from the on-premises networks and the VPC; the outbound endpoint's group sends DNS
    only to the on-premises resolvers and nothing else. Responses need no rule either way:
    security groups are stateful.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.Vpc,
        vpc_cidr: str,
        on_premises_cidrs: Sequence[str],
        on_premises_domains: Sequence[str],
        on_premises_resolvers: Sequence[str],
        environment_suffix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        subnets = list(vpc.private_subnets)[:ENDPOINT_SUBNETS]
        self._reserve(subnets)
        self.inbound_security_group = ec2.SecurityGroup(
            self,
            "InboundSecurityGroup",
            vpc=vpc,
            description=f"Route 53 Resolver inbound ({environment_suffix}): DNS from on-premises",
            allow_all_outbound=False,
        )
        # The configured CIDR, not the VPC's token: cdk-nag checks ingress peers at synth.
        for cidr in [*on_premises_cidrs, vpc_cidr]:
            for port in (ec2.Port.tcp(DNS_PORT), ec2.Port.udp(DNS_PORT)):
                self.inbound_security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), port, "DNS")
        self.inbound_addresses = [pinned_address(s.ipv4_cidr_block, INBOUND_HOST) for s in subnets]
        self.inbound_endpoint = self._endpoint(
            "InboundEndpoint",
            "INBOUND",
            subnets,
            INBOUND_HOST,
            self.inbound_security_group,
            f"migration-inbound-{environment_suffix}",
        )
        self.outbound_endpoint: resolver.CfnResolverEndpoint | None = None
        self.rules: dict[str, resolver.CfnResolverRule] = {}
        if on_premises_domains:
            self._forward(
                vpc, subnets, on_premises_domains, on_premises_resolvers, environment_suffix
            )

    def _reserve(self, subnets: Sequence[ec2.ISubnet]) -> None:
        self.reservations = [
            ec2.CfnSubnetCidrReservation(
                self,
                f"Reservation{index}",
                subnet_id=subnet.subnet_id,
                cidr=reserved_block(subnet.ipv4_cidr_block),
                reservation_type="explicit",
                description="Route 53 Resolver endpoint addresses (assigned explicitly)",
            )
            for index, subnet in enumerate(subnets, start=1)
        ]

    def _endpoint(
        self,
        construct_id: str,
        direction: str,
        subnets: Sequence[ec2.ISubnet],
        host: int,
        security_group: ec2.SecurityGroup,
        name: str,
    ) -> resolver.CfnResolverEndpoint:
        endpoint = resolver.CfnResolverEndpoint(
            self,
            construct_id,
            direction=direction,
            name=name,
            security_group_ids=[security_group.security_group_id],
            ip_addresses=[
                resolver.CfnResolverEndpoint.IpAddressRequestProperty(
                    subnet_id=s.subnet_id, ip=pinned_address(s.ipv4_cidr_block, host)
                )
                for s in subnets
            ],
        )
        for reservation in self.reservations:
            endpoint.node.add_dependency(reservation)
        return endpoint

    def _forward(
        self,
        vpc: ec2.Vpc,
        subnets: Sequence[ec2.ISubnet],
        domains: Sequence[str],
        resolvers: Sequence[str],
        environment_suffix: str,
    ) -> None:
        self.outbound_security_group = ec2.SecurityGroup(
            self,
            "OutboundSecurityGroup",
            vpc=vpc,
            description=f"Route 53 Resolver outbound ({environment_suffix}): DNS to on-premises",
            allow_all_outbound=False,
        )
        for address in resolvers:
            for port in (ec2.Port.tcp(DNS_PORT), ec2.Port.udp(DNS_PORT)):
                self.outbound_security_group.add_egress_rule(
                    ec2.Peer.ipv4(f"{address}/32"), port, "DNS to an on-premises resolver"
                )
        self.outbound_endpoint = self._endpoint(
            "OutboundEndpoint",
            "OUTBOUND",
            subnets,
            OUTBOUND_HOST,
            self.outbound_security_group,
            f"migration-outbound-{environment_suffix}",
        )
        targets = [
            resolver.CfnResolverRule.TargetAddressProperty(ip=a, port=str(DNS_PORT))
            for a in resolvers
        ]
        for domain in domains:
            group = Construct(self, domain)
            rule = resolver.CfnResolverRule(
                group,
                "Rule",
                rule_type="FORWARD",
                domain_name=domain,
                name=_rule_name(domain, environment_suffix),
                resolver_endpoint_id=self.outbound_endpoint.attr_resolver_endpoint_id,
                target_ips=targets,
            )
            resolver.CfnResolverRuleAssociation(
                group,
                "Association",
                resolver_rule_id=rule.attr_resolver_rule_id,
                vpc_id=vpc.vpc_id,
            )
            self.rules[domain] = rule
