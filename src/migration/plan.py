"""The migration plan: a YAML file describing the on-premises site and the waves to migrate.

The plan is validated by a frozen pydantic v2 model with ``extra="forbid"`` everywhere. Every
problem is reported as one line ``<field path>: <message>``, the path in the form
``waves[1].applications[0].shift_steps[2]``.

Public API::

    load_plan(path) -> Plan            read, parse and validate a YAML file; raises PlanError
    parse_plan(data, source) -> Plan   validate already-parsed data; raises PlanError
    PlanError                          .source, .problems (tuple of Problem), .lines();
                                       str() = one line per problem, "<source>: <path>: <message>"
    Problem                            .path, .message, .line (YAML line or None);
                                       str() = "<path>: <message>"
    default_plan_path() -> Path        $MIGRATION_PLAN or examples/migration-plan.yaml (from cwd)

Schema (see ``examples/migration-plan.yaml`` for an annotated example)::

    version: 1                          optional, only 1 is accepted
    site:
      customer_gateway_ip: 203.0.113.10 public IPv4 (documentation ranges allowed)
      bgp_asn: 65000                    1..4294967294, not AWS_SIDE_ASN (64512)
      on_premises_cidrs: [192.168.0.0/16]  non-empty, no overlap with AWS_VPC_CIDR or each other
      dns_zone: migration.internal      optional
      on_premises_domains: [corp.example.com]  optional; forwarded from AWS to the resolvers
      on_premises_resolvers: [192.168.0.2]     on-premises DNS servers (inside the CIDRs)
    alarms:                             optional; alarms that exist in the account
      - {name: orders-5xx, description: ...}
    waves:                              at least one
      - name: wave-1
        applications: [{name, dns_name?, on_premises_address, aws_address, shift_steps?,
                        bake_minutes?, alarms?, databases?}]
        databases: [{name, engine, dns_name?, source: {host, port?, database, secret},
                     target: {...}, tables?, cdc_latency_threshold_seconds?, freeze?,
                     freeze_timeout_seconds?, drain_timeout_seconds?, cutover?}]
        servers: [{id, hostname, ip, replication?}]

Every name (wave, application, database, server id) is unique across the whole plan, in a
single namespace, so a name always identifies one thing. Applications may reference the
built-in alarms the stack creates (``BUILTIN_ALARMS``) or alarms of the top-level ``alarms`` list.

This module is imported by the CDK stack at synth time and by the CLI: it must never import
boto3 or aws_cdk.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from migration.spec import ApplicationSpec, DatabaseSpec, EndpointSpec, WaveSpec

__all__ = [
    "AWS_SIDE_ASN",
    "AWS_VPC_CIDR",
    "BUILTIN_ALARMS",
    "DEFAULT_DNS_ZONE",
    "DEFAULT_MAX_PARALLEL",
    "DEFAULT_PLAN_PATH",
    "DEFAULT_PORTS",
    "DEFAULT_SHIFT_STEPS",
    "PLAN_ENV_VAR",
    "Alarm",
    "Application",
    "Database",
    "Endpoint",
    "Plan",
    "PlanError",
    "Problem",
    "Server",
    "Site",
    "TableSelection",
    "Wave",
    "default_plan_path",
    "format_path",
    "load_plan",
    "parse_plan",
]

# --------------------------------------------------------------------------------------------
# Constants shared with the stack
# --------------------------------------------------------------------------------------------

AWS_VPC_CIDR: Final = "10.0.0.0/16"
"""CIDR of the VPC the stack creates; on-premises CIDRs must not overlap it."""

AWS_SIDE_ASN: Final = 64512
"""BGP ASN of the AWS side (virtual private gateway); the customer gateway must differ."""

BUILTIN_ALARMS: Final[frozenset[str]] = frozenset(
    {
        "vpn-tunnel-down",  # one of the two VPN tunnels is down
        "vpn-both-tunnels-down",  # the site is unreachable
        "dms-cdc-latency",  # a DMS task's CDC latency is above its database's threshold
    }
)
"""Alarms the stack creates; applications may gate on them without declaring them."""

DEFAULT_DNS_ZONE: Final = "migration.internal"
DEFAULT_SHIFT_STEPS: Final = (10, 50, 100)
DEFAULT_BAKE_MINUTES: Final = 10
DEFAULT_MAX_PARALLEL: Final = 25
DEFAULT_CDC_LATENCY_THRESHOLD_SECONDS: Final = 60
DEFAULT_DRAIN_TIMEOUT_SECONDS: Final = 300
DEFAULT_FREEZE_TIMEOUT_SECONDS: Final = 600
BUILTIN_FREEZE_ENGINES: Final = frozenset({"postgres", "mysql"})
"""Engines whose writes the runtime freezes itself (``freeze: builtin``)."""
DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "postgres": 5432,
    "mysql": 3306,
    "sqlserver": 1433,
    "oracle": 1521,
}
PLAN_ENV_VAR: Final = "MIGRATION_PLAN"
DEFAULT_PLAN_PATH: Final = "examples/migration-plan.yaml"

Engine = Literal["postgres", "mysql", "sqlserver", "oracle"]
Replication = Literal["mgn", "manual"]
"""How a server is moved: ``mgn`` (AWS Application Migration Service) or ``manual``."""

Loc = tuple[str | int, ...]

_FREEZE_RE = re.compile(r"(builtin|manual|ssm:[A-Za-z0-9_.-]{3,128}|lambda:[A-Za-z0-9_:.-]{1,170})")


def default_plan_path() -> Path:
    """The plan used when none is given: ``$MIGRATION_PLAN`` or ``examples/migration-plan.yaml``."""
    return Path(os.environ.get(PLAN_ENV_VAR) or DEFAULT_PLAN_PATH)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem of a plan: the field path (``""`` for the whole file) and a message."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PlanError(Exception):
    """The plan is invalid; ``problems`` lists every problem found, one line each."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(str(self))

    def lines(self) -> list[str]:
        """``<source>: <path>: <message>`` for each problem (with the YAML line when known)."""
        out = []
        for problem in self.problems:
            suffix = f" (line {problem.line})" if problem.line and problem.path else ""
            out.append(f"{self.source}: {problem}{suffix}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def format_path(loc: Iterable[str | int]) -> str:
    """``("waves", 1, "shift_steps", 2)`` -> ``waves[1].shift_steps[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_PROBLEMS: Final = "plan_problems"
_VALUE: Final = "plan_value"


def _error(message: str) -> PydanticCustomError:
    """A problem at the location being validated."""
    return PydanticCustomError(_VALUE, "{message}", {"message": message})


def _problems(items: Sequence[tuple[Loc, str]]) -> PydanticCustomError:
    """Several problems at locations relative to the one being validated."""
    summary = "; ".join(f"{format_path(loc) or '.'}: {msg}" for loc, msg in items)
    return PydanticCustomError(
        _PROBLEMS, "{summary}", {"summary": summary, "problems": [tuple(i) for i in items]}
    )


# --------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------

_LABEL_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_LABEL_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_SECRET_NAME_RE: Final = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_SECRET_ARN_RE: Final = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
_LOOKS_NUMERIC: Final = re.compile(r"^[0-9./]+$")
_DOCUMENTATION_NETS: Final = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)


def _check_label(value: str) -> str:
    if not _LABEL_RE.fullmatch(value):
        raise _error(
            f"{value!r} is not a valid name: use 1-63 lowercase letters, digits and hyphens,"
            " not starting or ending with a hyphen"
        )
    return value


def _is_hostname(value: str, min_labels: int = 2) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= min_labels
        and all(_HOST_LABEL_RE.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _check_dns_name(value: str) -> str:
    name = value.lower().removesuffix(".")
    if not _is_hostname(name):
        raise _error(f"{value!r} is not a valid DNS name")
    return name


def _check_hostname(value: str) -> str:
    """A host name, short (``orders01``) or fully qualified."""
    name = value.lower().removesuffix(".")
    if not _is_hostname(name, min_labels=1):
        raise _error(f"{value!r} is not a valid host name")
    return name


def _parse_ipv4(value: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise _error(f"{value!r} is not a valid IPv4 address") from None


def _check_ipv4(value: str) -> str:
    return str(_parse_ipv4(value))


def _check_address(value: str) -> str:
    """An IPv4 address or a fully qualified DNS name."""
    if _LOOKS_NUMERIC.fullmatch(value):
        return _check_ipv4(value)
    name = value.lower().removesuffix(".")
    if not _is_hostname(name):
        raise _error(f"{value!r} is neither an IPv4 address nor a fully qualified DNS name")
    return name


def _check_cidr(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value, strict=True))
    except ValueError as exc:
        if "host bits set" in str(exc):
            network = ipaddress.IPv4Network(value, strict=False)
            raise _error(f"{value!r} has host bits set (did you mean {network}?)") from None
        raise _error(f"{value!r} is not a valid IPv4 CIDR") from None


def _check_public_ipv4(value: str) -> str:
    ip = _parse_ipv4(value)
    if any(ip in net for net in _DOCUMENTATION_NETS):
        return str(ip)  # documentation ranges (RFC 5737) are accepted for examples and tests
    kind = None
    if ip.is_unspecified:
        kind = "an unspecified"
    elif ip.is_loopback:
        kind = "a loopback"
    elif ip.is_link_local:
        kind = "a link-local"
    elif ip.is_multicast:
        kind = "a multicast"
    elif ip in ipaddress.IPv4Network("100.64.0.0/10"):
        kind = "a shared (carrier-grade NAT)"
    elif ip.is_reserved:
        kind = "a reserved"
    elif ip.is_private or not ip.is_global:
        kind = "a private"
    if kind:
        raise _error(f"{ip} is {kind} address; the customer gateway needs a public IPv4 address")
    return str(ip)


def _check_secret(value: str) -> str:
    if not (_SECRET_NAME_RE.fullmatch(value) or _SECRET_ARN_RE.fullmatch(value)):
        raise _error(
            f"{value!r} is not a Secrets Manager secret name or ARN (names use letters, digits"
            " and /_+=.@-)"
        )
    return value


def _check_text(value: str) -> str:
    if not value.strip():
        raise _error("must not be empty")
    if value != value.strip():
        raise _error(f"{value!r} has leading or trailing spaces")
    if any(ord(c) < 32 for c in value):
        raise _error(f"{value!r} contains control characters")
    return value


StrictInt = Annotated[int, Strict()]
Label = Annotated[str, AfterValidator(_check_label)]
DnsName = Annotated[str, AfterValidator(_check_dns_name)]
Hostname = Annotated[str, AfterValidator(_check_hostname)]
IPv4 = Annotated[str, AfterValidator(_check_ipv4)]
Address = Annotated[str, AfterValidator(_check_address)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]
SecretRef = Annotated[str, AfterValidator(_check_secret)]
Text = Annotated[str, AfterValidator(_check_text)]


def _is_ipv4(address: str) -> bool:
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Site(_Model):
    """The on-premises site: where the VPN goes and which networks are behind it."""

    customer_gateway_ip: Annotated[str, AfterValidator(_check_public_ipv4)]
    bgp_asn: Annotated[StrictInt, Field(ge=1, le=4_294_967_294)]
    on_premises_cidrs: Annotated[tuple[Cidr, ...], Field(min_length=1)]
    dns_zone: DnsName = DEFAULT_DNS_ZONE
    on_premises_domains: tuple[DnsName, ...] = ()
    """Domains AWS forwards to ``on_premises_resolvers`` (Route 53 Resolver rules)."""
    on_premises_resolvers: tuple[IPv4, ...] = ()
    """On-premises DNS servers answering ``on_premises_domains``."""

    @model_validator(mode="after")
    def _forwarding(self) -> Site:
        found: list[tuple[Loc, str]] = []
        if self.on_premises_domains and not self.on_premises_resolvers:
            found.append((("on_premises_resolvers",), "required when on_premises_domains is set"))
        for i, domain in enumerate(self.on_premises_domains):
            zone = self.dns_zone
            if domain == zone or domain.endswith(f".{zone}") or zone.endswith(f".{domain}"):
                found.append(
                    (
                        ("on_premises_domains", i),
                        f"{domain!r} overlaps the migration zone {zone!r}, which AWS answers",
                    )
                )
            elif domain in self.on_premises_domains[:i]:
                found.append((("on_premises_domains", i), f"{domain!r} is listed twice"))
        for i, resolver in enumerate(self.on_premises_resolvers):
            if not self.is_on_premises(resolver):
                found.append((("on_premises_resolvers", i), _outside(resolver)))
        if found:
            raise _problems(found)
        return self

    @field_validator("bgp_asn")
    @classmethod
    def _asn_not_aws_side(cls, value: int) -> int:
        if value == AWS_SIDE_ASN:
            raise _error(f"must differ from the AWS side ASN {AWS_SIDE_ASN}")
        return value

    @field_validator("on_premises_cidrs")
    @classmethod
    def _cidrs_do_not_overlap(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        vpc = ipaddress.IPv4Network(AWS_VPC_CIDR)
        nets = [ipaddress.IPv4Network(c) for c in value]
        found: list[tuple[Loc, str]] = []
        for i, net in enumerate(nets):
            if net.overlaps(vpc):
                found.append(((i,), f"{net} overlaps the AWS VPC {vpc}"))
                continue
            for j in range(i):
                if net.overlaps(nets[j]):
                    found.append(((i,), f"{net} overlaps on_premises_cidrs[{j}] ({nets[j]})"))
                    break
        if found:
            raise _problems(found)
        return value

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network, ...]:
        return tuple(ipaddress.IPv4Network(c) for c in self.on_premises_cidrs)

    def is_on_premises(self, address: str) -> bool:
        """Whether an IPv4 address is inside one of the on-premises CIDRs."""
        ip = ipaddress.IPv4Address(address)
        return any(ip in net for net in self.networks)


class Alarm(_Model):
    """A CloudWatch alarm that exists in the account and may gate applications."""

    name: Annotated[Text, Field(max_length=255)]
    description: str = ""


class Application(_Model):
    """An application whose traffic is shifted by weighted DNS records."""

    name: Label
    dns_name: DnsName = ""
    """Record name; defaults to ``<name>.<dns_zone>`` (filled in by ``Plan``)."""
    on_premises_address: Address
    aws_address: Address
    shift_steps: tuple[StrictInt, ...] = DEFAULT_SHIFT_STEPS
    """Percentages of traffic sent to AWS, step by step; strictly increasing, ending at 100."""
    bake_minutes: Annotated[StrictInt, Field(ge=0)] = DEFAULT_BAKE_MINUTES
    """Minutes to wait at each step with all alarms OK before the next step."""
    alarms: tuple[Text, ...] = ()
    databases: tuple[Label, ...] = ()
    on_gate_failure: Literal["rollback", "hold"] = "rollback"
    """A gate failing after traffic moved: roll back (default) or hold the split, watched."""
    manual_approval_steps: tuple[StrictInt, ...] = ()
    """Percentages of ``shift_steps`` that wait for ``migrate approve`` before they start."""

    @model_validator(mode="after")
    def _approval_steps_are_steps(self) -> Application:
        found: list[tuple[Loc, str]] = [
            (
                ("manual_approval_steps", i),
                f"{step} is not one of shift_steps {list(self.shift_steps)}",
            )
            for i, step in enumerate(self.manual_approval_steps)
            if step not in self.shift_steps
        ]
        if found:
            raise _problems(found)
        return self

    @field_validator("shift_steps")
    @classmethod
    def _steps_increase_to_100(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if not steps:
            raise _error("must contain at least one step (the last must be 100)")
        found: list[tuple[Loc, str]] = []
        for i, step in enumerate(steps):
            if not 1 <= step <= 100:
                found.append(((i,), f"must be between 1 and 100, got {step}"))
            elif i and step <= steps[i - 1]:
                found.append(((i,), f"must be increasing (previous step is {steps[i - 1]})"))
        if not found and steps[-1] != 100:
            found.append(((len(steps) - 1,), f"the last step must be 100, got {steps[-1]}"))
        if found:
            raise _problems(found)
        return steps

    @model_validator(mode="after")
    def _addresses_of_same_kind(self) -> Application:
        if _is_ipv4(self.on_premises_address) != _is_ipv4(self.aws_address):
            kind = "an IPv4 address" if _is_ipv4(self.on_premises_address) else "a DNS name"
            raise _problems(
                [
                    (
                        ("aws_address",),
                        f"must be {kind} like on_premises_address: both share one record"
                        " type (A or CNAME)",
                    )
                ]
            )
        return self

    @property
    def record_type(self) -> Literal["A", "CNAME"]:
        return "A" if _is_ipv4(self.aws_address) else "CNAME"


class Endpoint(_Model):
    """One side of a database replication; credentials live in Secrets Manager."""

    host: Address
    port: Annotated[StrictInt, Field(ge=1, le=65535)]
    """Defaults to the engine's port."""
    database: Text
    secret: SecretRef
    """Name or ARN of the Secrets Manager secret holding the credentials."""


class TableSelection(_Model):
    """A DMS selection rule; ``%`` is a wildcard."""

    schema_name: Text = Field(alias="schema")
    table_name: Text = Field(alias="table")


ALL_TABLES: Final = (TableSelection(schema="%", table="%"),)


class Database(_Model):
    """A database replicated by DMS (full load then CDC)."""

    name: Label
    engine: Engine
    source: Endpoint
    target: Endpoint
    tables: Annotated[tuple[TableSelection, ...], Field(min_length=1)] = ALL_TABLES
    cdc_latency_threshold_seconds: Annotated[StrictInt, Field(gt=0)] = (
        DEFAULT_CDC_LATENCY_THRESHOLD_SECONDS
    )
    dns_name: DnsName = ""
    """The one name every application uses for this database; ``<name>.db.<dns_zone>``."""
    freeze: str = "builtin"
    """How writes stop before a switch: ``builtin`` (postgres, mysql; their default),
    ``manual`` (the operator confirms; other engines' default), ``ssm:<automation document>``
    or ``lambda:<function>``."""
    freeze_timeout_seconds: Annotated[StrictInt, Field(gt=0, le=86_400)] = (
        DEFAULT_FREEZE_TIMEOUT_SECONDS
    )
    drain_timeout_seconds: Annotated[StrictInt, Field(gt=0, le=86_400)] = (
        DEFAULT_DRAIN_TIMEOUT_SECONDS
    )
    cutover: Literal["manual", "before-applications", "after-applications"] = "manual"
    """When the writer moves relative to the applications using the database:
    ``before-applications`` (their first traffic step waits until it is CUT_OVER),
    ``after-applications`` (``migrate db cutover`` waits until they all completed) or
    ``manual`` (whenever the operator runs it)."""

    def spec(self) -> DatabaseSpec:
        """This database as the controller and the database step function see it."""

        def side(endpoint: Endpoint) -> EndpointSpec:
            return EndpointSpec(endpoint.host, endpoint.port, endpoint.database, endpoint.secret)

        return DatabaseSpec(
            name=self.name,
            cdc_latency_threshold_seconds=float(self.cdc_latency_threshold_seconds),
            cutover=self.cutover,
            engine=self.engine,
            dns_name=self.dns_name,
            source=side(self.source),
            target=side(self.target),
            tables=tuple((t.schema_name, t.table_name) for t in self.tables),
            freeze=self.freeze,
            freeze_timeout_seconds=float(self.freeze_timeout_seconds),
            drain_timeout_seconds=float(self.drain_timeout_seconds),
        )

    @model_validator(mode="after")
    def _freeze_method(self) -> Database:
        if not _FREEZE_RE.fullmatch(self.freeze):
            raise _problems(
                [
                    (
                        ("freeze",),
                        f"{self.freeze!r} is not builtin, manual, ssm:<document> or"
                        " lambda:<function>",
                    )
                ]
            )
        if self.freeze == "builtin" and self.engine not in BUILTIN_FREEZE_ENGINES:
            raise _problems(
                [
                    (
                        ("freeze",),
                        f"builtin freeze supports {', '.join(sorted(BUILTIN_FREEZE_ENGINES))};"
                        f" for {self.engine} declare manual, ssm:<document> or lambda:<function>",
                    )
                ]
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _default_ports(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        engine = data.get("engine")
        # With an unknown engine the engine error is what matters: a placeholder port avoids
        # a misleading "port: is required" (the model never validates with it).
        port = DEFAULT_PORTS.get(engine, 1) if isinstance(engine, str) else 1
        data = dict(data)
        if "freeze" not in data:
            data["freeze"] = "builtin" if engine in BUILTIN_FREEZE_ENGINES else "manual"
        for side in ("source", "target"):
            endpoint = data.get(side)
            if isinstance(endpoint, dict) and "port" not in endpoint:
                data[side] = {**endpoint, "port": port}
        return data


class Server(_Model):
    """An on-premises server, replicated by ``mgn`` (Application Migration Service) or by hand."""

    id: Label
    hostname: Hostname
    ip: IPv4
    replication: Replication = "mgn"


class Wave(_Model):
    name: Label
    max_parallel: Annotated[StrictInt, Field(ge=1, le=1000)] = DEFAULT_MAX_PARALLEL
    """Applications of the wave that may be mid-cutover at once (the controller's bound)."""
    applications: tuple[Application, ...] = ()
    databases: tuple[Database, ...] = ()
    servers: tuple[Server, ...] = ()


_CREDENTIAL_WORDS: Final = ("password", "passwd", "passphrase")
_CREDENTIAL_KEYS: Final = frozenset({"pwd", "pass", "secretstring", "secretvalue"})


def _looks_like_credential(key: str) -> bool:
    normalized = re.sub(r"[^a-z]", "", key.lower())
    return (
        any(word in normalized for word in _CREDENTIAL_WORDS)
        or normalized in _CREDENTIAL_KEYS
        or normalized.endswith("pwd")
    )


def _raw_key_problems(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Keys that are not strings, and keys that look like credentials, anywhere in the data."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                yield (
                    (*loc, str(key)),
                    f"key {key!r} must be a string (YAML read it as {type(key).__name__};"
                    " quote it)",
                )
                continue
            if _looks_like_credential(key):
                yield (
                    (*loc, key),
                    "plans must not contain credentials: store them in a Secrets Manager"
                    " secret and give its name in `secret`",
                )
                continue
            yield from _raw_key_problems(value, (*loc, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _raw_key_problems(item, (*loc, i))


class Plan(_Model):
    """A validated migration plan."""

    version: Literal[1] = 1
    site: Site
    alarms: tuple[Alarm, ...] = ()
    waves: Annotated[tuple[Wave, ...], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        found = list(_raw_key_problems(data))
        if found:
            raise _problems(found)
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _cross_check(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Plan:
        plan = handler(data)
        assert isinstance(plan, Plan)
        found = list(plan._reference_problems())
        if found:
            raise _problems(found)
        return plan._with_default_dns_names()

    # -- cross-field checks ------------------------------------------------------------------

    def _default_dns_name(self, app: Application) -> str:
        return app.dns_name or f"{app.name}.{self.site.dns_zone}"

    def _default_database_name(self, db: Database) -> str:
        return db.dns_name or f"{db.name}.db.{self.site.dns_zone}"

    def _with_default_dns_names(self) -> Plan:
        waves = tuple(
            wave.model_copy(
                update={
                    "applications": tuple(
                        app.model_copy(update={"dns_name": self._default_dns_name(app)})
                        for app in wave.applications
                    ),
                    "databases": tuple(
                        db.model_copy(update={"dns_name": self._default_database_name(db)})
                        for db in wave.databases
                    ),
                }
            )
            for wave in self.waves
        )
        return self.model_copy(update={"waves": waves})

    def _reference_problems(self) -> Iterator[tuple[Loc, str]]:
        site = self.site
        zone = site.dns_zone
        defined_alarms: dict[str, int] = {}
        for i, alarm in enumerate(self.alarms):
            loc: Loc = ("alarms", i, "name")
            if alarm.name in BUILTIN_ALARMS:
                yield loc, f"{alarm.name!r} is a built-in alarm; do not declare it"
            elif alarm.name in defined_alarms:
                yield (
                    loc,
                    f"{alarm.name!r} is already declared by alarms[{defined_alarms[alarm.name]}]",
                )
            else:
                defined_alarms[alarm.name] = i
        known_alarms = BUILTIN_ALARMS | defined_alarms.keys()
        known_databases = {db.name for wave in self.waves for db in wave.databases}

        names: dict[str, Loc] = {}
        dns_names: dict[str, Loc] = {}

        def unique(name: str, where: Loc, field: str) -> Iterator[tuple[Loc, str]]:
            if name in names:
                yield (*where, field), f"{name!r} is already used by {format_path(names[name])}"
            else:
                names[name] = where

        for w, wave in enumerate(self.waves):
            yield from unique(wave.name, ("waves", w), "name")
            for a, app in enumerate(wave.applications):
                where: Loc = ("waves", w, "applications", a)
                yield from unique(app.name, where, "name")
                dns_name = self._default_dns_name(app)
                if dns_name != zone and not dns_name.endswith(f".{zone}"):
                    yield (*where, "dns_name"), f"{dns_name!r} is not inside the DNS zone {zone!r}"
                elif dns_name == zone and app.record_type == "CNAME":
                    yield (
                        (*where, "dns_name"),
                        "a CNAME record cannot be at the zone apex; use a name inside the zone",
                    )
                elif dns_name in dns_names:
                    yield (
                        (*where, "dns_name"),
                        f"{dns_name!r} is already used by {format_path(dns_names[dns_name])}",
                    )
                else:
                    dns_names[dns_name] = where
                yield from _address_problems(site, app, where)
                yield from _list_problems(
                    app.alarms,
                    (*where, "alarms"),
                    known_alarms,
                    lambda name: (
                        f"unknown alarm {name!r}: declare it in the top-level alarms list or use"
                        f" a built-in one ({', '.join(sorted(BUILTIN_ALARMS))})"
                    ),
                )
                yield from _list_problems(
                    app.databases,
                    (*where, "databases"),
                    known_databases,
                    lambda name: (
                        f"unknown database {name!r}: no wave migrates a database of that name"
                    ),
                )
            for d, db in enumerate(wave.databases):
                where = ("waves", w, "databases", d)
                yield from unique(db.name, where, "name")
                host = db.source.host
                if _is_ipv4(host) and not site.is_on_premises(host):
                    yield (*where, "source", "host"), _outside(host)
            for s, server in enumerate(wave.servers):
                where = ("waves", w, "servers", s)
                yield from unique(server.id, where, "id")
                if not site.is_on_premises(server.ip):
                    yield (*where, "ip"), _outside(server.ip)
        # Database names after every application's: the message names the application.
        for w, wave in enumerate(self.waves):
            for d, db in enumerate(wave.databases):
                where = ("waves", w, "databases", d, "dns_name")
                dns_name = self._default_database_name(db)
                if dns_name == zone or not dns_name.endswith(f".{zone}"):
                    yield where, f"{dns_name!r} is not a name inside the DNS zone {zone!r}"
                elif dns_name in dns_names:
                    yield (
                        where,
                        f"{dns_name!r} is already used by {format_path(dns_names[dns_name])}",
                    )
                else:
                    dns_names[dns_name] = where[:-1]

    # -- accessors ---------------------------------------------------------------------------

    @property
    def applications(self) -> tuple[Application, ...]:
        """All applications, wave by wave."""
        return tuple(app for wave in self.waves for app in wave.applications)

    @property
    def databases(self) -> tuple[Database, ...]:
        """All databases, wave by wave."""
        return tuple(db for wave in self.waves for db in wave.databases)

    @property
    def servers(self) -> tuple[Server, ...]:
        """All servers, wave by wave."""
        return tuple(server for wave in self.waves for server in wave.servers)

    @property
    def alarm_names(self) -> frozenset[str]:
        """Alarms applications may gate on: the built-in ones and the declared ones."""
        return BUILTIN_ALARMS | {alarm.name for alarm in self.alarms}

    def wave(self, name: str) -> Wave:
        return _find(self.waves, "name", name, "wave")

    def application(self, name: str) -> Application:
        return _find(self.applications, "name", name, "application")

    def database(self, name: str) -> Database:
        return _find(self.databases, "name", name, "database")

    def server(self, server_id: str) -> Server:
        return _find(self.servers, "id", server_id, "server")

    def wave_of(self, name: str) -> Wave:
        """The wave migrating the application, database or server of that name (or id)."""
        for wave in self.waves:
            items: list[Application | Database | Server] = [
                *wave.applications,
                *wave.databases,
                *wave.servers,
            ]
            if any(
                getattr(item, "name", None) == name or getattr(item, "id", None) == name
                for item in items
            ):
                return wave
        raise KeyError(f"nothing named {name!r} in the plan")

    def wave_spec(self, name: str) -> WaveSpec:
        """Wave ``name`` as the cutover controller runs it (stored when the cutover starts)."""
        wave = self.wave(name)
        used = {db for app in wave.applications for db in app.databases}
        return WaveSpec(
            name=wave.name,
            max_parallel=wave.max_parallel,
            applications=tuple(
                ApplicationSpec(
                    name=app.name,
                    shift_steps=tuple(app.shift_steps),
                    bake_minutes=app.bake_minutes,
                    alarms=tuple(app.alarms),
                    databases=tuple(app.databases),
                    on_gate_failure=app.on_gate_failure,
                    manual_approval_steps=tuple(app.manual_approval_steps),
                )
                for app in wave.applications
            ),
            databases=tuple(db.spec() for db in self.databases if db.name in used),
        )

    def databases_of(self, application: str | Application) -> tuple[Database, ...]:
        """The databases an application depends on."""
        app = self.application(application) if isinstance(application, str) else application
        return tuple(self.database(name) for name in app.databases)


def _outside(address: str) -> str:
    return f"{address} is not inside any of site.on_premises_cidrs"


def _address_problems(site: Site, app: Application, where: Loc) -> Iterator[tuple[Loc, str]]:
    if app.record_type != "A":
        return
    if not site.is_on_premises(app.on_premises_address):
        yield (*where, "on_premises_address"), _outside(app.on_premises_address)
    if site.is_on_premises(app.aws_address):
        yield (
            (*where, "aws_address"),
            f"{app.aws_address} is inside site.on_premises_cidrs; it must be an address in AWS",
        )


def _list_problems(
    values: Sequence[str], where: Loc, known: Iterable[str], unknown: Any
) -> Iterator[tuple[Loc, str]]:
    known = set(known)
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield (*where, i), f"{value!r} is listed twice"
        elif value not in known:
            yield (*where, i), unknown(value)
        seen.add(value)


def _find(items: Iterable[Any], attr: str, key: str, kind: str) -> Any:
    for item in items:
        if getattr(item, attr) == key:
            return item
    raise KeyError(f"no {kind} named {key!r} in the plan")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"string {text!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_MESSAGES: Final = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {_describe(error.get('input'))}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, got {_describe(error.get('input'))}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {error.get('input')}"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']}, got {error.get('input')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {error.get('input')}"
    if kind == "too_short":
        n = ctx["min_length"]
        return f"must contain at least {n} item{'s' if n != 1 else ''}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    message = str(error["msg"]).splitlines()[0] if error["msg"] else kind
    return message[:1].lower() + message[1:]


def _problems_from(exc: ValidationError) -> list[Problem]:
    errors = exc.errors(include_url=False)
    locs = [tuple(error["loc"]) for error in errors]
    out: list[Problem] = []
    for error, loc in zip(errors, locs, strict=True):
        # pydantic checks a list's min_length against its valid items only: an invalid item
        # of a one-item list also yields "too short", which is noise.
        if error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue
        if error["type"] == _PROBLEMS:
            for sub, message in error["ctx"]["problems"]:
                out.append(Problem(format_path((*loc, *sub)), message))
        else:
            out.append(Problem(format_path(loc), _message(error)))
    return out


def parse_plan(data: Any, source: str = "<plan>") -> Plan:
    """Validate already-parsed plan data (a mapping); raises ``PlanError``."""
    return _parse(data, source, None)


def _parse(data: Any, source: str, node: yaml.Node | None) -> Plan:
    if data is None:
        raise PlanError(source, [Problem("", "the plan is empty")])
    if not isinstance(data, dict):
        raise PlanError(
            source,
            [Problem("", f"the plan must be a mapping at the top level, got {_describe(data)}")],
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from(exc)
    if node is not None:
        problems = [
            Problem(p.path, p.message, _line_of(node, _parse_path(p.path))) for p in problems
        ]
    raise PlanError(source, problems)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read, parse and validate a plan file; raises ``PlanError`` naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(source, [Problem("", "file not found")]) from None
    except IsADirectoryError:
        raise PlanError(source, [Problem("", "is a directory, not a plan file")]) from None
    except UnicodeDecodeError:
        raise PlanError(source, [Problem("", "is not UTF-8 text")]) from None
    except OSError as exc:
        raise PlanError(source, [Problem("", f"cannot read: {exc.strerror}")]) from None

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        duplicates = list(_duplicate_keys(node)) if node is not None else []
        if duplicates:
            raise PlanError(source, duplicates)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "syntax error"
        raise PlanError(
            source, [Problem("", f"invalid YAML{where}: {what}", mark.line + 1 if mark else None)]
        ) from None
    except yaml.YAMLError as exc:
        raise PlanError(source, [Problem("", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return _parse(data, source, node)


# -- YAML node helpers (line numbers, duplicate keys) ----------------------------------------

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_PATH_PART: Final = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def _parse_path(path: str) -> Loc:
    return tuple(int(i) if i else name for i, name in _PATH_PART.findall(path))


def _line_of(node: yaml.Node, loc: Loc) -> int | None:
    """The line of the deepest YAML node along ``loc`` (1-based)."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _duplicate_keys(
    node: yaml.Node, loc: Loc = (), seen: set[int] | None = None
) -> Iterator[Problem]:
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                yield Problem(
                    format_path((*loc, key.value)),
                    f"duplicate key (first on line {first[key.value]})",
                    line,
                )
            else:
                first[key.value] = line
                yield from _duplicate_keys(value, (*loc, key.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i), seen)
