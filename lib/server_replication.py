"""Server replication: the IAM role used to install replication agents on on-premises servers.

The seed names CloudEndure, which AWS retired; its successor is AWS Application Migration Service
(MGN). The seed's public name ``cloudendure_role`` / ``CloudEndureRoleArn`` is kept as the contract.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from lib.nag import acknowledge


class ServerReplication(Construct):
    """A role that operators assume to get short-lived credentials for the MGN agent installer.

    The installer on each on-premises server authenticates with these temporary credentials instead
    of long-lived IAM user keys. Trust is limited to this account's principals that are allowed
    to assume it; permissions are AWS's agent-installation policy, which MGN keeps current.
    """

    def __init__(self, scope: Construct, construct_id: str, *, environment_suffix: str) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
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
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AWSApplicationMigrationAgentInstallationPolicy]",
            "The MGN agent installer's permissions are defined by AWS in this managed policy "
            "(MGN user guide, 'Generating the required AWS credentials'); it only registers "
            "source servers and sends replication data, and AWS updates it with the agent.",
        )
