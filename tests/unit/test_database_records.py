"""Database records: one plain record per database, pointing at the on-premises source."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Match, Template

from lib.database_records import DATABASE_TTL_SECONDS, DatabaseRecords, record_type
from lib.tap_stack import TapStack
from migration.plan import Database


def _database(name: str, host: str, dns_name: str) -> Database:
    return Database.model_validate(
        {
            "name": name,
            "engine": "postgres",
            "dns_name": dns_name,
            "source": {"host": host, "database": name, "secret": f"migration/{name}/source"},
            "target": {"host": f"{name}.aws.internal", "database": name, "secret": "t"},
        }
    )


DATABASES = (
    _database("orders-db", "192.168.20.10", "orders-db.db.migration.internal"),
    _database("crm-db", "crm.corp.example.com", "crm.migration.internal"),
)


@pytest.fixture(scope="module")
def built() -> tuple[DatabaseRecords, DatabaseRecords, Template, Template]:
    app = cdk.App()
    with_dbs, without = cdk.Stack(app, "Records"), cdk.Stack(app, "NoRecords")
    records = DatabaseRecords(
        with_dbs,
        "DatabaseRecords",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(with_dbs, "Zone", "Z0123456789"),
        databases=DATABASES,
    )
    empty = DatabaseRecords(
        without,
        "DatabaseRecords",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(without, "Zone", "Z0123456789"),
        databases=(),
    )
    return records, empty, Template.from_stack(with_dbs), Template.from_stack(without)


@pytest.mark.parametrize(
    ("host", "kind"),
    [("192.168.20.10", "A"), ("db.corp.example.com", "CNAME"), ("db01", "CNAME")],
)
def test_record_type_follows_the_source_host(host: str, kind: str) -> None:
    assert record_type(host) == kind


def test_one_plain_record_per_database_at_the_source(built) -> None:
    _, _, template, _ = built
    template.resource_count_is("AWS::Route53::RecordSet", 2)
    assert DATABASE_TTL_SECONDS == 30
    for database, kind in zip(DATABASES, ("A", "CNAME"), strict=True):
        template.has_resource_properties(
            "AWS::Route53::RecordSet",
            {
                "HostedZoneId": "Z0123456789",
                "Name": f"{database.dns_name}.",
                "Type": kind,
                "TTL": "30",
                "ResourceRecords": [database.source.host],
                # One writer: no weights and no set identifier for the runtime to juggle.
                "SetIdentifier": Match.absent(),
                "Weight": Match.absent(),
            },
        )


def test_records_and_names_are_exposed_per_database(built) -> None:
    records, _, _, _ = built
    assert list(records.records) == ["orders-db", "crm-db"]
    assert records.names == {
        "orders-db": "orders-db.db.migration.internal",
        "crm-db": "crm.migration.internal",
    }


def test_no_databases_no_records(built) -> None:
    _, empty, _, template = built
    assert empty.records == {} and empty.names == {}
    template.resource_count_is("AWS::Route53::RecordSet", 0)


def test_in_the_stack_the_example_databases_have_their_default_names(
    template: Template, stack: TapStack
) -> None:
    # Logical ids pinned: renaming the construct path would delete and recreate the name.
    resources = template.to_json()["Resources"]
    orders = resources["DatabaseRecordsordersdbRecord2566F78D"]["Properties"]
    inventory = resources["DatabaseRecordsinventorydbRecordD102B531"]["Properties"]
    assert orders["HostedZoneId"] == {"Ref": "TrafficHostedZone35B4C649"}
    assert (orders["Name"], orders["Type"], orders["ResourceRecords"]) == (
        "orders-db.db.migration.internal.",
        "A",
        ["192.168.20.10"],
    )
    assert (inventory["Name"], inventory["Type"], inventory["ResourceRecords"]) == (
        "inventory-db.db.migration.internal.",
        "CNAME",
        ["inventory-db.corp.example.com"],
    )
    assert stack.database_records.names == {
        "orders-db": "orders-db.db.migration.internal",
        "inventory-db": "inventory-db.db.migration.internal",
    }
