"""The main job: the demo deploys locally, cuts over wave 1, survives an alarm, and exits 0."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest

import tap
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # As `make demo` does: the CDK CLI (pinned in package.json) synthesizes with cdk.json.
    outdir = tmp_path_factory.mktemp("cdk.out")
    subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--output", str(outdir)],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    return outdir / "TapStackdev.template.json"


def test_cli_synth_is_the_template_the_tests_check(template: Path, tmp_path: Path) -> None:
    # The template `make synth` writes must be the one the unit tests and gates examined.
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    tap.build_app(cdk.App(context=context, outdir=str(tmp_path))).synth()
    assert template.read_bytes() == (tmp_path / "TapStackdev.template.json").read_bytes()


@pytest.fixture(scope="module")
def demo(template: Path, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    outputs = tmp_path_factory.mktemp("cfn-outputs") / "flat-outputs.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "migration.local.demo", str(template), "--outputs", str(outputs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_demo_exits_0_and_tells_the_whole_story(demo, template):
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    # Deployed and verified, every resource of the stack and of its wave stacks (flattened:
    # each AWS::CloudFormation::Stack is replaced by the resources of its template).
    main = json.loads(template.read_text())["Resources"]
    nested = [
        json.loads(p.read_text())["Resources"]
        for p in template.parent.glob("TapStackdev*.nested.template.json")
    ]
    inner = sum(len(r) for r in nested)
    resources = len(main) - len(nested) + inner
    assert len(nested) == 2
    assert f"{resources} resources ({inner} from {len(nested)} nested stacks)" in out
    # The cutover starts server-side and the watch follows it.
    assert "wave wave-1: cutover started server-side for 2 application(s)" in out
    # The alarm, the rollback function acting on it, while the other application completes.
    assert "!! alarm orders-api-5xx -> ALARM" in out
    assert "<- rollback function: status rolled_back, rolled back orders-api" in out
    assert "wave wave-1 (complete): 1 CUTOVER_COMPLETE, 1 ROLLED_BACK" in out
    # Reset, then a clean second attempt.
    assert "orders-api reset for attempt 2 by demo" in out
    assert "wave wave-1 (complete): 2 CUTOVER_COMPLETE" in out
    # The final table and the audit trail.
    assert "wave-1  orders-api   CUTOVER_COMPLETE  aws 100% / on-prem 0%" in out
    assert "wave-1  storefront   CUTOVER_COMPLETE  aws 100% / on-prem 0%" in out
    assert re.search(r"SHIFTING -> ROLLED_BACK +rollback", out)
    assert "ROLLED_BACK -> PLANNED" in out
    assert "OK orders-api: rolled back to 100% on-premises by the rollback function" in out
    # The servers' part, on the labelled MGN stand-in.
    assert "MGN: local stand-in (replication progress, launched instances and post-launch" in out
    assert "replication template: ebsEncryption = CUSTOM" in out
    # MGN's launch template (the default VPC) moved to a private subnet of the project VPC.
    assert re.search(
        r"~ launch template orders-app-01 \(lt-[0-9a-f]+\): NetworkInterfaces\[0\]\.SubnetId"
        r" subnet-[0-9a-f]+ -> subnet-[0-9a-f]+",
        out,
    )
    assert re.search(r"orders-app-01 +wave-1 +- +NOT_READY / INITIAL_SYNC .* 33%", out)
    assert "orders-app-01: TESTING (MGN job mgnjob-" in out
    assert (
        "gates failed: servers: orders-api waits for its servers: server orders-app-01 is"
        " TESTING (not launched for cutover)"
    ) in out
    assert "orders-app-01: CUTTING_OVER (MGN job mgnjob-" in out
    assert (
        "error: finalize refused, nothing changed: server orders-app-01: finalizing stops its"
        " replication, and not every application using it completed its cutover: orders-api"
        " (ROLLED_BACK)"
    ) in demo.stderr
    assert re.search(r"orders-app-01 +wave-1 +CUT_OVER +CUTOVER / DISCONNECTED", out)
    assert (
        "OK orders-app-01, storefront-web-01: tested, launched for cutover while the controller"
        " held their applications, still launched after the rollback, finalised once all"
        " completed"
    ) in out
    # The database chapter: the writer moves to AWS and back, nothing acknowledged is lost.
    assert "database step function (run here on the controller's request): {'status':" in out
    assert re.search(r"WRITES_FROZEN -> CUT_OVER +database-step", out)
    assert "orders-db: FAILED_BACK; the on-premises database is the writer" in out
    assert re.search(r"orders-db +FAILED_BACK +on-premises +orders-db.db.migration.internal", out)
    assert re.search(r"workload: \d+ rows acknowledged \(\d+ on-premises, \d+ on AWS\)", out)
    assert "in the writer (on-premises): lost 0, duplicated 0" in out
    assert "OK orders-db: cut over to AWS and failed back, every acknowledged row once" in out
    assert out.rstrip().endswith("== Emulator and database clusters stopped; nothing left running.")
    assert "Traceback" not in demo.stderr


def test_demo_refuses_a_missing_template(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "migration.local.demo", str(tmp_path / "none.template.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'none.template.json'}: not found; run `make synth` first"
    )
