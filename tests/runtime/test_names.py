"""The names the stack gives and the runtime derives: one function each, stable, in limits."""

from __future__ import annotations

import pytest

from migration.database import names
from migration.plan import load_plan
from tests.conftest import ROOT

LONGEST_DATABASE = "d" * 63  # a plan name is a DNS label
LONGEST_SUFFIX = "s" * 20  # lib/config.py's limit on environmentSuffix


def test_task_identifiers() -> None:
    assert names.task_identifier("orders-db", "dev") == "orders-db-dev"
    assert names.reverse_task_identifier("orders-db", "dev") == "orders-db-reverse-dev"


def test_cdc_latency_alarm_names_of_both_directions() -> None:
    assert names.cdc_latency_alarm_name("orders-db", "dev") == "migration-dev-orders-db-cdc-latency"
    assert (
        names.cdc_latency_alarm_name("orders-db", "dev", "reverse")
        == "migration-dev-orders-db-reverse-cdc-latency"
    )


def test_the_longest_plan_and_suffix_fit_cloudwatch() -> None:
    name = names.cdc_latency_alarm_name(LONGEST_DATABASE, LONGEST_SUFFIX, "reverse")
    assert len(name) == 114 <= names.MAX_ALARM_NAME


def test_a_name_over_the_limit_is_refused_not_cut() -> None:
    with pytest.raises(ValueError, match="over CloudWatch's 255 characters"):
        names.cdc_latency_alarm_name("d" * 250, "dev")


def test_the_plan_defaults_a_database_name_to_the_writer_name() -> None:
    plan = load_plan(ROOT / "examples" / "migration-plan.yaml")
    zone = plan.site.dns_zone
    assert names.writer_name("orders-db", zone) == "orders-db.db.migration.internal"
    assert {db.name: db.dns_name for db in plan.databases} == {
        db.name: names.writer_name(db.name, zone) for db in plan.databases
    }
