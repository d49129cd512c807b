"""Benchmark: how long writes stay frozen in a database cutover and failback, by table size.

Run: ``.venv/bin/python benchmarks/database_cutover_benchmark.py [--rows 10000 100000 1000000]``

For each size, two fresh PostgreSQL 15 clusters on 127.0.0.1 (``migration.local``; as root they
run as the ``postgres`` user), one database with one table of that many rows (bigint key, two
text columns) replicated by the local stand-in for DMS (PostgreSQL logical replication); the
name and the tracking table live in an in-process moto account. Then the production
``DatabaseCutover`` runs a cutover and a failback, and the progress lines are timestamped:

* frozen: from "freezing writes" to "writes open" (the time applications cannot write);
* drain: from "freezing writes" to "drained" (freeze with its 0.3 s settle, then the slot
  confirming the freeze position);
* check: from "drained" to "consistent" (row counts and chunked checksums of both sides);
* total: the whole command, gates included.

Nothing reaches AWS: dummy credentials, moto only. The figures are this machine's; the
consistency check dominates and grows with the rows (read on both sides).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)

import boto3
from moto import mock_aws

from migration.database.cutover import DatabaseCutover, DatabaseSite
from migration.database.writer_name import WriterName
from migration.local import route53_fidelity
from migration.local.database_stand_in import WORKLOAD_TABLE, prepare
from migration.local.postgres_clusters import LocalClusters
from migration.tracking import TrackingStore

NAME = "orders-db"
DNS_NAME = "orders-db.db.migration.internal"
SOURCE_ADDRESS = "192.168.20.10"
TARGET_ADDRESS = "orders-db.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com"


@contextmanager
def account() -> Iterator[tuple[TrackingStore, WriterName]]:
    with mock_aws():
        route53_fidelity.install()
        ec2 = boto3.client("ec2")
        route53 = boto3.client("route53")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        zone = route53.create_hosted_zone(
            Name="migration.internal", CallerReference="benchmark",
            HostedZoneConfig={"PrivateZone": True, "Comment": "benchmark"},
            VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
        )["HostedZone"]["Id"]  # fmt: skip
        route53.change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                "Name": DNS_NAME, "Type": "A", "TTL": 30,
                "ResourceRecords": [{"Value": SOURCE_ADDRESS}]}}]},
        )  # fmt: skip
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="tracking", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("serverId", "timestamp", "migrationPhase")],
            KeySchema=[{"AttributeName": "serverId", "KeyType": "HASH"},
                       {"AttributeName": "timestamp", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "MigrationPhaseIndex",
                "KeySchema": [{"AttributeName": "migrationPhase", "KeyType": "HASH"},
                              {"AttributeName": "timestamp", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}],
        )  # fmt: skip
        yield TrackingStore(dynamodb, "tracking"), WriterName(route53, zone)


class Stamps:
    """Progress lines with the time they were printed."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.lines: list[tuple[float, str]] = []

    def __call__(self, line: str) -> None:
        self.lines.append((time.perf_counter() - self.start, line))

    def at(self, text: str) -> float:
        return next(t for t, line in self.lines if text in line)


def measure(rows: int) -> dict[str, float]:
    with LocalClusters() as (onprem, aws), account() as (tracking, name):
        stand_in = prepare(NAME, "orders", onprem, aws)
        stand_in.source.query(
            f"INSERT INTO public.{WORKLOAD_TABLE} (seq, side)"
            " SELECT g, 'on-premises-' || md5(g::text) FROM generate_series(1, :n) g",
            n=rows,
        )
        while (
            stand_in.forward.health(60.0)
            or stand_in.target.query(f"SELECT count(*) <> :n FROM public.{WORKLOAD_TABLE}", n=rows)[
                0
            ][0]
        ):
            time.sleep(0.2)
        site = DatabaseSite(
            name=NAME, dns_name=DNS_NAME, source=stand_in.source, target=stand_in.target,
            source_address=SOURCE_ADDRESS, target_address=TARGET_ADDRESS,
            forward=stand_in.forward, reverse=stand_in.reverse, tables=(("public", "%"),),
            drain_timeout_s=600,
        )  # fmt: skip
        figures: dict[str, float] = {}
        for run in ("cutover", "failback"):
            stamps = Stamps()
            service = DatabaseCutover(tracking, name, progress=stamps)
            getattr(service, run)(site)
            total = time.perf_counter() - stamps.start
            frozen = stamps.at("freezing writes")
            figures[f"{run} frozen"] = stamps.at("writes open") - frozen
            figures[f"{run} drain"] = stamps.at("drained") - frozen
            figures[f"{run} check"] = stamps.at("consistent") - stamps.at("drained")
            figures[f"{run} total"] = total
            other = stand_in.reverse if run == "cutover" else stand_in.forward
            while other.health(60.0):
                time.sleep(0.1)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    print(f"# {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| rows | run | writes frozen (s) | drain (s) | consistency check (s) | total (s) |")
    print("|---:|---|---:|---:|---:|---:|")
    for rows in args.rows:
        figures = measure(rows)
        for run in ("cutover", "failback"):
            print(
                f"| {rows:,} | {run} | {figures[f'{run} frozen']:.2f} |"
                f" {figures[f'{run} drain']:.2f} | {figures[f'{run} check']:.2f} |"
                f" {figures[f'{run} total']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
