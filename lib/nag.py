"""cdk-nag acknowledgements: every accepted AwsSolutions finding, with the reason it is accepted.

Each acknowledgement is attached to the one construct that raises it and names the exact finding
(rule and, for IAM4/IAM5, the policy, action or resource), so a new finding is never hidden by an
old acknowledgement.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

_PREFIX = "AwsSolutions::"


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (``AwsSolutions-IAM5[Action::x*]``) on a construct."""
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=f"{_PREFIX}{finding}", reason=reason)
    )
