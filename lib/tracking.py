"""Tracking: the DynamoDB table holding every entity's migration history and current phase."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from migration.ledger import EXPIRY_ATTRIBUTE

PHASE_INDEX_NAME = "MigrationPhaseIndex"


class Tracking(Construct):
    """The seed's tracking table: ``serverId`` / ``timestamp`` keys and ``MigrationPhaseIndex``.

    On-demand billing, encrypted with the project key, point-in-time recovery on. The table name is
    part of the seed's contract (``migration-tracking-{suffix}``). The table is the migration
    history: deleting the stack (or replacing the table) retains it. README.md says how to remove
    it on purpose. Time To Live is on ``expiresAt``, which only the rollback ledger's chunks of an
    uncommitted claim carry (:mod:`migration.ledger`, "Expiry"); the history never expires.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, environment_suffix: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=f"migration-tracking-{environment_suffix}",
            partition_key=dynamodb.Attribute(name="serverId", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="timestamp", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute=EXPIRY_ATTRIBUTE,
        )
        self.table.add_global_secondary_index(
            index_name=PHASE_INDEX_NAME,
            partition_key=dynamodb.Attribute(
                name="migrationPhase", type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name="timestamp", type=dynamodb.AttributeType.STRING),
        )
