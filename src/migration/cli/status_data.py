"""What ``migrate status`` reads, sized for a programme of thousands of applications.

The applications (name and wave) come from the plan registry when a plan is registered
(``serverId = "plan"`` in the tracking table, written by ``migrate plan apply``): its meta
item (the waves in plan order), then one paginated query of its application items with only
the name and the wave projected. Without a registered plan they come from the plan file.

The summary (applications per wave and phase) takes the phases from ``MigrationPhaseIndex``:
one paginated query per application phase (heads only, ``timestamp = "CURRENT"``, other
entity kinds filtered out, only ``serverId`` and ``version`` projected), all in parallel;
an application without a head is PLANNED. The rows of one page read only those
applications: their heads (BatchGetItem, strongly consistent), each head's last transition
(BatchGetItem at the head's ``lastEventAt``), the registry items for their record names
(BatchGetItem) and their record pairs (``TrafficShifter.survey_names``). Never a Scan and
never a call per application; see docs/status.md for the costs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from migration.parallel import call_all
from migration.plan import Plan
from migration.registry import APP_PREFIX, META_KEY, REGISTRY_ID
from migration.tracking import (
    HEAD_TIMESTAMP,
    PHASE_INDEX,
    HistoryEntry,
    Phase,
    TrackingStore,
    app_id,
    from_item,
    to_item,
)
from migration.traffic import Split, TrafficShifter

APPLICATION_PHASES = (
    Phase.PLANNED,
    Phase.REPLICATING,
    Phase.READY,
    Phase.SHIFTING,
    Phase.HELD,
    Phase.CUTOVER_COMPLETE,
    Phase.ROLLED_BACK,
)
"""Every phase an application's head can hold, in the order of a cutover."""


@dataclass(frozen=True)
class Listing:
    """The applications ``migrate status`` lists and where they come from.

    ``applications``: (wave, application) with the waves in plan order and the names
    sorted within a wave (the registry has no order within a wave; the plan file is sorted
    the same way so both sources page alike).
    """

    source: str
    waves: tuple[str, ...]
    applications: tuple[tuple[str, str], ...]
    complete: bool = True
    """Every application of the plan is listed (no --wave)."""
    record_names: Mapping[str, str] | None = None
    """Application -> record name when known without reading (the plan file); None: read
    them from the registry for the rows shown."""


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
    the plan's waves or None for all."""
    chosen = [w for w in plan.waves if wave in (None, w.name)]
    return Listing(
        source=f"plan file {path} (no plan registered in {table})",
        waves=tuple(w.name for w in chosen),
        applications=_sorted(
            [w.name for w in plan.waves],
            [(w.name, app.name) for w in chosen for app in w.applications],
        ),
        complete=wave is None,
        record_names={app.name: app.dns_name for w in chosen for app in w.applications},
    )


def registered_waves(meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The waves of the registered plan, in plan order (from its meta item)."""
    return tuple(str(w["name"]) for w in meta.get("waves", []))


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
        (None): one paginated query, only names and waves projected."""
        waves = registered_waves(meta)
        return Listing(
            source=registry_source(meta, self._table),
            waves=waves if wave is None else (wave,),
            applications=_sorted(waves, list(self._applications(wave))),
            complete=wave is None,
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
    """Tracked applications no longer in the plan, sorted (when the whole plan is listed)."""

    def total(self) -> Counter[Phase]:
        """Counts over every listed wave."""
        return sum(self.counts.values(), start=Counter())

    def phases(self) -> list[Phase]:
        """PLANNED and every phase some listed application is in, in cutover order."""
        present = {phase for counts in self.counts.values() for phase, n in counts.items() if n}
        return [p for p in APPLICATION_PHASES if p is Phase.PLANNED or p in present]


def _phase_members(client: Any, table: str, phase: Phase) -> list[tuple[str, int]]:
    """(application, head version) of every application head in ``phase``: one paginated
    query of the phase index with only those two attributes projected."""
    pages = client.get_paginator("query").paginate(
        TableName=table,
        IndexName=PHASE_INDEX,
        KeyConditionExpression="#phase = :phase AND #ts = :head",
        FilterExpression="begins_with(#id, :app)",
        ProjectionExpression="#id, #version",
        ExpressionAttributeNames={
            "#phase": "migrationPhase",
            "#ts": "timestamp",
            "#id": "serverId",
            "#version": "version",
        },
        ExpressionAttributeValues=to_item(
            {":phase": phase, ":head": HEAD_TIMESTAMP, ":app": app_id("")}
        ),
    )
    prefix = len(app_id(""))
    return [
        (item["serverId"]["S"][prefix:], int(item["version"]["N"]))
        for page in pages
        for item in page.get("Items", [])
    ]


def tracked_phases(client: Any, table: str) -> dict[str, Phase]:
    """Application -> the phase of its head, from the phase index (one query per phase, in
    parallel). The index is eventually consistent: a head seen in two phases while it
    moves counts in the one of its higher version."""
    results = call_all(
        lambda phase: _phase_members(client, table, phase),
        APPLICATION_PHASES,
        workers=len(APPLICATION_PHASES),
    )
    latest: dict[str, tuple[int, Phase]] = {}
    for result in results:
        if result.error is not None:
            raise result.error
        for application, version in result.value or []:
            if application not in latest or latest[application][0] < version:
                latest[application] = (version, result.item)
    return {application: phase for application, (_, phase) in latest.items()}


def summarise(listing: Listing, phases: Mapping[str, Phase]) -> Summary:
    """Counts per listed wave and phase (no head: PLANNED)."""
    counts: dict[str, Counter[Phase]] = {wave: Counter() for wave in listing.waves}
    for wave, application in listing.applications:
        counts.setdefault(wave, Counter())[phases.get(application, Phase.PLANNED)] += 1
    listed = {application for _, application in listing.applications}
    unlisted = sorted(phases.keys() - listed) if listing.complete else []
    return Summary(counts, unlisted=tuple(unlisted))


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
