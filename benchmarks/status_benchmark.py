"""Benchmark: ``migrate status`` (whole programme, default page) for 100 and 10,000
applications against moto's server, with the summary snapshot and without (the fallback).

Run: ``.venv/bin/python benchmarks/status_benchmark.py [--sizes 100 10000] [--runs 3]``

For each N a fresh account on one moto server (``ThreadedMotoServer`` on 127.0.0.1, reset
between sizes) gets what the deployed stack and ``migrate plan apply`` would hold: the
tracking table (keys and ``MigrationPhaseIndex`` as in lib/tracking.py), a private hosted zone
with each application's weighted pair, the plan registry (``serverId = "plan"``: the meta
item, one item per application, the rosters, waves of 100 applications; the items
``migrate plan apply`` writes, made by the same functions) and a head for every application,
in the seven application phases in turn (PLANNED included), each with its history (1 to 4
transitions) - N tracked entities - plus N/10 server heads, which status must leave out.
Then the summary snapshot is written by the code the controller runs each tick
(``SummarySnapshots.write_plan``; its time is printed: the tick's extra cost).

Two modes per N: ``snapshot`` (the snapshot is fresh: what status does while the controller
runs) and ``fallback`` (the snapshot item deleted: status counts from the phase index).
In each, ``migrate status --outputs F`` runs ``--runs`` times as a subprocess (what an operator
waits for: interpreter, imports, reads, output) and ``--runs`` times in-process (the
command's own work; the server then shares the process), each timed with
``time.perf_counter``; medians are printed, with the ratio of the largest N to the smallest
(the target: at most 3x). Requests and items read are counted with botocore hooks on an
extra in-process run. Nothing reaches AWS: dummy credentials, moto only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("MIGRATION_PLAN", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import boto3
import moto
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from migration import operations
from migration.cli import app as cli_app
from migration.registry import (
    RegisteredApplication,
    RegisteredPlan,
    Registry,
    WaveSummary,
    application_item,
    plan_digest,
    roster_items,
)
from migration.summary import SummarySnapshots
from migration.tracking import HEAD_TIMESTAMP, PHASE_INDEX, Phase, app_id, server_id, to_item

ROOT = Path(__file__).resolve().parents[1]
ENV = {key: value for key, value in os.environ.items() if key.startswith("AWS_")}
ZONE = "migration.internal"
TABLE = "migration-tracking-bench"
WAVE_SIZE = 100
PHASES = (
    Phase.PLANNED,
    Phase.REPLICATING,
    Phase.READY,
    Phase.SHIFTING,
    Phase.HELD,
    Phase.CUTOVER_COMPLETE,
    Phase.ROLLED_BACK,
)

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Row:
    """Measured figures for one N."""

    n: int
    mode: str
    items: int
    seed_s: float
    snapshot_s: float
    subprocess_s: list[float]
    client_cpu_s: list[float]
    in_process_s: list[float]
    requests: Counter[str]
    items_read: int


def _name(index: int) -> str:
    return f"app{index:05d}"


def _table(dynamodb: Any) -> None:
    """The tracking table with the keys and index of lib/tracking.py."""
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "serverId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "S"},
            {"AttributeName": "migrationPhase", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "serverId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": PHASE_INDEX,
                "KeySchema": [
                    {"AttributeName": "migrationPhase", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def _zone(route53: Any, ec2: Any, n: int) -> str:
    """The private zone with every application's weighted pair (50 % on AWS)."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zone_id = str(
        route53.create_hosted_zone(
            Name=ZONE,
            CallerReference=f"status-benchmark-{n}",
            HostedZoneConfig={"PrivateZone": True},
            VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
        )["HostedZone"]["Id"]
    ).rsplit("/", 1)[-1]
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": f"{_name(i)}.{ZONE}",
                "Type": "A",
                "SetIdentifier": identifier,
                "Weight": 50,
                "TTL": 60,
                "ResourceRecords": [{"Value": f"10.{side}.{i // 250}.{i % 250 + 1}"}],
            },
        }
        for i in range(n)
        for side, identifier in ((0, "on-premises"), (1, "aws"))
    ]
    for start in range(0, len(changes), 500):
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes[start : start + 500]}
        )
    return zone_id


