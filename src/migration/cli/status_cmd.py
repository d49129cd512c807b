"""``migrate status``: where every application of the plan (or of one wave) stands."""

from __future__ import annotations

from typing import Annotated

import typer

from migration.operations import Runtime
from migration.plan import Application
from migration.tracking import TRANSITION_EVENT, HistoryEntry, Phase, app_id
from migration.traffic import Split

from . import common, output

HEADERS = ("WAVE", "APPLICATION", "PHASE", "SPLIT", "LAST EVENT")


def split_text(split: Split | None) -> str:
    """``aws 10% / on-prem 90%`` (percentages of the weights), or why there is none."""
    if split is None:
        return "no record pair"
    total = split.aws + split.on_premises
    if total == 0:
        return "aws 50% / on-prem 50% (both weights 0)"
    aws = round(100 * split.aws / total)
    return f"aws {aws}% / on-prem {100 - aws}%"


def event_text(entry: HistoryEntry | None) -> str:
    """``<time> <phase or event> [step k (p%)]: <reason>``."""
    if entry is None:
        return "-"
    label = str(entry.phase) if entry.event_type == TRANSITION_EVENT else entry.event_type
    if "step" in entry.details:
        label += f" step {entry.details['step']}"
        if "percent" in entry.details:
            label += f" ({entry.details['percent']}%)"
    reason = f": {entry.reason}" if entry.reason else ""
    seconds = entry.details.get("recoverySeconds")
    recovered = (
        f" (back on-premises {float(seconds):g} s after the trigger)"
        if entry.phase is Phase.ROLLED_BACK and isinstance(seconds, int | float)
        else ""
    )
    return f"{common.timestamp(entry.timestamp)} {label}{reason}{recovered}"


def rows(runtime: Runtime, applications: list[tuple[str, Application]]) -> list[list[str]]:
    """One row per application; one Route 53 listing for all of them."""
    # Every pair of the zone in one listing, keyed by application name (the plan's record
    # names map back to their applications).
    splits = {app: records.split for app, records in runtime.shifter().read().items()}
    tracking = runtime.tracking()
    table: list[list[str]] = []
    for wave, app in applications:
        entity = app_id(app.name)
        head = tracking.current(entity)
        history = tracking.history(entity) if head is not None else []
        table.append(
            [
                wave,
                app.name,
                str(head.phase if head else Phase.PLANNED),
                split_text(splits.get(app.name)),
                event_text(history[-1] if history else None),
            ]
        )
    return table


def status(
    wave: Annotated[
        str | None, typer.Option("--wave", metavar="W", help="Only the applications of wave W.")
    ] = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Show each application's wave, phase, current traffic split and last event.

    The phase comes from the tracking table (PLANNED when nothing was recorded yet), the
    split from the weighted records in the private hosted zone.
    """
    runtime = common.open_or_fail(plan, outputs, stack, region)
    waves = [common.wave_or_fail(runtime, wave)] if wave else list(runtime.plan.waves)
    applications = [(w.name, app) for w in waves for app in w.applications]
    if not applications:
        output.info("no applications in the plan" + (f" wave {wave}" if wave else ""))
        return
    with common.aws_errors():
        table = rows(runtime, applications)
    output.table(HEADERS, table)
