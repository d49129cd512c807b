"""`cdk deploy` of a changed plan moves no traffic (issue 10), shown on the local emulator.

The app for the example plan is deployed locally and the plan registered; two applications are
set to 50% on AWS. The app for a changed plan (an application added to wave-1, storefront's AWS
address changed, inventory, at 0%, removed, and a database in a new wave-3, i.e. a new nested
wave stack) is deployed as an update of the same stack. The update happens (the new wave's
resources exist and are verified, every earlier resource keeps its physical id) and the hosted
zone's records are byte-identical before and after it. Then ``migrate plan apply`` of the changed
plan: the two applications are still at 50%, the new ones at 0%, inventory's pair is gone.

The test runs its own emulator in a child process, so that neither shares moto's in-process
state with the package's deployment (``target``), whichever order or worker runs them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from migration.local import LocalDeployment, deploy_local
from migration.local.deploy import client_factory
from migration.outputs import load_outputs
from migration.plan import load_plan
from migration.registration import apply_plan
from migration.traffic import Split, TrafficShifter
from tests.conftest import ROOT
from tests.integration.conftest import tap_plan

# Its own xdist worker: it never needs the package's deployment.
pytestmark = pytest.mark.xdist_group("tests/integration/test_plan_change_deploy.py")

REGION = "us-east-1"
AT_HALF = ("orders-api", "storefront")
RECORDS = {"storefront": "shop.migration.internal"}
NEW_WAVE = "Wavewave3NestedStack"
SERVE = (
    "import sys\n"
    "from migration.local import Emulator\n"
    "with Emulator() as emulator:\n"
    "    print(emulator.endpoint_url, flush=True)\n"
    "    sys.stdin.read()\n"
)


@pytest.fixture(scope="module")
def endpoint_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An emulator of its own, in a child process (stopped when its stdin closes)."""
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    with log.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", SERVE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            url = child.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), log.read_text()[-2000:]
            yield url
        finally:
            child.stdin.close()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def changed_plan(path: Path) -> Path:
    document = yaml.safe_load(tap_plan().read_text(encoding="utf-8"))
    wave1, wave2 = document["waves"][0], document["waves"][1]
    wave1["applications"].append(
        {
            "name": "payments",
            "on_premises_address": "192.168.10.41",
            "aws_address": "10.0.1.41",
            "alarms": ["vpn-tunnel-down"],
            "databases": ["orders-db"],
        }
    )
    storefront = next(a for a in wave1["applications"] if a["name"] == "storefront")
    storefront["aws_address"] = "storefront-alb-999.eu-west-1.elb.amazonaws.com"
    assert [a["name"] for a in wave2["applications"]] == ["inventory"]
    wave2["applications"] = []
    document["waves"].append(
        {
            "name": "wave-3",
            "applications": [
                {
                    "name": "billing",
                    "on_premises_address": "192.168.40.10",
                    "aws_address": "10.0.3.10",
                    "alarms": ["vpn-tunnel-down"],
                    "databases": ["billing-db"],
                }
            ],
            "databases": [
                {
                    "name": "billing-db",
                    "engine": "postgres",
                    "source": {
                        "host": "192.168.40.20",
                        "database": "billing",
                        "secret": "migration/billing-db/source",
                    },
                    "target": {
                        "host": "billing-db.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com",
                        "database": "billing",
                        "secret": "migration/billing-db/target",
                    },
                }
            ],
        }
    )
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def synthesize(outdir: Path, plan: Path | None = None) -> Path:
    """As tests/integration/conftest.py's ``_synthesize``, with context ``planFile``."""
    import aws_cdk as cdk

    import tap

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if plan is not None:
        context["planFile"] = str(plan)
    tap.build_app(cdk.App(context=context, outdir=str(outdir))).synth()
    return outdir / f"TapStack{context.get('environmentSuffix', 'dev')}.template.json"


def zone_records(client: Any, zone_id: str) -> str:
    """Every record set of the zone, as Route 53 lists them (compared byte for byte)."""
    pages = client("route53").get_paginator("list_resource_record_sets")
    sets = [s for page in pages.paginate(HostedZoneId=zone_id) for s in page["ResourceRecordSets"]]
    return json.dumps(sets, sort_keys=True)


