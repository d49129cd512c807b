"""Typed configuration: defaults, CDK context parsing and every validation error."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib.config import (
    ConfigError,
    DmsConfig,
    MigrationConfig,
    MonitoringConfig,
    NetworkConfig,
    OnPremisesConfig,
)
from migration.plan import AWS_SIDE_ASN, AWS_VPC_CIDR, Plan, load_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "migration-plan.yaml"


def _on_prem(**changes: Any) -> MigrationConfig:
    return MigrationConfig(on_premises=replace(OnPremisesConfig(), **changes))


# --------------------------------------------------------------------------- defaults


def test_defaults_describe_the_seed_deployment() -> None:
    config = MigrationConfig()
    assert config.environment_suffix == "dev"
    assert config.region == "us-east-1"
    assert config.zone_name == "migration.internal"
    assert config.log_retention_days == 30
    assert config.rollback_reserved_concurrency == 2
    assert config.on_premises == OnPremisesConfig(
        customer_gateway_ip="203.0.113.10",
        bgp_asn=65000,
        cidrs=("192.168.0.0/16",),
        database_ports=(5432, 3306),
    )
    assert config.network == NetworkConfig(
        availability_zones=("us-east-1a", "us-east-1b", "us-east-1c"),
        nat_gateways=1,
    )
    assert (config.network.vpc_cidr, config.network.amazon_side_asn) == ("10.0.0.0/16", 64512)
    assert config.dms == DmsConfig(
        instance_class="dms.t3.medium",
        allocated_storage_gb=100,
        multi_az=True,
        create_dms_vpc_role=True,
    )
    assert config.rollback_reserved_concurrency == 2
    assert config.monitoring == MonitoringConfig(
        cdc_latency_evaluation_periods=3,
        rollback_error_threshold=1,
    )


def test_empty_context_gives_the_defaults() -> None:
    assert MigrationConfig.from_context({}) == MigrationConfig()


def test_config_is_immutable() -> None:
    with pytest.raises(AttributeError):
        MigrationConfig().region = "eu-west-1"  # type: ignore[misc]


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# --------------------------------------------------------------------------- from_context


def test_from_context_reads_every_key() -> None:
    config = MigrationConfig.from_context(
        {
            "environmentSuffix": "qa-2",
            "region": "eu-west-1",
            "availabilityZones": ["eu-west-1a", "eu-west-1c"],
            "customerGatewayIp": "198.51.100.7",
            "onPremisesBgpAsn": 65010,
            "onPremisesCidrs": ["172.16.0.0/16", "192.168.10.0/24"],
            "databasePorts": [1521, 1433],
            "rollbackReservedConcurrency": 0,
            "createDmsVpcRole": False,
            "logRetentionDays": 90,
            "zoneName": "cutover.example.internal",
        }
    )
    assert config.environment_suffix == "qa-2"
    assert config.region == "eu-west-1"
    assert config.network.availability_zones == ("eu-west-1a", "eu-west-1c")
    assert config.on_premises.customer_gateway_ip == "198.51.100.7"
    assert config.on_premises.bgp_asn == 65010
    assert config.on_premises.cidrs == ("172.16.0.0/16", "192.168.10.0/24")
    assert config.on_premises.database_ports == (1521, 1433)
    assert config.rollback_reserved_concurrency == 0
    assert config.dms.create_dms_vpc_role is False
    assert config.log_retention_days == 90
    assert config.zone_name == "cutover.example.internal"
    # What context does not set keeps its default.
    assert config.network.vpc_cidr == "10.0.0.0/16"
    assert config.dms.instance_class == "dms.t3.medium"
    assert config.monitoring.cdc_latency_evaluation_periods == 3


def test_from_context_accepts_the_string_forms_that_dash_c_produces() -> None:
    config = MigrationConfig.from_context(
        {
            "availabilityZones": " us-east-1a ,, us-east-1b ",
            "onPremisesBgpAsn": "65010",
            "onPremisesCidrs": "172.16.0.0/16,192.168.10.0/24",
            "databasePorts": "1521, 1433",
            "rollbackReservedConcurrency": "5",
            "createDmsVpcRole": "false",
            "logRetentionDays": "90",
        }
    )
    assert config.network.availability_zones == ("us-east-1a", "us-east-1b")
    assert config.on_premises.bgp_asn == 65010
    assert config.on_premises.cidrs == ("172.16.0.0/16", "192.168.10.0/24")
    assert config.on_premises.database_ports == (1521, 1433)
    assert config.rollback_reserved_concurrency == 5
    assert config.dms.create_dms_vpc_role is False
    assert config.log_retention_days == 90


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
    ],
)
def test_create_dms_vpc_role_accepts_booleans_and_their_strings(value: Any, expected: bool) -> None:
    config = MigrationConfig.from_context({"createDmsVpcRole": value})
    assert config.dms.create_dms_vpc_role is expected


def test_availability_zones_default_to_a_b_c_of_the_region() -> None:
    config = MigrationConfig.from_context({"region": "ap-southeast-2"})
    assert config.network.availability_zones == (
        "ap-southeast-2a",
        "ap-southeast-2b",
        "ap-southeast-2c",
    )


def test_tuples_are_accepted_as_lists() -> None:
    config = MigrationConfig.from_context({"databasePorts": ("1521",)})
    assert config.on_premises.database_ports == (1521,)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("suffix", ["", "dev_1", "dev.1", "x" * 21, "-"])
def test_environment_suffix_must_be_short_letters_digits_hyphens(suffix: str) -> None:
    with pytest.raises(ConfigError, match=r"^environmentSuffix: "):
        MigrationConfig(environment_suffix=suffix)


@pytest.mark.parametrize("suffix", ["dev", "pr-123", "Q" * 20])
def test_valid_environment_suffixes(suffix: str) -> None:
    assert MigrationConfig(environment_suffix=suffix).environment_suffix == suffix


# The site's rules are the plan's (migration.plan.validators): same rule, same message.


@pytest.mark.parametrize("address", ["not-an-ip", "203.0.113", "2001:db8::1", "256.1.1.1"])
def test_customer_gateway_ip_must_be_ipv4(address: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _on_prem(customer_gateway_ip=address)
    assert str(caught.value) == f"customerGatewayIp: {address!r} is not a valid IPv4 address"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.0.0.1", "a private"),
        ("172.16.4.4", "a private"),
        ("192.168.1.1", "a private"),
        ("127.0.0.1", "a loopback"),
        ("100.64.0.1", "a shared (carrier-grade NAT)"),
        ("169.254.1.1", "a link-local"),
        ("224.0.0.5", "a multicast"),
        ("0.0.0.0", "an unspecified"),
        ("240.0.0.1", "a reserved"),
    ],
)
def test_customer_gateway_ip_must_be_public(address: str, kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _on_prem(customer_gateway_ip=address)
    assert str(caught.value) == (
        f"customerGatewayIp: {address} is {kind} address; the customer gateway needs a public"
        " IPv4 address"
    )


@pytest.mark.parametrize(
    "address", ["192.0.2.1", "198.51.100.254", "203.0.113.10", "52.94.0.1", "8.8.8.8"]
)
def test_customer_gateway_ip_accepts_public_and_documentation_addresses(address: str) -> None:
    assert _on_prem(customer_gateway_ip=address).on_premises.customer_gateway_ip == address


@pytest.mark.parametrize(
    ("asn", "message"),
    [
        (0, "must be at least 1, got 0"),
        (-1, "must be at least 1, got -1"),
        (4294967295, "must be at most 4294967294, got 4294967295"),
        (64512, "must differ from the AWS side ASN 64512"),
    ],
)
def test_bgp_asn_must_be_in_range_and_differ_from_the_aws_side(asn: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _on_prem(bgp_asn=asn)
    assert str(caught.value) == f"onPremisesBgpAsn: {message}"


@pytest.mark.parametrize("asn", [1, 64513, 4294967294])
def test_bgp_asn_bounds_are_inclusive(asn: int) -> None:
    assert _on_prem(bgp_asn=asn).on_premises.bgp_asn == asn


def test_on_premises_cidrs_must_not_be_empty() -> None:
    with pytest.raises(ConfigError, match=r"^onPremisesCidrs: give at least one"):
        _on_prem(cidrs=())


@pytest.mark.parametrize("cidr", ["192.168.0.0/33", "nonsense", "fd00::/8"])
def test_on_premises_cidrs_must_be_ipv4_networks(cidr: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _on_prem(cidrs=("172.16.0.0/16", cidr))
    assert str(caught.value) == f"onPremisesCidrs: {cidr!r} is not a valid IPv4 CIDR"


def test_on_premises_cidrs_must_not_have_host_bits() -> None:
    with pytest.raises(ConfigError) as caught:
        _on_prem(cidrs=("192.168.1.1/16",))
    assert str(caught.value) == (
        "onPremisesCidrs: '192.168.1.1/16' has host bits set (did you mean 192.168.0.0/16?)"
    )


@pytest.mark.parametrize("cidr", ["10.0.5.0/24", "10.0.0.0/8", "0.0.0.0/0"])
def test_on_premises_cidrs_must_not_overlap_the_vpc(cidr: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _on_prem(cidrs=(cidr,))
    assert str(caught.value) == f"onPremisesCidrs: {cidr} overlaps the AWS VPC 10.0.0.0/16"


def test_on_premises_cidrs_must_not_overlap_each_other() -> None:
    with pytest.raises(ConfigError) as caught:
        _on_prem(cidrs=("172.16.0.0/12", "192.168.0.0/16", "192.168.10.0/24"))
    assert str(caught.value) == (
        "onPremisesCidrs: 192.168.10.0/24 overlaps onPremisesCidrs[1] (192.168.0.0/16)"
    )


# --------------------------------------------------------------------------- one source per fact


def test_the_vpc_and_aws_side_asn_are_the_plans_constants() -> None:
    network = MigrationConfig().network
    assert network.vpc_cidr == AWS_VPC_CIDR
    assert network.amazon_side_asn == AWS_SIDE_ASN


@pytest.mark.parametrize("key", ["vpc_cidr", "amazon_side_asn"])
def test_the_vpc_and_aws_side_asn_are_not_settings(key: str) -> None:
    # The plan checks on-premises CIDRs and the gateway's ASN against these: a stack with
    # another VPC would let through a plan that overlaps it.
    with pytest.raises(TypeError):
        NetworkConfig(**{key: "x"})


def test_a_site_the_plan_accepts_is_a_site_the_config_accepts() -> None:
    plan: Plan = load_plan(EXAMPLE)
    site = plan.site
    config = MigrationConfig(
        on_premises=OnPremisesConfig(
            customer_gateway_ip=site.customer_gateway_ip,
            bgp_asn=site.bgp_asn,
            cidrs=site.on_premises_cidrs,
        ),
        zone_name=site.dns_zone,
    )
    assert config.on_premises.cidrs == site.on_premises_cidrs


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_database_ports_must_be_tcp_ports(port: int) -> None:
    with pytest.raises(ConfigError, match=rf"^databasePorts: {port} is not a TCP port"):
        _on_prem(database_ports=(5432, port))


@pytest.mark.parametrize(
    "zones",
    [
        ("us-east-1a",),
        ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"),
        ("us-east-1a", "eu-west-1b"),
        (),
    ],
)
def test_availability_zones_must_be_two_or_three_of_the_region(zones: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match=r"^availabilityZones: .* of region us-east-1"):
        MigrationConfig(network=NetworkConfig(availability_zones=zones))


def test_explicit_zones_of_another_region_need_that_region() -> None:
    with pytest.raises(ConfigError, match=r"^availabilityZones: "):
        MigrationConfig.from_context(
            {"region": "eu-west-1", "availabilityZones": "us-east-1a,us-east-1b"}
        )


@pytest.mark.parametrize("days", [0, 2, 29, 10000])
def test_log_retention_must_be_a_cloudwatch_value(days: int) -> None:
    with pytest.raises(ConfigError, match=rf"^logRetentionDays: {days} is not one .*1827"):
        MigrationConfig(log_retention_days=days)


@pytest.mark.parametrize("value", [-1, 1001])
def test_rollback_reserved_concurrency_is_0_to_1000(value: int) -> None:
    with pytest.raises(ConfigError, match=r"^rollbackReservedConcurrency: must be 0 \(no reserv"):
        MigrationConfig(rollback_reserved_concurrency=value)


# --------------------------------------------------------------------------- context types


@pytest.mark.parametrize("key", ["environmentSuffix", "region", "customerGatewayIp", "zoneName"])
@pytest.mark.parametrize("value", ["", 5, ["dev"], None])
def test_text_keys_need_a_non_empty_string(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: expected a non-empty string, got "):
        MigrationConfig.from_context({key: value})


@pytest.mark.parametrize(
    "key", ["onPremisesBgpAsn", "rollbackReservedConcurrency", "logRetentionDays", "databasePorts"]
)
@pytest.mark.parametrize("value", ["thirty", "1.5", [1], {"a": 1}])
def test_integer_keys_need_a_whole_number(key: str, value: Any) -> None:
    if key == "databasePorts" and isinstance(value, list | dict):
        value = [value]  # a list of ports whose item is not a number
    with pytest.raises(ConfigError, match=rf"^{key}: expected a whole number, got "):
        MigrationConfig.from_context({key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("onPremisesBgpAsn", True),
        ("logRetentionDays", False),
        ("rollbackReservedConcurrency", True),
        ("databasePorts", [True]),
    ],
)
def test_a_boolean_is_not_taken_for_a_number(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: expected a whole number, got '?(True|False)"):
        MigrationConfig.from_context({key: value})


@pytest.mark.parametrize("value", ["yes", "1", 1, 0, None])
def test_create_dms_vpc_role_needs_true_or_false(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^createDmsVpcRole: expected true or false, got "):
        MigrationConfig.from_context({"createDmsVpcRole": value})


@pytest.mark.parametrize("key", ["availabilityZones", "onPremisesCidrs", "databasePorts"])
@pytest.mark.parametrize("value", [5, {"a": "b"}, 1.5])
def test_list_keys_need_a_list_or_a_comma_separated_string(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: expected a list or a comma-separated string"):
        MigrationConfig.from_context({key: value})
