"""The plan model: the example, defaults, accessors, error reporting."""

from __future__ import annotations

import copy
import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from migration.plan import (
    AWS_SIDE_ASN,
    AWS_VPC_CIDR,
    BUILTIN_ALARMS,
    DEFAULT_PLAN_PATH,
    PLAN_ENV_VAR,
    Plan,
    PlanError,
    Problem,
    default_plan_path,
    format_path,
    load_plan,
    parse_plan,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "migration-plan.yaml"


def _example_data() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def _problems(data: Any) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(data, "test")
    return [str(problem) for problem in caught.value.problems]


# -- the example -------------------------------------------------------------------------------


def test_example_plan_is_valid_and_realistic() -> None:
    plan = load_plan(EXAMPLE)
    assert [wave.name for wave in plan.waves] == ["wave-1", "wave-2"]
    wave1, wave2 = plan.waves
    assert (len(wave1.applications), len(wave1.databases), len(wave1.servers)) == (2, 1, 2)
    assert (len(wave2.applications), len(wave2.databases), len(wave2.servers)) == (1, 1, 1)
    assert sorted(app.record_type for app in wave1.applications) == ["A", "CNAME"]
    assert [db.engine for db in plan.databases] == ["postgres", "mysql"]
    assert plan.site.customer_gateway_ip == "203.0.113.10"
    assert plan.site.bgp_asn == 65000
    assert plan.site.on_premises_cidrs == ("192.168.0.0/16",)
    assert plan.database("orders-db").source.secret == "migration/orders-db/source"


def test_defaults_are_filled_in() -> None:
    plan = load_plan(EXAMPLE)
    inventory = plan.application("inventory")
    assert inventory.dns_name == "inventory.migration.internal"
    assert inventory.shift_steps == (10, 50, 100)
    assert inventory.bake_minutes == 10
    assert plan.application("storefront").dns_name == "shop.migration.internal"
    orders_db = plan.database("orders-db")
    assert (orders_db.source.port, orders_db.target.port) == (5432, 5432)
    inventory_db = plan.database("inventory-db")
    assert inventory_db.target.port == 3306
    assert inventory_db.cdc_latency_threshold_seconds == 60
    assert [(t.schema_name, t.table_name) for t in inventory_db.tables] == [("%", "%")]
    assert plan.server("storefront-web-01").replication == "mgn"
    assert plan.site.dns_zone == "migration.internal"
    # One name per database, inside the zone; writes freeze with the runtime's built-in.
    assert orders_db.dns_name == "orders-db.db.migration.internal"
    assert (orders_db.freeze, orders_db.drain_timeout_seconds) == ("builtin", 300)
    assert inventory_db.freeze_timeout_seconds == 600
    assert (orders_db.cutover, inventory_db.cutover) == ("after-applications", "manual")
    spec = plan.wave_spec("wave-1")
    assert [(db.name, db.cutover) for db in spec.databases] == [("orders-db", "after-applications")]
    assert type(spec).from_json(spec.to_json()) == spec
    assert plan.site.on_premises_domains == ("corp.example.com",)
    assert plan.site.on_premises_resolvers == ("192.168.0.2", "192.168.0.3")


@pytest.mark.parametrize("freeze", ["manual", "ssm:Freeze-Orders", "lambda:freeze-orders"])
def test_freeze_hooks_are_accepted_for_any_engine(freeze: str) -> None:
    data = _example_data()
    db = data["waves"][0]["databases"][0]
    db.update(engine="oracle", freeze=freeze, dns_name="orders.migration.internal")
    db["source"]["port"] = db["target"]["port"] = 1521
    database = parse_plan(data, "test").database("orders-db")
    assert (database.freeze, database.dns_name) == (freeze, "orders.migration.internal")


def test_minimal_plan_uses_every_default() -> None:
    plan = parse_plan(
        {
            "site": {
                "customer_gateway_ip": "198.51.100.7",
                "bgp_asn": 65010,
                "on_premises_cidrs": ["172.16.0.0/12"],
                "dns_zone": "Corp.Example.",
            },
            "waves": [{"name": "only"}],
        }
    )
    assert plan.site.dns_zone == "corp.example"
    assert plan.alarms == ()
    assert plan.applications == plan.databases == plan.servers == ()
    assert plan.version == 1


def test_accessors() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.wave("wave-2").name == "wave-2"
    assert [app.name for app in plan.applications] == ["orders-api", "storefront", "inventory"]
    assert [db.name for db in plan.databases] == ["orders-db", "inventory-db"]
    assert [s.id for s in plan.servers] == [
        "orders-app-01",
        "storefront-web-01",
        "inventory-app-01",
    ]
    assert plan.wave_of("inventory-db").name == "wave-2"
    assert plan.wave_of("storefront-web-01").name == "wave-1"
    assert [db.name for db in plan.databases_of("storefront")] == ["orders-db"]
    assert plan.alarm_names == BUILTIN_ALARMS | {"orders-api-5xx", "storefront-latency-p99"}
    for lookup in (plan.wave, plan.application, plan.database, plan.server, plan.wave_of):
        with pytest.raises(KeyError, match="nope"):
            lookup("nope")


def test_plan_is_frozen() -> None:
    plan = load_plan(EXAMPLE)
    with pytest.raises(ValidationError):
        plan.site.bgp_asn = 1  # type: ignore[misc]
    assert isinstance(plan.waves, tuple)


def test_constants_documented_in_the_task() -> None:
    assert AWS_VPC_CIDR == "10.0.0.0/16"
    assert AWS_SIDE_ASN == 64512
    assert {"vpn-tunnel-down", "vpn-both-tunnels-down", "dms-cdc-latency"} == BUILTIN_ALARMS


def test_plan_module_does_not_import_aws_libraries() -> None:
    code = (
        "import sys, migration.plan; "
        "bad = [m for m in ('boto3', 'botocore', 'aws_cdk') if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- validation details ------------------------------------------------------------------------


@pytest.mark.parametrize("ip", ["8.8.8.8", "192.0.2.1", "198.51.100.20", "203.0.113.10"])
def test_public_and_documentation_gateway_ips_are_accepted(ip: str) -> None:
    data = _example_data()
    data["site"]["customer_gateway_ip"] = ip
    assert parse_plan(data).site.customer_gateway_ip == ip


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("10.1.2.3", "a private"),
        ("127.0.0.1", "a loopback"),
        ("169.254.1.1", "a link-local"),
        ("224.0.0.5", "a multicast"),
        ("100.64.1.1", "a shared (carrier-grade NAT)"),
        ("240.0.0.1", "a reserved"),
        ("0.0.0.0", "an unspecified"),
    ],
)
def test_non_public_gateway_ips_are_rejected(ip: str, kind: str) -> None:
    data = _example_data()
    data["site"]["customer_gateway_ip"] = ip
    assert _problems(data) == [
        f"site.customer_gateway_ip: {ip} is {kind} address; the customer gateway needs a public"
        " IPv4 address"
    ]


