"""Lambda entry point of the rollback function: ``migration.handlers.rollback.handler``.

Thin on purpose: read settings, build the service from cached boto3 clients, parse the
event, delegate to :class:`migration.rollback.RollbackService`, log and return a JSON
summary. Clients are created on the first invocation (never at import) and reused while
the execution environment stays warm.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from migration.errors import IncompleteRecordPairsError, MigrationError
from migration.events import AlarmEvent, parse_event
from migration.ledger import RollbackLedger
from migration.notify import Notifier
from migration.registry import Registry
from migration.rollback import RollbackService
from migration.settings import Settings
from migration.tracking import TrackingStore
from migration.traffic import ROUTE53_CLIENT_CONFIG, TrafficShifter

LOGGER = logging.getLogger("migration.rollback")

# botocore's standard mode retries transient errors a few times inside each DynamoDB and SNS
# call. Route 53 has one retry layer, the traffic shifter's (ROUTE53_CLIENT_CONFIG).
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
)


def client_config(service: str) -> Config:
    """The botocore configuration of ``service``'s client in the runtime functions."""
    return ROUTE53_CLIENT_CONFIG if service == "route53" else _CLIENT_CONFIG


@dataclass(frozen=True)
class Clients:
    """The boto3 clients the function uses."""

    route53: Any
    dynamodb: Any
    sns: Any


_clients: dict[tuple[str, ...], Clients] = {}
_clients_lock = threading.Lock()


def get_clients() -> Clients:
    """Clients for the current endpoint/region, created on first use and then cached.

    The cache key includes AWS_ENDPOINT_URL and the region so that a changed environment
    (tests, local emulators) never reuses clients bound to another endpoint.
    """
    key = tuple(
        os.environ.get(name, "")
        for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    with _clients_lock:
        if key not in _clients:
            _clients[key] = Clients(
                route53=boto3.client("route53", config=client_config("route53")),
                dynamodb=boto3.client("dynamodb", config=_CLIENT_CONFIG),
                sns=boto3.client("sns", config=_CLIENT_CONFIG),
            )
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between cases)."""
    with _clients_lock:
        _clients.clear()


def registered_settings(settings: Settings, clients: Clients) -> Settings:
    """``settings`` plus the mappings of the plan registered in the tracking table (which
    alarm rolls back which applications, each application's record name)."""
    return settings.with_registry(
        Registry(clients.dynamodb, settings.table_name).load(with_rosters=False)
    )


def build_shifter(settings: Settings, clients: Clients) -> TrafficShifter:
    """The TrafficShifter of the hosted zone in ``settings`` (shared with ``migrate``)."""
    return TrafficShifter(
        clients.route53,
        settings.hosted_zone_id,
        time_budget_s=settings.route53_time_budget_s,
        application_records=settings.application_records,
    )


def build_service(
    settings: Settings, clients: Clients, *, remaining_s: Callable[[], float] | None = None
) -> RollbackService:
    """Wire a RollbackService from settings and clients (the Lambda and ``migrate``).

    ``remaining_s`` (the invocation's remaining time) bounds the service's waits.
    """
    return RollbackService(
        build_shifter(settings, clients),
        TrackingStore(clients.dynamodb, settings.table_name),
        RollbackLedger(clients.dynamodb, settings.table_name),
        Notifier(clients.sns, settings.sns_topic_arn),
        alarm_applications=settings.alarm_applications,
        wait_for_insync=settings.wait_for_insync,
        logger=LOGGER,
        remaining_s=remaining_s,
    )


def log(level: int, message: str, **fields: Any) -> None:
    """Emit one JSON line (CloudWatch Logs Insights parses the fields)."""
    LOGGER.log(level, json.dumps({"message": message, **fields}, default=str, sort_keys=True))


def _remaining_seconds(context: Any) -> Callable[[], float] | None:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining_ms):
        return None
    return lambda: float(remaining_ms()) / 1000.0


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Roll back on an ALARM notification or a direct request; record other alarm states.

    Malformed events raise InvalidEventError, and configuration problems
    ConfigurationError, instead of returning an error payload: the invocation then fails
    visibly (Errors metric, failure destination/DLQ, a synchronous caller sees the
    error). For an asynchronous invocation Lambda retries a malformed event twice more;
    that is harmless because nothing is changed before parsing succeeds. A partial
    rollback raises PartialRollbackError on purpose so that the retry finishes the job.
    Names holding half a record pair raise IncompleteRecordPairsError once everything
    else is done and notified (the summary is logged first): the Errors alarm fires, and
    Lambda's retries are duplicates that raise again without notifying again. The
    service waits for INSYNC (``WAIT_FOR_INSYNC``, default true) within the invocation's
    remaining time.
    """
    if not LOGGER.handlers and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    LOGGER.setLevel(logging.INFO)
    started = time.monotonic()
    request_id = getattr(context, "aws_request_id", None)
    try:
        trigger = parse_event(event, fallback_key=request_id)
        settings = registered_settings(Settings.from_env(os.environ), get_clients())
        log(
            logging.INFO,
            "rollback event received",
            requestId=request_id,
            kind="alarm" if isinstance(trigger, AlarmEvent) else "direct",
            eventKey=trigger.idempotency_key,
        )
        service = build_service(settings, get_clients(), remaining_s=_remaining_seconds(context))
        result = service.handle(trigger)
    except MigrationError as exc:
        if isinstance(exc, IncompleteRecordPairsError):
            log(
                logging.ERROR,
                "rollback handled, record pairs incomplete",
                requestId=request_id,
                status=exc.summary.get("status"),
                eventKey=exc.event_key,
                rolledBack=len(exc.summary.get("rolledBack") or []),
                incompletePairs=exc.incomplete,
                changeIds=exc.summary.get("changeIds"),
                elapsedMs=round((time.monotonic() - started) * 1000),
            )
        log(
            logging.ERROR,
            "rollback failed",
            requestId=request_id,
            error=type(exc).__name__,
            detail=str(exc),
        )
        raise
    summary = result.to_dict()
    log(
        logging.INFO,
        "rollback handled",
        requestId=request_id,
        status=result.status,
        eventKey=result.event_key,
        rolledBack=len(result.rolled_back),
        alreadyRolledBack=len(result.already_rolled_back),
        changeIds=list(result.change_ids),
        elapsedMs=round((time.monotonic() - started) * 1000),
    )
    return summary
