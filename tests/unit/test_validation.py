"""Validation: the post-migration SSM Command document and its loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from aws_cdk import aws_ssm as ssm
from aws_cdk.assertions import Template

from lib.tap_stack import TapStack
from lib.validation import DOCUMENT_PATH, load_document
from tests.conftest import ROOT

DOCUMENT_ID = "ValidationPostMigrationValidation26F36B18"


def test_document_path_is_the_yaml_in_the_repository() -> None:
    expected = ROOT / "lib" / "documents" / "post_migration_validation.yaml"
    assert DOCUMENT_PATH.resolve() == expected
    assert DOCUMENT_PATH.is_file()


def test_command_document_with_the_yaml_content(template: Template) -> None:
    template.resource_count_is("AWS::SSM::Document", 1)
    template.has_resource_properties(
        "AWS::SSM::Document",
        {"DocumentType": "Command", "UpdateMethod": "NewVersion", "Content": load_document()},
    )


def test_document_content_is_the_file_verbatim(template: Template) -> None:
    (document,) = template.find_resources("AWS::SSM::Document").values()
    content = document["Properties"]["Content"]
    assert content == yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert content["schemaVersion"] == "2.2"


def test_document_has_the_four_parameters_with_defaults() -> None:
    parameters = load_document()["parameters"]
    assert set(parameters) == {
        "ServicePort",
        "HealthCheckUrl",
        "MinFreeDiskPercent",
        "MaxClockOffsetMs",
    }
    assert {name: p["default"] for name, p in parameters.items()} == {
        "ServicePort": "443",
        "HealthCheckUrl": "http://127.0.0.1/health",
        "MinFreeDiskPercent": "15",
        "MaxClockOffsetMs": "500",
    }
    assert all(p["type"] == "String" and p["allowedPattern"] for p in parameters.values())


def test_document_has_a_linux_and_a_windows_step() -> None:
    steps = load_document()["mainSteps"]
    assert [(s["name"], s["action"], s["precondition"]) for s in steps] == [
        ("ValidateLinux", "aws:runShellScript", {"StringEquals": ["platformType", "Linux"]}),
        (
            "ValidateWindows",
            "aws:runPowerShellScript",
            {"StringEquals": ["platformType", "Windows"]},
        ),
    ]
    for step in steps:
        script = "\n".join(step["inputs"]["runCommand"])
        # Every parameter is used by every step.
        for parameter in (
            "ServicePort",
            "HealthCheckUrl",
            "MinFreeDiskPercent",
            "MaxClockOffsetMs",
        ):
            assert f"{{{{ {parameter} }}}}" in script, (step["name"], parameter)
        assert "exit 1" in script


def test_load_document_reads_another_valid_document(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text('schemaVersion: "2.2"\ndescription: x\nmainSteps: []\n', encoding="utf-8")
    assert load_document(path) == {"schemaVersion": "2.2", "description": "x", "mainSteps": []}


@pytest.mark.parametrize(
    "text",
    [
        'schemaVersion: "1.2"\nruntimeConfig: {}\n',
        "schemaVersion: 2.2\nmainSteps: []\n",  # a float, not the string "2.2"
        "description: no schema version\n",
        "- schemaVersion: '2.2'\n",
        "",
    ],
    ids=["schema-1.2", "unquoted-float", "missing", "a-list", "empty"],
)
def test_load_document_rejects_anything_but_a_2_2_document(tmp_path: Path, text: str) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"expected an SSM Command document with schemaVersion 2.2"
    ):
        load_document(path)


def test_ssm_document_attribute(stack: TapStack) -> None:
    assert isinstance(stack.ssm_document, ssm.CfnDocument)
    assert stack.resolve(stack.ssm_document.ref) == {"Ref": DOCUMENT_ID}
