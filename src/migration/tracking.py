"""Migration tracking store over the DynamoDB table.

Table layout (partition key ``serverId``, sort key ``timestamp``, GSI
``MigrationPhaseIndex`` on ``migrationPhase`` + ``timestamp``):

* history items, append-only: ``timestamp`` is ISO-8601 UTC with microseconds
  (``2026-11-28T12:00:00.123456Z``), never rewritten;
* one head item per entity with ``timestamp = "CURRENT"`` holding the current
  ``migrationPhase``, ``version``, ``lastEventAt`` and ``lastEventId``.

"CURRENT" sorts after every ISO timestamp (``"C" > "2"``), so querying an entity lists its
history then its head, and "everything currently in phase P" is an index query on
``migrationPhase = P AND timestamp = "CURRENT"``.

Only the standard library and boto3 are imported: this module ships to Lambda.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from migration.errors import ConcurrentUpdateError, InvalidTransitionError, MigrationError

HEAD_TIMESTAMP = "CURRENT"
PHASE_INDEX = "MigrationPhaseIndex"
TRANSITION_EVENT = "TRANSITION"
BATCH_GET_KEYS = 100
"""Keys of one BatchGetItem request (DynamoDB's limit)."""
BATCH_GET_ATTEMPTS = 6


class Phase(enum.StrEnum):
    """Migration phases of an entity (server, database or application)."""

    PLANNED = "PLANNED"
    REPLICATING = "REPLICATING"
    READY = "READY"
    SHIFTING = "SHIFTING"
    CUTOVER_COMPLETE = "CUTOVER_COMPLETE"
    ROLLED_BACK = "ROLLED_BACK"
    # A gate failed after traffic moved and the plan says ``on_gate_failure: hold``: the
    # split stays where it is and the controller keeps watching the alarms.
    HELD = "HELD"
    # Phases of a database entity (``db#<name>``) beyond REPLICATING; see
    # docs/database-cutover.md for which side writes in each.
    IN_SYNC = "IN_SYNC"
    WRITES_FROZEN = "WRITES_FROZEN"
    CUT_OVER = "CUT_OVER"
    FAILBACK_FROZEN = "FAILBACK_FROZEN"
    FAILED_BACK = "FAILED_BACK"
    # Phases of a server entity (``server#<id>``) moved by MGN, beyond REPLICATING (its
    # initial sync) and up to CUT_OVER (finalised); see docs/server-migration.md.
    REGISTERED = "REGISTERED"
    READY_FOR_TEST = "READY_FOR_TEST"
    TESTING = "TESTING"
    READY_FOR_CUTOVER = "READY_FOR_CUTOVER"
    CUTTING_OVER = "CUTTING_OVER"
    # Phases of a wave entity (``wave#<name>``), driven by the cutover controller.
    WAVE_RUNNING = "WAVE_RUNNING"
    WAVE_PAUSED = "WAVE_PAUSED"
    WAVE_ABORTED = "WAVE_ABORTED"
    WAVE_COMPLETE = "WAVE_COMPLETE"


ACTIVE_WAVE_PHASES = (Phase.WAVE_RUNNING, Phase.WAVE_PAUSED)
"""Waves the controller advances (paused: no new step, alarms still watched)."""


def app_id(name: str) -> str:
    """Tracking id of an application."""
    return f"app#{name}"


def db_id(name: str) -> str:
    """Tracking id of a database."""
    return f"db#{name}"


def server_id(identifier: str) -> str:
    """Tracking id of a server."""
    return f"server#{identifier}"


def wave_id(name: str) -> str:
    """Tracking id of a wave (its head holds the controller's state of the wave)."""
    return f"wave#{name}"


def alarm_id(name: str) -> str:
    """Tracking id under which alarm state changes that trigger nothing are recorded."""
    return f"alarm#{name}"


def entity_kind(entity_id: str) -> str:
    """The kind prefix of an entity id (``app``, ``db``, ``server``, ...)."""
    kind, sep, _ = entity_id.partition("#")
    return kind if sep else ""


def iso_timestamp(moment: datetime) -> str:
    """Sortable ISO-8601 UTC text with microseconds, e.g. ``2026-11-28T12:00:00.123456Z``."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`iso_timestamp`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def utc_now() -> datetime:
    """Default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Head:
    """Current state of one entity."""

    entity_id: str
    phase: Phase
    version: int
    last_event_at: str
    last_event_id: str | None = None
    state: Mapping[str, Any] = field(default_factory=dict)
    """Controller state kept on the head (``cutoverState``): step, bake deadline, attempt."""

    @property
    def attempt(self) -> int:
        """Cutover attempt of the entity: 1, then one more after each ``reset``."""
        return int(self.state.get("attempt", 1))


@dataclass(frozen=True)
class HistoryEntry:
    """One append-only history item."""

    entity_id: str
    timestamp: str
    event_type: str
    phase: Phase | None = None
    from_phase: Phase | None = None
    version: int | None = None
    event_id: str | None = None
    actor: str | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """A committed phase transition."""

    entity_id: str
    from_phase: Phase | None
    to_phase: Phase
    version: int
    timestamp: str


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _to_dynamo_value(value: Any) -> Any:
    """Make ``value`` serialisable: floats become Decimal, tuples lists, enums text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {str(k): _to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo_value(v) for v in value]
    return value


def to_item(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python attributes -> DynamoDB attribute values (None values dropped)."""
    return {
        key: _SERIALIZER.serialize(_to_dynamo_value(value))
        for key, value in attributes.items()
        if value is not None
    }


def _plain(value: Any) -> Any:
    """DynamoDB Decimals back to int (or float), recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> plain Python values."""
    return {key: _plain(_DESERIALIZER.deserialize(value)) for key, value in item.items()}


def _optional_phase(value: Any) -> Phase | None:
    return Phase(value) if value else None


class HeadRead(enum.Enum):
    """Marker: let :meth:`TrackingStore.transition` read the head itself."""

    READ = "read"


class TrackingStore:
    """Append-only migration history plus one optimistic-locked head item per entity.

    ``clock`` is injected; history timestamps are strictly increasing per entity even
    when the clock does not move (bumped 1 microsecond past the head's ``lastEventAt``).
    """

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        index_name: str = PHASE_INDEX,
        page_size: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._clock = clock
        self._index = index_name
        # None lets DynamoDB fill 1 MB pages; tests use a small size to force pagination.
        self._page_size = page_size
        self._sleep = sleep  # backoff between BatchGetItem retries of unprocessed keys

    # -- reads ------------------------------------------------------------------------

    def current(self, entity_id: str) -> Head | None:
        """The head of ``entity_id`` (strongly consistent), or None for an unknown entity."""
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"serverId": entity_id, "timestamp": HEAD_TIMESTAMP}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return self._head(from_item(item)) if item else None

    def database_phase(self, name: str) -> str | None:
        """Phase of database ``name`` (``db#<name>``); None when it is not tracked yet."""
        head = self.current(db_id(name))
        return str(head.phase) if head else None

    def history(self, entity_id: str) -> list[HistoryEntry]:
        """Every history item of ``entity_id``, oldest first (paginated query)."""
        return [
            self._entry(item)
            for item in self._query(
                KeyConditionExpression="#pk = :pk AND #ts < :head",
                ExpressionAttributeNames={"#pk": "serverId", "#ts": "timestamp"},
                ExpressionAttributeValues=to_item({":pk": entity_id, ":head": HEAD_TIMESTAMP}),
                ConsistentRead=True,
            )
        ]

    def in_phase(self, phase: Phase) -> list[Head]:
        """Heads of every entity currently in ``phase`` (paginated index query, no scan).

        The index is eventually consistent: a transition is visible within about a second.
        """
        return [
            self._head(item)
            for item in self._query(
                IndexName=self._index,
                KeyConditionExpression="#phase = :phase AND #ts = :head",
                ExpressionAttributeNames={"#phase": "migrationPhase", "#ts": "timestamp"},
                ExpressionAttributeValues=to_item({":phase": phase, ":head": HEAD_TIMESTAMP}),
            )
        ]

    def heads(self, entity_ids: Iterable[str]) -> dict[str, Head]:
        """Heads of many entities (strongly consistent), by entity id; entities without a
        head are left out. BatchGetItem, 100 keys a request."""
        keys = [(entity, HEAD_TIMESTAMP) for entity in entity_ids]
        return {item["serverId"]: self._head(item) for item in self.items_at(keys)}

    def entries(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], HistoryEntry]:
        """History items by (entity id, timestamp), e.g. the last transition of each head
        (``Head.last_event_at``); missing ones are left out. BatchGetItem, 100 keys a request."""
        return {
            (item["serverId"], item["timestamp"]): self._entry(item) for item in self.items_at(keys)
        }

    def items_at(self, keys: Iterable[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """The items (plain values) at (serverId, timestamp) ``keys`` that exist, in any
        order; strongly consistent, BatchGetItem, 100 keys a request.

        Keys DynamoDB leaves unprocessed (throttling) are asked again with exponential
        backoff; still unprocessed after the last attempt raises MigrationError.
        """
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            chunk = unique[start : start + BATCH_GET_KEYS]
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [to_item({"serverId": e, "timestamp": t}) for e, t in chunk],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(BATCH_GET_ATTEMPTS):
                if attempt:
                    self._sleep(min(1.0, 0.05 * 2**attempt))
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    yield from_item(item)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                left = len(request.get(self._table, {}).get("Keys", []))
                raise MigrationError(
                    f"BatchGetItem on {self._table}: {left} key(s) still unprocessed after "
                    f"{BATCH_GET_ATTEMPTS} attempts (throttled); try again"
                )

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, page after page (the client's paginator)."""
        if self._page_size is not None:
            params["Limit"] = self._page_size
        for page in self._client.get_paginator("query").paginate(TableName=self._table, **params):
            for item in page.get("Items", []):
                yield from_item(item)

    # -- writes -----------------------------------------------------------------------

    def transition(
        self,
        entity_id: str,
        to_phase: Phase,
        *,
        expected_from: Phase | Collection[Phase | None] | None = None,
        expected_version: int | None = None,
        event_id: str | None = None,
        actor: str = "migration",
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
        head: Head | HeadRead | None = HeadRead.READ,
    ) -> Transition | None:
        """Move ``entity_id`` to ``to_phase``: update the head and append one history item.

        One TransactWriteItems: the head update is conditioned on the version just read
        (or on the head not existing yet) and the history put on its key being new, so of
        two writers starting from the same version exactly one wins; the other gets
        ConcurrentUpdateError and should re-read. ``expected_from`` limits the phases the
        entity may be in (None in the collection allows a new entity), else
        InvalidTransitionError. When ``event_id`` is given the write is idempotent per
        event: if the head already records that event nothing is written and None is
        returned. ``state`` replaces the head's controller state (``cutoverState``); None
        leaves it as it is (a rollback never touches the attempt counter). ``head``: the
        head the caller has just read (None: no head), to save reading it again; the write
        is conditioned on its version all the same.
        """
        if head is HeadRead.READ:
            head = self.current(entity_id)
        if event_id is not None and head is not None and head.last_event_id == event_id:
            return None
        self._check_expectations(entity_id, head, expected_from, expected_version)
        timestamp = self._next_timestamp(head)
        version = (head.version if head else 0) + 1
        history = {
            "serverId": entity_id,
            "timestamp": timestamp,
            "eventType": TRANSITION_EVENT,
            "migrationPhase": to_phase,
            "fromPhase": head.phase if head else None,
            "version": version,
            "eventId": event_id,
            "actor": actor,
            "reason": reason,
            "details": dict(details) if details else None,
        }
        head_update = self._head_update(
            entity_id, head, to_phase, version, timestamp, event_id, state
        )
        if not self._commit(entity_id, head, event_id, head_update, history):
            return None
        return Transition(
            entity_id=entity_id,
            from_phase=head.phase if head else None,
            to_phase=to_phase,
            version=version,
            timestamp=timestamp,
        )

    @staticmethod
    def _check_expectations(
        entity_id: str,
        head: Head | None,
        expected_from: Phase | Collection[Phase | None] | None,
        expected_version: int | None,
    ) -> None:
        """ConcurrentUpdateError / InvalidTransitionError unless the head is as expected."""
        if expected_version is not None and (head.version if head else 0) != expected_version:
            raise ConcurrentUpdateError(entity_id, expected_version)
        if expected_from is not None:
            allowed: set[Phase | None] = (
                {expected_from} if isinstance(expected_from, Phase) else set(expected_from)
            )
            if (head.phase if head else None) not in allowed:
                raise InvalidTransitionError(
                    entity_id, head.phase if head else None, {str(p) for p in allowed}
                )

    def _head_update(
        self,
        entity_id: str,
        head: Head | None,
        to_phase: Phase,
        version: int,
        timestamp: str,
        event_id: str | None,
        state: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The conditional Update of the head item (one of the transaction's two writes)."""
        names = {
            "#phase": "migrationPhase",
            "#version": "version",
            "#last": "lastEventAt",
            "#kind": "entityKind",
            "#eid": "lastEventId",
        }
        values: dict[str, Any] = {
            ":phase": to_phase,
            ":version": version,
            ":last": timestamp,
            ":kind": entity_kind(entity_id),
        }
        update = "SET #phase = :phase, #version = :version, #last = :last, #kind = :kind"
        if state is not None:
            update += ", #state = :state"
            names["#state"] = "cutoverState"
            values[":state"] = dict(state)
        if event_id is not None:
            update += ", #eid = :eid"
            values[":eid"] = event_id
        else:
            update += " REMOVE #eid"
        if head is None:
            condition = "attribute_not_exists(#pk)"
            names["#pk"] = "serverId"  # DynamoDB rejects unused attribute names
        else:
            condition = "#version = :expected"
            values[":expected"] = head.version
            if event_id is not None:
                condition += " AND (attribute_not_exists(#eid) OR #eid <> :eid)"
        return {
            "TableName": self._table,
            "Key": to_item({"serverId": entity_id, "timestamp": HEAD_TIMESTAMP}),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }

    def _commit(
        self,
        entity_id: str,
        head: Head | None,
        event_id: str | None,
        head_update: dict[str, Any],
        history: Mapping[str, Any],
    ) -> bool:
        """Write the head update and the history item in one transaction.

        False when the race was lost to a writer that recorded this very event (done).
        """
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Update": head_update},
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(history),
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": "serverId"},
                        }
                    },
                ]
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
            # Lost the race. If the winner recorded this very event, the work is done.
            if event_id is not None:
                latest = self.current(entity_id)
                if latest is not None and latest.last_event_id == event_id:
                    return False
            raise ConcurrentUpdateError(entity_id, head.version if head else 0) from exc
        return True

    def record_event(
        self,
        entity_id: str,
        event_type: str,
        *,
        at: datetime | None = None,
        phase: Phase | None = None,
        event_id: str | None = None,
        actor: str = "migration",
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> bool:
        """Append a history item that is not a phase transition (head untouched).

        With ``at`` (e.g. an alarm's state change time) the item key is deterministic and
        the write idempotent: a replay returns False and writes nothing. Without it the
        clock is used, bumped by a microsecond on a key collision. ``phase`` (optional)
        puts the item in the phase index; leave it off for events that are not about a
        phase.
        """
        fixed = at is not None
        moment = at if at is not None else self._clock()
        for _ in range(10):
            item = {
                "serverId": entity_id,
                "timestamp": iso_timestamp(moment),
                "eventType": event_type,
                "migrationPhase": phase,
                "eventId": event_id,
                "actor": actor,
                "reason": reason,
                "details": dict(details) if details else None,
            }
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item(item),
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": "serverId"},
                )
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                if fixed:
                    return False
                moment += timedelta(microseconds=1)
        raise ConcurrentUpdateError(entity_id, 0)

    # -- helpers ----------------------------------------------------------------------

    def _next_timestamp(self, head: Head | None) -> str:
        now = self._clock()
        if head is not None:
            floor = parse_timestamp(head.last_event_at) + timedelta(microseconds=1)
            now = max(now, floor)
        return iso_timestamp(now)

    @staticmethod
    def _head(item: Mapping[str, Any]) -> Head:
        return Head(
            entity_id=item["serverId"],
            phase=Phase(item["migrationPhase"]),
            version=int(item["version"]),
            last_event_at=item["lastEventAt"],
            last_event_id=item.get("lastEventId"),
            state=item.get("cutoverState") or {},
        )

    @staticmethod
    def _entry(item: Mapping[str, Any]) -> HistoryEntry:
        return HistoryEntry(
            entity_id=item["serverId"],
            timestamp=item["timestamp"],
            event_type=item.get("eventType", TRANSITION_EVENT),
            phase=_optional_phase(item.get("migrationPhase")),
            from_phase=_optional_phase(item.get("fromPhase")),
            version=int(item["version"]) if "version" in item else None,
            event_id=item.get("eventId"),
            actor=item.get("actor"),
            reason=item.get("reason"),
            details=item.get("details", {}),
        )