def test_a_deploy_of_a_changed_plan_moves_no_traffic(endpoint_url: str, tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()
    old_template = synthesize(tmp_path / "old" / "cdk.out")
    new_plan = changed_plan(tmp_path / "changed-plan.yaml")
    new_template = synthesize(tmp_path / "new" / "cdk.out", new_plan)
    timings["two synths"] = time.monotonic() - started
    for template in new_template.parent.glob("*.template.json"):
        types = {r["Type"] for r in json.loads(template.read_text())["Resources"].values()}
        assert "AWS::Route53::RecordSet" not in types, template.name
    assert any(p.name.startswith("TapStackdevWavewave3") for p in new_template.parent.iterdir())

    client = client_factory(endpoint_url, REGION)
    outputs_path = tmp_path / "cfn-outputs" / "flat-outputs.json"
    stack = old_template.name.removesuffix(".template.json")

    def deploy(template: Path, previous: LocalDeployment | None = None) -> LocalDeployment:
        begin = time.monotonic()
        deployment = deploy_local(
            template,
            endpoint_url=endpoint_url,
            stack_name=stack,
            region=REGION,
            outputs_path=outputs_path,
            previous=previous,
        )
        timings["update" if previous else "create"] = time.monotonic() - begin
        return deployment

    first = deploy(old_template)
    outputs = load_outputs(outputs_path)
    apply_plan(load_plan(tap_plan()), outputs, client, applied_by="test")
    shifter = TrafficShifter(client("route53"), outputs.hosted_zone_id, application_records=RECORDS)
    shifter.set_split({app: Split.percent_on_aws(50) for app in AT_HALF}, wait=False)
    splits_before = shifter.splits()
    assert {app: splits_before[app] for app in AT_HALF} == {
        app: Split(aws=50, on_premises=50) for app in AT_HALF
    }
    records_before = zone_records(client, outputs.hosted_zone_id)

    second = deploy(new_template, previous=first)

    # The update happened: the new wave's nested stack, its DMS tasks and alarms, verified.
    assert second.updated
    new_wave = [s for s in second.nested_stacks if s.logical_id.startswith(NEW_WAVE)]
    assert len(new_wave) == 1 and len(new_wave[0].resources) >= 8
    assert set(new_wave[0].resources) <= set(second.verified)
    assert set(second.verified) == set(second.template["Resources"])
    tasks = client("dms").describe_replication_tasks()["ReplicationTasks"]
    identifiers = {t["ReplicationTaskIdentifier"] for t in tasks}
    assert {outputs.settings.task_identifier("billing-db"), "billing-db-reverse-dev"} <= identifiers
    # Every earlier resource kept its physical id (nothing replaced); two removed.
    common = set(first.resources) & set(second.resources)
    assert len(common) == len(first.resources) - 2
    assert {lid: second.resources[lid].physical_id for lid in common} == {
        lid: first.resources[lid].physical_id for lid in common
    }
    assert {r.type for r in second.removed} == {"AWS::Events::Rule", "AWS::Lambda::Permission"}
    assert json.loads(outputs_path.read_text()) == second.outputs

    # ... and moved no traffic: the zone is byte-identical, the two applications at 50/50.
    assert zone_records(client, outputs.hosted_zone_id) == records_before
    assert shifter.splits() == splits_before

    # Registering the changed plan: the 50% applications stay, the new ones at 0%.
    diff = apply_plan(load_plan(new_plan), load_outputs(outputs_path), client, applied_by="test")
    added = " ".join(diff.added)
    assert all(f"application {app} " in added for app in ("payments", "billing")), added
    assert "database billing-db " in added
    after = shifter.survey()
    splits = {app: records.split for app, records in after.found.items()}
    assert {app: splits[app] for app in AT_HALF} == {
        app: Split(aws=50, on_premises=50) for app in AT_HALF
    }
    assert splits["payments"] == Split(aws=0, on_premises=100)
    assert splits["billing"] == Split(aws=0, on_premises=100)
    assert "inventory" not in splits and "inventory" not in after.incomplete
    assert after.found["storefront"].aws.values == (
        "storefront-alb-999.eu-west-1.elb.amazonaws.com",
    )
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
