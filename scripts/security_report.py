#!/usr/bin/env python3
"""Count the findings of every security rule set on the synthesized stack (not part of make test).

    .venv/bin/python scripts/security_report.py [--details] [--checkov PATH] [-c KEY=VALUE ...]

Synthesizes ``tap.build_app`` (cdk.json's context plus any ``-c``) into a temporary directory with
cdk-nag's AwsSolutions pack (the one ``make test`` gates on) and the NIST 800-53 rev 5, HIPAA
Security, PCI DSS 3.2.1 and Serverless packs added, then prints per rule set the open findings
(one per rule and construct) and, for AwsSolutions, the acknowledged ones; then cfn-lint's
matches on the same template by level, and checkov's failed checks when ``--checkov`` names its
executable (it is not a project dependency: see docs/security.md). ``--details`` lists every
finding. The exit status is 0 whatever the counts: this is a report, the gates are the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
# jsii runs on the Node.js package.json pins, as under make (if npm installed it).
if (ROOT / "node_modules" / ".bin" / "node").exists():
    os.environ.setdefault("JSII_NODE", str(ROOT / "node_modules" / ".bin" / "node"))

EXTRA_PACKS = ("NIST80053R5Checks", "HIPAASecurityChecks", "PCIDSS321Checks", "ServerlessChecks")


def synthesize(context: dict[str, str], outdir: Path) -> tuple[Path, dict[str, Any]]:
    """The template path and cdk-nag's report, every pack on (their findings fail synthesis)."""
    import aws_cdk as cdk
    import cdk_nag

    import tap

    base = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = tap.build_app(cdk.App(context={**base, **context}, outdir=str(outdir)))
    for pack in EXTRA_PACKS:
        cdk.Validations.of(app).add_plugins(getattr(cdk_nag, pack)(app))
    try:
        app.synth()
    except RuntimeError as error:  # ValidationFailed: the report is written all the same
        if "ValidationFailed" not in str(error):
            raise
    suffix = app.node.try_get_context("environmentSuffix") or "dev"
    report = json.loads((outdir / "validation-report.json").read_text())
    return outdir / f"TapStack{suffix}.template.json", report


def nag_lines(report: dict[str, Any], details: bool) -> list[str]:
    lines = []
    for plugin in report["pluginReports"]:
        name = plugin["pluginName"]
        if name == "CloudFormation Validate":
            continue
        findings = [
            (v["ruleName"], v["severity"], c["constructPath"])
            for v in plugin["violations"]
            for c in v["violatingConstructs"]
        ]
        acknowledged = len(plugin.get("suppressedViolations", []))
        by_severity = Counter(severity for _, severity, _ in findings)
        rules = Counter(rule for rule, _, _ in findings)
        lines.append(
            f"cdk-nag {name:<16} open {len(findings):>3} "
            f"(errors {by_severity['error']}, warnings {by_severity['warning']}), "
            f"acknowledged {acknowledged}"
            + ("" if not rules else ": " + ", ".join(f"{r} x{n}" for r, n in sorted(rules.items())))
        )
        if details:
            lines += [f"    {severity:<7} {rule}  {path}" for rule, severity, path in findings]
            lines += [
                f"    ack     {s['ruleName']}  {s['acknowledgedAt']}"
                for s in plugin.get("suppressedViolations", [])
            ]
    return lines


def cfn_lint_lines(template: Path, details: bool) -> list[str]:
    from cfnlint.api import ManualArgs, lint_file

    # Every level, informational included (``cfn-lint -c I``); the gate counts errors only.
    matches = list(lint_file(template, config=ManualArgs(include_checks=["I"])))
    levels: dict[str, Counter[str]] = {
        "error": Counter(),
        "warning": Counter(),
        "informational": Counter(),
    }
    for match in matches:
        levels.setdefault(match.rule.severity, Counter())[match.rule.id] += 1
    summary = ", ".join(
        f"{level} {sum(c.values())}"
        + (" (" + ", ".join(f"{r} x{n}" for r, n in sorted(c.items())) + ")" if c else "")
        for level, c in levels.items()
    )
    lines = [f"cfn-lint {_version('cfn-lint'):<16} {summary}"]
    if details:
        lines += [f"    {m.rule.id} line {m.linenumber}: {m.message}" for m in matches]
    return lines


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def checkov_lines(checkov: str, template: Path, details: bool) -> list[str]:
    result = subprocess.run(
        [checkov, "-f", str(template), "--framework", "cloudformation", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = report["results"]["failed_checks"]
    ids = Counter(f["check_id"] for f in failed)
    lines = [
        f"checkov {summary['checkov_version']:<17} failed {summary['failed']}, passed "
        f"{summary['passed']}, skipped {summary['skipped']}"
        + ("" if not ids else ": " + ", ".join(f"{c} x{n}" for c, n in sorted(ids.items())))
    ]
    if details:
        lines += [f"    {f['check_id']}  {f['resource']}  {f['check_name']}" for f in failed]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="list every finding")
    parser.add_argument("--checkov", metavar="PATH", help="checkov executable to run as well")
    parser.add_argument("-c", dest="context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    context = dict(item.split("=", 1) for item in args.context)
    with tempfile.TemporaryDirectory(prefix="security-report-") as outdir:
        template, report = synthesize(context, Path(outdir))
        lines = nag_lines(report, args.details) + cfn_lint_lines(template, args.details)
        if args.checkov:
            lines += checkov_lines(args.checkov, template, args.details)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
