"""Quality gates on the synthesized template: cfn-lint, cdk-nag and deterministic synth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint_file

from tests.conftest import ROOT
from tests.unit.conftest import CDK_JSON_CONTEXT

CONTEXTS = [{}, {"environmentSuffix": "qa", "createDmsVpcRole": "false"}]


@pytest.mark.parametrize("context", CONTEXTS, ids=["dev", "qa-without-dms-role"])
def test_cfn_lint_reports_no_errors(synth, context):
    synthesized = synth(**context)
    # The stack and each wave's nested stack.
    templates = sorted(synthesized.outdir.glob("*.template.json"))
    assert len(templates) == 1 + len(synthesized.stack.wave_stacks) == 3
    errors = [
        f"{path.name}: {m}"
        for path in templates
        for m in lint_file(path)
        if m.rule.severity == "error"
    ]
    assert errors == []


def _nag_report(outdir: Path) -> dict:
    report = json.loads((outdir / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin


@pytest.mark.parametrize("context", CONTEXTS, ids=["dev", "qa-without-dms-role"])
def test_cdk_nag_has_no_unacknowledged_finding(synth, context):
    plugin = _nag_report(synth(**context).outdir)
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []


def test_every_nag_acknowledgement_names_the_finding_and_a_reason(default_synth):
    suppressed = _nag_report(default_synth.outdir)["suppressedViolations"]
    assert suppressed, "expected the documented acknowledgements"
    for finding in suppressed:
        rule = finding["ruleName"]
        # IAM4/IAM5 findings are per policy/action/resource: the acknowledgement must be too.
        if rule.startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert "[" in rule and rule.endswith("]"), rule
        assert finding["acknowledgedId"] == f"AwsSolutions::{rule}"
        assert len(finding["reason"]) >= 60, (rule, finding["reason"])


def test_cdk_nag_gate_fails_on_an_unacknowledged_finding(tmp_path):
    # Proves the gate is live: a topic that does not enforce TLS must stop synthesis.
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Unsafe")
    sns.Topic(stack, "Topic")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    violations = _nag_report(tmp_path)["violations"]
    assert {v["ruleName"] for v in violations} >= {"AwsSolutions-SNS3"}


def test_synth_is_byte_identical_across_processes(default_synth, tmp_path):
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps(CDK_JSON_CONTEXT),
    }
    subprocess.run([sys.executable, "tap.py"], cwd=ROOT, env=env, check=True, capture_output=True)
    templates = sorted(p.name for p in default_synth.outdir.glob("*.template.json"))
    assert templates == sorted(p.name for p in tmp_path.glob("*.template.json"))
    assert len(templates) == 3  # the stack and its two wave stacks
    for name in templates:
        assert (default_synth.outdir / name).read_bytes() == (tmp_path / name).read_bytes()
    # The Lambda asset is part of the deployment too: its content hash must not move either.
    first_assets = json.loads((default_synth.outdir / "TapStackdev.assets.json").read_text())
    second_assets = json.loads((tmp_path / "TapStackdev.assets.json").read_text())
    assert first_assets["files"].keys() == second_assets["files"].keys()


def test_template_carries_no_timestamp_or_user_name(default_synth):
    text = default_synth.template_path.read_text()
    assert "CreatedAt" not in text
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if user and len(user) > 3:
        assert f'"{user}"' not in text
