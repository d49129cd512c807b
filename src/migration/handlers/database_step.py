"""Lambda entry point of the database step: cut one database's writer over to AWS.

The cutover controller invokes it asynchronously with ``{"wave": W, "database": D, "run":
"cutover"}`` when the plan's order says the database moves (``before-applications``,
``after-applications``). It reads the database's definition from the wave stored in the
tracking table (no plan file in the function), wires it exactly as ``migrate db cutover``
does (:mod:`migration.database.wiring`) and runs the same resumable
:class:`~migration.database.cutover.DatabaseCutover`. A paused or aborted wave is left alone;
a database already moved, or one this runtime cannot move, is refused without raising; any
other failure raises, so the platform retries the invocation (the cutover resumes where it
stopped) and then dead-letters it (an alarm). ``freeze: manual`` is refused: nobody is at a
terminal to confirm.

Environment: ``HOSTED_ZONE_ID``, ``TABLE_NAME``, ``SNS_TOPIC_ARN`` (as the controller's),
``CUTOVER_SETTINGS`` (the stack's CutoverSettings JSON: the DMS tasks' names derive from its
suffix, :class:`migration.outputs.CutoverSettings`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import boto3

from migration.database.cutover import DatabaseCutover
from migration.database.errors import DatabaseRequestError
from migration.database.wiring import Replications, database_site, dms_replications
from migration.database.writer_name import WriterName
from migration.errors import ConfigurationError, InvalidEventError, OutputsError
from migration.gates import Gates
from migration.handlers.rollback import client_config
from migration.outputs import parse_cutover_settings
from migration.settings import Settings
from migration.spec import DatabaseSpec, WaveSpec
from migration.tracking import Phase, TrackingStore, utc_now, wave_id

LOGGER = logging.getLogger("migration.database_step")
LOGGER.setLevel(logging.INFO)
ACTOR = "database-step"


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEventError(key, "expected a non-empty string")
    return value.strip()


def _definition(tracking: TrackingStore, wave: str, database: str) -> tuple[Phase, DatabaseSpec]:
    head = tracking.current(wave_id(wave))
    if head is None:
        raise InvalidEventError("wave", f"wave {wave} is not tracked (never started)")
    spec = WaveSpec.from_json(str(head.state.get("spec", "")))
    for db in spec.databases:
        if db.name == database:
            return head.phase, db
    raise InvalidEventError("database", f"wave {wave} has no database {database}")


def run(
    event: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    client: Callable[[str], Any],
    replications: Replications | None = None,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Cut the event's database over; returns ``{"status": ...}`` (see the module docstring)."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event", "expected a JSON object")
    wave, database = _text(event, "wave"), _text(event, "database")
    if event.get("run") != "cutover":
        raise InvalidEventError("run", 'expected "cutover" (failbacks are the operator\'s)')
    settings = Settings.from_env(env)
    try:
        cutover = parse_cutover_settings(env.get("CUTOVER_SETTINGS", ""), "CUTOVER_SETTINGS")
    except OutputsError as exc:
        raise ConfigurationError("CUTOVER_SETTINGS", str(exc)) from exc
    tracking = TrackingStore(client("dynamodb"), settings.table_name, clock=clock)
    wave_phase, spec = _definition(tracking, wave, database)
    if wave_phase in (Phase.WAVE_PAUSED, Phase.WAVE_ABORTED):
        LOGGER.info("%s: wave %s is %s; not moving the database", database, wave, wave_phase)
        return {"status": "skipped", "database": database, "reason": f"wave {wave_phase}"}

    def gates_for(tasks: dict[str, str] | None) -> Gates:
        identifiers = cutover.replication_tasks if tasks is None else tasks
        return Gates(
            WaveSpec(wave, 1, (), (spec,)), dms=client("dms"), cloudwatch=client("cloudwatch"),
            ec2=client("ec2"), task_identifiers=identifiers, task_suffix=cutover.environment_suffix,
            replication_instance_identifier=cutover.replication_instance_identifier, clock=clock,
        )  # fmt: skip

    replications = replications or dms_replications(
        client("dms"), gates_for, reverse_task=cutover.reverse_task_identifier, sleep=sleep,
        monotonic=monotonic,
    )  # fmt: skip
    service = DatabaseCutover(
        tracking, WriterName(client("route53"), settings.hosted_zone_id), actor=ACTOR,
        monotonic=monotonic, sleep=sleep, progress=LOGGER.info,
    )  # fmt: skip
    try:
        site = database_site(spec, client, replications, sleep=sleep, monotonic=monotonic)
        head = service.cutover(site)
    except DatabaseRequestError as exc:
        LOGGER.warning("%s", exc)
        return {"status": "refused", "database": database, "reason": str(exc)}
    return {"status": "cut_over", "database": database, "phase": str(head.phase)}


_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, config=client_config(service))  # type: ignore[call-overload]
    return _CLIENTS[service]


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return run(event, os.environ, client=_client)
