"""Typed configuration of the migration stack.

Everything that describes the on-premises site or a sizing decision lives here, with documented
defaults, instead of literals buried in constructs. ``tap.py`` reads CDK context into these values;
constructs only receive them as typed properties.

The site's rules and the AWS side of the network come from the plan package
(``migration.plan.validators`` and ``migration.plan.constants``): a customer gateway address, a
BGP ASN or an on-premises CIDR given as context is held to the rules a plan file is, and the
VPC the stack creates is the one the plan checks on-premises CIDRs against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from migration.plan.constants import (
    AWS_SIDE_ASN,
    AWS_VPC_CIDR,
    DEFAULT_DNS_ZONE,
    DEFAULT_PORTS,
    PORT_MAX,
    PORT_MIN,
)
from migration.plan.validators import check_bgp_asn, check_cidr, check_public_ipv4, cidr_overlaps

# The defaults describe the example plan's site (examples/migration-plan.yaml); tap.py passes
# the plan's own site as context, so they matter only without a plan.
_DEFAULT_GATEWAY_IP = "203.0.113.10"
_DEFAULT_BGP_ASN = 65000
_DEFAULT_CIDRS = ("192.168.0.0/16",)
_DEFAULT_DATABASE_PORTS = (DEFAULT_PORTS["postgres"], DEFAULT_PORTS["mysql"])


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the context key and what to do."""


@dataclass(frozen=True)
class OnPremisesConfig:
    """Facts about the on-premises data centre.

    The default gateway address is in the documentation range (RFC 5737): it synthesizes and
    deploys, but a real VPN needs the data centre's own public address
    (context ``customerGatewayIp``).
    """

    customer_gateway_ip: str = _DEFAULT_GATEWAY_IP
    bgp_asn: int = _DEFAULT_BGP_ASN
    cidrs: tuple[str, ...] = _DEFAULT_CIDRS
    database_ports: tuple[int, ...] = _DEFAULT_DATABASE_PORTS


@dataclass(frozen=True)
class NetworkConfig:
    """The AWS side of the network. AZs are explicit so synth never looks anything up in AWS.

    The VPC CIDR and the AWS-side ASN are the plan package's constants, not settings: the plan
    checks on-premises CIDRs and the customer gateway's ASN against them.
    """

    availability_zones: tuple[str, ...] = ("us-east-1a", "us-east-1b", "us-east-1c")
    nat_gateways: int = 1
    vpc_cidr: str = field(default=AWS_VPC_CIDR, init=False)
    amazon_side_asn: int = field(default=AWS_SIDE_ASN, init=False)


@dataclass(frozen=True)
class DmsConfig:
    """The DMS replication instance and the account prerequisite role."""

    instance_class: str = "dms.t3.medium"
    allocated_storage_gb: int = 100
    multi_az: bool = True
    # DMS needs an IAM role named exactly ``dms-vpc-role`` once per account; an account that
    # already has it (another stack, the console) must not create it twice.
    create_dms_vpc_role: bool = True


@dataclass(frozen=True)
class MonitoringConfig:
    """Alarm thresholds."""

    cdc_latency_evaluation_periods: int = 3
    rollback_error_threshold: int = 1


