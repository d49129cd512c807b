"""Benchmark: batched rollback versus one Route 53 call per record, against moto.

Run: ``.venv/bin/python benchmarks/rollback_benchmark.py [--sizes 1 10 100 1000]``

For each N, N applications start at 50 % on AWS in a private hosted zone of an
in-process moto account. Three measurements start from that same state:

* batched DNS: one zone listing plus ``TrafficShifter.set_split`` of every application
  to aws=0/on-premises=100 (what the rollback does first);
* naive DNS baseline: one ChangeResourceRecordSets UPSERT per record (2N calls);
* full rollback: ``RollbackService.handle`` of a direct ``"all"`` request - DNS, the
  ledger (header, chunks of 200 applications, one item per Route 53 change), one tracking
  transition per application (8 at a time) and SNS. moto runs with
  ``migration.local.dynamodb_fidelity`` installed (requests atomic under one lock, a
  transaction snapshots only its own items): its wall time is moto's per-call cost, a few
  milliseconds per DynamoDB call, serialised, so it says little about AWS.

Calls are counted with botocore ``before-call`` event hooks; times are wall-clock
``time.perf_counter`` differences. Nothing reaches AWS: dummy credentials, moto only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
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
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import boto3
import moto
from moto import mock_aws

from migration.events import RollbackCommand
from migration.ledger import RollbackLedger
from migration.local import dynamodb_fidelity
from migration.notify import Notifier
from migration.rollback import RollbackService
from migration.tracking import TrackingStore
from migration.traffic import ROLLED_BACK, TrafficShifter

ZONE = "migration.internal"
TABLE = "migration-tracking"


@dataclass(frozen=True)
class Row:
    """Measured figures for one N."""

    n: int
    batched_calls: int
    batched_s: float
    naive_calls: int
    naive_s: float
    full_calls: int | None
    full_s: float | None


class Calls:
    """Counts API calls of one client by operation name."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        client.meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1


def _setup() -> tuple[Any, Any, Any, str, str]:
    route53 = boto3.client("route53")
    dynamodb = boto3.client("dynamodb")
    sns = boto3.client("sns")
    vpc = boto3.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zone_id = route53.create_hosted_zone(
        Name=ZONE,
        CallerReference="benchmark",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
    )["HostedZone"]["Id"]
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
                "IndexName": "MigrationPhaseIndex",
                "KeySchema": [
                    {"AttributeName": "migrationPhase", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    topic_arn = sns.create_topic(Name="migration-notifications")["TopicArn"]
    return route53, dynamodb, sns, zone_id, topic_arn


def _records(n: int, aws_weight: int) -> list[dict[str, Any]]:
    changes = []
    for i in range(n):
        host = f"{i // 250}.{i % 250 + 1}"
        for identifier, weight, value in (
            ("on-premises", 100 - aws_weight, f"10.0.{host}"),
            ("aws", aws_weight, f"10.1.{host}"),
        ):
            changes.append(
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"app{i:04d}.{ZONE}",
                        "Type": "A",
                        "SetIdentifier": identifier,
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            )
    return changes


def _seed(route53: Any, zone_id: str, n: int) -> None:
    changes = _records(n, aws_weight=50)
    for start in range(0, len(changes), 500):
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes[start : start + 500]}
        )


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _verify_rolled_back(shifter: TrafficShifter, n: int) -> None:
    splits = shifter.splits()
    if len(splits) != n or any(split != ROLLED_BACK for split in splits.values()):
        raise SystemExit(f"benchmark bug: N={n} not fully rolled back")


def measure(n: int, *, full: bool) -> Row:
    """Measure one N in a fresh moto account."""
    dynamodb_fidelity.install()
    with mock_aws():
        route53, dynamodb, sns, zone_id, topic_arn = _setup()
        calls = Calls(route53)
        shifter = TrafficShifter(route53, zone_id)

        _seed(route53, zone_id, n)
        calls.counts.clear()

        def batched() -> None:
            records = shifter.read()  # a rollback must read the zone; the naive loop does not
            shifter.set_split(dict.fromkeys(records, ROLLED_BACK), current=records)

        batched_s = _timed(batched)
        batched_calls = calls.counts["ChangeResourceRecordSets"]
        _verify_rolled_back(shifter, n)

        _seed(route53, zone_id, n)
        calls.counts.clear()
        naive_changes = _records(n, aws_weight=0)

        def naive() -> None:
            for change in naive_changes:
                route53.change_resource_record_sets(
                    HostedZoneId=zone_id, ChangeBatch={"Changes": [change]}
                )

        naive_s = _timed(naive)
        naive_calls = calls.counts["ChangeResourceRecordSets"]
        _verify_rolled_back(shifter, n)

        full_calls: int | None = None
        full_s: float | None = None
        if full:
            _seed(route53, zone_id, n)
            calls.counts.clear()
            service = RollbackService(
                TrafficShifter(route53, zone_id),
                TrackingStore(dynamodb, TABLE),
                RollbackLedger(dynamodb, TABLE),
                Notifier(sns, topic_arn),
            )
            command = RollbackCommand(None, "benchmark", f"request:benchmark-{n}")
            full_s = _timed(lambda: service.handle(command))
            full_calls = calls.counts["ChangeResourceRecordSets"]
            _verify_rolled_back(shifter, n)
        return Row(n, batched_calls, batched_s, naive_calls, naive_s, full_calls, full_s)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--no-full", action="store_true", help="skip the full rollback runs")
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()}, moto {moto.__version__}, boto3 {boto3.__version__},"
        f" {os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()} {platform.release()}"
    )
    print()
    print(
        "| N | batched calls | batched DNS time (s) | naive calls | naive DNS time (s) "
        "| full rollback calls | full rollback time (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        row = measure(n, full=not args.no_full)
        full_calls = "-" if row.full_calls is None else str(row.full_calls)
        full_s = "-" if row.full_s is None else f"{row.full_s:.3f}"
        print(
            f"| {row.n} | {row.batched_calls} | {row.batched_s:.3f} | {row.naive_calls} "
            f"| {row.naive_s:.3f} | {full_calls} | {full_s} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
