"""Cutover records: each application's weighted record pair, created at 100% on-premises."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Template

from lib.cutover_records import AWS, CUTOVER_TTL_SECONDS, ON_PREMISES, CutoverRecords
from migration import traffic
from migration.plan import Application

APPLICATIONS = (
    Application(
        name="orders-api",
        dns_name="orders-api.migration.internal",
        on_premises_address="192.168.10.21",
        aws_address="10.0.1.21",
    ),
    Application(
        name="storefront",
        dns_name="shop.migration.internal",
        on_premises_address="storefront.corp.example.com",
        aws_address="storefront-alb-1234567890.us-east-1.elb.amazonaws.com",
    ),
)


@pytest.fixture(scope="module")
def built() -> tuple[CutoverRecords, CutoverRecords, Template, Template]:
    app = cdk.App()
    with_apps, without = cdk.Stack(app, "Records"), cdk.Stack(app, "NoRecords")
    records = CutoverRecords(
        with_apps,
        "CutoverRecords",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(with_apps, "Zone", "Z0123456789"),
        applications=APPLICATIONS,
    )
    empty = CutoverRecords(
        without,
        "CutoverRecords",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(without, "Zone", "Z0123456789"),
        applications=(),
    )
    return records, empty, Template.from_stack(with_apps), Template.from_stack(without)


def test_set_identifiers_are_the_runtime_contract() -> None:
    assert ON_PREMISES == traffic.ON_PREMISES_ID == "on-premises"
    assert AWS == traffic.AWS_ID == "aws"
    assert CUTOVER_TTL_SECONDS == 60


def test_a_pair_of_weighted_records_per_application(built) -> None:
    _, _, template, _ = built
    template.resource_count_is("AWS::Route53::RecordSet", 4)
    for application in APPLICATIONS:
        for identifier, address, weight in (
            ("on-premises", application.on_premises_address, 100),
            ("aws", application.aws_address, 0),
        ):
            template.has_resource_properties(
                "AWS::Route53::RecordSet",
                {
                    "HostedZoneId": "Z0123456789",
                    "Name": f"{application.dns_name}.",
                    "Type": application.record_type,
                    "TTL": "60",
                    "SetIdentifier": identifier,
                    "Weight": weight,
                    "ResourceRecords": [address],
                },
            )


def test_record_type_follows_the_address_kind(built) -> None:
    _, _, template, _ = built
    types = {
        r["Properties"]["Name"]: r["Properties"]["Type"]
        for r in template.find_resources("AWS::Route53::RecordSet").values()
    }
    assert types == {"orders-api.migration.internal.": "A", "shop.migration.internal.": "CNAME"}


def test_records_are_exposed_per_application_and_identifier(built) -> None:
    records, _, _, _ = built
    assert list(records.records) == ["orders-api", "storefront"]
    for pair in records.records.values():
        assert list(pair) == ["on-premises", "aws"]
        assert all(isinstance(r, route53.CfnRecordSet) for r in pair.values())


def test_logical_ids_are_stable_per_application(built) -> None:
    records, _, template, _ = built
    stack = cdk.Stack.of(records)
    logical = stack.get_logical_id(records.records["orders-api"]["on-premises"])
    assert logical.startswith("CutoverRecordsordersapiOnPremises")
    assert logical in template.find_resources("AWS::Route53::RecordSet")


def test_no_applications_no_records(built) -> None:
    _, empty, _, template = built
    assert empty.records == {}
    template.resource_count_is("AWS::Route53::RecordSet", 0)
