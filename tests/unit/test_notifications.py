"""Notifications: the KMS-encrypted, TLS-only SNS topic."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Capture, Match, Template

from lib.tap_stack import TapStack

TOPIC_ID = "NotificationsTopicAE679CBD"


def test_topic_is_encrypted_with_the_project_key(template: Template) -> None:
    template.resource_count_is("AWS::SNS::Topic", 1)
    key = Capture()
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"DisplayName": "Migration events", "KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}},
    )
    assert [key.as_string()] == list(template.find_resources("AWS::KMS::Key"))


def test_topic_policy_denies_publishing_without_tls(template: Template) -> None:
    template.resource_count_is("AWS::SNS::TopicPolicy", 1)
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": TOPIC_ID}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Principal": "*",
                                "Resource": {"Ref": TOPIC_ID},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                ),
                "Version": "2012-10-17",
            },
        },
    )


def test_topic_policy_grants_nothing(template: Template) -> None:
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Effect"] for s in statements] == ["Deny"]


def test_topic_has_no_subscription_in_the_template(template: Template) -> None:
    # Subscribers (people, chat) are added per environment, outside the stack.
    template.resource_count_is("AWS::SNS::Subscription", 0)


def test_sns_topic_attribute(stack: TapStack) -> None:
    assert isinstance(stack.sns_topic, sns.Topic)
    assert stack.resolve(stack.sns_topic.topic_arn) == {"Ref": TOPIC_ID}
