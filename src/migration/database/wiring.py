"""From a database's definition to a wired :class:`DatabaseSite`.

One path for the operator's ``migrate db`` (definition from the plan file) and the database
step function (definition from the wave stored in the tracking table): credentials from
Secrets Manager, PostgreSQL sides (or hooked ones, as the plan's ``freeze`` says), the two
replications.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migration.database.credentials import read_credentials
from migration.database.cutover import DatabaseSite, Side
from migration.database.dms import DmsReplication
from migration.database.errors import DatabaseRequestError
from migration.database.freeze_hooks import (
    Confirm,
    HookedSide,
    LambdaFreeze,
    ManualFreeze,
    SsmAutomationFreeze,
)
from migration.database.names import slot_name
from migration.database.postgres import PostgresDatabase
from migration.database.replication import Replication
from migration.gates import Gates
from migration.spec import DatabaseSpec, EndpointSpec

Clients = Callable[[str], Any]
"""A boto3 client by service name."""
Replications = Callable[[DatabaseSpec, Side, Side], tuple[Replication, Replication]]
"""Forward and reverse replication of a database, given its two sides."""


def dms_replications(
    dms: Any,
    gates_for: Callable[[dict[str, str] | None], Gates],
    *,
    reverse_task: Callable[[str], str],
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> Replications:
    """The production replications: a database's two DMS tasks (the reverse one's identifier
    by database: ``CutoverSettings.reverse_task_identifier``)."""

    def make(spec: DatabaseSpec, source: Side, target: Side) -> tuple[Replication, Replication]:
        forward_gates = gates_for(None)
        reverse_id = reverse_task(spec.name)
        forward = DmsReplication(
            dms, forward_gates, database=spec.name,
            task_identifier=forward_gates.task_identifier(spec.name),
            slot=slot_name(spec.name, "forward"), sleep=sleep, monotonic=monotonic,
        )  # fmt: skip
        reverse = DmsReplication(
            dms, gates_for({spec.name: reverse_id}), database=spec.name,
            task_identifier=reverse_id, slot=slot_name(spec.name, "reverse"),
            sleep=sleep, monotonic=monotonic,
        )  # fmt: skip
        return forward, reverse

    return make


def database_site(
    spec: DatabaseSpec,
    clients: Clients,
    replications: Replications,
    *,
    confirm: Confirm | None = None,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> DatabaseSite:
    """Both sides of ``spec``, their replications and its name.

    DatabaseRequestError when the database cannot be moved by this runtime (an engine other
    than PostgreSQL; ``freeze: manual`` without an operator to confirm).
    """
    if spec.engine != "postgres":
        raise DatabaseRequestError(
            spec.name,
            f"engine {spec.engine}: the database cutover supports postgres so far"
            " (drain proof from its replication slot; docs/database-cutover.md)",
        )
    if spec.freeze == "manual" and confirm is None:
        raise DatabaseRequestError(
            spec.name, "freeze: manual needs an operator at a terminal to confirm the freeze"
        )
    if spec.source is None or spec.target is None:
        raise DatabaseRequestError(spec.name, "its definition has no source or target")
    sides: list[Side] = []
    for label, endpoint in (("on-premises", spec.source), ("aws", spec.target)):
        postgres = PostgresDatabase(_credentials(clients, spec, label, endpoint))
        freezer = _freeze_hook(spec, label, clients, confirm, sleep, monotonic)
        sides.append(postgres if freezer is None else HookedSide(postgres, freezer))
    source, target = sides
    forward, reverse = replications(spec, source, target)
    return DatabaseSite(
        name=spec.name,
        dns_name=spec.dns_name,
        source=source,
        target=target,
        source_address=spec.source.host,
        target_address=spec.target.host,
        forward=forward,
        reverse=reverse,
        tables=spec.tables,
        lag_threshold_s=spec.cdc_latency_threshold_seconds,
        drain_timeout_s=spec.drain_timeout_seconds,
    )


def _credentials(clients: Clients, spec: DatabaseSpec, label: str, endpoint: EndpointSpec) -> Any:
    return read_credentials(
        clients("secretsmanager"), endpoint.secret, host=endpoint.host, port=endpoint.port,
        database=endpoint.database, where=f"{spec.name} {label} ({endpoint.host}:{endpoint.port})",
    )  # fmt: skip


def _freeze_hook(
    spec: DatabaseSpec,
    side: str,
    clients: Clients,
    confirm: Confirm | None,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> Any:
    """The plan's freeze hook for one side; None for the built-in freeze."""
    method, _, target = spec.freeze.partition(":")
    if method == "lambda":
        return LambdaFreeze(clients("lambda"), target, database=spec.name, side=side)
    if method == "ssm":
        return SsmAutomationFreeze(
            clients("ssm"), target, database=spec.name, side=side,
            timeout_s=spec.freeze_timeout_seconds, sleep=sleep, monotonic=monotonic,
        )  # fmt: skip
    if method == "manual":
        assert confirm is not None
        return ManualFreeze(
            confirm, database=spec.name, side=side, timeout_s=spec.freeze_timeout_seconds
        )
    return None
