"""The plan's entries as frozen pydantic models: the site, alarms, applications, databases,
servers and waves, each with the checks that need only itself.

``Plan`` (``migration.plan.document``) puts them together and checks references between them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from migration.plan.constants import (
    BUILTIN_FREEZE_ENGINES,
    DEFAULT_BAKE_MINUTES,
    DEFAULT_CDC_LATENCY_THRESHOLD_SECONDS,
    DEFAULT_DNS_ZONE,
    DEFAULT_DRAIN_TIMEOUT_SECONDS,
    DEFAULT_FREEZE_TIMEOUT_SECONDS,
    DEFAULT_MAX_PARALLEL,
    DEFAULT_PORTS,
    DEFAULT_SHIFT_STEPS,
    Engine,
    Replication,
)
from migration.plan.errors import Loc, problems_at, value_error
from migration.plan.validators import (
    Address,
    BgpAsn,
    Cidr,
    DnsName,
    Ec2InstanceType,
    Hostname,
    InstanceType,
    IPv4,
    Label,
    Port,
    PublicIPv4,
    SecretRef,
    SecurityGroupIds,
    StrictInt,
    SubnetId,
    Text,
    cidr_overlaps,
    is_ipv4,
)
from migration.servers.replication import (
    DEFAULT_REPLICATION_SERVER_INSTANCE_TYPE,
    DEFAULT_STAGING_DISK_TYPE,
    MAX_BANDWIDTH_THROTTLING_MBPS,
    ReplicationSpec,
)
from migration.servers.spec import DEFAULT_MAX_LAG_SECONDS, ServerSpec
from migration.spec import DatabaseSpec, EndpointSpec

_FREEZE_RE: Final = re.compile(
    r"(builtin|manual|ssm:[A-Za-z0-9_.-]{3,128}|lambda:[A-Za-z0-9_:.-]{1,170})"
)


def outside(address: str) -> str:
    """The problem of an address that should be on premises and is not."""
    return f"{address} is not inside any of site.on_premises_cidrs"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Site(_Model):
    """The on-premises site: where the VPN goes and which networks are behind it."""

    customer_gateway_ip: PublicIPv4
    bgp_asn: BgpAsn
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
                found.append((("on_premises_resolvers", i), outside(resolver)))
        if found:
            raise problems_at(found)
        return self

    @field_validator("on_premises_cidrs")
    @classmethod
    def _cidrs_do_not_overlap(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        found: list[tuple[Loc, str]] = [((i,), why) for i, why in cidr_overlaps(value)]
        if found:
            raise problems_at(found)
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
    servers: tuple[Label, ...] = ()
    """Ids of the plan's servers this application runs on: its traffic moves to AWS only
    once each of its ``mgn`` servers is launched for cutover and validated."""
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
            raise problems_at(found)
        return self

    @field_validator("shift_steps")
    @classmethod
    def _steps_increase_to_100(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if not steps:
            raise value_error("must contain at least one step (the last must be 100)")
        found: list[tuple[Loc, str]] = []
        for i, step in enumerate(steps):
            if not 1 <= step <= 100:
                found.append(((i,), f"must be between 1 and 100, got {step}"))
            elif i and step <= steps[i - 1]:
                found.append(((i,), f"must be increasing (previous step is {steps[i - 1]})"))
        if not found and steps[-1] != 100:
            found.append(((len(steps) - 1,), f"the last step must be 100, got {steps[-1]}"))
        if found:
            raise problems_at(found)
        return steps

    @model_validator(mode="after")
    def _addresses_of_same_kind(self) -> Application:
        if is_ipv4(self.on_premises_address) != is_ipv4(self.aws_address):
            kind = "an IPv4 address" if is_ipv4(self.on_premises_address) else "a DNS name"
            raise problems_at(
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
        return "A" if is_ipv4(self.aws_address) else "CNAME"


class Endpoint(_Model):
    """One side of a database replication; credentials live in Secrets Manager."""

    host: Address
    port: Port
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
            raise problems_at(
                [
                    (
                        ("freeze",),
                        f"{self.freeze!r} is not builtin, manual, ssm:<document> or"
                        " lambda:<function>",
                    )
                ]
            )
        if self.freeze == "builtin" and self.engine not in BUILTIN_FREEZE_ENGINES:
            raise problems_at(
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


LagSeconds = Annotated[StrictInt, Field(gt=0, le=86_400)]
Licensing = Literal["license-included", "byol"]
BootMode = Literal["use-source", "legacy-bios", "uefi"]


class ServerDefaults(_Model):
    """MGN settings of a wave's servers; each server may override any of them."""

    instance_type: InstanceType = "right-size"
    """``right-size`` (MGN picks from the source's CPU and RAM) or an EC2 instance type."""
    licensing: Licensing = "license-included"
    """``byol`` brings the source's OS licence; ``license-included`` uses AWS's."""
    boot_mode: BootMode = "use-source"
    max_lag_seconds: LagSeconds = DEFAULT_MAX_LAG_SECONDS
    """A server is ready to launch (test or cutover) only with its replication lag under it."""
    subnet: SubnetId | None = None
    """Where launched instances go: one of the stack's private subnets (``servers init``
    checks it); None: the first of them."""
    security_groups: SecurityGroupIds = ()
    """Groups added to launched instances besides the stack's (the application's ingress)."""


