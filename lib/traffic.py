"""Traffic: the private hosted zone whose weighted records move users between sites."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_route53 as route53
from constructs import Construct


class Traffic(Construct):
    """A Route 53 private hosted zone attached to the migration VPC.

    Each application that is cut over owns one name in this zone with a pair of weighted records,
    SetIdentifier ``on-premises`` and ``aws`` (see ``src/migration/traffic.py``). The runtime, not
    CloudFormation, changes the weights during a cutover or a rollback.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, zone_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.hosted_zone = route53.PrivateHostedZone(
            self,
            "HostedZone",
            zone_name=zone_name,
            vpc=vpc,
            comment="Migration cutover records (weighted on-premises / aws pairs)",
        )
        self.hosted_zone.apply_removal_policy(RemovalPolicy.DESTROY)
