"""``Plan``: the whole plan document, its entries put together and checked against each other,
with the accessors the stack, the CLI and the cutover use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, ValidatorFunctionWrapHandler, model_validator

from migration.plan.constants import BUILTIN_ALARMS
from migration.plan.errors import problems_at
from migration.plan.model import (
    Alarm,
    Application,
    Database,
    Server,
    ServerReplication,
    Site,
    Wave,
    _Model,
)
from migration.plan.references import (
    default_database_name,
    default_dns_name,
    reference_problems,
)
from migration.plan.validators import raw_key_problems
from migration.servers.spec import ServerSpec
from migration.spec import ApplicationSpec, WaveSpec


class Plan(_Model):
    """A validated migration plan."""

    version: Literal[1] = 1
    site: Site
    alarms: tuple[Alarm, ...] = ()
    waves: Annotated[tuple[Wave, ...], Field(min_length=1)]
    server_replication: ServerReplication = ServerReplication()
    """How MGN replicates the plan's servers (``migrate servers init``)."""

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        found = list(raw_key_problems(data))
        if found:
            raise problems_at(found)
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _cross_check(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Plan:
        plan = handler(data)
        assert isinstance(plan, Plan)
        found = list(reference_problems(plan.site, plan.alarms, plan.waves))
        if found:
            raise problems_at(found)
        return plan._with_default_dns_names()

    def _with_default_dns_names(self) -> Plan:
        zone = self.site.dns_zone
        waves = tuple(
            wave.model_copy(
                update={
                    "applications": tuple(
                        app.model_copy(update={"dns_name": default_dns_name(app, zone)})
                        for app in wave.applications
                    ),
                    "databases": tuple(
                        db.model_copy(update={"dns_name": default_database_name(db, zone)})
                        for db in wave.databases
                    ),
                }
            )
            for wave in self.waves
        )
        return self.model_copy(update={"waves": waves})

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
                    servers=tuple(app.servers),
                )
                for app in wave.applications
            ),
            databases=tuple(db.spec() for db in self.databases if db.name in used),
            servers=tuple(
                self.server_spec(server)
                for server in sorted({s for app in wave.applications for s in app.servers})
            ),
        )

    def server_spec(self, server_id: str) -> ServerSpec:
        """Server ``server_id`` with its wave's ``server_defaults`` applied."""
        server: Server = self.server(server_id)
        return server.spec(self.wave_of(server_id).server_defaults)

    def servers_of(self, application: str | Application) -> tuple[ServerSpec, ...]:
        """The servers an application runs on (its ``servers``), as the runtime sees them."""
        app = self.application(application) if isinstance(application, str) else application
        return tuple(self.server_spec(server_id) for server_id in app.servers)

    def applications_using(self, server_id: str) -> tuple[Application, ...]:
        """The applications listing server ``server_id`` in their ``servers``."""
        return tuple(app for app in self.applications if server_id in app.servers)

    def databases_of(self, application: str | Application) -> tuple[Database, ...]:
        """The databases an application depends on."""
        app = self.application(application) if isinstance(application, str) else application
        return tuple(self.database(name) for name in app.databases)


def _find(items: Iterable[Any], attr: str, key: str, kind: str) -> Any:
    for item in items:
        if getattr(item, attr) == key:
            return item
    raise KeyError(f"no {kind} named {key!r} in the plan")
