"""What ``migrate status`` reads, sized for a programme of thousands of applications.

The applications come from the plan registry when a plan is registered (``serverId = "plan"``
in the tracking table, written by ``migrate plan apply``): its meta item (the waves in plan
order and their sizes) says how many there are; a page of rows reads only the roster items
(each wave's names in plan order, ``ROSTER_NAMES`` an item) that hold the page, one or two
BatchGetItem keys. Without a registered plan they come from the plan file.

The summary (applications per wave and phase) is the snapshot the cutover controller writes
each tick (:mod:`migration.summary`, one GetItem) when it is recent (``SNAPSHOT_MAX_AGE``) and
of the registered plan; otherwise it is counted now from ``MigrationPhaseIndex``
(:func:`migration.summary.tracked_phases`) with every roster of the listed waves. The rows
of one page read only those applications: their heads (BatchGetItem, strongly consistent),
each head's last transition (BatchGetItem at the head's ``lastEventAt``), the registry items
for their record names (BatchGetItem) and their record pairs
(``TrafficShifter.survey_names``). Never a Scan and never a call per application; see
docs/status.md for the costs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from migration.plan import Plan
from migration.registry import (
    APP_PREFIX,
    META_KEY,
    REGISTRY_ID,
    ROSTER_NAMES,
    parse_roster,
    roster_key,
)
from migration.summary import APPLICATION_PHASES, Snapshot, count_phases, tracked_phases
from migration.tracking import (
    HistoryEntry,
    Phase,
    TrackingStore,
    app_id,
    from_item,
    to_item,
)
from migration.traffic import Split, TrafficShifter

__all__ = ["APPLICATION_PHASES", "tracked_phases"]

SNAPSHOT_MAX_AGE = 300.0
"""Seconds after which a summary snapshot is too old to show (the controller writes one a
minute; five missed ticks mean it is not running)."""


@dataclass(frozen=True)
class Listing:
    """The applications ``migrate status`` lists and where they come from.

    ``applications``: (wave, application) with the waves in plan order and, within a wave,
    the plan's order; None when they are read page by page from the registry's rosters.
    """

    source: str
    waves: tuple[str, ...]
    applications: tuple[tuple[str, str], ...] | None = None
    complete: bool = True
    """Every application of the plan is listed (no --wave)."""
    record_names: Mapping[str, str] | None = None
    """Application -> record name when known without reading (the plan file); None: read
    them from the registry for the rows shown."""
    sizes: tuple[int, ...] = ()
    """Applications of each listed wave (the registry's meta item)."""
    wave_indexes: tuple[int, ...] = ()
    """Plan-order index of each listed wave (the roster keys)."""
    digest: str = ""
    """The registered plan's digest ("" for the plan file)."""
    note: str = ""
    """Said under the source line (e.g. rosters missing)."""

    @property
    def total(self) -> int:
        """How many applications are listed."""
        return sum(self.sizes) if self.sizes else len(self.applications or ())


@dataclass(frozen=True)
class Row:
    """One application as a page of ``migrate status`` shows it."""

    wave: str
    application: str
    phase: Phase
    split: Split | None
    last_event: HistoryEntry | None


def _sorted(waves: Sequence[str], pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    order = {name: index for index, name in enumerate(waves)}
    return tuple(sorted(pairs, key=lambda pair: (order.get(pair[0], len(order)), pair[1])))


def plan_listing(plan: Plan, path: str, table: str, wave: str | None) -> Listing:
    """The listing from the plan file (no plan registered in ``table``); ``wave`` is one of
    the plan's waves or None for all. Plan order, as the registry's rosters."""
    chosen = [w for w in plan.waves if wave in (None, w.name)]
    return Listing(
        source=f"plan file {path} (no plan registered in {table})",
        waves=tuple(w.name for w in chosen),
        applications=tuple((w.name, app.name) for w in chosen for app in w.applications),
        complete=wave is None,
        record_names={app.name: app.dns_name for w in chosen for app in w.applications},
        sizes=tuple(len(w.applications) for w in chosen),
    )


def registered_waves(meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The waves of the registered plan, in plan order (from its meta item)."""
    return tuple(str(w["name"]) for w in meta.get("waves", []))


class RosterMissing(Exception):
    """A roster item a page needs is missing or does not match the meta item (a registry
    written before rosters existed, or an apply in progress)."""


def page_keys(listing: Listing, start: int, stop: int) -> list[tuple[str, int, int, int]]:
    """(wave, wave index, first, end) of the listed waves' positions ``first:end`` that make
    applications ``start:stop`` of the listing."""
    pieces = []
    base = 0
    for wave, index, size in zip(listing.waves, listing.wave_indexes, listing.sizes, strict=True):
        first, end = max(start, base), min(stop, base + size)
        if first < end:
            pieces.append((wave, index, first - base, end - base))
        base += size
    return pieces


class RegistryReader:
    """The plan registry read in the pieces ``migrate status`` needs (client injected)."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def meta(self) -> dict[str, Any] | None:
        """The registry's meta item (plain values), None when no plan is registered."""
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"serverId": REGISTRY_ID, "timestamp": META_KEY}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def listing(self, meta: Mapping[str, Any], wave: str | None) -> Listing:
        """The registered applications of ``wave`` (a registered wave), or all of them
        (None), from the meta item alone: waves and sizes; the names are read per page."""
        waves = list(meta.get("waves", []))
        chosen = [(i, w) for i, w in enumerate(waves) if wave in (None, str(w["name"]))]
        return Listing(
            source=registry_source(meta, self._table),
            waves=tuple(str(w["name"]) for _, w in chosen),
            complete=wave is None,
            sizes=tuple(int(w["applications"]) for _, w in chosen),
            wave_indexes=tuple(i for i, _ in chosen),
            digest=str(meta.get("digest", "")),
        )

    def page(self, listing: Listing, start: int, stop: int) -> list[tuple[str, str]]:
        """Applications ``start:stop`` of a registry listing, from the rosters holding them
        (BatchGetItem); RosterMissing when one is missing or disagrees with the meta item."""
        pieces = page_keys(listing, start, stop)
        keys = [
            roster_key(index, chunk)
            for _, index, first, end in pieces
            for chunk in range(first // ROSTER_NAMES, (end - 1) // ROSTER_NAMES + 1)
        ]
        rosters = {
            str(item["timestamp"]): parse_roster(item)
            for item in TrackingStore(self._client, self._table).items_at(
                (REGISTRY_ID, key) for key in keys
            )
        }
        result = []
        for wave, index, first, end in pieces:
            for position in range(first, end):
                roster = rosters.get(roster_key(index, position // ROSTER_NAMES))
                if roster is None or roster[0] != wave:
                    raise RosterMissing(f"wave {wave}: no roster for position {position}")
                offset = position - roster[1]
                if not 0 <= offset < len(roster[2]):
                    raise RosterMissing(f"wave {wave}: roster does not hold position {position}")
                result.append((wave, roster[2][offset]))
        return result

    def with_applications(self, listing: Listing) -> Listing:
        """``listing`` with every application read: its waves' rosters (BatchGetItem), else
        (no rosters: a registry written by an earlier version) one paginated query of the
        application items, only names and waves projected, sorted by name within a wave."""
        if listing.applications is not None:
            return listing
        try:
            return replace(listing, applications=tuple(self.page(listing, 0, listing.total)))
        except RosterMissing:
            pass
        wave = None if listing.complete or len(listing.waves) != 1 else listing.waves[0]
        pairs = _sorted(listing.waves, list(self._applications(wave)))
        return replace(
            listing,
            applications=pairs,
            sizes=tuple(sum(1 for w, _ in pairs if w == name) for name in listing.waves),
            note="no rosters in the registry (registered by an earlier version): applications "
            "sorted by name within a wave; `migrate plan apply` writes them",
        )

    def _applications(self, wave: str | None) -> Iterator[tuple[str, str]]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :plan AND begins_with(#sk, :app)",
            "ProjectionExpression": "#sk, #wave",
            "ExpressionAttributeNames": {"#pk": "serverId", "#sk": "timestamp", "#wave": "wave"},
            "ExpressionAttributeValues": {":plan": {"S": REGISTRY_ID}, ":app": {"S": APP_PREFIX}},
            "ConsistentRead": True,
        }
        if wave is not None:
            params["FilterExpression"] = "#wave = :wave"
            params["ExpressionAttributeValues"][":wave"] = {"S": wave}
        for page in self._client.get_paginator("query").paginate(**params):
            for item in page.get("Items", []):
                yield item["wave"]["S"], item["timestamp"]["S"][len(APP_PREFIX) :]

    def record_names(self, applications: Sequence[str]) -> dict[str, str]:
        """Application -> record name of registered ``applications`` (BatchGetItem)."""
        keys = [(REGISTRY_ID, APP_PREFIX + app) for app in applications]
        return {
            str(item["timestamp"])[len(APP_PREFIX) :]: str(item["dnsName"])
            for item in TrackingStore(self._client, self._table).items_at(keys)
        }


def registry_source(meta: Mapping[str, Any], table: str) -> str:
    """``plan registry in T (digest 3fa4c2d1e5b6, applied <when> by <who>)``."""
    details = [f"digest {str(meta.get('digest', ''))[:12] or '-'}"]
    if meta.get("appliedAt"):
        details.append(f"applied {meta['appliedAt']}")
    if meta.get("appliedBy"):
        details.append(f"by {meta['appliedBy']}")
    return f"plan registry in {table} ({', '.join(details)})"


# -- the summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Applications per listed wave and phase, and heads the listing does not hold."""

    counts: dict[str, Counter[Phase]]
    unlisted: tuple[str, ...]
    """Tracked applications no longer in the plan, sorted (when the whole plan is listed);
    from a snapshot, only the first few of them."""
    unlisted_count: int | None = None
    """How many there are, when ``unlisted`` holds only the first few."""
    origin: str = ""
    """Where the counts come from (the line under the source)."""

    def total(self) -> Counter[Phase]:
        """Counts over every listed wave."""
        return sum(self.counts.values(), start=Counter())

    def phases(self) -> list[Phase]:
        """PLANNED and every phase some listed application is in, in cutover order."""
        present = {phase for counts in self.counts.values() for phase, n in counts.items() if n}
        return [p for p in APPLICATION_PHASES if p is Phase.PLANNED or p in present]


def summarise(listing: Listing, phases: Mapping[str, Phase], origin: str = "") -> Summary:
    """Counts per listed wave and phase (no head: PLANNED)."""
    assert listing.applications is not None, "counting needs every listed application"
    wave_of = {application: wave for wave, application in listing.applications}
    counts, unlisted = count_phases(listing.waves, wave_of, phases)
    return Summary(counts, unlisted=tuple(unlisted) if listing.complete else (), origin=origin)


def snapshot_problem(snapshot: Snapshot | None, listing: Listing, now: datetime) -> str:
    """Why ``snapshot`` cannot be shown for ``listing`` ("" when it can)."""
    if snapshot is None:
        return "no summary snapshot yet (the cutover controller writes one each minute)"
    if snapshot.digest != listing.digest:
        return "the summary snapshot is of another registration of the plan"
    age = snapshot.age_seconds(now)
    if age > SNAPSHOT_MAX_AGE:
        return (
            f"the summary snapshot of {_clock_text(snapshot.computed_at)} is {_age_text(age)} "
            "old: is the cutover controller running?"
        )
    return ""


def from_snapshot(snapshot: Snapshot, listing: Listing, now: datetime) -> Summary:
    """The summary of ``listing``'s waves as the snapshot has it."""
    counts = {wave: Counter(snapshot.counts.get(wave, Counter())) for wave in listing.waves}
    age = _age_text(snapshot.age_seconds(now))
    return Summary(
        counts,
        unlisted=snapshot.unlisted if listing.complete else (),
        unlisted_count=snapshot.unlisted_count if listing.complete else 0,
        origin=f"summary as of {_clock_text(snapshot.computed_at)}, {age} ago "
        f"(by the {snapshot.computed_by}); rows are live",
    )


def _clock_text(timestamp: str) -> str:
    """``2026-11-30T12:01:05.123456Z`` -> ``2026-11-30 12:01:05Z``."""
    return f"{timestamp[:10]} {timestamp[11:19]}Z"


def _age_text(seconds: float) -> str:
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min"
    return f"{whole // 3600} h"


# -- the rows of one page ------------------------------------------------------------------


def page_rows(
    tracking: TrackingStore, shifter: TrafficShifter, page: Sequence[tuple[str, str]]
) -> list[Row]:
    """The rows of ``page``: heads, their last transitions and the record pairs of those
    applications only (two BatchGetItem requests per 100 rows, plus the Route 53 reads of
    :meth:`TrafficShifter.survey_names`)."""
    names = [application for _, application in page]
    with ThreadPoolExecutor(max_workers=1) as pool:
        survey = pool.submit(shifter.survey_names, names)
        heads = tracking.heads(app_id(name) for name in names)
        last = tracking.entries((h.entity_id, h.last_event_at) for h in heads.values())
        found = survey.result().found
    rows = []
    for wave, name in page:
        head = heads.get(app_id(name))
        records = found.get(name)
        rows.append(
            Row(
                wave=wave,
                application=name,
                phase=head.phase if head else Phase.PLANNED,
                split=records.split if records else None,
                last_event=last.get((head.entity_id, head.last_event_at)) if head else None,
            )
        )
    return rows