class Server(_Model):
    """An on-premises server, replicated by ``mgn`` (Application Migration Service) or by hand.

    The MGN settings left out take the wave's ``server_defaults``.
    """

    id: Label
    hostname: Hostname
    ip: IPv4
    replication: Replication = "mgn"
    os: Literal["linux", "windows"] = "linux"
    """Which replication agent installer the server needs (``migrate servers agent-command``)."""
    instance_type: InstanceType | None = None
    licensing: Licensing | None = None
    boot_mode: BootMode | None = None
    max_lag_seconds: LagSeconds | None = None
    subnet: SubnetId | None = None
    security_groups: SecurityGroupIds | None = None
    """Replaces the wave's ``server_defaults.security_groups`` when given."""

    def spec(self, defaults: ServerDefaults) -> ServerSpec:
        """This server as the runtime sees it, the wave's defaults filled in."""
        return ServerSpec(
            id=self.id,
            hostname=self.hostname,
            ip=self.ip,
            replication=self.replication,
            os=self.os,
            instance_type=self.instance_type or defaults.instance_type,
            licensing=self.licensing or defaults.licensing,
            boot_mode=self.boot_mode or defaults.boot_mode,
            max_lag_seconds=self.max_lag_seconds or defaults.max_lag_seconds,
            subnet=self.subnet or defaults.subnet,
            security_groups=(
                defaults.security_groups if self.security_groups is None else self.security_groups
            ),
        )


class ServerReplication(_Model):
    """How MGN replicates every server of the plan (its replication configuration template,
    applied by ``migrate servers init``); the network, security group and key come from the
    stack."""

    bandwidth_throttling_mbps: Annotated[
        StrictInt, Field(ge=0, le=MAX_BANDWIDTH_THROTTLING_MBPS)
    ] = 0
    """Per source server, in Mbps; 0 = no throttling (the VPN shares its bandwidth)."""
    replication_server_instance_type: Ec2InstanceType = DEFAULT_REPLICATION_SERVER_INSTANCE_TYPE
    staging_disk_type: Literal["GP2", "GP3", "ST1"] = DEFAULT_STAGING_DISK_TYPE
    """EBS type of staging disks over 500 GiB (smaller ones are always GP2/GP3)."""
    dedicated_replication_server: StrictBool = False

    def spec(self) -> ReplicationSpec:
        """This block as ``migration.servers.setup`` applies it."""
        return ReplicationSpec(
            bandwidth_throttling_mbps=self.bandwidth_throttling_mbps,
            replication_server_instance_type=self.replication_server_instance_type,
            staging_disk_type=self.staging_disk_type,
            dedicated_replication_server=self.dedicated_replication_server,
        )


class Wave(_Model):
    name: Label
    max_parallel: Annotated[StrictInt, Field(ge=1, le=1000)] = DEFAULT_MAX_PARALLEL
    """Applications of the wave that may be mid-cutover at once (the controller's bound)."""
    applications: tuple[Application, ...] = ()
    databases: tuple[Database, ...] = ()
    server_defaults: ServerDefaults = ServerDefaults()
    servers: tuple[Server, ...] = ()
