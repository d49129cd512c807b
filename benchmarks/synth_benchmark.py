"""Benchmark: synthesize generated plans of growing size; time, stacks, resources, sizes.

Run: ``.venv/bin/python benchmarks/synth_benchmark.py [--sizes 10 100 1000]``

For each N a plan is generated in the example's shape (``generated_plan``): N applications in
waves of at most 50, one PostgreSQL database per ten applications (each used by its ten), two
servers per application, one plan alarm per application. Each plan is synthesized by
``python tap.py`` in a fresh process (what ``cdk synth`` runs), with the repository's
``cdk.json`` context, and timed wall-clock. Reported per N: synth seconds, the ratio to the
smallest N, per stack its resource count and template bytes, and the largest Lambda
environment (bytes of its ``Variables`` as JSON) in any template.

Targets of issue 10: the largest N synthesizes in at most 3x the time of the smallest, every
stack has at most 400 resources (CloudFormation's limit is 500) and a template under 800 KB
(CloudFormation's limit for a template in S3 is 1 MB), and no Lambda environment grows with N.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WAVE_SIZE = 50
APPS_PER_DATABASE = 10


def generated_plan(applications: int) -> dict[str, Any]:
    """A valid plan document of ``applications`` applications in the example's shape."""
    waves: list[dict[str, Any]] = []
    alarms = []
    for index in range(applications):
        if index % WAVE_SIZE == 0:
            waves.append(
                {
                    "name": f"wave-{len(waves) + 1}",
                    "applications": [],
                    "databases": [],
                    "servers": [],
                }
            )
        wave = waves[-1]
        database = f"db-{index // APPS_PER_DATABASE:04}"
        if index % APPS_PER_DATABASE == 0:
            wave["databases"].append(
                {
                    "name": database,
                    "engine": "postgres",
                    "source": {
                        "host": f"192.168.{20 + index // 2500}.{(index // 10) % 250 + 1}",
                        "database": "app",
                        "secret": f"migration/{database}/source",
                    },
                    "target": {
                        "host": f"{database}.cluster-abc.eu-west-1.rds.amazonaws.com",
                        "database": "app",
                        "secret": f"migration/{database}/target",
                    },
                }
            )
        name = f"app-{index:04}"
        alarms.append({"name": f"{name}-5xx"})
        wave["applications"].append(
            {
                "name": name,
                "on_premises_address": f"192.168.{100 + index // 250}.{index % 250 + 1}",
                "aws_address": f"10.0.{100 + index // 250}.{index % 250 + 1}",
                "alarms": [f"{name}-5xx"],
                "databases": [database],
            }
        )
        for n in (1, 2):
            wave["servers"].append(
                {
                    "id": f"{name}-srv-{n}",
                    "hostname": f"{name}-srv-{n}.corp.example.com",
                    "ip": f"192.168.{150 + index // 125}.{(2 * index + n) % 250 + 1}",
                }
            )
    return {
        "version": 1,
        "site": {
            "customer_gateway_ip": "203.0.113.10",
            "bgp_asn": 65000,
            "on_premises_cidrs": ["192.168.0.0/16"],
        },
        "alarms": alarms,
        "waves": waves,
    }


def synth(plan_file: Path, outdir: Path) -> float:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    node = ROOT / "node_modules" / ".bin" / "node"  # the Node.js the project pins (Makefile)
    env = {
        **os.environ,
        **({"JSII_NODE": str(node)} if node.exists() else {}),
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({**context, "planFile": str(plan_file)}),
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "tap.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"synth of {plan_file.name} failed:\n{result.stderr[-2000:]}")
    return elapsed


def measure(outdir: Path) -> dict[str, Any]:
    stacks: dict[str, tuple[int, int]] = {}
    largest_env = 0
    for template in sorted(outdir.glob("*.template.json")):
        text = template.read_text()
        body = json.loads(text)
        resources = body.get("Resources", {})
        stacks[template.name.removesuffix(".template.json")] = (len(resources), len(text))
        for resource in resources.values():
            if resource["Type"] == "AWS::Lambda::Function":
                variables = resource["Properties"].get("Environment", {}).get("Variables", {})
                largest_env = max(largest_env, len(json.dumps(variables)))
    return {"stacks": stacks, "largest_env": largest_env}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    first: float | None = None
    with tempfile.TemporaryDirectory() as work:
        for size in args.sizes:
            plan = Path(work) / f"plan-{size}.yaml"
            plan.write_text(yaml.safe_dump(generated_plan(size)), encoding="utf-8")
            outdir = Path(work) / f"out-{size}"
            seconds = synth(plan, outdir)
            first = first or seconds
            figures = measure(outdir)
            worst = max(figures["stacks"].values())
            print(
                f"N={size:>5}: synth {seconds:6.1f} s ({seconds / first:4.2f}x), "
                f"{len(figures['stacks'])} stack(s), most resources {worst[0]}, "
                f"largest template {max(b for _, b in figures['stacks'].values()) / 1024:.0f} KB, "
                f"largest Lambda environment {figures['largest_env']} bytes"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
