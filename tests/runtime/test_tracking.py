"""TrackingStore against moto's DynamoDB: history, heads, phase index and concurrency."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migration.errors import ConcurrentUpdateError, InvalidTransitionError
from migration.tracking import (
    HEAD_TIMESTAMP,
    Phase,
    TrackingStore,
    alarm_id,
    app_id,
    db_id,
    entity_kind,
    iso_timestamp,
    server_id,
)
from tests.runtime.conftest import Aws, CallRecorder

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_entity_ids_and_timestamps() -> None:
    assert (app_id("orders"), db_id("pg"), server_id("i-1"), alarm_id("a")) == (
        "app#orders",
        "db#pg",
        "server#i-1",
        "alarm#a",
    )
    assert entity_kind("db#pg") == "db" and entity_kind("plain") == ""
    moment = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    assert iso_timestamp(moment) == "2026-11-28T12:00:00.123456Z"
    # Every ISO timestamp sorts before the head's sort key.
    assert HEAD_TIMESTAMP > "9999-12-31T23:59:59.999999Z"
    with pytest.raises(ValueError, match="timezone"):
        iso_timestamp(datetime(2026, 1, 1))


def test_first_transition_creates_head_and_history_item(aws: Aws) -> None:
    store = aws.tracking()
    done = store.transition(
        app_id("orders"),
        Phase.PLANNED,
        actor="planner",
        reason="wave 1",
        details={"wave": 1, "weights": {"aws": 0, "onPremises": 100}},
    )
    assert done is not None and done.version == 1 and done.from_phase is None
    head = store.current(app_id("orders"))
    assert head is not None
    assert (head.phase, head.version, head.last_event_at) == (Phase.PLANNED, 1, done.timestamp)
    items = aws.items()
    assert [i["timestamp"]["S"] for i in items] == [done.timestamp, HEAD_TIMESTAMP]
    history_item, head_item = items
    assert ISO.match(history_item["timestamp"]["S"])
    assert history_item["migrationPhase"] == {"S": "PLANNED"}
    assert history_item["version"] == {"N": "1"}
    assert history_item["actor"] == {"S": "planner"}
    assert history_item["details"]["M"]["weights"]["M"]["aws"] == {"N": "0"}
    assert head_item["migrationPhase"] == {"S": "PLANNED"}
    assert head_item["lastEventAt"] == {"S": done.timestamp}
    assert head_item["entityKind"] == {"S": "app"}
    entries = store.history(app_id("orders"))
    assert len(entries) == 1 and entries[0].details["wave"] == 1 and entries[0].reason == "wave 1"


def test_table_query_lists_history_then_head(aws: Aws) -> None:
    store = aws.tracking()
    for phase in (Phase.PLANNED, Phase.REPLICATING, Phase.READY):
        store.transition(db_id("pg"), phase)
        aws.time.sleep(1)
    items = aws.dynamodb.query(
        TableName=aws.table,
        KeyConditionExpression="serverId = :id",
        ExpressionAttributeValues={":id": {"S": "db#pg"}},
    )["Items"]
    assert [i["migrationPhase"]["S"] for i in items] == ["PLANNED", "REPLICATING", "READY", "READY"]
    assert items[-1]["timestamp"]["S"] == HEAD_TIMESTAMP
    assert [e.version for e in store.history(db_id("pg"))] == [1, 2, 3]
    assert [e.from_phase for e in store.history(db_id("pg"))] == [
        None,
        Phase.PLANNED,
        Phase.REPLICATING,
    ]


def test_fixed_clock_still_gives_strictly_increasing_timestamps(aws: Aws) -> None:
    store = aws.tracking()  # the fake wall clock does not move unless slept
    stamps = [
        store.transition(server_id("i-1"), phase).timestamp  # type: ignore[union-attr]
        for phase in (Phase.PLANNED, Phase.REPLICATING, Phase.READY, Phase.SHIFTING)
    ]
    assert stamps == [
        "2026-11-28T12:00:00.000000Z",
        "2026-11-28T12:00:00.000001Z",
        "2026-11-28T12:00:00.000002Z",
        "2026-11-28T12:00:00.000003Z",
    ]
    # A clock that goes backwards cannot reorder history either.
    aws.time.wall -= timedelta(hours=1)
    late = store.transition(server_id("i-1"), Phase.CUTOVER_COMPLETE)
    assert late is not None and late.timestamp == "2026-11-28T12:00:00.000004Z"
    assert len(store.history(server_id("i-1"))) == 5


def test_in_phase_reads_heads_from_the_index_with_pagination(aws: Aws) -> None:
    store = aws.tracking(page_size=2)
    calls = CallRecorder(aws.dynamodb)
    for i in range(7):
        store.transition(app_id(f"s{i}"), Phase.SHIFTING)
    for i in range(3):
        store.transition(app_id(f"r{i}"), Phase.READY)
    # s0 leaves SHIFTING: its history item keeps migrationPhase=SHIFTING, its head does not.
    store.transition(app_id("s0"), Phase.ROLLED_BACK)
    calls.reset()
    shifting = store.in_phase(Phase.SHIFTING)
    assert sorted(h.entity_id for h in shifting) == [f"app#s{i}" for i in range(1, 7)]
    assert all(h.phase is Phase.SHIFTING for h in shifting)
    assert calls.attempts["Query"] >= 3
    assert calls.attempts["Scan"] == 0
    assert all(p.get("IndexName") == "MigrationPhaseIndex" for p in calls.api_params("Query"))
    assert [h.entity_id for h in store.in_phase(Phase.ROLLED_BACK)] == ["app#s0"]
    assert store.in_phase(Phase.CUTOVER_COMPLETE) == []


def test_history_is_paginated(aws: Aws) -> None:
    store = aws.tracking(page_size=2)
    for phase in Phase:
        store.transition(app_id("orders"), phase)
    calls = CallRecorder(aws.dynamodb)
    assert [e.phase for e in store.history(app_id("orders"))] == list(Phase)
    # one item per phase in pages of 2, then an empty last page when the count is even
    assert calls.attempts["Query"] == len(Phase) // 2 + 1


def test_expected_from_guards_the_transition(aws: Aws) -> None:
    store = aws.tracking()
    with pytest.raises(InvalidTransitionError, match=r"app#orders is in phase <none>"):
        store.transition(app_id("orders"), Phase.SHIFTING, expected_from=Phase.READY)
    store.transition(app_id("orders"), Phase.PLANNED, expected_from={None})
    with pytest.raises(InvalidTransitionError, match="expected one of READY, SHIFTING"):
        store.transition(
            app_id("orders"), Phase.CUTOVER_COMPLETE, expected_from={Phase.READY, Phase.SHIFTING}
        )
    assert len(store.history(app_id("orders"))) == 1


def test_expected_version_mismatch_writes_nothing(aws: Aws) -> None:
    store = aws.tracking()
    store.transition(app_id("orders"), Phase.PLANNED)
    before = aws.items()
    with pytest.raises(ConcurrentUpdateError, match="version 7"):
        store.transition(app_id("orders"), Phase.READY, expected_version=7)
    assert aws.items() == before
    assert store.transition(app_id("orders"), Phase.READY, expected_version=1) is not None


def test_transition_is_idempotent_per_event_id(aws: Aws) -> None:
    store = aws.tracking()
    first = store.transition(app_id("orders"), Phase.ROLLED_BACK, event_id="alarm:x:1")
    again = store.transition(app_id("orders"), Phase.ROLLED_BACK, event_id="alarm:x:1")
    assert first is not None and again is None
    assert len(store.history(app_id("orders"))) == 1
    head = store.current(app_id("orders"))
    assert head is not None and head.last_event_id == "alarm:x:1"
    # A transition without an event id clears it, so the head never shows a stale event.
    store.transition(app_id("orders"), Phase.SHIFTING)
    head = store.current(app_id("orders"))
    assert head is not None and head.last_event_id is None


class _StaleReads:
    """Client wrapper whose next get_item returns a snapshot taken earlier."""

    def __init__(self, inner: Any, stale: dict[str, Any]) -> None:
        self._inner = inner
        self._stale: dict[str, Any] | None = stale

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        if self._stale is not None:
            stale, self._stale = self._stale, None
            return stale
        return dict(self._inner.get_item(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_two_stores_racing_from_the_same_version_one_wins(aws: Aws) -> None:
    aws.tracking().transition(app_id("orders"), Phase.SHIFTING)
    key = {"serverId": {"S": "app#orders"}, "timestamp": {"S": HEAD_TIMESTAMP}}
    snapshot = aws.dynamodb.get_item(TableName=aws.table, Key=key, ConsistentRead=True)
    store_a = aws.tracking()
    # Store B read the head (version 1) before A wrote; its conditional write must fail.
    # B's clock is ahead, so only the version condition (not a history key clash) stops it.
    store_b = TrackingStore(
        _StaleReads(aws.dynamodb, snapshot),
        aws.table,
        clock=lambda: aws.time.wall + timedelta(hours=1),
    )
    assert store_a.transition(app_id("orders"), Phase.CUTOVER_COMPLETE) is not None
    before = aws.items()
    with pytest.raises(ConcurrentUpdateError, match="app#orders"):
        store_b.transition(app_id("orders"), Phase.ROLLED_BACK)
    assert aws.items() == before
    head = aws.tracking().current(app_id("orders"))
    assert head is not None and (head.phase, head.version) == (Phase.CUTOVER_COMPLETE, 2)


class _Racing:
    """Client wrapper for threads: each thread's first read waits for all the others.

    TransactWriteItems is serialised with a lock because DynamoDB evaluates conditions
    and writes atomically, whereas moto's in-process backend has no such lock.
    """

    def __init__(self, inner: Any, parties: int) -> None:
        self._inner = inner
        self._barrier = threading.Barrier(parties, timeout=30)
        self._lock = threading.Lock()
        self._local = threading.local()

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        response = dict(self._inner.get_item(**kwargs))
        if not getattr(self._local, "waited", False):
            self._local.waited = True
            self._barrier.wait()
        return response

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            return dict(self._inner.transact_write_items(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("writers", [2, 8])
@pytest.mark.parametrize("existing", [False, True])
def test_concurrent_threads_exactly_one_wins(aws: Aws, writers: int, existing: bool) -> None:
    if existing:
        aws.tracking().transition(app_id("orders"), Phase.SHIFTING)
    base = 1 if existing else 0
    racing = _Racing(aws.dynamodb, writers)
    outcomes: list[str] = []
    guard = threading.Lock()

    def write(n: int) -> None:
        # Distinct clocks: history keys differ, so the head's version condition decides.
        store = TrackingStore(
            racing, aws.table, clock=lambda: aws.time.wall + timedelta(milliseconds=n)
        )
        try:
            store.transition(app_id("orders"), Phase.ROLLED_BACK, reason=f"writer {n}")
            result = "won"
        except ConcurrentUpdateError:
            result = "lost"
        with guard:
            outcomes.append(result)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["lost"] * (writers - 1) + ["won"]
    store = aws.tracking()
    head = store.current(app_id("orders"))
    assert head is not None and head.version == base + 1
    assert len(store.history(app_id("orders"))) == base + 1


def test_record_event_is_idempotent_with_a_fixed_time(aws: Aws) -> None:
    store = aws.tracking()
    at = datetime(2026, 11, 28, 11, 59, 0, 500000, tzinfo=UTC)
    assert store.record_event(alarm_id("latency"), "ALARM_STATE_CHANGE", at=at, details={"s": 1})
    assert not store.record_event(alarm_id("latency"), "ALARM_STATE_CHANGE", at=at)
    entries = store.history(alarm_id("latency"))
    assert [(e.timestamp, e.event_type, e.phase) for e in entries] == [
        ("2026-11-28T11:59:00.500000Z", "ALARM_STATE_CHANGE", None)
    ]
    assert store.current(alarm_id("latency")) is None  # no head: not a phase transition
    # Without a fixed time, colliding clock readings are bumped, not lost.
    assert store.record_event(app_id("orders"), "GATE_CHECKED", phase=Phase.SHIFTING)
    assert store.record_event(app_id("orders"), "GATE_CHECKED", phase=Phase.SHIFTING)
    stamps = [e.timestamp for e in store.history(app_id("orders"))]
    assert stamps == ["2026-11-28T12:00:00.000000Z", "2026-11-28T12:00:00.000001Z"]


def test_other_transaction_errors_are_not_mistaken_for_races(aws: Aws) -> None:
    store = aws.tracking()
    aws.dynamodb_faults.fail("TransactWriteItems", ["InternalServerError"])
    with pytest.raises(ClientError, match="InternalServerError"):
        store.transition(app_id("orders"), Phase.PLANNED)
    assert aws.items() == []


def test_head_state_is_kept_until_replaced(aws: Aws) -> None:
    store = aws.tracking()
    entity = app_id("orders")
    store.transition(entity, Phase.PLANNED, state={"attempt": 2, "step": 0})
    head = store.current(entity)
    assert head is not None and head.attempt == 2 and head.state["step"] == 0
    store.transition(entity, Phase.ROLLED_BACK)  # no state: the attempt survives
    head = store.current(entity)
    assert head is not None and head.attempt == 2
    store.transition(entity, Phase.PLANNED, state={"attempt": 3})
    head = store.current(entity)
    assert head is not None and head.attempt == 3 and "step" not in head.state


def test_a_new_entity_is_attempt_one(aws: Aws) -> None:
    store = aws.tracking()
    store.transition(app_id("orders"), Phase.PLANNED)
    head = store.current(app_id("orders"))
    assert head is not None and head.attempt == 1 and head.state == {}
