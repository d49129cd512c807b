"""Registering a plan (migrate plan apply's engine) against moto: records, registry, refusals.

The promise: registering creates each application's pair at 100% on-premises and each
database's name at its source; a rerun changes nothing; a changed plan keeps every weight
(applications at 50% stay at 50%); dropping or renaming an application with traffic on AWS,
or a database whose name points at its AWS target, is refused with nothing changed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from migration.database.writer_name import NameTarget, WriterName
from migration.errors import MigrationError
from migration.plan import Plan, load_plan
from migration.registration import (
    Registration,
    RegistrationRefused,
    desired_registration,
)
from migration.registry import ROSTER_NAMES, Registry, roster_items
from migration.settings import Settings
from migration.summary import SummarySnapshots
from migration.tracking import Phase, TrackingStore, app_id
from migration.traffic import Split, TrafficShifter
from tests.runtime.conftest import (
    TABLE_NAME,
    all_items,
    create_private_zone,
    create_tracking_table,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "migration-plan.yaml").read_text())
CDC = {"orders-db": "cdc-orders", "inventory-db": "cdc-inventory"}


class Account:
    """A zone and a tracking table in moto, and the registration of plans into them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.route53 = boto3.client("route53", region_name="us-east-1")
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        ec2 = boto3.client("ec2", region_name="us-east-1")
        self.zone_id = create_private_zone(ec2, self.route53).rsplit("/", 1)[-1]
        create_tracking_table(self.dynamodb)
        self.registration = Registration(
            Registry(self.dynamodb, TABLE_NAME),
            TrafficShifter(self.route53, self.zone_id),
            WriterName(self.route53, self.zone_id),
            SummarySnapshots(self.dynamodb, TABLE_NAME),
        )
        self.shifter = TrafficShifter(
            self.route53,
            self.zone_id,
            application_records={"storefront": "shop.migration.internal"},
        )
        self.versions = 0

    def plan(self, document: dict[str, Any]) -> Plan:
        self.versions += 1
        path = self.tmp_path / f"plan-{self.versions}.yaml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        return load_plan(path)

    def apply(self, plan: Plan) -> list[str]:
        desired = desired_registration(plan, CDC)
        diff = self.registration.diff(desired)
        if diff.refusals:
            raise RegistrationRefused(diff.refusals)
        self.registration.apply(diff, desired, applied_by="tests", now="2026-11-30T00:00:00Z")
        return diff.lines()

    def zone(self) -> list[dict[str, Any]]:
        return sorted(
            self.route53.list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"],
            key=lambda r: (r["Name"], r["Type"], r.get("SetIdentifier", "")),
        )

    def state(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return self.zone(), all_items(self.dynamodb)


@pytest.fixture
def account(tmp_path: Path) -> Any:
    with mock_aws():
        yield Account(tmp_path)


def _without(document: dict[str, Any], application: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for wave in changed["waves"]:
        wave["applications"] = [a for a in wave["applications"] if a["name"] != application]
    return changed


def test_register_creates_pairs_at_full_on_premises_names_and_registry(account):
    plan = account.plan(EXAMPLE)
    lines = account.apply(plan)
    assert "+ application orders-api (wave-1, orders-api.migration.internal)" in lines
    assert account.shifter.splits([a.name for a in plan.applications]) == {
        a.name: Split(aws=0, on_premises=100) for a in plan.applications
    }
    names = WriterName(account.route53, account.zone_id)
    for db in plan.databases:
        assert names.current(db.dns_name) == NameTarget.for_address(db.source.host)
    registered = Registry(account.dynamodb, TABLE_NAME).load()
    assert registered is not None
    assert set(registered.applications) == {a.name for a in plan.applications}
    assert [w.name for w in registered.waves] == [w.name for w in plan.waves]
    # The rollback function's mappings, derived from the registry alone.
    alarms = registered.alarm_applications({"vpn-tunnel-down", "vpn-both-tunnels-down"})
    assert alarms["orders-api-5xx"] == ("orders-api",)
    assert alarms["cdc-orders"] == ("orders-api", "storefront")
    assert "vpn-tunnel-down" not in alarms
    settings = Settings("zone", TABLE_NAME, "topic").with_registry(registered)
    assert settings.application_records["storefront"] == "shop.migration.internal"
    assert settings.applications_for_alarm("cdc-orders") == ("orders-api", "storefront")


def test_a_rerun_changes_nothing(account):
    plan = account.plan(EXAMPLE)
    account.apply(plan)
    before = account.state()
    diff = account.registration.diff(desired_registration(plan, CDC))
    assert diff.empty and diff.lines() == [] and not diff.refusals
    assert account.state() == before


def test_a_changed_plan_keeps_every_weight(account):
    account.apply(account.plan(EXAMPLE))
    account.shifter.set_split({"orders-api": Split.percent_on_aws(50)}, wait=False)
    account.shifter.set_split({"storefront": Split.percent_on_aws(50)}, wait=False)
    changed = copy.deepcopy(EXAMPLE)
    wave = changed["waves"][0]
    wave["applications"][0]["aws_address"] = "10.0.1.99"  # orders-api moves behind a new IP
    wave["applications"].append(
        {"name": "reports", "on_premises_address": "192.168.10.40", "aws_address": "10.0.1.40"}
    )
    lines = account.apply(account.plan(changed))
    assert "+ application reports (wave-1, reports.migration.internal)" in lines
    assert any(line.startswith("~ application orders-api: aws_address") for line in lines)
    splits = account.shifter.splits(["orders-api", "storefront", "reports"])
    assert splits == {
        "orders-api": Split(aws=50, on_premises=50),
        "storefront": Split(aws=50, on_premises=50),
        "reports": Split(aws=0, on_premises=100),
    }
    (orders,) = account.shifter.read(["orders-api"]).values()
    assert orders.aws.values == ("10.0.1.99",)


def test_dropping_an_application_with_traffic_on_aws_is_refused_and_nothing_changes(account):
    account.apply(account.plan(EXAMPLE))
    account.shifter.set_split({"orders-api": Split.percent_on_aws(50)}, wait=False)
    before = account.state()
    smaller = _without(EXAMPLE, "orders-api")
    smaller["waves"][0]["applications"].append(
        {"name": "reports", "on_premises_address": "192.168.10.40", "aws_address": "10.0.1.40"}
    )
    with pytest.raises(RegistrationRefused) as refused:
        account.apply(account.plan(smaller))
    (refusal,) = refused.value.refusals
    assert refusal.startswith("application orders-api (removed from the plan) has traffic on AWS")
    assert "migrate rollback orders-api" in refusal
    assert account.state() == before  # not even the new application was registered


def test_renaming_an_application_with_traffic_on_aws_is_refused(account):
    account.apply(account.plan(EXAMPLE))
    account.shifter.set_split({"storefront": Split.percent_on_aws(50)}, wait=False)
    before = account.state()
    renamed = copy.deepcopy(EXAMPLE)
    renamed["waves"][0]["applications"][1]["dns_name"] = "store.migration.internal"
    with pytest.raises(RegistrationRefused, match="storefront \\(renamed to store"):
        account.apply(account.plan(renamed))
    assert account.state() == before


def test_dropping_an_application_on_premises_deletes_its_pair_and_item(account):
    account.apply(account.plan(EXAMPLE))
    lines = account.apply(account.plan(_without(EXAMPLE, "inventory")))
    assert "- application inventory (wave-2, inventory.migration.internal)" in lines
    assert not any(r["Name"] == "inventory.migration.internal." for r in account.zone())
    registered = Registry(account.dynamodb, TABLE_NAME).load()
    assert registered is not None and "inventory" not in registered.applications


def test_dropping_a_database_cut_over_to_aws_is_refused(account):
    plan = account.plan(EXAMPLE)
    account.apply(plan)
    orders = plan.database("orders-db")
    WriterName(account.route53, account.zone_id).point(
        orders.dns_name, NameTarget.for_address(orders.target.host)
    )
    before = account.state()
    smaller = copy.deepcopy(EXAMPLE)
    for wave in smaller["waves"]:
        wave["databases"] = [d for d in wave.get("databases", []) if d["name"] != "orders-db"]
        for app in wave["applications"]:
            app["databases"] = [d for d in app.get("databases", []) if d != "orders-db"]
    with pytest.raises(RegistrationRefused, match="migrate db failback orders-db"):
        account.apply(account.plan(smaller))
    assert account.state() == before


def test_a_half_pair_is_refused_with_what_the_name_holds(account):
    account.route53.change_resource_record_sets(
        HostedZoneId=account.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "orders-api.migration.internal.",
                        "Type": "A",
                        "SetIdentifier": "aws",
                        "Weight": 100,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.0.1.21"}],
                    },
                }
            ]
        },
    )
    with pytest.raises(RegistrationRefused, match="only the 'aws' record \\(weight 100\\)"):
        account.apply(account.plan(EXAMPLE))
    assert Registry(account.dynamodb, TABLE_NAME).load() is None


