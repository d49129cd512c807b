"""Lambda entry point of the cutover controller: ``migration.handlers.controller.handler``.

An EventBridge schedule invokes it every minute. Thin on purpose: read settings, build
the :class:`migration.controller.Controller` from cached clients, run one tick, log and
return the tick's report. Environment: the rollback function's (``HOSTED_ZONE_ID``,
``TABLE_NAME``, ``SNS_TOPIC_ARN``, ...) plus ``CUTOVER_SETTINGS``
(the stack's CutoverSettings JSON: the DMS instance, the stack's alarm names and the suffix the
per-database task and alarm names derive from), ``VPN_CONNECTION_ID`` and
``ROUTE53_CHANGES_PER_SECOND`` (default 4: under Route 53's five per second per account,
leaving room for a concurrent rollback). A wave with servers gets an ``mgn`` client for its
``servers`` gate (read-only).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import boto3

from migration.controller import ACTOR, Controller
from migration.errors import ConfigurationError, MigrationError, OutputsError
from migration.gates import Gates
from migration.handlers.rollback import build_service, client_config, get_clients
from migration.outputs import parse_cutover_settings
from migration.registry import RegisteredPlan, Registry
from migration.servers.lifecycle import ServerLifecycle
from migration.servers.mgn import Mgn
from migration.servers.watch import ServerWatch
from migration.settings import Settings
from migration.spec import WaveSpec
from migration.summary import SummarySnapshots
from migration.tracking import TrackingStore, utc_now
from migration.traffic import RateLimiter, TrafficShifter

LOGGER = logging.getLogger("migration.controller")
DEFAULT_CHANGES_PER_SECOND = 4.0


class ControllerTickError(MigrationError):
    """A tick finished with errors (the invocation fails so the Errors alarm fires)."""


def build_controller(
    env: Mapping[str, str],
    *,
    client: Callable[[str], Any],
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Controller, RateLimiter]:
    """Wire a Controller from the function's environment and a client factory."""
    settings = Settings.from_env(env)
    registered = Registry(client("dynamodb"), settings.table_name).load(with_rosters=False)
    settings = settings.with_registry(registered)
    try:
        cutover = parse_cutover_settings(env.get("CUTOVER_SETTINGS", ""), "CUTOVER_SETTINGS")
    except OutputsError as exc:
        raise ConfigurationError("CUTOVER_SETTINGS", str(exc)) from exc
    vpn = env.get("VPN_CONNECTION_ID", "")
    rate = float(env.get("ROUTE53_CHANGES_PER_SECOND", "") or DEFAULT_CHANGES_PER_SECOND)
    limiter = RateLimiter(rate, monotonic=monotonic, sleep=sleep)
    shifter = TrafficShifter(
        client("route53"),
        settings.hosted_zone_id,
        time_budget_s=settings.route53_time_budget_s,
        application_records=settings.application_records,
        before_change=limiter,
        sleep=sleep,
        monotonic=monotonic,
    )
    dms, cloudwatch, ec2 = client("dms"), client("cloudwatch"), client("ec2")
    tracking = TrackingStore(client("dynamodb"), settings.table_name, clock=clock)

    def gates_for(spec: WaveSpec) -> Gates:
        return Gates(
            spec,
            dms=dms,
            cloudwatch=cloudwatch,
            ec2=ec2,
            alarm_names=cutover.alarms,
            cdc_latency_alarms=cutover.cdc_latency_alarms_of(db.name for db in spec.databases),
            vpn_connection_ids=[vpn] if vpn else None,
            task_identifiers=cutover.replication_tasks,
            task_suffix=cutover.environment_suffix,
            replication_instance_identifier=cutover.replication_instance_identifier,
            clock=clock,
            database_phase=tracking.database_phase,
            servers=_server_watch(spec, tracking, client) if spec.servers else None,
        )

    lambda_clients = get_clients()
    rollbacks = build_service(settings, lambda_clients)
    controller = Controller(
        tracking,
        shifter,
        gates_for,
        rollbacks,
        clock=clock,
        logger=LOGGER,
        start_database_step=_database_step_starter(env, client),
        summary=_summary_writer(registered, client("dynamodb"), settings.table_name, clock),
    )
    return controller, limiter


def _server_watch(
    spec: WaveSpec, tracking: TrackingStore, client: Callable[[str], Any]
) -> ServerWatch:
    """This tick's view of the wave's servers (MGN read-only: DescribeSourceServers,
    DescribeJobs; the phases MGN shows recorded as ``server#<id>``)."""
    lifecycle = ServerLifecycle(tracking, Mgn(client("mgn")), actor=ACTOR)
    return ServerWatch(lifecycle, spec.servers, spec.servers_of)


def _summary_writer(
    registered: RegisteredPlan | None,
    dynamodb: Any,
    table: str,
    clock: Callable[[], datetime],
) -> Callable[[], object] | None:
    """Writes the summary snapshot of the registered plan after each tick (none without a
    registered plan: ``migrate status`` then counts from the plan file itself)."""
    if registered is None:
        return None
    snapshots = SummarySnapshots(dynamodb, table, clock=clock)
    return lambda: snapshots.write_plan(registered, by=ACTOR)


def _database_step_starter(
    env: Mapping[str, str], client: Callable[[str], Any]
) -> Callable[[str, str], None] | None:
    """Invokes the database step function asynchronously (``DATABASE_STEP_FUNCTION``; the
    stack sets it when the plan has databases)."""
    function = env.get("DATABASE_STEP_FUNCTION", "").strip()
    if not function:
        return None

    def start(wave: str, database: str) -> None:
        payload = {"wave": wave, "database": database, "run": "cutover"}
        client("lambda").invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode()
        )

    return start


def _client(service: str) -> Any:
    return boto3.client(service, config=client_config(service))  # type: ignore[call-overload]


def run(
    env: Mapping[str, str],
    *,
    client: Callable[[str], Any] = _client,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """One tick; raises ControllerTickError (after finishing the tick) if a wave failed."""
    controller, limiter = build_controller(
        env, client=client, clock=clock, monotonic=monotonic, sleep=sleep
    )
    report = controller.tick()
    summary = report.to_dict()
    summary["route53Changes"] = len(limiter.calls)
    LOGGER.info(json.dumps({"message": "controller tick", **summary}, sort_keys=True))
    if report.errors:
        raise ControllerTickError("; ".join(report.errors))
    return summary


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Scheduled entry point: one tick of every running wave."""
    if not LOGGER.handlers and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    LOGGER.setLevel(logging.INFO)
    return run(os.environ)
