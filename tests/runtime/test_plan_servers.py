"""The plan's servers: applications list the servers they run on; MGN settings per wave and
per server (``server_defaults`` then the server's own), resolved into ``ServerSpec``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from migration.plan import PlanError, load_plan, parse_plan
from migration.plan.errors import problems_from
from migration.plan.model import ServerReplication
from migration.servers.replication import ReplicationSpec
from migration.servers.spec import DEFAULT_MAX_LAG_SECONDS, ServerSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "migration-plan.yaml"


def _example_data() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(data)
    return [str(p) for p in caught.value.problems]


def test_example_links_each_application_to_its_servers() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.application("orders-api").servers == ("orders-app-01",)
    assert [s.id for s in plan.servers_of("storefront")] == ["storefront-web-01"]
    assert [a.name for a in plan.applications_using("orders-app-01")] == ["orders-api"]
    assert plan.applications_using("nobody") == ()


def test_server_settings_take_the_wave_defaults_then_their_own() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.server_spec("orders-app-01") == ServerSpec(
        id="orders-app-01",
        hostname="orders-app-01.corp.example.com",
        ip="192.168.10.21",
        instance_type="m6i.large",
    )
    windows = plan.server_spec("storefront-web-01")
    assert (windows.os, windows.licensing, windows.instance_type) == (
        "windows",
        "byol",
        "right-size",
    )
    manual = plan.server_spec("inventory-app-01")
    assert not manual.is_mgn
    assert manual.max_lag_seconds == DEFAULT_MAX_LAG_SECONDS


def test_wave_defaults_apply_to_servers_without_their_own() -> None:
    data = _example_data()
    data["waves"][0]["server_defaults"] = {
        "instance_type": "c7g.xlarge",
        "licensing": "byol",
        "boot_mode": "uefi",
        "max_lag_seconds": 30,
    }
    spec = parse_plan(data).server_spec("storefront-web-01")
    assert (spec.instance_type, spec.licensing, spec.boot_mode, spec.max_lag_seconds) == (
        "c7g.xlarge",
        "byol",  # its own, which is the same
        "uefi",
        30,
    )
    assert parse_plan(data).server_spec("orders-app-01").instance_type == "m6i.large"


def test_launch_network_takes_the_wave_defaults_then_the_servers_own() -> None:
    data = _example_data()
    data["waves"][0]["server_defaults"] = {
        "subnet": "subnet-0123456789abcdef0",
        "security_groups": ["sg-00000001"],
    }
    servers = data["waves"][0]["servers"]
    servers[0].update(subnet="subnet-0fedcba98", security_groups=[])
    plan = parse_plan(data)
    own = plan.server_spec(servers[0]["id"])
    assert (own.subnet, own.security_groups) == ("subnet-0fedcba98", ())
    others = plan.server_spec(servers[1]["id"])
    assert (others.subnet, others.security_groups) == ("subnet-0123456789abcdef0", ("sg-00000001",))


def test_launch_network_defaults_to_the_stacks() -> None:
    spec = load_plan(EXAMPLE).server_spec("orders-app-01")
    assert (spec.subnet, spec.security_groups) == (None, ())


def test_launch_settings_are_mgn_launch_configuration_fields() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.server_spec("orders-app-01").launch_settings() == {
        "targetInstanceTypeRightSizingMethod": "NONE",
        "licensing": {"osByol": False},
        "bootMode": "USE_SOURCE",
    }
    assert plan.server_spec("storefront-web-01").launch_settings() == {
        "targetInstanceTypeRightSizingMethod": "BASIC",
        "licensing": {"osByol": True},
        "bootMode": "USE_SOURCE",
    }


def test_a_server_listed_twice_by_an_application_is_one_line() -> None:
    data = _example_data()
    data["waves"][0]["applications"][0]["servers"] = ["orders-app-01", "orders-app-01"]
    assert _problems(data) == [
        "waves[0].applications[0].servers[1]: 'orders-app-01' is listed twice"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("boot_mode", "bios", "must be 'use-source', 'legacy-bios' or 'uefi', got string 'bios'"),
        ("max_lag_seconds", 90_000, "must be at most 86400, got 90000"),
        ("max_lag_seconds", "60", "must be an integer, got string '60'"),
        ("instance_type", "M6I.LARGE", "'M6I.LARGE' is neither right-size nor an EC2 instance"),
    ],
)
def test_bad_server_settings_are_one_line_each(field: str, value: Any, message: str) -> None:
    data = _example_data()
    data["waves"][0]["servers"][0][field] = value
    problems = _problems(data)
    assert len(problems) == 1
    assert problems[0].startswith(f"waves[0].servers[0].{field}: {message}")


def test_the_server_replication_block_defaults_and_its_errors() -> None:
    assert ServerReplication().spec() == ReplicationSpec(0, "t3.small", "GP3", False)
    block = ServerReplication.model_validate(
        {
            "bandwidth_throttling_mbps": 200,
            "replication_server_instance_type": "m5.large",
            "staging_disk_type": "ST1",
            "dedicated_replication_server": True,
        }
    )
    assert block.spec() == ReplicationSpec(200, "m5.large", "ST1", True)
    with pytest.raises(ValidationError) as caught:
        ServerReplication.model_validate(
            {
                "bandwidth_throttling_mbps": -1,
                "replication_server_instance_type": "right-size",
                "staging_disk_type": "IO2",
                "dedicated_replication_server": "yes",
                "throttle": 5,
            }
        )
    assert [str(p) for p in problems_from(caught.value)] == [
        "bandwidth_throttling_mbps: must be at least 0, got -1",
        "replication_server_instance_type: 'right-size' is not an EC2 instance type"
        " (family.size, e.g. t3.small)",
        "staging_disk_type: must be 'GP2', 'GP3' or 'ST1', got string 'IO2'",
        "dedicated_replication_server: must be true or false, got string 'yes'",
        "throttle: unknown field",
    ]
