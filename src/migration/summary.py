"""The summary of a programme: applications per wave and phase, and its snapshot.

Counting N applications is O(N) whoever does it, so ``migrate status`` does not count on every
call: the cutover controller computes the summary once per tick (it runs every minute) and
``migrate plan apply`` once per registration, and both store it as one item of the plan
registry (``serverId = "plan"``, ``timestamp = "summary"``): per wave (plan order) the number of
applications in each phase, the tracked applications no longer in the plan, when it was
computed, by whom, and the digest of the registered plan it was computed against.
``migrate status`` reads it with one GetItem and says how old it is; without a snapshot, or with
one too old (the controller is not running) or of another plan, it counts now, from the phase
index (:func:`tracked_phases`), as it did before snapshots existed. See docs/status.md.

Computing it reads the phase of every application head from ``MigrationPhaseIndex``: one
paginated query per application phase (heads only, ``timestamp = "CURRENT"``, other entity
kinds filtered out, only ``serverId`` and ``version`` projected), all in parallel; an
application without a head is PLANNED. Never a Scan.

Only the standard library, boto3 and the runtime's Lambda-safe modules are imported: the
controller function computes and writes the snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from migration.parallel import call_all
from migration.registry import REGISTRY_ID, SUMMARY_KEY, RegisteredPlan
from migration.tracking import (
    HEAD_TIMESTAMP,
    PHASE_INDEX,
    Phase,
    app_id,
    from_item,
    iso_timestamp,
    parse_timestamp,
    to_item,
    utc_now,
)

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

UNLISTED_KEPT = 5
"""Names of tracked applications not in the plan a snapshot keeps (it counts them all)."""


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


def count_phases(
    waves: Sequence[str], wave_of: Mapping[str, str], phases: Mapping[str, Phase]
) -> tuple[dict[str, Counter[Phase]], list[str]]:
    """Counts per wave (``waves`` in plan order) and phase of the applications ``wave_of``
    lists (no head: PLANNED), and the tracked applications it does not list (sorted)."""
    counts: dict[str, Counter[Phase]] = {wave: Counter() for wave in waves}
    for application, wave in wave_of.items():
        counts.setdefault(wave, Counter())[phases.get(application, Phase.PLANNED)] += 1
    return counts, sorted(phases.keys() - wave_of.keys())


@dataclass(frozen=True)
class Snapshot:
    """A stored summary: counts per wave (plan order) and phase, and where it comes from."""

    computed_at: str
    computed_by: str
    digest: str
    counts: dict[str, Counter[Phase]]
    unlisted: tuple[str, ...]
    """The first (sorted) UNLISTED_KEPT tracked applications not in the plan."""
    unlisted_count: int

    def age_seconds(self, now: datetime) -> float:
        """Seconds since it was computed (0 when its clock was ahead of ``now``)."""
        return max(0.0, (now - parse_timestamp(self.computed_at)).total_seconds())

    def to_item(self) -> dict[str, Any]:
        """The registry item (plain values); only phases with applications are stored."""
        return {
            "serverId": REGISTRY_ID,
            "timestamp": SUMMARY_KEY,
            "kind": "summary",
            "computedAt": self.computed_at,
            "computedBy": self.computed_by,
            "digest": self.digest,
            "waves": [
                {"name": wave, "counts": {str(p): n for p, n in counts.items() if n}}
                for wave, counts in self.counts.items()
            ],
            "unlisted": list(self.unlisted),
            "unlistedCount": self.unlisted_count,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Snapshot:
        """The snapshot of a registry item (plain values)."""
        return cls(
            computed_at=str(item["computedAt"]),
            computed_by=str(item.get("computedBy", "")),
            digest=str(item.get("digest", "")),
            counts={
                str(wave["name"]): Counter(
                    {Phase(phase): int(n) for phase, n in dict(wave.get("counts", {})).items()}
                )
                for wave in item.get("waves", [])
            },
            unlisted=tuple(str(name) for name in item.get("unlisted", [])),
            unlisted_count=int(item.get("unlistedCount", 0)),
        )


class SummarySnapshots:
    """Computes, writes and reads the summary snapshot (client injected)."""

    def __init__(
        self, dynamodb_client: Any, table_name: str, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._clock = clock

    def compute(
        self, waves: Sequence[str], wave_of: Mapping[str, str], digest: str, *, by: str
    ) -> Snapshot:
        """Count now: the phase index read once (:func:`tracked_phases`)."""
        counts, unlisted = count_phases(waves, wave_of, tracked_phases(self._client, self._table))
        return Snapshot(
            computed_at=iso_timestamp(self._clock()),
            computed_by=by,
            digest=digest,
            counts=counts,
            unlisted=tuple(unlisted[:UNLISTED_KEPT]),
            unlisted_count=len(unlisted),
        )

    def write(
        self, waves: Sequence[str], wave_of: Mapping[str, str], digest: str, *, by: str
    ) -> Snapshot:
        """Compute the snapshot and store it (one PutItem, replacing the previous one)."""
        snapshot = self.compute(waves, wave_of, digest, by=by)
        self._client.put_item(TableName=self._table, Item=to_item(snapshot.to_item()))
        return snapshot

    def write_plan(self, plan: RegisteredPlan, *, by: str) -> Snapshot:
        """The snapshot of a registered plan (what the controller writes each tick)."""
        wave_of = {app.name: app.wave for app in plan.applications.values()}
        return self.write([w.name for w in plan.waves], wave_of, plan.digest, by=by)

    def read(self) -> Snapshot | None:
        """The stored snapshot (one GetItem), None when there is none or it is unreadable."""
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"serverId": REGISTRY_ID, "timestamp": SUMMARY_KEY}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        try:
            return Snapshot.from_item(from_item(item))
        except (KeyError, TypeError, ValueError):
            return None
