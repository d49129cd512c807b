"""Server replication: what AWS Application Migration Service (MGN) needs from the stack.

The seed names CloudEndure, which AWS retired; its successor is AWS Application Migration Service
(MGN). The seed's public name ``cloudendure_role`` / ``CloudEndureRoleArn`` is kept as the contract.

Beyond the agent-installation role, the stack gives MGN its launch configuration template (how
test and cutover instances are launched, and the validation they must pass) and the security
group of its replication servers. What only MGN's API can set (the replication configuration
template: staging subnet, EBS encryption with the project key, data routing; the network of
each server's EC2 launch template) is applied by ``migrate servers init`` from the
``ServerMigrationSettings`` output (docs/server-migration.md), including the security group the
stack makes for launched (test and cutover) instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_mgn as mgn
from constructs import Construct

from lib.nag import acknowledge
from migration.plan import Plan
from migration.plan.model import ServerDefaults
from migration.servers.spec import (
    POST_LAUNCH_DEPLOYMENT,
    VALIDATION_ACTION_NAME,
    VALIDATION_TIMEOUT_SECONDS,
    launch_settings,
)

# The port MGN's replication agents send replicated data to on the replication servers.
REPLICATION_PORT: Final = 1500


def launch_defaults(plan: Plan | None) -> ServerDefaults:
    """The ``server_defaults`` of the plan's first wave with servers: the account-wide launch
    template's settings (each server's own are applied by ``migrate servers init``). Without
    planned servers, the plan model's defaults, which are MGN's (right-sizing BASIC, licence
    included, the source's boot mode)."""
    wave = next((w for w in (plan.waves if plan else ()) if w.servers), None)
    return wave.server_defaults if wave else ServerDefaults()


class ServerReplication(Construct):
    """MGN's footing in the stack: the agent-installation role, the replication servers'
    security group, the launched instances' security group and the launch configuration
    template.

    The role: operators assume it to get short-lived credentials for the MGN agent installer,
    instead of long-lived IAM user keys. Trust is limited to this account's principals that are
    allowed to assume it; permissions are AWS's agent-installation policy, which MGN keeps
    current.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_suffix: str,
        vpc: ec2.IVpc,
        key: kms.IKey,
        on_premises_cidrs: Sequence[str],
        validation_document_name: str,
        server_defaults: ServerDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = self._agent_installation_role(environment_suffix)
        self.security_group = self._replication_security_group(
            vpc, on_premises_cidrs, environment_suffix
        )
        self.launch_security_group = self._launch_security_group(vpc, environment_suffix)
        self.launch_template = self._launch_template(key, validation_document_name, server_defaults)

    def _agent_installation_role(self, environment_suffix: str) -> iam.Role:
        role = iam.Role(
            self,
            "AgentInstallationRole",
            assumed_by=iam.AccountRootPrincipal(),
            description=(
                "AWS Application Migration Service (successor of CloudEndure) agent installation "
                f"({environment_suffix})"
            ),
            max_session_duration=Duration.hours(1),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "AWSApplicationMigrationAgentInstallationPolicy"
                )
            ],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AWSApplicationMigrationAgentInstallationPolicy]",
            "The MGN agent installer's permissions are defined by AWS in this managed policy "
            "(MGN user guide, 'Generating the required AWS credentials'); it only registers "
            "source servers and sends replication data, and AWS updates it with the agent.",
        )
        return role

    def _replication_security_group(
        self, vpc: ec2.IVpc, on_premises_cidrs: Sequence[str], environment_suffix: str
    ) -> ec2.SecurityGroup:
        """Replicated data arrives on TCP 1500 from the on-premises networks only (over the
        VPN); the replication servers reach MGN, S3 and EC2 on HTTPS and nothing else."""
        group = ec2.SecurityGroup(
            self,
            "ReplicationServerSecurityGroup",
            vpc=vpc,
            description=(
                f"MGN replication servers ({environment_suffix}): TCP {REPLICATION_PORT} from "
                "on-premises source servers, HTTPS to the MGN, S3 and EC2 endpoints"
            ),
            allow_all_outbound=False,
        )
        for cidr in on_premises_cidrs:
            group.add_ingress_rule(
                ec2.Peer.ipv4(cidr),
                ec2.Port.tcp(REPLICATION_PORT),
                f"MGN replication data from on-premises source servers in {cidr}",
            )
        # The MGN and EC2 endpoints are public regional endpoints (through the NAT gateway);
        # S3 is reached through the VPC's gateway endpoint, whose addresses are also public.
        group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "HTTPS to the MGN, S3 and EC2 endpoints",
        )
        return group

    def _launch_security_group(self, vpc: ec2.IVpc, environment_suffix: str) -> ec2.SecurityGroup:
        """The group of every launched test and cutover instance (``migrate servers init``
        puts it in each server's EC2 launch template). HTTPS out only: the SSM agent (the
        post-launch validation runs through SSM) and the AWS endpoints, through the NAT
        gateway. DNS (the VPC resolver), the instance metadata service and Amazon Time Sync
        are link-local or VPC-reserved addresses security groups do not filter, so nothing
        else is needed. No ingress: an application's own traffic is its team's to allow,
        with the groups the plan adds per server (``security_groups``)."""
        group = ec2.SecurityGroup(
            self,
            "LaunchedInstanceSecurityGroup",
            vpc=vpc,
            description=(
                f"MGN test and cutover instances ({environment_suffix}): HTTPS to SSM and the AWS"
                " endpoints, no ingress (the plan adds application groups)"
            ),
            allow_all_outbound=False,
        )
        group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "HTTPS to SSM (post-launch validation) and the AWS endpoints",
        )
        return group

    def _launch_template(
        self, key: kms.IKey, validation_document_name: str, defaults: ServerDefaults
    ) -> mgn.CfnLaunchConfigurationTemplate:
        """How MGN launches test and cutover instances: started, without a public address,
        validated by the project's SSM document, which must succeed before a cutover."""
        settings: dict[str, Any] = launch_settings(
            instance_type=defaults.instance_type,
            licensing=defaults.licensing,
            boot_mode=defaults.boot_mode,
        )
        return mgn.CfnLaunchConfigurationTemplate(
            self,
            "LaunchConfigurationTemplate",
            launch_disposition="STARTED",
            associate_public_ip_address=False,
            target_instance_type_right_sizing_method=settings[
                "targetInstanceTypeRightSizingMethod"
            ],
            licensing=mgn.CfnLaunchConfigurationTemplate.LicensingProperty(
                os_byol=settings["licensing"]["osByol"]
            ),
            boot_mode=settings["bootMode"],
            post_launch_actions=mgn.CfnLaunchConfigurationTemplate.PostLaunchActionsProperty(
                deployment=POST_LAUNCH_DEPLOYMENT,
                ssm_documents=[
                    mgn.CfnLaunchConfigurationTemplate.SsmDocumentProperty(
                        action_name=VALIDATION_ACTION_NAME,
                        ssm_document_name=validation_document_name,
                        must_succeed_for_cutover=True,
                        timeout_seconds=VALIDATION_TIMEOUT_SECONDS,
                    )
                ],
            ),
            # The SSM parameters post-launch actions use are encrypted with the project key.
            enable_parameters_encryption=True,
            parameters_encryption_key=key.key_arn,
        )