@dataclass(frozen=True)
class MigrationConfig:
    """All configuration of one deployment of the migration stack."""

    environment_suffix: str = "dev"
    region: str = "us-east-1"
    zone_name: str = DEFAULT_DNS_ZONE
    log_retention_days: int = 30
    # Rollbacks are serialised by design (they all change the same zone); 2 leaves room for a
    # retry while one runs without letting alarms race each other. 0 reserves nothing: needed in
    # accounts whose concurrency limit is still 10 (Lambda keeps 10 unreserved).
    rollback_reserved_concurrency: int = 2
    on_premises: OnPremisesConfig = field(default_factory=OnPremisesConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    dms: DmsConfig = field(default_factory=DmsConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> MigrationConfig:
        """Build the configuration from CDK context values (``-c key=value`` or ``cdk.json``).

        Keys (all optional): environmentSuffix, region, availabilityZones, customerGatewayIp,
        onPremisesBgpAsn, onPremisesCidrs, databasePorts, rollbackReservedConcurrency,
        createDmsVpcRole, logRetentionDays, zoneName. Lists may be given as JSON-like lists or
        comma-separated strings (the form ``-c`` produces).
        """
        region = _text(context, "region", "us-east-1")
        azs = _strings(context, "availabilityZones") or tuple(f"{region}{s}" for s in "abc")
        return cls(
            environment_suffix=_text(context, "environmentSuffix", "dev"),
            region=region,
            zone_name=_text(context, "zoneName", DEFAULT_DNS_ZONE),
            log_retention_days=_integer(context, "logRetentionDays", 30),
            on_premises=OnPremisesConfig(
                customer_gateway_ip=_text(context, "customerGatewayIp", _DEFAULT_GATEWAY_IP),
                bgp_asn=_integer(context, "onPremisesBgpAsn", _DEFAULT_BGP_ASN),
                cidrs=_strings(context, "onPremisesCidrs") or _DEFAULT_CIDRS,
                database_ports=tuple(
                    _as_int("databasePorts", p) for p in _strings(context, "databasePorts")
                )
                or _DEFAULT_DATABASE_PORTS,
            ),
            network=NetworkConfig(availability_zones=azs),
            dms=DmsConfig(create_dms_vpc_role=_boolean(context, "createDmsVpcRole", True)),
            rollback_reserved_concurrency=_integer(context, "rollbackReservedConcurrency", 2),
        )


# Retention values CloudWatch Logs accepts.
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)


def _validate(config: MigrationConfig) -> None:
    suffix = config.environment_suffix
    if not suffix or not suffix.replace("-", "").isalnum() or len(suffix) > 20:
        raise ConfigError(f"environmentSuffix: {suffix!r} must be 1-20 letters, digits or hyphens")
    _validate_site(config.on_premises)
    for port in config.on_premises.database_ports:
        if not PORT_MIN <= port <= PORT_MAX:
            raise ConfigError(f"databasePorts: {port} is not a TCP port ({PORT_MIN}-{PORT_MAX})")
    azs = config.network.availability_zones
    if not 2 <= len(azs) <= 3 or any(not az.startswith(config.region) for az in azs):
        raise ConfigError(
            f"availabilityZones: {list(azs)} must be 2 or 3 zones of region {config.region}"
        )
    if config.log_retention_days not in _LOG_RETENTION_DAYS:
        raise ConfigError(
            f"logRetentionDays: {config.log_retention_days} is not one CloudWatch Logs accepts "
            f"({', '.join(map(str, _LOG_RETENTION_DAYS))})"
        )
    if not 0 <= config.rollback_reserved_concurrency <= 1000:
        raise ConfigError(
            "rollbackReservedConcurrency: must be 0 (no reservation) to 1000; an account whose "
            "concurrency limit is 10 needs 0"
        )


def _validate_site(site: OnPremisesConfig) -> None:
    """The plan's site rules, applied to the context keys that can override the plan's site."""
    _apply("customerGatewayIp", check_public_ipv4, site.customer_gateway_ip)
    _apply("onPremisesBgpAsn", check_bgp_asn, site.bgp_asn)
    if not site.cidrs:
        raise ConfigError("onPremisesCidrs: give at least one on-premises CIDR")
    for cidr in site.cidrs:
        _apply("onPremisesCidrs", check_cidr, cidr)
    overlap = next(cidr_overlaps(site.cidrs, name="onPremisesCidrs"), None)
    if overlap:
        raise ConfigError(f"onPremisesCidrs: {overlap[1]}")


def _apply(key: str, check: Callable[[Any], object], value: Any) -> None:
    try:
        check(value)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _text(context: Mapping[str, Any], key: str, default: str) -> str:
    value = context.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}") from None


def _integer(context: Mapping[str, Any], key: str, default: int) -> int:
    return _as_int(key, context.get(key, default))


def _boolean(context: Mapping[str, Any], key: str, default: bool) -> bool:
    value = context.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _strings(context: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = context.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(str(part) for part in value)
    raise ConfigError(f"{key}: expected a list or a comma-separated string, got {value!r}")