def test_every_field_error_is_reported_at_once() -> None:
    data = _example_data()
    data["site"]["bgp_asn"] = AWS_SIDE_ASN
    data["waves"][1]["servers"][0]["replication"] = "cloudendure"
    data["waves"][0]["applications"][1]["shift_steps"] = [50, 40, 100]
    assert _problems(data) == [
        "site.bgp_asn: must differ from the AWS side ASN 64512",
        "waves[0].applications[1].shift_steps[1]: must be increasing (previous step is 50)",
        "waves[1].servers[0].replication: must be 'mgn' or 'manual', got string 'cloudendure'",
    ]


def test_every_reference_error_is_reported_at_once() -> None:
    data = _example_data()
    data["waves"][1]["applications"][0]["alarms"] = ["missing-alarm"]
    data["waves"][1]["applications"][0]["databases"] = ["missing-db"]
    data["waves"][1]["servers"][0]["id"] = "wave-1"
    problems = _problems(data)
    # The application still lists the server by its old id: that reference is reported too.
    assert [p.split(":")[0] for p in problems] == [
        "waves[1].applications[0].alarms[0]",
        "waves[1].applications[0].databases[0]",
        "waves[1].applications[0].servers[0]",
        "waves[1].servers[0].id",
    ]
    assert problems[3].endswith("'wave-1' is already used by waves[0]")


@pytest.mark.parametrize("key", ["password", "Password", "db_pwd", "master-password", "passwd"])
def test_credential_keys_are_refused_anywhere(key: str) -> None:
    data = _example_data()
    data["waves"][1]["databases"][0]["target"][key] = "hunter2"
    data["site"][key] = "hunter2"
    problems = _problems(data)
    assert [p.split(": ")[0] for p in problems] == [
        f"site.{key}",
        f"waves[1].databases[0].target.{key}",
    ]
    assert all("must not contain credentials" in p for p in problems)


def test_database_source_address_must_be_on_premises() -> None:
    data = _example_data()
    data["waves"][0]["databases"][0]["source"]["host"] = "10.0.5.5"
    assert _problems(data) == [
        "waves[0].databases[0].source.host: 10.0.5.5 is not inside any of site.on_premises_cidrs"
    ]


def test_secret_arn_is_accepted() -> None:
    data = _example_data()
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:migration/orders-db/source-AbCdEf"
    data["waves"][0]["databases"][0]["source"]["secret"] = arn
    assert parse_plan(data).database("orders-db").source.secret == arn


