"""MGN's launch configuration template locally: recorded (moto has no MGN) with its evaluated
properties and a stable ``lct-`` id, verified offline (the post-launch document exists in SSM
and must succeed for cutover, the SSM parameters key is a deployed key), updated in place and
forgotten when removed, as the other fillers' resources."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migration.local import Emulator, LocalDeployError
from migration.local.fillers import FILLERS, FillContext
from migration.local.mgn_templates import (
    NOT_EMULATED,
    TYPE,
    describe,
    launch_configuration_template,
    template_id,
)
from migration.local.update import TOOL_DELETERS, TOOL_UPDATERS
from migration.local.verify import CHECKERS
from tests.runtime.local_deploy_fixtures import deploy_template

KEY: dict[str, Any] = {
    "Type": "AWS::KMS::Key",
    "Properties": {
        "KeyPolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": {
                            "Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]
                        }
                    },
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    },
}
DOCUMENT: dict[str, Any] = {
    "Type": "AWS::SSM::Document",
    "Properties": {
        "DocumentType": "Command",
        "Content": {
            "schemaVersion": "2.2",
            "description": "validate",
            "mainSteps": [
                {
                    "name": "Check",
                    "action": "aws:runShellScript",
                    "inputs": {"runCommand": ["true"]},
                }
            ],
        },
    },
}
LAUNCH_TEMPLATE: dict[str, Any] = {
    "Type": TYPE,
    "Properties": {
        "LaunchDisposition": "STARTED",
        "TargetInstanceTypeRightSizingMethod": "BASIC",
        "Licensing": {"OsByol": False},
        "BootMode": "USE_SOURCE",
        "EnableParametersEncryption": True,
        "ParametersEncryptionKey": {"Fn::GetAtt": ["Key", "Arn"]},
        "PostLaunchActions": {
            "Deployment": "TEST_AND_CUTOVER",
            "SsmDocuments": [
                {
                    "ActionName": "post-migration-validation",
                    "SsmDocumentName": {"Ref": "Document"},
                    "MustSucceedForCutover": True,
                    "TimeoutSeconds": 600,
                }
            ],
        },
    },
}
TEMPLATE: dict[str, Any] = {
    "Resources": {"Key": KEY, "Document": DOCUMENT, "LaunchTemplate": LAUNCH_TEMPLATE},
    "Outputs": {
        "TemplateId": {
            "Value": {"Fn::GetAtt": ["LaunchTemplate", "LaunchConfigurationTemplateID"]}
        },
        "TemplateArn": {"Value": {"Ref": "LaunchTemplate"}},
    },
}


def _with(**properties: Any) -> dict[str, Any]:
    """The template with the launch template's properties changed (None removes one)."""
    template = copy.deepcopy(TEMPLATE)
    props = template["Resources"]["LaunchTemplate"]["Properties"]
    for key, value in properties.items():
        if value is None:
            props.pop(key)
        else:
            props[key] = value
    return template


def _action(**changes: Any) -> dict[str, Any]:
    action = copy.deepcopy(LAUNCH_TEMPLATE["Properties"]["PostLaunchActions"])
    action["SsmDocuments"][0].update(changes)
    return action


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(region="us-west-2") as emu:
        yield emu


# -- without the emulator ---------------------------------------------------------------------


def test_the_type_is_filled_checked_updated_and_forgotten_like_other_filled_types() -> None:
    assert TYPE in FILLERS and TYPE in CHECKERS
    assert TYPE in TOOL_UPDATERS and TYPE in TOOL_DELETERS


def test_the_template_id_is_derived_from_the_logical_id() -> None:
    lct = template_id("ServerReplicationLaunchConfigurationTemplate0C0D829E")
    assert lct == template_id("ServerReplicationLaunchConfigurationTemplate0C0D829E")
    assert lct != template_id("Other")
    assert len(lct) == 21 and lct.startswith("lct-")
    assert int(lct[4:], 16) >= 0  # hex digits


def test_the_filler_calls_nothing_and_records_the_settings() -> None:
    def no_client(service: str) -> Any:
        raise AssertionError(f"no {service} call expected: moto has no MGN")

    props = copy.deepcopy(LAUNCH_TEMPLATE["Properties"])
    props["ParametersEncryptionKey"] = "arn:aws:kms:us-west-2:123456789012:key/k"
    props["PostLaunchActions"]["SsmDocuments"][0]["SsmDocumentName"] = "Validate"
    ctx = FillContext("S", "LaunchTemplate", "us-west-2", "123456789012", no_client)
    filled = launch_configuration_template(ctx, props)
    lct = template_id("LaunchTemplate")
    arn = f"arn:aws:mgn:us-west-2:123456789012:launch-configuration-template/{lct}"
    assert filled.ref == arn
    assert filled.attributes == {"Arn": arn, "LaunchConfigurationTemplateID": lct}
    assert filled.notes == [
        "post-launch (TEST_AND_CUTOVER): Validate (must succeed, 600 s); launch STARTED, "
        "right-sizing BASIC, osByol False, boot USE_SOURCE; "
        "SSM parameters key arn:aws:kms:us-west-2:123456789012:key/k",
        NOT_EMULATED,
    ]
    assert describe({}) == (
        "post-launch (-): none; launch -, right-sizing -, osByol -, boot -; SSM parameters key -"
    )


# -- deployed into the emulator ---------------------------------------------------------------


