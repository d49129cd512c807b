"""Notifications: the SNS topic every alarm and every rollback reports to."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class Notifications(Construct):
    """An SNS topic encrypted with the project key that refuses publishing without TLS."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Migration events",
            master_key=key,
            enforce_ssl=True,
        )
