"""``migrate history ID``: the tracking history of one application, database or server."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from migration.operations import Runtime
from migration.tracking import TRANSITION_EVENT, HistoryEntry, app_id, db_id, server_id

from . import common, output

HEADERS = ("TIME", "PHASE", "ACTOR", "REASON", "DETAILS")
MAX_CELL = 120
_KINDS = {"app": "application", "db": "database", "server": "server"}


def resolve(runtime: Runtime, name: str) -> str:
    """The entity id of ``name`` (a plan name or a full id); exit 2 if the plan lacks it."""
    plan = runtime.plan
    kind, sep, rest = name.partition("#")
    if sep:
        if kind == "alarm" and rest:
            return name  # alarm state changes recorded by the rollback function
        lookups = {"app": plan.application, "db": plan.database, "server": plan.server}
        if kind not in lookups or not rest:
            common.fail(
                f"no history for {name!r}: entity ids are app#<name>, db#<name>, "
                f"server#<id> or alarm#<name>"
            )
        try:
            lookups[kind](rest)
        except KeyError:
            common.fail(f"no history for {name!r}: no {_KINDS[kind]} {rest!r} in the plan")
        return name
    for ids, lookup in (
        (app_id, plan.application),
        (db_id, plan.database),
        (server_id, plan.server),
    ):
        try:
            lookup(name)
        except KeyError:
            continue
        return ids(name)
    common.fail(
        f"no history for {name!r}: not an application, database or server of the plan "
        f"{runtime.plan_path}"
    )


def _value(value: Any) -> str:
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


def details_text(details: Mapping[str, Any]) -> str:
    """``key=value`` pairs, nested values as compact JSON, cut at MAX_CELL characters."""
    # The recovery time first: it is what an operator looks for after a rollback.
    ordered = sorted(details.items(), key=lambda item: item[0] != "recoverySeconds")
    text = " ".join(f"{key}={_value(value)}" for key, value in ordered)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def phase_text(entry: HistoryEntry) -> str:
    if entry.event_type != TRANSITION_EVENT:
        return entry.event_type
    source = f"{entry.from_phase} -> " if entry.from_phase else ""
    return f"{source}{entry.phase}"


def history(
    entity: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="Application, database or server name, or an entity id "
            "(app#orders-api, db#orders-db, server#orders-app-01, alarm#<name>).",
        ),
    ],
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Print the recorded history of an entity, oldest first.

    A name that is not in the plan exits 2; an entity of the plan without any event yet
    prints "no events yet" and exits 0.
    """
    runtime = common.open_or_fail(plan, outputs, stack, region)
    entity_id = resolve(runtime, entity)
    with common.aws_errors():
        tracking = runtime.tracking()
        head = tracking.current(entity_id)
        entries = tracking.history(entity_id)
    if not entries:
        output.info(f"{entity_id}: no events yet")
        return
    title = f"{entity_id}: " + (
        f"{head.phase} (version {head.version})" if head else "no phase recorded"
    )
    rows = [
        [
            common.timestamp(entry.timestamp),
            phase_text(entry),
            entry.actor or "-",
            (entry.reason or "-").replace("\n", " "),
            details_text(entry.details) or "-",
        ]
        for entry in entries
    ]
    output.table(HEADERS, rows, title=title)
