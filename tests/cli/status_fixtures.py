"""Helpers of the ``migrate status`` tests: a registered plan and heads, written straight
into the tracking table (what ``migrate plan apply`` and the controller would write), and a
recorder of every AWS call the commands make that fails any Scan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from migration import operations
from migration.plan import Plan
from migration.registry import (
    RegisteredApplication,
    WaveSummary,
    application_item,
    plan_digest,
    roster_items,
)
from migration.summary import Snapshot, SummarySnapshots
from migration.tracking import HEAD_TIMESTAMP, Phase, app_id, to_item, utc_now
from tests.cli.conftest import MotoStack

ZONE = "migration.internal"
APPLIED_AT = "2026-11-30T09:00:00.000000Z"


def _write(stack: MotoStack, items: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        stack.dynamodb.batch_write_item(
            RequestItems={
                stack.table: [
                    {"PutRequest": {"Item": to_item(i)}} for i in items[start : start + 25]
                ]
            }
        )


def register(
    stack: MotoStack,
    waves: Mapping[str, Sequence[str]],
    dns: Mapping[str, str] | None = None,
    *,
    rosters: bool = True,
) -> str:
    """Register applications by wave (plan order = the mapping's order), with their rosters
    (``rosters=False``: as an earlier version registered them); returns the digest."""
    apps = [
        RegisteredApplication(
            name=name,
            wave=wave,
            dns_name=(dns or {}).get(name, f"{name}.{ZONE}"),
            record_type="A",
            on_premises_address="192.168.1.10",
            aws_address="10.0.1.10",
        )
        for wave, names in waves.items()
        for name in names
    ]
    summaries = [WaveSummary(wave, len(names), 0) for wave, names in waves.items()]
    digest = plan_digest(apps, [], summaries)
    meta = {
        "serverId": "plan",
        "timestamp": "meta",
        "digest": digest,
        "appliedAt": APPLIED_AT,
        "appliedBy": "lead",
        "waves": [
            {"name": w.name, "applications": w.applications, "databases": 0} for w in summaries
        ],
    }
    roster = roster_items(waves.items()).values() if rosters else []
    _write(stack, [*(application_item(app) for app in apps), *roster, meta])
    return digest


def register_plan(stack: MotoStack, plan: Plan) -> str:
    """Register the example plan's applications with their own record names."""
    return register(
        stack,
        {wave.name: [app.name for app in wave.applications] for wave in plan.waves},
        {app.name: app.dns_name for app in plan.applications},
    )


def snapshot(
    stack: MotoStack,
    waves: Mapping[str, Sequence[str]],
    *,
    age: timedelta = timedelta(seconds=30),
    digest: str | None = None,
) -> Snapshot:
    """The summary snapshot the controller writes (counted from the phase index now), as if
    computed ``age`` ago; ``digest``: of another registration."""
    apps = {name: wave for wave, names in waves.items() for name in names}
    meta = stack.dynamodb.get_item(
        TableName=stack.table, Key={"serverId": {"S": "plan"}, "timestamp": {"S": "meta"}}
    )["Item"]
    snapshots = SummarySnapshots(stack.dynamodb, stack.table, clock=lambda: utc_now() - age)
    return snapshots.write(list(waves), apps, digest or meta["digest"]["S"], by="controller")


def track(stack: MotoStack, phases: Mapping[str, Phase], *, version: int = 1) -> None:
    """A head (and its one history item) per application, in the given phase."""
    items: list[dict[str, Any]] = []
    for index, (name, phase) in enumerate(phases.items()):
        at = f"2026-11-30T10:{index // 60 % 60:02d}:{index % 60:02d}.000000Z"
        items.append(
            {
                "serverId": app_id(name),
                "timestamp": HEAD_TIMESTAMP,
                "migrationPhase": phase,
                "version": version,
                "lastEventAt": at,
                "entityKind": "app",
            }
        )
        items.append(
            {
                "serverId": app_id(name),
                "timestamp": at,
                "eventType": "TRANSITION",
                "migrationPhase": phase,
                "version": version,
                "actor": "controller",
                "details": {"step": 1, "percent": 10} if phase is Phase.SHIFTING else None,
            }
        )
    _write(stack, items)


class Recorded:
    """The commands' client factory, counting (service, operation) and failing any Scan."""

    def __init__(self, inner: Any, calls: Counter[tuple[str, str]]) -> None:
        self._inner = inner
        self._calls = calls
        self._hooked: set[int] = set()

    def client(self, service: str) -> Any:
        client = self._inner.client(service)
        target = getattr(client, "_inner", client)  # the fakes wrap dms and ec2
        if id(target) not in self._hooked:
            self._hooked.add(id(target))
            target.meta.events.register("before-call", self._count)
        return client

    def _count(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self._calls[(service, model.name)] += 1
        if model.name == "Scan":
            raise AssertionError(f"{service} Scan: migrate status must not scan")


@pytest.fixture
def calls(stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """Every AWS call of the commands run in-process, by (service, operation)."""
    counted: Counter[tuple[str, str]] = Counter()
    inner = operations.make_clients
    monkeypatch.setattr(operations, "make_clients", lambda region: Recorded(inner(region), counted))
    return counted
