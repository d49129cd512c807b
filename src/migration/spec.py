"""What the cutover controller needs of a wave, as plain data (stdlib only).

``migrate cutover --wave W`` turns the validated plan's wave into a :class:`WaveSpec` and
stores it, as JSON, on the wave's head item in the tracking table. The controller function
reads it back from there: it never imports the plan model (pydantic is not in its asset),
and a wave keeps the definition it was started with even if the plan file changes later.

Only the standard library is imported: this module ships to Lambda.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from migration.errors import MigrationError
from migration.servers.spec import DEFAULT_MAX_LAG_SECONDS, ServerSpec

ON_GATE_FAILURE_ROLLBACK = "rollback"
ON_GATE_FAILURE_HOLD = "hold"
SPEC_VERSION = 1


class SpecError(MigrationError):
    """A stored wave definition that cannot be read."""


@dataclass(frozen=True)
class EndpointSpec:
    """One side of a database: where it is and which secret holds its credentials."""

    host: str
    port: int
    database: str
    secret: str


@dataclass(frozen=True)
class DatabaseSpec:
    """A database gating the applications that use it, and what moving its writer needs
    (the database step function reads it from here: it has no plan file)."""

    name: str
    cdc_latency_threshold_seconds: float
    cutover: str = "manual"
    """``manual``, ``before-applications`` or ``after-applications`` (plan ``cutover``)."""
    engine: str = "postgres"
    dns_name: str = ""
    source: EndpointSpec | None = None
    target: EndpointSpec | None = None
    tables: tuple[tuple[str, str], ...] = (("%", "%"),)
    freeze: str = "builtin"
    freeze_timeout_seconds: float = 600.0
    drain_timeout_seconds: float = 300.0


@dataclass(frozen=True)
class ApplicationSpec:
    """One application of a wave: its steps, bake, gates and failure policy."""

    name: str
    shift_steps: tuple[int, ...]
    bake_minutes: int
    alarms: tuple[str, ...] = ()
    databases: tuple[str, ...] = ()
    on_gate_failure: str = ON_GATE_FAILURE_ROLLBACK
    manual_approval_steps: tuple[int, ...] = ()
    servers: tuple[str, ...] = ()
    """Ids of the servers it runs on: its traffic moves once each ``mgn`` one is launched
    for cutover and validated (the ``servers`` gate)."""

    def percent(self, step: int) -> int:
        """Percentage on AWS after ``step`` (0 = before the first step)."""
        return self.shift_steps[step - 1] if step else 0

    def needs_approval(self, step: int) -> bool:
        """True when ``step`` waits for ``migrate approve`` before it starts."""
        return self.percent(step) in self.manual_approval_steps


@dataclass(frozen=True)
class WaveSpec:
    """A wave as the controller runs it."""

    name: str
    max_parallel: int
    applications: tuple[ApplicationSpec, ...]
    databases: tuple[DatabaseSpec, ...] = field(default_factory=tuple)
    servers: tuple[ServerSpec, ...] = field(default_factory=tuple)
    """The servers of its applications, with their waves' ``server_defaults`` applied."""

    def application(self, name: str) -> ApplicationSpec:
        for app in self.applications:
            if app.name == name:
                return app
        raise KeyError(name)

    def databases_of(self, app: ApplicationSpec) -> tuple[DatabaseSpec, ...]:
        """The databases ``app`` depends on (the gates' view of the plan)."""
        by_name = {db.name: db for db in self.databases}
        return tuple(by_name[name] for name in app.databases if name in by_name)

    def servers_of(self, app: ApplicationSpec) -> tuple[ServerSpec, ...]:
        """The servers ``app`` runs on; an id missing from the definition is a SpecError
        (the gate must fail, never skip a server)."""
        by_id = {server.id: server for server in self.servers}
        missing = [server for server in app.servers if server not in by_id]
        if missing:
            raise SpecError(
                f"wave {self.name}: application {app.name} lists server(s) "
                f"{', '.join(missing)} the stored definition lacks"
            )
        return tuple(by_id[server] for server in app.servers)

    # -- serialisation ------------------------------------------------------------------

    def to_json(self) -> str:
        """Compact, key-sorted JSON (stable bytes for the same wave)."""
        return json.dumps(
            {
                "version": SPEC_VERSION,
                "name": self.name,
                "maxParallel": self.max_parallel,
                "applications": [
                    {
                        "name": app.name,
                        "shiftSteps": list(app.shift_steps),
                        "bakeMinutes": app.bake_minutes,
                        "alarms": list(app.alarms),
                        "databases": list(app.databases),
                        "onGateFailure": app.on_gate_failure,
                        "manualApprovalSteps": list(app.manual_approval_steps),
                        **({"servers": list(app.servers)} if app.servers else {}),
                    }
                    for app in self.applications
                ],
                "databases": [_database_json(db) for db in self.databases],
                **({"servers": [_server_json(s) for s in self.servers]} if self.servers else {}),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> WaveSpec:
        """Inverse of :meth:`to_json`; SpecError names what is wrong."""
        try:
            data = json.loads(text)
            if data.get("version") != SPEC_VERSION:
                raise SpecError(f"wave definition version {data.get('version')!r} is not 1")
            return cls(
                name=str(data["name"]),
                max_parallel=int(data["maxParallel"]),
                applications=tuple(_application(a) for a in data["applications"]),
                databases=tuple(_database(d) for d in data.get("databases", [])),
                servers=tuple(_server(s) for s in data.get("servers", [])),
            )
        except SpecError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpecError(f"stored wave definition is unreadable: {exc!r}") from exc


def _application(data: Mapping[str, Any]) -> ApplicationSpec:
    return ApplicationSpec(
        name=str(data["name"]),
        shift_steps=_ints(data["shiftSteps"]),
        bake_minutes=int(data["bakeMinutes"]),
        alarms=tuple(str(a) for a in data.get("alarms", [])),
        databases=tuple(str(d) for d in data.get("databases", [])),
        on_gate_failure=str(data.get("onGateFailure", ON_GATE_FAILURE_ROLLBACK)),
        manual_approval_steps=_ints(data.get("manualApprovalSteps", [])),
        servers=tuple(str(s) for s in data.get("servers", [])),
    )


def _server_json(server: ServerSpec) -> dict[str, Any]:
    return {
        "id": server.id,
        "hostname": server.hostname,
        "ip": server.ip,
        "replication": server.replication,
        "os": server.os,
        "instanceType": server.instance_type,
        "licensing": server.licensing,
        "bootMode": server.boot_mode,
        "maxLagSeconds": server.max_lag_seconds,
    }


def _server(data: Mapping[str, Any]) -> ServerSpec:
    defaults = ServerSpec(id="", hostname="", ip="")
    return ServerSpec(
        id=str(data["id"]),
        hostname=str(data["hostname"]),
        ip=str(data["ip"]),
        replication=str(data.get("replication", defaults.replication)),
        os=str(data.get("os", defaults.os)),
        instance_type=str(data.get("instanceType", defaults.instance_type)),
        licensing=str(data.get("licensing", defaults.licensing)),
        boot_mode=str(data.get("bootMode", defaults.boot_mode)),
        max_lag_seconds=int(data.get("maxLagSeconds", DEFAULT_MAX_LAG_SECONDS)),
    )


def _ints(values: Sequence[Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _endpoint_json(endpoint: EndpointSpec | None) -> dict[str, Any] | None:
    if endpoint is None:
        return None
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "database": endpoint.database,
        "secret": endpoint.secret,
    }


def _database_json(db: DatabaseSpec) -> dict[str, Any]:
    return {
        "name": db.name,
        "cdcLatencyThresholdSeconds": db.cdc_latency_threshold_seconds,
        "cutover": db.cutover,
        "engine": db.engine,
        "dnsName": db.dns_name,
        "source": _endpoint_json(db.source),
        "target": _endpoint_json(db.target),
        "tables": [list(t) for t in db.tables],
        "freeze": db.freeze,
        "freezeTimeoutSeconds": db.freeze_timeout_seconds,
        "drainTimeoutSeconds": db.drain_timeout_seconds,
    }


def _endpoint(data: Mapping[str, Any] | None) -> EndpointSpec | None:
    if data is None:
        return None
    return EndpointSpec(
        str(data["host"]), int(data["port"]), str(data["database"]), str(data["secret"])
    )


def _database(data: Mapping[str, Any]) -> DatabaseSpec:
    """A stored database; definitions stored before a field existed get its default."""
    return DatabaseSpec(
        name=str(data["name"]),
        cdc_latency_threshold_seconds=float(data["cdcLatencyThresholdSeconds"]),
        cutover=str(data.get("cutover", "manual")),
        engine=str(data.get("engine", "postgres")),
        dns_name=str(data.get("dnsName", "")),
        source=_endpoint(data.get("source")),
        target=_endpoint(data.get("target")),
        tables=tuple((str(s), str(t)) for s, t in data.get("tables", [["%", "%"]])),
        freeze=str(data.get("freeze", "builtin")),
        freeze_timeout_seconds=float(data.get("freezeTimeoutSeconds", 600.0)),
        drain_timeout_seconds=float(data.get("drainTimeoutSeconds", 300.0)),
    )