def test_recorded_with_its_properties_and_verified(emulator: Emulator, tmp_path: Path) -> None:
    deployment = deploy_template(emulator, tmp_path, TEMPLATE, "MgnOk")
    record = deployment.resources["LaunchTemplate"]
    lct = template_id("LaunchTemplate")
    assert record.created_by == "tool"
    assert record.physical_id.endswith(f":launch-configuration-template/{lct}")
    assert deployment.outputs["TemplateId"] == lct
    assert deployment.outputs["TemplateArn"] == record.physical_id
    # The evaluated properties, for inspection: the deployed document's name and key's ARN.
    props = deployment.tool_resources["LaunchTemplate"].props
    document = deployment.resources["Document"].physical_id
    key_arn = emulator.client("kms").describe_key(KeyId=deployment.resources["Key"].physical_id)[
        "KeyMetadata"
    ]["Arn"]
    assert props["PostLaunchActions"]["SsmDocuments"][0]["SsmDocumentName"] == document
    assert props["ParametersEncryptionKey"] == key_arn
    assert NOT_EMULATED in record.notes
    assert deployment.verified["LaunchTemplate"] == [
        "verified: ARN with an lct- id, post-launch actions, "
        f"post-launch document {document} in SSM, "
        f"post-launch document {document} must succeed for cutover, "
        "SSM parameters encryption on, SSM parameters key is a deployed KMS key, "
        "SSM parameters key enabled"
    ]
    assert "NOT EMULATED: moto has no MGN" in deployment.summary()


def test_a_post_launch_document_missing_from_ssm_is_caught(
    emulator: Emulator, tmp_path: Path
) -> None:
    template = _with(PostLaunchActions=_action(SsmDocumentName="NotDeployed"))
    with pytest.raises(
        LocalDeployError,
        match=r"LaunchTemplate \(AWS::MGN::LaunchConfigurationTemplate\): post-launch document "
        r"NotDeployed in SSM: expected True, found False",
    ):
        deploy_template(emulator, tmp_path, template, "MgnNoDocument")


def test_a_validation_that_may_fail_is_caught(emulator: Emulator, tmp_path: Path) -> None:
    template = _with(PostLaunchActions=_action(MustSucceedForCutover=False))
    with pytest.raises(LocalDeployError, match=r"must succeed for cutover: expected True"):
        deploy_template(emulator, tmp_path, template, "MgnMayFail")


def test_no_post_launch_action_is_caught(emulator: Emulator, tmp_path: Path) -> None:
    template = _with(PostLaunchActions={"Deployment": "TEST_AND_CUTOVER", "SsmDocuments": []})
    with pytest.raises(LocalDeployError, match=r"post-launch actions: expected True, found False"):
        deploy_template(emulator, tmp_path, template, "MgnNoAction")


def test_a_parameters_key_that_is_not_deployed_is_caught(
    emulator: Emulator, tmp_path: Path
) -> None:
    other = "arn:aws:kms:us-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"
    template = _with(ParametersEncryptionKey=other, EnableParametersEncryption=None)
    with pytest.raises(LocalDeployError) as caught:
        deploy_template(emulator, tmp_path, template, "MgnOtherKey")
    message = str(caught.value)
    assert f"SSM parameters key is a deployed KMS key: expected '{other}', found None" in message
    assert "SSM parameters encryption on: expected True, found None" in message


def test_without_a_parameters_key_nothing_about_keys_is_checked(
    emulator: Emulator, tmp_path: Path
) -> None:
    template = _with(ParametersEncryptionKey=None, EnableParametersEncryption=None)
    deployment = deploy_template(emulator, tmp_path, template, "MgnNoKey")
    assert "SSM parameters" not in deployment.verified["LaunchTemplate"][0]


def test_an_update_changes_it_in_place_and_a_removal_forgets_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    first = deploy_template(emulator, tmp_path, TEMPLATE, "MgnUpdate")
    changed = _with(PostLaunchActions=_action(TimeoutSeconds=900), LaunchDisposition="STOPPED")
    second = deploy_template(emulator, tmp_path, changed, "MgnUpdate", previous=first)
    record = second.resources["LaunchTemplate"]
    assert record.physical_id == first.resources["LaunchTemplate"].physical_id
    assert "updated in place from the earlier deployment" in record.notes
    assert "900 s" in record.notes[0] and "launch STOPPED" in record.notes[0]
    props = second.tool_resources["LaunchTemplate"].props
    assert props["LaunchDisposition"] == "STOPPED"

    without = copy.deepcopy(changed)
    del without["Resources"]["LaunchTemplate"]
    without["Outputs"] = {}
    third = deploy_template(emulator, tmp_path, without, "MgnUpdate", previous=second)
    (removal,) = third.removed
    assert removal.logical_id == "LaunchTemplate"
    assert removal.outcome == (
        "deleted by the local deployment (nothing held on the emulator: moto has no MGN; "
        "its recorded properties dropped)"
    )
    assert not removal.left_behind


def test_a_tags_change_is_refused_as_a_replacement(emulator: Emulator, tmp_path: Path) -> None:
    first = deploy_template(emulator, tmp_path, TEMPLATE, "MgnTags")
    tagged = _with(Tags=[{"Key": "Project", "Value": "x"}])
    with pytest.raises(LocalDeployError, match=r"Tags changed: CloudFormation would replace"):
        deploy_template(emulator, tmp_path, tagged, "MgnTags", previous=first)
