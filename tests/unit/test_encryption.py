"""Encryption: the single rotating KMS key and its service-principal grants."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from lib.tap_stack import TapStack

KEY_ID = "EncryptionKey3A692D6E"


def test_exactly_one_customer_managed_key_with_rotation(template: Template) -> None:
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like(
                {
                    "EnableKeyRotation": True,
                    "Description": "Encrypts the migration orchestration data (dev)",
                }
            ),
            # Deleting the stack keeps the key: it decrypts the retained tracking table.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_key_attribute_is_the_key_in_the_template(stack: TapStack) -> None:
    assert isinstance(stack.kms_key, kms.Key)
    assert stack.resolve(stack.kms_key.key_arn) == {"Fn::GetAtt": [KEY_ID, "Arn"]}


def test_key_policy_keeps_account_administration(template: Template) -> None:
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "kms:*",
                                "Effect": "Allow",
                                "Principal": {"AWS": Match.any_value()},
                                "Resource": "*",
                            }
                        )
                    ]
                ),
                "Version": "2012-10-17",
            }
        },
    )


def _statement(template: Template, sid: str) -> dict[str, Any]:
    (key,) = template.find_resources("AWS::KMS::Key").values()
    (statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == sid]
    return statement


def test_cloudwatch_logs_may_use_the_key_for_this_regions_log_groups_only(
    template: Template,
) -> None:
    statement = _statement(template, "AllowCloudWatchLogs")
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert sorted(statement["Action"]) == [
        "kms:Decrypt*",
        "kms:Describe*",
        "kms:Encrypt*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Join": ["", ["arn:aws:logs:us-east-1:", {"Ref": "AWS::AccountId"}, ":*"]]
            }
        }
    }


def test_cloudwatch_alarms_may_publish_to_the_encrypted_topic_from_this_account(
    template: Template,
) -> None:
    statement = _statement(template, "AllowCloudWatchAlarmsToPublish")
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_logs_principal_follows_the_configured_region(site_template: Template) -> None:
    statement = _statement(site_template, "AllowCloudWatchLogs")
    assert statement["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert "us-east-1" not in str(statement)