def _registry(n: int) -> Iterator[dict[str, Any]]:
    """The registered plan: one item per application, the rosters, the meta item."""
    apps = [
        RegisteredApplication(
            name=_name(i),
            wave=f"wave-{i // WAVE_SIZE + 1:03d}",
            dns_name=f"{_name(i)}.{ZONE}",
            record_type="A",
            on_premises_address=f"10.0.{i // 250}.{i % 250 + 1}",
            aws_address=f"10.1.{i // 250}.{i % 250 + 1}",
            alarms=(f"{_name(i)}-5xx",),
        )
        for i in range(n)
    ]
    waves = [
        WaveSummary(f"wave-{w + 1:03d}", min(WAVE_SIZE, n - w * WAVE_SIZE), 0)
        for w in range(-(-n // WAVE_SIZE))
    ]
    yield from (application_item(app) for app in apps)
    yield from roster_items(
        (w.name, [a.name for a in apps if a.wave == w.name]) for w in waves
    ).values()
    yield {
        "serverId": "plan",
        "timestamp": "meta",
        "digest": plan_digest(apps, [], waves),
        "appliedAt": "2026-11-30T09:00:00.000000Z",
        "appliedBy": "benchmark",
        "waves": [{"name": w.name, "applications": w.applications, "databases": 0} for w in waves],
    }


def _history(entity: str, phase: Phase, transitions: int) -> Iterator[dict[str, Any]]:
    """``transitions`` history items of one entity, then its head in ``phase``."""
    stamps = [f"2026-11-30T10:00:{k:02d}.000000Z" for k in range(transitions)]
    for version, stamp in enumerate(stamps, start=1):
        yield {
            "serverId": entity,
            "timestamp": stamp,
            "eventType": "TRANSITION",
            "migrationPhase": phase if version == transitions else Phase.PLANNED,
            "version": version,
            "actor": "controller",
            "details": {"step": 1, "percent": 10, "attempt": 1},
        }
    yield {
        "serverId": entity,
        "timestamp": HEAD_TIMESTAMP,
        "migrationPhase": phase,
        "version": transitions,
        "lastEventAt": stamps[-1],
        "entityKind": entity.split("#", 1)[0],
        "cutoverState": {"attempt": 1, "step": 1},
    }


def _tracking(n: int) -> Iterator[dict[str, Any]]:
    """A head per application (the seven phases in turn) and per tenth a server head."""
    for i in range(n):
        yield from _history(app_id(_name(i)), PHASES[i % len(PHASES)], 1 + i % 4)
    for i in range(n // 10):
        yield from _history(server_id(f"i-{i:08x}"), Phase.REPLICATING, 2)


def _put(dynamodb: Any, items: Iterator[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    count = 0
    for item in items:
        batch.append({"PutRequest": {"Item": to_item(item)}})
        count += 1
        if len(batch) == 25:
            dynamodb.batch_write_item(RequestItems={TABLE: batch})
            batch = []
    if batch:
        dynamodb.batch_write_item(RequestItems={TABLE: batch})
    return count


def _client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def _snapshot(url: str) -> float:
    """Write the summary snapshot as the controller does each tick; seconds it took."""
    dynamodb = _client(url, "dynamodb")
    registered = Registry(dynamodb, TABLE).load()
    assert isinstance(registered, RegisteredPlan)
    # Only the snapshot's own cost: the controller loads the registry anyway.
    started = time.perf_counter()
    SummarySnapshots(dynamodb, TABLE).write_plan(registered, by="controller")
    return time.perf_counter() - started


def _drop_snapshot(url: str) -> None:
    _client(url, "dynamodb").delete_item(
        TableName=TABLE, Key={"serverId": {"S": "plan"}, "timestamp": {"S": "summary"}}
    )


def _seed(url: str, n: int, directory: Path) -> tuple[Path, int]:
    """A fresh account with N applications; returns the outputs file and the item count."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass

    dynamodb = _client(url, "dynamodb")
    _table(dynamodb)
    zone_id = _zone(_client(url, "route53"), _client(url, "ec2"), n)
    items = _put(dynamodb, _registry(n)) + _put(dynamodb, _tracking(n))
    outputs = {
        "VpcId": "vpc-0123456789abcdef0",
        "DmsReplicationInstanceArn": "arn:aws:dms:us-east-1:123456789012:rep:INSTANCE",
        "CloudEndureRoleArn": "arn:aws:iam::123456789012:role/cloudendure-bench",
        "VpnConnectionId": "vpn-0123456789abcdef0",
        "PrivateHostedZoneId": zone_id,
        "MigrationTrackingTableName": TABLE,
        "SnsTopicArn": "arn:aws:sns:us-east-1:123456789012:migration-bench",
        "SsmDocumentName": "migration-cutover-bench",
        "RollbackLambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:rollback-bench",
        "DashboardName": "migration-bench",
        "CutoverSettings": json.dumps(
            {
                "environmentSuffix": "bench",
                "replicationInstanceIdentifier": "migration-dms-bench",
                "replicationTasks": {},
                "alarms": {},
                "cdcLatencyAlarms": {},
            }
        ),
    }
    path = directory / f"outputs-{n}.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return path, items


def _subprocess(url: str, outputs: Path, expect: str) -> tuple[float, float]:
    """Wall time of one ``migrate status`` process, and the CPU time it used itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(ENV, AWS_ENDPOINT_URL=url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "migrate"), "status", "--outputs", str(outputs)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if (
        done.returncode != 0
        or "source: plan registry" not in done.stdout
        or expect not in done.stdout
    ):
        raise SystemExit(f"benchmark bug: migrate status failed:\n{done.stdout}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


class _Counted:
    """The commands' client factory, counting requests and the items they returned."""

    def __init__(self, inner: Any, requests: Counter[str], items: list[int]) -> None:
        self._inner = inner
        self._requests = requests
        self._items = items

    def client(self, service: str) -> Any:
        client = self._inner.client(service)
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)
        return client

    def _before(self, model: Any, **_: Any) -> None:
        if model.name == "Scan":
            raise SystemExit("benchmark bug: migrate status scanned the table")
        self._requests[f"{model.service_model.service_name}:{model.name}"] += 1

    def _after(self, parsed: Any, **_: Any) -> None:
        self._items[0] += len(parsed.get("Items", []))
        for items in parsed.get("Responses", {}).values():
            self._items[0] += len(items)


def _in_process(
    url: str, outputs: Path, expect: str, counted: Callable[[Any], Any] | None = None
) -> float:
    os.environ["AWS_ENDPOINT_URL"] = url
    original = operations.make_clients
    if counted is not None:
        operations.make_clients = lambda region: counted(original(region))  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(cli_app, ["status", "--outputs", str(outputs)])
        elapsed = time.perf_counter() - started
    finally:
        operations.make_clients = original  # type: ignore[assignment]
        os.environ.pop("AWS_ENDPOINT_URL", None)
    if result.exit_code != 0 or expect not in result.output:
        raise SystemExit(f"benchmark bug: migrate status failed:\n{result.output}")
    return elapsed


EXPECT = {"snapshot": "summary as of ", "fallback": "summary counted now from the phase index"}


def measure(url: str, n: int, runs: int, directory: Path) -> list[Row]:
    started = time.perf_counter()
    outputs, items = _seed(url, n, directory)
    seed_s = time.perf_counter() - started
    rows = []
    for mode in ("snapshot", "fallback"):
        snapshot_s = _snapshot(url) if mode == "snapshot" else 0.0
        if mode == "fallback":
            _drop_snapshot(url)
        expect = EXPECT[mode]
        requests: Counter[str] = Counter()
        read = [0]
        _in_process(url, outputs, expect, partial(_Counted, requests=requests, items=read))
        processes = [_subprocess(url, outputs, expect) for _ in range(runs)]
        rows.append(
            Row(
                n=n,
                mode=mode,
                items=items,
                seed_s=seed_s,
                snapshot_s=snapshot_s,
                subprocess_s=[wall for wall, _ in processes],
                client_cpu_s=[cpu for _, cpu in processes],
                in_process_s=[_in_process(url, outputs, expect) for _ in range(runs)],
                requests=requests,
                items_read=read[0],
            )
        )
    return rows


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(rows: Sequence[Row]) -> None:
    print(
        "| N | summary | table items | requests | items read | subprocess median (s) | runs (s) "
        "| its CPU median (s) | in-process median (s) | runs (s) |"
    )
    print("|---:|---|---:|---|---:|---:|---|---:|---:|---|")
    for row in rows:
        requests = ", ".join(f"{name} {count}" for name, count in sorted(row.requests.items()))
        print(
            f"| {row.n} | {row.mode} | {row.items} | {requests} | {row.items_read} "
            f"| {statistics.median(row.subprocess_s):.2f} "
            f"| {' '.join(f'{s:.2f}' for s in row.subprocess_s)} "
            f"| {statistics.median(row.client_cpu_s):.2f} "
            f"| {statistics.median(row.in_process_s):.2f} "
            f"| {' '.join(f'{s:.2f}' for s in row.in_process_s)} |",
            flush=True,
        )
    for mode in EXPECT:
        of_mode = [row for row in rows if row.mode == mode]
        if len(of_mode) < 2:
            continue
        small, large = of_mode[0], of_mode[-1]
        for what, pick in (("subprocess", "subprocess_s"), ("in-process", "in_process_s")):
            ratio = statistics.median(getattr(large, pick)) / statistics.median(
                getattr(small, pick)
            )
            print(
                f"{mode}: ratio N={large.n} / N={small.n}, {what}: {ratio:.2f}x "
                "(target: at most 3x)"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, moto {moto.__version__}, boto3 {boto3.__version__},"
        f" {os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()} {platform.release()},"
        f" load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    rows = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            for n in args.sizes:
                measured = measure(url, n, args.runs, Path(directory))
                rows.extend(measured)
                print(
                    f"N={n}: seeded {measured[0].items} items in {measured[0].seed_s:.1f} s; "
                    f"the controller's snapshot took {measured[0].snapshot_s:.2f} s",
                    flush=True,
                )
    finally:
        server.stop()
    print()
    report(rows)


if __name__ == "__main__":
    main()