def test_cidrs_must_not_overlap_each_other() -> None:
    data = _example_data()
    data["site"]["on_premises_cidrs"] = ["192.168.0.0/16", "192.168.10.0/24"]
    assert _problems(data) == [
        "site.on_premises_cidrs[1]: 192.168.10.0/24 overlaps on_premises_cidrs[0] (192.168.0.0/16)"
    ]


def test_wrong_types_get_one_line_messages() -> None:
    data = _example_data()
    data["waves"][0]["applications"][0]["shift_steps"] = "10,50,100"
    data["waves"][0]["applications"][0]["bake_minutes"] = True
    data["site"] = ["not", "a", "mapping"]
    problems = _problems(data)
    assert problems == [
        "site: must be a mapping, got a list",
        "waves[0].applications[0].shift_steps: must be a list, got string '10,50,100'",
        "waves[0].applications[0].bake_minutes: must be an integer, got boolean true",
    ]
    assert all("\n" not in p for p in problems)


@given(steps=st.lists(st.integers(1, 99), unique=True, max_size=8).map(lambda s: [*sorted(s), 100]))
def test_any_increasing_steps_ending_at_100_are_accepted(steps: list[int]) -> None:
    data = _example_data()
    data["waves"][0]["applications"][0]["shift_steps"] = steps
    assert parse_plan(data).application("orders-api").shift_steps == tuple(steps)


@given(
    steps=st.lists(st.integers(1, 100), min_size=2, max_size=8).filter(
        lambda s: any(b <= a for a, b in itertools.pairwise(s))
    )
)
def test_non_increasing_steps_are_rejected_at_the_first_offending_index(steps: list[int]) -> None:
    data = _example_data()
    data["waves"][0]["applications"][0]["shift_steps"] = steps
    first = next(i for i in range(1, len(steps)) if steps[i] <= steps[i - 1])
    assert _problems(data)[0] == (
        f"waves[0].applications[0].shift_steps[{first}]: must be increasing"
        f" (previous step is {steps[first - 1]})"
    )


def test_parse_plan_does_not_modify_its_input() -> None:
    data = _example_data()
    before = copy.deepcopy(data)
    parse_plan(data)
    assert data == before


def test_dumped_plan_parses_back_to_the_same_plan() -> None:
    plan = load_plan(EXAMPLE)
    assert parse_plan(plan.model_dump(by_alias=True)) == plan
    assert parse_plan(plan.model_dump(mode="json", by_alias=True)) == plan


def test_server_hostname_may_be_short_but_must_be_valid() -> None:
    data = _example_data()
    data["waves"][1]["servers"][0]["hostname"] = "INVENTORY01"
    assert parse_plan(data).server("inventory-app-01").hostname == "inventory01"
    data["waves"][1]["servers"][0]["hostname"] = "inventory_01"
    assert _problems(data) == [
        "waves[1].servers[0].hostname: 'inventory_01' is not a valid host name"
    ]


def test_plan_model_validate_checks_references_too() -> None:
    data = _example_data()
    data["waves"][0]["applications"][0]["databases"] = ["nowhere"]
    with pytest.raises(ValidationError, match="unknown database 'nowhere'"):
        Plan.model_validate(data)


# -- files and errors --------------------------------------------------------------------------


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == f"{path}: file not found"


def test_directory_is_not_a_plan(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="is a directory"):
        load_plan(tmp_path)


def test_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("site:\n  bgp_asn: [65000\nwaves: []\n")
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert str(caught.value).startswith(f"{path}: invalid YAML at line 3, column ")


def test_problems_carry_the_yaml_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("        bake_minutes: 15\n", "        bake_minute: 15\n")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "bake_minute:" in t)
    assert caught.value.problems == (
        Problem("waves[0].applications[0].bake_minute", "unknown field", line),
    )
    assert caught.value.lines() == [
        f"{path}: waves[0].applications[0].bake_minute: unknown field (line {line})"
    ]


def test_parse_plan_rejects_non_mappings() -> None:
    assert _problems(None) == ["the plan is empty"]
    assert _problems("text") == ["the plan must be a mapping at the top level, got string 'text'"]


def test_format_path() -> None:
    assert format_path(("waves", 1, "applications", 0, "shift_steps", 2)) == (
        "waves[1].applications[0].shift_steps[2]"
    )
    assert format_path(()) == ""


def test_default_plan_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PLAN_ENV_VAR, raising=False)
    assert default_plan_path() == Path(DEFAULT_PLAN_PATH)
    monkeypatch.setenv(PLAN_ENV_VAR, "/plans/prod.yaml")
    assert default_plan_path() == Path("/plans/prod.yaml")
