"""Service wiring of the ``migrate`` operator commands.

One place creates the boto3 clients (:func:`make_clients`, honouring ``AWS_ENDPOINT_URL``
and the region settings in the AWS CLI's order, ``AWS_REGION`` included) and the clocks
(:func:`make_timing`); both are module-level factories that tests replace to point the
commands at moto and to run bakes instantly. :class:`Runtime` builds the services from the
plan and the deployed stack's outputs exactly as the rollback Lambda does
(:func:`migration.handlers.rollback.build_service`), plus the cutover preview and its gates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from migration.database.cutover import DatabaseCutover, DatabaseSite, Progress, Side
from migration.database.freeze_hooks import Confirm
from migration.database.replication import Replication
from migration.database.wiring import database_site, dms_replications
from migration.database.writer_name import WriterName
from migration.engine import CutoverPreview, EngineEvent
from migration.errors import MigrationError
from migration.gates import Gates
from migration.handlers.rollback import Clients, build_service, build_shifter
from migration.outputs import DEFAULT_OUTPUTS_PATH, StackOutputs, fetch_outputs, load_outputs
from migration.plan import Database, Plan, default_plan_path, load_plan
from migration.rollback import RollbackService
from migration.settings import Settings
from migration.spec import DatabaseSpec
from migration.tracking import Phase, TrackingStore, app_id, utc_now, wave_id
from migration.traffic import ROUTE53_CLIENT_CONFIG, TrafficShifter

__all__ = [
    "Boto3Clients",
    "ClientFactory",
    "InputError",
    "Runtime",
    "Timing",
    "configured_region",
    "make_clients",
    "make_replications",
    "make_timing",
    "open_deployment",
    "open_runtime",
]


class InputError(MigrationError):
    """Bad operator input (unknown wave, missing region...): exit 2, nothing changed."""


class ClientFactory(Protocol):
    """Creates (and may cache) the client of an AWS service by name."""

    def client(self, service: str) -> Any: ...


def configured_region(region: str | None = None) -> str | None:
    """The region as the AWS CLI chooses it: ``--region``, then ``AWS_REGION``, then what boto3
    reads itself (``AWS_DEFAULT_REGION``, then the profile's ``region``). boto3 alone ignores
    ``AWS_REGION``, which Lambda, CloudShell and the other SDKs set."""
    return region or os.environ.get("AWS_REGION") or None


class Boto3Clients:
    """boto3 clients of one session; ``AWS_ENDPOINT_URL`` and credentials as boto3 reads them,
    the region as :func:`configured_region` chooses it."""

    def __init__(self, region: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self._session = boto3.session.Session(region_name=configured_region(region))
        if not self._session.region_name:
            raise InputError(
                "no AWS region configured: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
            )
        self._config = Config(
            retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60
        )
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            config = ROUTE53_CLIENT_CONFIG if service == "route53" else self._config
            self._clients[service] = self._session.client(service, config=config)
        return self._clients[service]


def make_clients(region: str | None) -> ClientFactory:
    """The client factory of the commands (tests replace this function)."""
    return Boto3Clients(region)


@dataclass(frozen=True)
class Timing:
    """Clocks of a run: ``monotonic``/``sleep`` for bakes, ``wall`` for records and metrics."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], datetime] = utc_now


def make_timing() -> Timing:
    """Real time (tests replace this function with instant fake time)."""
    return Timing()


def make_replications(
    runtime: Runtime, database: Database, source: Side, target: Side
) -> tuple[Replication, Replication]:
    """Forward and reverse replication of a database: its two DMS tasks (the local demo
    replaces this function with PostgreSQL's logical replication, the stand-in for DMS)."""
    settings = runtime.outputs.settings
    make = dms_replications(
        runtime.clients.client("dms"),
        lambda tasks: runtime.gates(task_identifiers=tasks),
        reverse_task=settings.reverse_task_identifier,
        sleep=runtime.timing.sleep,
        monotonic=runtime.timing.monotonic,
    )
    return make(database.spec(), source, target)


@dataclass
class Runtime:
    """The plan, the stack outputs and the services built from them."""

    plan: Plan
    plan_path: Path
    outputs: StackOutputs
    clients: ClientFactory
    timing: Timing = field(default_factory=Timing)

    # -- wiring shared with the rollback Lambda ----------------------------------------

    @property
    def application_records(self) -> dict[str, str]:
        """Application -> record name, from the plan file (the functions read the registry)."""
        return {app.name: app.dns_name for app in self.plan.applications}

    def settings(self) -> Settings:
        """The rollback function's settings, as its environment would hold them."""
        return Settings(
            hosted_zone_id=self.outputs.hosted_zone_id,
            table_name=self.outputs.table_name,
            sns_topic_arn=self.outputs.topic_arn,
            application_records=self.application_records,
        )

    def lambda_clients(self) -> Clients:
        return Clients(
            route53=self.clients.client("route53"),
            dynamodb=self.clients.client("dynamodb"),
            sns=self.clients.client("sns"),
        )

    def shifter(self) -> TrafficShifter:
        return build_shifter(self.settings(), self.lambda_clients())

    def tracking(self) -> TrackingStore:
        return TrackingStore(
            self.clients.client("dynamodb"), self.outputs.table_name, clock=self.timing.wall
        )

    def rollback_service(self) -> RollbackService:
        """The same service the rollback Lambda runs."""
        return build_service(self.settings(), self.lambda_clients())

    # -- cutover -----------------------------------------------------------------------

    def gates(self, task_identifiers: dict[str, str] | None = None) -> Gates:
        settings = self.outputs.settings
        return Gates(
            self.plan,
            dms=self.clients.client("dms"),
            cloudwatch=self.clients.client("cloudwatch"),
            ec2=self.clients.client("ec2"),
            alarm_names=settings.alarms,
            cdc_latency_alarms=settings.cdc_latency_alarms_of(d.name for d in self.plan.databases),
            vpn_connection_ids=[self.outputs.vpn_connection_id],
            task_identifiers=(
                settings.replication_tasks if task_identifiers is None else task_identifiers
            ),
            task_suffix=settings.environment_suffix,
            replication_instance_identifier=settings.replication_instance_identifier,
            clock=self.timing.wall,
            database_phase=self.tracking().database_phase,
        )

    # -- databases ---------------------------------------------------------------------

    def database_site(self, name: str, *, confirm: Confirm | None = None) -> DatabaseSite:
        """Both sides of planned database ``name``, their replications and its name (see
        :func:`migration.database.wiring.database_site`; ``confirm`` asks the operator for
        ``freeze: manual``)."""
        database = self.plan.database(name)

        def replications(
            spec: DatabaseSpec, source: Side, target: Side
        ) -> tuple[Replication, Replication]:
            return make_replications(self, database, source, target)

        return database_site(
            database.spec(),
            self.clients.client,
            replications,
            confirm=confirm,
            sleep=self.timing.sleep,
            monotonic=self.timing.monotonic,
        )

    def database_cutover_blocker(self, name: str) -> str | None:
        """Why the plan or the operator controls forbid cutting ``name`` over now, if so.

        The wave migrating the database paused or aborted stops its cutover (a failback is
        never blocked: it is the database's way back). ``cutover: after-applications``
        waits for every application using it to complete its traffic cutover.
        """
        tracking = self.tracking()
        database = self.plan.database(name)
        wave = self.plan.wave_of(name).name
        head = tracking.current(wave_id(wave))
        if head is not None and head.phase is Phase.WAVE_PAUSED:
            return f"wave {wave} is paused: migrate resume {wave} first"
        if head is not None and head.phase is Phase.WAVE_ABORTED:
            return f"wave {wave} was aborted; start it again (migrate cutover --wave {wave}) first"
        if database.cutover != "after-applications":
            return None
        waiting = []
        for app in self.plan.applications:
            if name in app.databases:
                app_head = tracking.current(app_id(app.name))
                if app_head is None or app_head.phase is not Phase.CUTOVER_COMPLETE:
                    waiting.append(f"{app.name} ({app_head.phase if app_head else 'not started'})")
        if waiting:
            return (
                f"the plan cuts {name} over after its applications; not complete yet:"
                f" {', '.join(waiting)}"
            )
        return None

    def database_cutover(self, *, actor: str, progress: Progress) -> DatabaseCutover:
        return DatabaseCutover(
            self.tracking(),
            WriterName(self.clients.client("route53"), self.outputs.hosted_zone_id),
            actor=actor,
            monotonic=self.timing.monotonic,
            sleep=self.timing.sleep,
            progress=progress,
        )

    def preview(self, *, output: Callable[[EngineEvent], None]) -> CutoverPreview:
        """The dry run of ``migrate cutover`` (reads only)."""
        return CutoverPreview(
            self.plan, self.shifter(), self.tracking(), self.gates(), output=output
        )


def open_runtime(
    *,
    plan_path: Path | None,
    outputs_path: Path | None,
    stack: str | None,
    region: str | None,
) -> Runtime:
    """Load the plan and the outputs and create the clients; raises PlanError,
    OutputsError or InputError (all bad input: the caller exits 2)."""
    if stack and outputs_path is not None:
        raise InputError("--outputs and --stack are mutually exclusive: give one")
    path = plan_path or default_plan_path()
    plan = load_plan(path)
    outputs, clients = open_deployment(outputs_path=outputs_path, stack=stack, region=region)
    return Runtime(plan, Path(path), outputs, clients, make_timing())


def open_deployment(
    *, outputs_path: Path | None, stack: str | None, region: str | None
) -> tuple[StackOutputs, ClientFactory]:
    """The deployed stack's outputs and the clients, without a plan (``migrate status``
    reads the registered plan); raises OutputsError or InputError (bad input: exit 2)."""
    if stack and outputs_path is not None:
        raise InputError("--outputs and --stack are mutually exclusive: give one")
    if stack:
        clients = make_clients(region)
        return fetch_outputs(clients.client("cloudformation"), stack), clients
    outputs = load_outputs(outputs_path or DEFAULT_OUTPUTS_PATH)
    return outputs, make_clients(region)
