"""The app entry point: context to stack, tags, and the command-line behaviour of tap.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import tap
from lib.replication_tasks import TASK_TAG_KEY
from lib.tap_stack import TapStack
from tests.conftest import ROOT
from tests.unit.conftest import CDK_JSON_CONTEXT, SITE_CONTEXT, Synthesized

PYTHON = ROOT / ".venv" / "bin" / "python"


def _tags(template_json: dict[str, Any]) -> list[dict[str, str]]:
    """Every tag of every resource (``Tags`` or, for hosted zones, ``HostedZoneTags``)."""
    tags = []
    for resource in template_json["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("Tags", "HostedZoneTags"):
            value = properties.get(key)
            if isinstance(value, list):
                tags.extend(value)
    return tags


def _without_asset_hashes(template: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(template))
    for resource in copy["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"]["S3Key"] = "<asset>.zip"
    return copy


def _run_tap(tmp_path: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps(context),
    }
    return subprocess.run(
        [str(PYTHON), "tap.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# --------------------------------------------------------------------------- build_app


def test_default_app_has_one_stack_named_after_the_suffix(default_synth: Synthesized) -> None:
    stacks = [c for c in default_synth.app.node.children if isinstance(c, cdk.Stack)]
    assert [s.stack_name for s in stacks] == ["TapStackdev"]
    assert isinstance(stacks[0], TapStack)
    assert stacks[0].region == "us-east-1"


def test_environment_suffix_context_names_the_stack(qa_synth: Synthesized) -> None:
    assert [s.stack_name for s in qa_synth.assembly.stacks] == ["TapStackqa"]
    assert qa_synth.template_path.name == "TapStackqa.template.json"
    assert qa_synth.stack.environment_suffix == "qa"


def test_region_context_sets_the_stack_environment(site_synth: Synthesized) -> None:
    assert site_synth.stack.region == SITE_CONTEXT["region"]
    (artifact,) = site_synth.assembly.stacks
    assert artifact.environment.region == "eu-west-1"


def test_every_resource_carries_environment_and_project_tags(
    default_synth: Synthesized,
) -> None:
    tagged = [
        resource
        for resource in default_synth.template_json["Resources"].values()
        if "Tags" in resource.get("Properties", {})
        or "HostedZoneTags" in resource.get("Properties", {})
    ]
    assert len(tagged) > 20
    for resource in tagged:
        properties = resource["Properties"]
        tags = {
            t["Key"]: t["Value"] for t in properties.get("Tags", properties.get("HostedZoneTags"))
        }
        assert tags["Environment"] == "dev"
        assert tags["Project"] == "migration-orchestration"
    (artifact,) = default_synth.assembly.stacks
    assert artifact.tags == {"Environment": "dev", "Project": "migration-orchestration"}


def test_no_repository_tag_without_repository_context(default_synth: Synthesized) -> None:
    assert not [t for t in _tags(default_synth.template_json) if t["Key"] == "Repository"]


def test_repository_context_adds_the_repository_tag(site_synth: Synthesized) -> None:
    repository = [t["Value"] for t in _tags(site_synth.template_json) if t["Key"] == "Repository"]
    assert repository
    assert set(repository) == {"acme/migration-orchestration"}
    (artifact,) = site_synth.assembly.stacks
    assert artifact.tags["Repository"] == "acme/migration-orchestration"


@pytest.mark.parametrize("fixture", ["default_synth", "site_synth"])
def test_no_timestamp_tag(request: pytest.FixtureRequest, fixture: str) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    keys = {t["Key"] for t in _tags(synthesized.template_json)}
    assert "CreatedAt" not in keys
    # TASK_TAG_KEY: the replication tasks' tag the task grants are conditioned on.
    assert keys <= {"Environment", "Project", "Repository", "Name", TASK_TAG_KEY} | {
        k for k in keys if k.startswith("aws-cdk:")
    }


def test_tags_follow_the_suffix(qa_synth: Synthesized) -> None:
    assert {t["Value"] for t in _tags(qa_synth.template_json) if t["Key"] == "Environment"} == {
        "qa"
    }


def test_build_app_reports_a_bad_context_value() -> None:
    app = cdk.App(context={"logRetentionDays": "29"})
    with pytest.raises(tap.ConfigError, match=r"^logRetentionDays: 29"):
        tap.build_app(app)


def test_every_feature_flag_is_configured_in_cdk_json(default_synth: Synthesized) -> None:
    # What the CDK CLI's "N feature flags are not configured" notice counts: flags of the
    # installed aws-cdk-lib without a value whose unset behaviour is not the recommended one.
    manifest = json.loads((default_synth.outdir / "manifest.json").read_text())
    (report,) = [
        a for a in manifest["artifacts"].values() if a["type"] == "cdk:feature-flag-report"
    ]
    flags = report["properties"]["flags"]
    unconfigured = sorted(
        name
        for name, flag in flags.items()
        if "userValue" not in flag
        and flag.get("unconfiguredBehavesLike", {}).get("v2", False) != flag["recommendedValue"]
    )
    assert unconfigured == []
    # Three are kept at the old behaviour on purpose (README, "Configuration").
    kept = {
        name
        for name, flag in flags.items()
        if "userValue" in flag and flag["userValue"] != flag["recommendedValue"]
    }
    assert kept == {
        "@aws-cdk/core:enableAdditionalMetadataCollection",
        "@aws-cdk/core:explicitStackTags",
        "@aws-cdk/core:validateAgainstDefaultRules",
    }


# --------------------------------------------------------------------------- main


def test_main_returns_2_with_one_line_for_a_bad_context(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The jsii runtime read its environment at start-up: hand main() an app with the context.
    app_class = cdk.App
    monkeypatch.setattr(cdk, "App", lambda: app_class(context={"onPremisesBgpAsn": 64512}))
    assert tap.main() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: CDK context onPremisesBgpAsn: must differ from the AWS side ASN 64512\n"
    )
    assert captured.err.count("\n") == 1


def test_tap_py_rejects_a_private_gateway_address_without_a_traceback(tmp_path: Path) -> None:
    result = _run_tap(tmp_path, {"customerGatewayIp": "10.0.0.1"})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == (
        "error: CDK context customerGatewayIp: 10.0.0.1 is a private address; the customer"
        " gateway needs a public IPv4 address"
    )
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_cdk_synth_prints_the_line_and_exits_1_for_a_bad_context(tmp_path: Path) -> None:
    # The CDK CLI runs tap.py as a subprocess and exits 1 for any failure of its app: it only
    # names the app's status (2) in its own second line. The README says so.
    result = subprocess.run(
        [
            str(ROOT / "node_modules" / ".bin" / "cdk"),
            "synth",
            "--quiet",
            "-c",
            "logRetentionDays=2",
            "--output",
            str(tmp_path),
        ],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: CDK context logRetentionDays: 2 is not one CloudWatch")
    assert lines[1:] == [".venv/bin/python tap.py: Subprocess exited with error 2"]


def test_tap_py_synthesizes_what_cdk_synth_would(
    tmp_path: Path, default_synth: Synthesized
) -> None:
    # The context the CDK CLI hands the app: cdk.json's, as CDK_CONTEXT_JSON.
    result = _run_tap(tmp_path, CDK_JSON_CONTEXT)
    assert result.returncode == 0, result.stderr
    template_path = tmp_path / "TapStackdev.template.json"
    assert template_path.is_file()
    template = json.loads(template_path.read_text())
    assert list(template["Outputs"]) == list(default_synth.template_json["Outputs"])
    # The unit tests assert on the very template the CLI produces. Only the code asset's hash may
    # differ: src/ can change between the two syntheses (asset stability is a quality gate).
    assert _without_asset_hashes(template) == _without_asset_hashes(default_synth.template_json)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