def test_existing_pairs_are_adopted_with_their_weights(account):
    # Pairs that exist before any registration (a stack deployed when CloudFormation still
    # created them) are adopted as they are: weights and values untouched.
    plan = account.plan(EXAMPLE)
    account.apply(plan)
    account.shifter.set_split({"orders-api": Split.percent_on_aws(10)}, wait=False)
    for item in all_items(account.dynamodb):
        account.dynamodb.delete_item(
            TableName=TABLE_NAME,
            Key={"serverId": item["serverId"], "timestamp": item["timestamp"]},
        )
    zone = account.zone()
    lines = account.apply(plan)
    assert "+ application orders-api (wave-1, orders-api.migration.internal)" in lines
    assert account.zone() == zone
    assert account.shifter.splits(["orders-api"])["orders-api"] == Split(aws=10, on_premises=90)
    assert Registry(account.dynamodb, TABLE_NAME).load() is not None


# -- rosters and the summary snapshot -----------------------------------------------------


def _rosters(account: Account) -> dict[str, tuple[str, list[str]]]:
    registered = Registry(account.dynamodb, TABLE_NAME).load()
    assert registered is not None
    return {key: (item["wave"], item["names"]) for key, item in registered.rosters.items()}


def test_rosters_hold_each_waves_applications_in_plan_order(account):
    account.apply(account.plan(EXAMPLE))
    assert _rosters(account) == {
        "roster#0000#0000": ("wave-1", ["orders-api", "storefront"]),
        "roster#0001#0000": ("wave-2", ["inventory"]),
    }


