"""Tracking: the migration tracking table."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Capture, Template

from lib.tap_stack import TapStack
from lib.tracking import PHASE_INDEX_NAME
from migration.ledger import EXPIRY_ATTRIBUTE

TABLE_ID = "TrackingTable3514576F"


def test_tracking_table_keys_index_billing_and_recovery(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "TableName": "migration-tracking-dev",
                "KeySchema": [
                    {"AttributeName": "serverId", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "AttributeDefinitions": [
                    {"AttributeName": "serverId", "AttributeType": "S"},
                    {"AttributeName": "timestamp", "AttributeType": "S"},
                    {"AttributeName": "migrationPhase", "AttributeType": "S"},
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "MigrationPhaseIndex",
                        "KeySchema": [
                            {"AttributeName": "migrationPhase", "KeyType": "HASH"},
                            {"AttributeName": "timestamp", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                "SSESpecification": {
                    "SSEEnabled": True,
                    "SSEType": "KMS",
                    "KMSMasterKeyId": {"Fn::GetAtt": ["EncryptionKey3A692D6E", "Arn"]},
                },
                "Tags": [
                    {"Key": "Environment", "Value": "dev"},
                    {"Key": "Project", "Value": "migration-orchestration"},
                ],
            },
            # The migration history outlives the stack (and a replacement of the table).
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_table_encrypts_with_the_project_key(template: Template) -> None:
    key = Capture()
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": {"Fn::GetAtt": [key, "Arn"]},
            }
        },
    )
    assert [key.as_string()] == list(template.find_resources("AWS::KMS::Key"))


def test_time_to_live_is_on_the_ledgers_expiry_attribute(template: Template) -> None:
    # Only an uncommitted claim's ledger chunks carry it (migration.ledger, "Expiry").
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"TimeToLiveSpecification": {"AttributeName": EXPIRY_ATTRIBUTE, "Enabled": True}},
    )
    assert EXPIRY_ATTRIBUTE == "expiresAt"


def test_index_name_constant_matches_the_runtime_contract() -> None:
    assert PHASE_INDEX_NAME == "MigrationPhaseIndex"


def test_table_name_follows_the_suffix(qa_template: Template) -> None:
    qa_template.has_resource_properties(
        "AWS::DynamoDB::Table", {"TableName": "migration-tracking-qa"}
    )


def test_migration_tracking_table_attribute(stack: TapStack) -> None:
    assert isinstance(stack.migration_tracking_table, dynamodb.Table)
    assert stack.resolve(stack.migration_tracking_table.table_name) == {"Ref": TABLE_ID}
