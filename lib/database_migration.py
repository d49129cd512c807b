"""Database migration: the DMS replication instance and its account prerequisites."""

from __future__ import annotations

from aws_cdk import aws_dms as dms
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from lib.config import DmsConfig, OnPremisesConfig
from lib.nag import acknowledge


class DatabaseMigration(Construct):
    """DMS subnet group, security group and a private, Multi-AZ, KMS-encrypted replication instance.

    The security group allows no ingress (DMS opens connections, it accepts none) and only the
    egress DMS needs: the database ports of the on-premises networks and of the VPC, and HTTPS for
    the AWS APIs it calls (Secrets Manager, KMS) through the NAT gateway.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.Vpc,
        key: kms.IKey,
        config: DmsConfig,
        on_premises: OnPremisesConfig,
        environment_suffix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dms_vpc_role: iam.Role | None = (
            self._create_dms_vpc_role() if config.create_dms_vpc_role else None
        )
        self.security_group = self._create_security_group(vpc, on_premises, environment_suffix)
        self.subnet_group = dms.CfnReplicationSubnetGroup(
            self,
            "SubnetGroup",
            replication_subnet_group_description=(
                f"Private subnets for DMS replication ({environment_suffix})"
            ),
            subnet_ids=[subnet.subnet_id for subnet in vpc.private_subnets],
        )
        if self.dms_vpc_role is not None:
            self.subnet_group.node.add_dependency(self.dms_vpc_role)

        self.replication_instance = dms.CfnReplicationInstance(
            self,
            "ReplicationInstance",
            # A fixed identifier: CloudWatch publishes DMS metrics under it.
            replication_instance_identifier=f"migration-dms-{environment_suffix}",
            replication_instance_class=config.instance_class,
            allocated_storage=config.allocated_storage_gb,
            multi_az=config.multi_az,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            replication_subnet_group_identifier=self.subnet_group.ref,
            vpc_security_group_ids=[self.security_group.security_group_id],
            kms_key_id=key.key_arn,
        )
        self.replication_instance_identifier = f"migration-dms-{environment_suffix}"

    def _create_dms_vpc_role(self) -> iam.Role:
        # DMS looks this role up by its exact name; it cannot be renamed or suffixed.
        role = iam.Role(
            self,
            "DmsVpcRole",
            role_name="dms-vpc-role",
            assumed_by=iam.ServicePrincipal("dms.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonDMSVPCManagementRole"
                )
            ],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonDMSVPCManagementRole]",
            "DMS requires the account's dms-vpc-role to carry this AWS managed policy "
            "(DMS user guide, 'Creating the IAM roles to use with AWS DMS'); AWS keeps it in "
            "step with the ENI calls DMS makes.",
        )
        return role

    def _create_security_group(
        self, vpc: ec2.Vpc, on_premises: OnPremisesConfig, environment_suffix: str
    ) -> ec2.SecurityGroup:
        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"DMS replication instance ({environment_suffix}): egress only",
            allow_all_outbound=False,
        )
        peers = [ec2.Peer.ipv4(cidr) for cidr in on_premises.cidrs]
        peers.append(ec2.Peer.ipv4(vpc.vpc_cidr_block))
        for peer in peers:
            for port in on_premises.database_ports:
                security_group.add_egress_rule(peer, ec2.Port.tcp(port), f"Database port {port}")
        security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs (Secrets Manager, KMS) over HTTPS"
        )
        return security_group