def test_a_reordered_or_emptied_wave_rewrites_or_deletes_its_roster(account):
    account.apply(account.plan(EXAMPLE))
    meta = account.dynamodb.get_item(
        TableName=TABLE_NAME, Key={"serverId": {"S": "plan"}, "timestamp": {"S": "meta"}}
    )["Item"]
    reordered = copy.deepcopy(EXAMPLE)
    reordered["waves"][0]["applications"].reverse()
    lines = account.apply(account.plan(reordered))
    assert lines == ["~ wave wave-1: roster (its applications in plan order) written"]
    assert _rosters(account)["roster#0000#0000"] == ("wave-1", ["storefront", "orders-api"])
    # Same applications, same digest: the meta item is not rewritten.
    assert (
        account.dynamodb.get_item(
            TableName=TABLE_NAME, Key={"serverId": {"S": "plan"}, "timestamp": {"S": "meta"}}
        )["Item"]
        == meta
    )
    before = account.state()
    assert account.registration.diff(desired_registration(account.plan(reordered), CDC)).empty
    assert account.state() == before
    lines = account.apply(account.plan(_without(reordered, "inventory")))
    assert "- application inventory (wave-2, inventory.migration.internal)" in lines
    assert set(_rosters(account)) == {"roster#0000#0000"}


def test_missing_rosters_are_written_by_a_rerun(account):
    # A registry written before rosters existed: the next apply writes them, nothing else.
    plan = account.plan(EXAMPLE)
    account.apply(plan)
    for key in _rosters(account):
        account.dynamodb.delete_item(
            TableName=TABLE_NAME, Key={"serverId": {"S": "plan"}, "timestamp": {"S": key}}
        )
    diff = account.registration.diff(desired_registration(plan, CDC))
    assert [item["timestamp"] for item in diff.registry_puts] == [
        "roster#0000#0000",
        "roster#0001#0000",
    ]
    assert not diff.meta_changed and not diff.pair_changes
    account.apply(plan)
    assert len(_rosters(account)) == 2


def test_rosters_are_chunked_and_far_below_the_item_limit():
    names = [f"{i:05d}-" + "x" * 57 for i in range(2 * ROSTER_NAMES + 500)]  # 63 characters
    items = roster_items([("big", names), ("empty", []), ("small", ["a"])])
    assert list(items) == [
        "roster#0000#0000",
        "roster#0000#0001",
        "roster#0000#0002",
        "roster#0002#0000",
    ]
    assert [len(item["names"]) for item in items.values()] == [1000, 1000, 500, 1]
    assert [item["first"] for item in items.values()] == [0, 1000, 2000, 0]
    assert [n for item in list(items.values())[:3] for n in item["names"]] == names
    with pytest.raises(MigrationError, match="roster roster#0000#0000 of wave big would be"):
        roster_items([("big", ["x" * 300] * ROSTER_NAMES)])


def test_an_apply_writes_the_summary_snapshot_of_the_new_plan(account):
    plan = account.plan(EXAMPLE)
    account.apply(plan)
    registered = Registry(account.dynamodb, TABLE_NAME).load()
    snapshot = SummarySnapshots(account.dynamodb, TABLE_NAME).read()
    assert registered is not None and snapshot is not None
    assert snapshot.computed_by == "plan apply" and snapshot.digest == registered.digest
    assert snapshot.counts == {"wave-1": {Phase.PLANNED: 2}, "wave-2": {Phase.PLANNED: 1}}
    TrackingStore(account.dynamodb, TABLE_NAME).transition(app_id("orders-api"), Phase.PLANNED)
    TrackingStore(account.dynamodb, TABLE_NAME).transition(app_id("orders-api"), Phase.REPLICATING)
    account.apply(account.plan(_without(EXAMPLE, "inventory")))
    snapshot = SummarySnapshots(account.dynamodb, TABLE_NAME).read()
    assert snapshot is not None
    assert snapshot.counts == {
        "wave-1": {Phase.PLANNED: 1, Phase.REPLICATING: 1},
        "wave-2": {},
    }


def test_the_functions_read_the_registry_without_rosters_or_summary(account):
    account.apply(account.plan(EXAMPLE))
    registry = Registry(account.dynamodb, TABLE_NAME)
    full, lean = registry.load(), registry.load(with_rosters=False)
    assert full is not None and lean is not None
    assert full.rosters and not lean.rosters
    assert (lean.applications, lean.databases, lean.digest) == (
        full.applications,
        full.databases,
        full.digest,
    )
