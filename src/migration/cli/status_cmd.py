"""``migrate status``: where the programme (or one wave) stands, at any size.

First a summary, applications per wave and phase, then one page of rows (wave, phase, split,
last event). The applications come from the plan registry when a plan is registered, else
from the plan file; the first line says which. What is read, and what it costs, is in
``status_data`` and docs/status.md: never a Scan, never a call per application.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from migration.operations import Runtime
from migration.summary import SummarySnapshots
from migration.tracking import TRANSITION_EVENT, HistoryEntry, Phase, TrackingStore, utc_now
from migration.traffic import Split, TrafficShifter

from . import common, output
from .status_data import (
    Listing,
    RegistryReader,
    RosterMissing,
    Row,
    Summary,
    from_snapshot,
    page_rows,
    plan_listing,
    registered_waves,
    snapshot_problem,
    summarise,
    tracked_phases,
)

HEADERS = ("WAVE", "APPLICATION", "PHASE", "SPLIT", "LAST EVENT")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
UNLISTED_NAMES = 5


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


def whole_number(text: str, option: str, *, most: int | None = None) -> int:
    """``text`` as a whole number from 1 (to ``most``), else one ``error:`` line, exit 2."""
    bound = f"from 1 to {most}" if most is not None else "of 1 or more"
    try:
        number = int(text.strip())
    except ValueError:
        common.fail(f"{option} must be a whole number {bound}, not {text!r}")
    if number < 1 or (most is not None and number > most):
        common.fail(f"{option} must be a whole number {bound}, not {number}")
    return number


def summary_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the summary: one row per wave, and ``all`` for several."""
    phases = summary.phases()
    waves = list(summary.counts.items())
    if len(waves) > 1:
        waves.append(("all", summary.total()))
    rows = [
        [wave, str(sum(counts.values())), *(str(counts[phase]) for phase in phases)]
        for wave, counts in waves
    ]
    return ["WAVE", "APPLICATIONS", *phases], rows


def row_cells(row: Row) -> list[str]:
    return [
        row.wave,
        row.application,
        str(row.phase),
        split_text(row.split),
        event_text(row.last_event),
    ]


def show(listing: Listing, summary: Summary, rows: list[Row], page: int, size: int) -> None:
    """The source line, where the summary comes from, the summary, then the page of rows."""
    output.info(f"source: {listing.source}")
    if listing.note:
        output.info(f"note: {listing.note}")
    if summary.origin:
        output.info(summary.origin)
    headers, table = summary_table(summary)
    output.table(headers, table)
    unlisted = len(summary.unlisted) if summary.unlisted_count is None else summary.unlisted_count
    if unlisted:
        names = ", ".join(summary.unlisted[:UNLISTED_NAMES])
        more = ", ..." if unlisted > UNLISTED_NAMES else ""
        output.info(f"{unlisted} tracked application(s) not in the plan: {names}{more}")
    total = listing.total
    pages = -(-total // size)
    first = (page - 1) * size + 1
    more = f"; next: --page {page + 1}" if page < pages else ""
    output.info("")
    shown = f"{first}-{first + len(rows) - 1}" if len(rows) > 1 else f"{first}"
    output.table(
        HEADERS,
        [row_cells(row) for row in rows],
        title=f"applications {shown} of {total} (page {page} of {pages}{more})",
    )


def listing_or_fail(
    registry: RegistryReader, wave: str | None, open_plan: Callable[[], Runtime], table: str
) -> Listing:
    """The registered plan's listing, else the plan file's (``open_plan`` loads it; a bad plan
    exits 2); an unknown wave exits 2."""
    with common.aws_errors():
        meta = registry.meta()
    if meta is None:
        runtime = open_plan()
        if wave is not None:
            common.wave_or_fail(runtime, wave)
        return plan_listing(runtime.plan, str(runtime.plan_path), table, wave)
    waves = registered_waves(meta)
    if wave is not None and wave not in waves:
        common.fail(
            f"unknown wave {wave!r}: the plan registered in {table} has "
            f"{', '.join(waves) or 'none'}"
        )
    with common.aws_errors():
        return registry.listing(meta, wave)


def status(
    wave: Annotated[
        str | None, typer.Option("--wave", metavar="W", help="Only the applications of wave W.")
    ] = None,
    page: Annotated[
        str, typer.Option("--page", metavar="N", help="Which page of rows (1 is the first).")
    ] = "1",
    page_size: Annotated[
        str,
        typer.Option("--page-size", metavar="N", help=f"Rows a page, 1 to {MAX_PAGE_SIZE}."),
    ] = str(PAGE_SIZE),
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Summarise the applications per wave and phase, then show one page of them: wave,
    phase, current traffic split and last event.

    The applications come from the registered plan (migrate plan apply), else from the plan
    file (--plan); phases from the tracking table (PLANNED when nothing was recorded yet),
    splits from the weighted records in the private hosted zone.
    """
    number = whole_number(page, "--page")
    size = whole_number(page_size, "--page-size", most=MAX_PAGE_SIZE)
    deployment, clients = common.deployment_or_fail(outputs, stack, region)
    dynamodb, table = clients.client("dynamodb"), deployment.table_name
    registry = RegistryReader(dynamodb, table)
    listing = listing_or_fail(
        registry, wave, lambda: common.open_or_fail(plan, outputs, stack, region), table
    )
    total = listing.total
    if not total:
        output.info("no applications in the plan" + (f" wave {wave}" if wave else ""))
        return
    if (number - 1) * size >= total:
        common.fail(
            f"--page {number} is past the end: {total} application(s) make "
            f"{-(-total // size)} page(s) of {size}"
        )
    start, stop = (number - 1) * size, number * size
    with common.aws_errors():
        listing, summary = summary_of(listing, registry, dynamodb, table)
        shown = page_of(listing, registry, start, stop)
        names = [name for _, name in shown]
        records = (
            registry.record_names(names)
            if listing.record_names is None
            else {name: listing.record_names[name] for name in names}
        )
        shifter = TrafficShifter(
            clients.client("route53"), deployment.hosted_zone_id, application_records=records
        )
        rows = page_rows(TrackingStore(dynamodb, table), shifter, shown)
    show(listing, summary, rows, number, size)


def summary_of(
    listing: Listing, registry: RegistryReader, dynamodb: Any, table: str
) -> tuple[Listing, Summary]:
    """The summary: the controller's snapshot when it is recent and of this registration
    (one GetItem), else counted now from the phase index with every listed application
    (read from the rosters); the listing comes back with its applications when it had to."""
    if listing.applications is not None:  # the plan file: no snapshot to look for
        origin = "summary counted now from the phase index (no plan registered)"
        return listing, summarise(listing, tracked_phases(dynamodb, table), origin)
    now = utc_now()
    snapshot = SummarySnapshots(dynamodb, table).read()
    problem = snapshot_problem(snapshot, listing, now)
    if snapshot is not None and not problem:
        return listing, from_snapshot(snapshot, listing, now)
    listing = registry.with_applications(listing)
    origin = f"summary counted now from the phase index: {problem}"
    return listing, summarise(listing, tracked_phases(dynamodb, table), origin)


def page_of(
    listing: Listing, registry: RegistryReader, start: int, stop: int
) -> list[tuple[str, str]]:
    """Applications ``start:stop``: from the listing when it holds them, else from the
    rosters (falling back to reading them all when a roster is missing)."""
    if listing.applications is None:
        try:
            return registry.page(listing, start, stop)
        except RosterMissing:
            listing = registry.with_applications(listing)
    assert listing.applications is not None
    return list(listing.applications[start:stop])
