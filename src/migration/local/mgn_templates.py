"""MGN locally: the launch configuration template (``AWS::MGN::LaunchConfigurationTemplate``).

moto has no Application Migration Service at all (neither its CloudFormation nor an API), so
nothing can be created. The filler records the resource: the deployment keeps its evaluated
properties (``LocalDeployment.tool_resources[logical id].props``; the summary's notes name the
settings that matter) and gives it CloudFormation's values, ``Ref`` the template's ARN and
``LaunchConfigurationTemplateID`` ``lct-`` + 17 hex digits derived from the logical id (the same
in every deployment). Not emulated, and said in the summary: no EC2 launch template behind it
(``Ec2LaunchTemplateID`` has no value locally), no launch, no post-launch action run.

What can be checked offline is (checker): every post-launch SSM document exists in the
emulator's SSM (the stack's validation document is deployed there), each must succeed for
cutover, and the SSM parameters' encryption key, if set, is a KMS key deployed in the emulator,
enabled, with parameter encryption on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from migration.local.filling import FillContext, Filled

Check = tuple[str, Any, Any]
Client = Callable[[str], Any]

TYPE = "AWS::MGN::LaunchConfigurationTemplate"
_ARN = re.compile(r"arn:aws:mgn:[a-z0-9-]+:\d*:launch-configuration-template/lct-[0-9a-f]{17}")
NOT_EMULATED = (
    "NOT EMULATED: moto has no MGN; the evaluated properties are kept "
    "(LocalDeployment.tool_resources), no EC2 launch template backs the template "
    "(Ec2LaunchTemplateID has no value), nothing is launched and no post-launch action runs"
)


def template_id(logical_id: str) -> str:
    """``lct-`` + 17 hex digits, derived from the logical id (stable across deployments)."""
    return "lct-" + hashlib.sha256(logical_id.encode()).hexdigest()[:17]


def describe(props: Mapping[str, Any]) -> str:
    """One line with the settings that matter (post-launch validation, launch, encryption)."""
    actions = props.get("PostLaunchActions", {})
    documents = [
        f"{d['SsmDocumentName']} "
        f"({'must succeed' if d.get('MustSucceedForCutover') else 'may fail'}, "
        f"{d.get('TimeoutSeconds', '-')} s)"
        for d in actions.get("SsmDocuments", [])
    ]
    return (
        f"post-launch ({actions.get('Deployment', '-')}): {', '.join(documents) or 'none'}; "
        f"launch {props.get('LaunchDisposition', '-')}, right-sizing "
        f"{props.get('TargetInstanceTypeRightSizingMethod', '-')}, osByol "
        f"{props.get('Licensing', {}).get('OsByol', '-')}, boot {props.get('BootMode', '-')}; "
        f"SSM parameters key {props.get('ParametersEncryptionKey', '-')}"
    )


def launch_configuration_template(ctx: FillContext, props: Mapping[str, Any]) -> Filled:
    """Recorded, not created: there is no MGN to call."""
    lct = template_id(ctx.logical_id)
    arn = f"arn:aws:mgn:{ctx.region}:{ctx.account}:launch-configuration-template/{lct}"
    return Filled(
        arn,
        {"Arn": arn, "LaunchConfigurationTemplateID": lct},
        notes=[describe(props), NOT_EMULATED],
    )


def _document_exists(client: Client, name: str) -> bool:
    try:
        client("ssm").describe_document(Name=name)
    except ClientError:
        return False
    return True


def _key_checks(client: Client, props: Mapping[str, Any]) -> list[Check]:
    key = props.get("ParametersEncryptionKey")
    if not key:
        return []
    try:
        metadata = client("kms").describe_key(KeyId=key)["KeyMetadata"]
    except ClientError:
        metadata = {}
    return [
        ("SSM parameters encryption on", True, props.get("EnableParametersEncryption")),
        ("SSM parameters key is a deployed KMS key", key, metadata.get("Arn")),
        ("SSM parameters key enabled", True, metadata.get("Enabled")),
    ]


def check_launch_configuration_template(
    client: Client, arn: str, props: Mapping[str, Any]
) -> list[Check]:
    documents = props.get("PostLaunchActions", {}).get("SsmDocuments", [])
    checks: list[Check] = [
        ("ARN with an lct- id", True, bool(_ARN.fullmatch(arn))),
        ("post-launch actions", True, bool(documents)),
    ]
    for document in documents:
        name = document["SsmDocumentName"]
        checks += [
            (f"post-launch document {name} in SSM", True, _document_exists(client, name)),
            (
                f"post-launch document {name} must succeed for cutover",
                True,
                document.get("MustSucceedForCutover"),
            ),
        ]
    return checks + _key_checks(client, props)


_REASON = "moto has no Application Migration Service (recorded with its properties, not emulated)"
FILLERS = {TYPE: (launch_configuration_template, _REASON)}
CHECKERS = {TYPE: check_launch_configuration_template}
