"""Two real PostgreSQL 15 clusters ("on-premises", "aws") shared by this package's tests.

The package runs on one xdist worker (tests/conftest.py PACKAGE_GROUPS): the clusters start
once (about a second); each test gets its own database on them, and its own moto account
(Route 53 private zone with the database's name, the tracking table).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from migration.database.credentials import Credentials
from migration.database.cutover import DatabaseCutover, DatabaseSite
from migration.database.writer_name import NameTarget, WriterName
from migration.local import route53_fidelity
from migration.local.database_stand_in import StandIn, prepare
from migration.local.postgres_clusters import APP_USER, Cluster, LocalClusters
from migration.tracking import TrackingStore
from tests.runtime.conftest import TABLE_NAME, create_private_zone, create_tracking_table

ZONE = "migration.internal"
SOURCE_ADDRESS = "192.168.20.10"
TARGET_ADDRESS = "orders-db.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    with LocalClusters() as pair:
        yield pair


@dataclass
class Story:
    """One planned database on the clusters, with its name, store and cutover service."""

    name: str
    database: str
    onprem: Cluster
    aws: Cluster
    stand_in: StandIn
    site: DatabaseSite
    route53: Any
    zone_id: str
    tracking: TrackingStore
    cutover: DatabaseCutover
    lines: list[str]

    def resolve(self) -> tuple[Credentials, str]:
        """Where the database's name leads now (Route 53), as the application user."""
        target = WriterName(self.route53, self.zone_id).current(self.site.dns_name)
        assert target is not None
        cluster = self.onprem if target.value == SOURCE_ADDRESS else self.aws
        return cluster.credentials(self.database, user=APP_USER), cluster.label

    def writer(self) -> str:
        target = WriterName(self.route53, self.zone_id).current(self.site.dns_name)
        assert target is not None
        return "on-premises" if target.value == SOURCE_ADDRESS else "aws"


@pytest.fixture
def story(clusters: tuple[Cluster, Cluster]) -> Iterator[Story]:
    onprem, aws = clusters
    number = next(_numbers)
    name, database = f"orders-db-{number}", f"orders{number}"
    stand_in = prepare(name, database, onprem, aws)
    with mock_aws():
        route53_fidelity.install()
        route53 = boto3.client("route53", region_name="us-east-1")
        zone_id = create_private_zone(boto3.client("ec2", region_name="us-east-1"), route53, ZONE)
        dns_name = f"{name}.db.{ZONE}"
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                "Name": dns_name, "Type": "A", "TTL": 30,
                "ResourceRecords": [{"Value": SOURCE_ADDRESS}]}}]},
        )  # fmt: skip
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_tracking_table(dynamodb)
        tracking = TrackingStore(dynamodb, TABLE_NAME)
        site = DatabaseSite(
            name=name,
            dns_name=dns_name,
            source=stand_in.source,
            target=stand_in.target,
            source_address=SOURCE_ADDRESS,
            target_address=TARGET_ADDRESS,
            forward=stand_in.forward,
            reverse=stand_in.reverse,
            tables=(("public", "%"),),
            lag_threshold_s=30,
            drain_timeout_s=20,
        )
        lines: list[str] = []
        service = DatabaseCutover(tracking, WriterName(route53, zone_id), progress=lines.append)
        yield Story(
            name, database, onprem, aws, stand_in, site, route53, zone_id, tracking, service, lines
        )
    _drop(stand_in)


def _drop(stand_in: StandIn) -> None:
    """Release the replication workers and slots so later tests have room."""
    for replication in (stand_in.forward, stand_in.reverse):
        sub = replication.subscriber
        if sub.query("SELECT 1 FROM pg_subscription WHERE subname = :n", n=replication.name):
            sub.query(f'ALTER SUBSCRIPTION "{replication.name}" DISABLE')
            sub.query(f'ALTER SUBSCRIPTION "{replication.name}" SET (slot_name = NONE)')
            sub.query(f'DROP SUBSCRIPTION "{replication.name}"')
        replication.stop()  # waits until the slot is released
        replication.publisher.query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = :s",
            s=replication.slot,
        )


__all__ = ["NameTarget", "Story"]


def wait_running(replication: Any, timeout_s: float = 10.0) -> None:
    """Wait for an enabled replication to run and report its lag (the launcher starts the
    worker shortly after the subscription is enabled, and the walsender follows)."""
    replication.wait_healthy(timeout_s, lag_threshold_s=float("inf"))
