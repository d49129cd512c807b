"""Properties moto's CloudFormation accepts but drops, restored through the service APIs.

Each fix receives a client factory, the physical id and the evaluated properties, and returns
notes for the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from migration.local import security_groups

Fix = Callable[[Callable[[str], Any], str, Mapping[str, Any]], list[str]]


def kms_key(client: Callable[[str], Any], key_id: str, props: Mapping[str, Any]) -> list[str]:
    """Tags: sent without them (moto's KMS model fails on CloudFormation's Key/Value shape)."""
    tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])]
    if not tags:
        return []
    client("kms").tag_resource(KeyId=key_id, Tags=tags)
    return ["fixed: tags set through kms:TagResource"]


def iam_role(client: Callable[[str], Any], role_name: str, props: Mapping[str, Any]) -> list[str]:
    """ManagedPolicyArns: ignored by moto's CloudFormation."""
    arns = list(props.get("ManagedPolicyArns", []))
    for arn in arns:
        client("iam").attach_role_policy(RoleName=role_name, PolicyArn=arn)
    return [f"fixed: {len(arns)} managed policies attached"] if arns else []


FIXES: dict[str, Fix] = {
    "AWS::KMS::Key": kms_key,
    "AWS::IAM::Role": iam_role,
    "AWS::EC2::SecurityGroup": security_groups.fix_security_group,
}
