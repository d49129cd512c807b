"""Encryption: the one customer-managed KMS key every other capability encrypts with."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

MGN_SERVICE_LINKED_ROLE: Final = "AWSServiceRoleForApplicationMigrationService"


class Encryption(Construct):
    """A rotating KMS key, with key-policy grants for the AWS services that encrypt on our behalf.

    CloudWatch Logs and CloudWatch alarms (publishing to the encrypted SNS topic) act as service
    principals, so they cannot be granted through IAM; the key policy names them, scoped to this
    account and, for Logs, to this region's log groups.

    MGN (Application Migration Service) encrypts its staging disks and launched instances' volumes
    through EC2 as its service-linked role, which exists only once MGN is initialised (after the
    deploy); KMS refuses a key policy naming a role that does not exist, so the statements admit
    any principal of this account whose ARN is that role, and only through EC2 in this region
    (the pattern of the AWS managed EBS key's policy, narrowed to one role).

    The key is retained when the stack is deleted: it decrypts the retained tracking table (the
    migration history) and its backups. README.md says how to remove both on purpose.
    """

    def __init__(self, scope: Construct, construct_id: str, *, environment_suffix: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the migration orchestration data ({environment_suffix})",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
                        )
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self._admit_mgn(stack)

    def _admit_mgn(self, stack: Stack) -> None:
        """MGN's service-linked role may use the key for EBS volumes, through EC2 only."""
        conditions: dict[str, Any] = {
            "StringEquals": {
                "kms:CallerAccount": stack.account,
                "kms:ViaService": f"ec2.{stack.region}.amazonaws.com",
            },
            "ArnEquals": {"aws:PrincipalArn": mgn_service_linked_role_arn(stack)},
        }
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowMgnEbsEncryptionThroughEc2",
                principals=[iam.AnyPrincipal()],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                resources=["*"],
                conditions=conditions,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowMgnGrantsForEbsVolumes",
                principals=[iam.AnyPrincipal()],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={**conditions, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )


def mgn_service_linked_role_arn(stack: Stack) -> str:
    """MGN's service-linked role, created by MGN's initialisation (``InitializeService``)."""
    return (
        f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/mgn.amazonaws.com/"
        f"{MGN_SERVICE_LINKED_ROLE}"
    )
