"""The rollback ledger: each rollback event's idempotency record, in items of bounded size.

One event's ledger is one partition of the tracking table, ``serverId = "event#<key>"``:

* ``timestamp = "CURRENT"``, the header: status (PENDING, then COMPLETED), trigger, reason,
  alarm, request and alarm times, the claim id and chunk count, attempts, the last error
  (cut to 2,000 characters), the notification lease and the notification id. Nothing in
  it grows with the number of applications.
* ``timestamp = "chunk#<claim id>#<nnnn>"``: at most :data:`CHUNK_NAMES` applications,
  in name order. Written at the claim: the targets (on AWS) with their weights, the other
  targeted applications with theirs, unknown names, half record pairs. Then, per attempt,
  the outcome of each of its applications: done, pending, already rolled back by another
  event, left on-premises, rolled back again by the DNS re-check.
* ``timestamp = "batch#<accepted at>#<random>"``: one per accepted Route 53 change, with
  its change id, its applications and when Route 53 accepted it. A change holds at most
  250 applications (1,000 elements per request, a pair of one-value records counting 4 as
  UPSERTs). The key does not rely on change ids being unique (moto repeats one).
* ``timestamp = "insync#<change id>"``: when Route 53 reported that change INSYNC.

Size bound (DynamoDB refuses items over 400 KB; sizes by :mod:`migration.item_size`). A
name is a DNS name, at most 255 bytes. In a chunk each name appears at most four times
(its claim entry, two outcome lists, and an unknown or half-pair outcome), each time with
at most 64 bytes of weights, half-pair text and list/map overhead: at most 4 x 319 bytes
per name, 255 KB for 200 names, plus the fixed attributes. 200 names of 63 characters
take about 30 KB. A batch item is at most 250 x 256 bytes, 64 KB. The header is a few KB
(reason up to 1,024 characters, alarm name 255, last error 2,000).

The claim: the chunks are written first (in parallel) under a fresh claim id, then the
header is put on condition that none exists. The header is the commit point: of two
concurrent deliveries exactly one wins; the loser's chunks carry another claim id, which
every read ignores, and the loser deletes them. A crash before the header leaves only
such orphans, and the next delivery claims afresh.

Expiry. The chunks are the only ledger items that can be orphaned: the header is the
commit itself, and the batch and INSYNC items are written only under a committed header
(by whichever delivery runs the PENDING event), which every read includes. So each chunk
is written with ``expiresAt`` (epoch seconds, :data:`CLAIM_EXPIRY` after the claim), the
tracking table's Time To Live attribute, and the commit is one transaction: the header's
conditional put plus ``REMOVE expiresAt`` on each of the claim's chunks, conditional on
the chunk still being there. A committed ledger therefore never expires, and an orphan
(a crash or a failed chunk write before the commit, a loser whose delete failed) is
deleted by DynamoDB some time after its expiry. A chunk deleted before its commit would
cancel the commit, never commit a shorter list. Retries reuse no orphan: a delivery that
finds no header claims afresh under a new claim id, and one that finds a header (PENDING
or COMPLETED) reads only the committed chunks, which carry no expiry; so the expiry only
has to outlast one claim (chunk writes to commit: seconds, within one invocation of at
most 5 minutes). Seven days is far beyond that and beyond any redelivery of the same key
(the function's and its EventBridge triggers' retries stop at an event age of 1 hour; a
dead letter redriven later, its queue keeps 14 days, reuses no orphan either), and
leaves a crashed claim's chunks a week for an incident review. A transaction holds at
most 100 actions and 4 MB: chunks beyond that room (more than 99 chunks, about 19,800
applications, or very long names) lose their expiry just before the commit, so a crash
in that moment leaves them as permanent orphans, never a committed chunk that expires.
No other item of the tracking table (the migration history, the heads, the registry)
ever carries ``expiresAt``.

A ledger written by the earlier one-item format (everything in the header) is still
read, so a delivery after an upgrade finishes or reports it.

No ledger item has a ``migrationPhase``: the ledger stays out of the phase index.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from migration.errors import LedgerWriteError, MigrationError
from migration.item_size import item_size
from migration.parallel import WRITE_WORKERS, call_all
from migration.tracking import HEAD_TIMESTAMP, from_item, iso_timestamp, to_item, utc_now
from migration.traffic import AppliedBatch, Split

LOGGER = logging.getLogger(__name__)

EVENT_PREFIX = "event#"
CHUNK_PREFIX = "chunk#"
BATCH_PREFIX = "batch#"
INSYNC_PREFIX = "insync#"
PENDING = "PENDING"
COMPLETED = "COMPLETED"
ROLLBACK_EVENT_TYPE = "ROLLBACK"
CHUNK_EVENT_TYPE = "ROLLBACK_CHUNK"
BATCH_EVENT_TYPE = "ROLLBACK_BATCH"
INSYNC_EVENT_TYPE = "ROLLBACK_INSYNC"

CHUNK_NAMES = 200
"""Applications per chunk item: at most 255 KB even with 255-byte names (see the module)."""
MAX_ERROR_CHARS = 2000

EXPIRY_ATTRIBUTE = "expiresAt"
"""The tracking table's Time To Live attribute (epoch seconds; lib/tracking.py enables it).

Only a chunk of a claim that has not committed carries it (see "Expiry" in the module)."""
CLAIM_EXPIRY = timedelta(days=7)
"""How long an uncommitted claim's chunks live (see "Expiry" in the module)."""
TRANSACTION_ITEMS = 100
"""DynamoDB's limit of actions in one TransactWriteItems (the commit)."""
TRANSACTION_BYTES = 4_000_000
"""Our budget for the commit's aggregate item size: DynamoDB allows 4 MB "of the items"
in a transaction; counting the whole chunk items (not only the request) is the safe reading."""

# Per-application attributes of a chunk: written at the claim, and per attempt.
_CLAIM_MAPS = ("targets", "onPremisesWeights", "incompletePairs")


def event_item_id(key: str) -> str:
    """Partition key of the ledger items of event ``key``."""
    return f"{EVENT_PREFIX}{key}"


def weights(split: Split) -> dict[str, int]:
    """A split as stored: ``{"aws": .., "onPremises": ..}``."""
    return {"aws": split.aws, "onPremises": split.on_premises}


def _split(stored: Mapping[str, Any]) -> Split:
    return Split(aws=int(stored["aws"]), on_premises=int(stored["onPremises"]))


def _is_conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


@dataclass(frozen=True)
class LedgerStatus:
    """The header's status, notification id and lease expiry (one small read)."""

    status: str
    notification_id: str | None = None
    lease_until: str | None = None


@dataclass(frozen=True)
class LedgerRecord:
    """The idempotency record of one rollback event, assembled from its items.

    ``targets``: applications on AWS when the event was claimed, with their weights;
    ``on_premises_weights``: the other targeted applications and their weights;
    ``submitted_at`` / ``in_sync_at``: Route 53 change id -> ISO time accepted / INSYNC;
    ``chunks``: the applications of each chunk item, in order (where outcomes are stored).
    """

    key: str
    status: str
    trigger: str
    reason: str
    alarm_name: str | None
    targets: Mapping[str, Split]
    already_on_premises: tuple[str, ...]
    unknown_applications: tuple[str, ...]
    batches: tuple[AppliedBatch, ...]
    done: tuple[str, ...]
    notification_id: str | None
    on_premises_weights: Mapping[str, Split] = field(default_factory=dict)
    incomplete_pairs: Mapping[str, str] = field(default_factory=dict)
    already_rolled_back: tuple[str, ...] = ()
    dns_reapplied: tuple[str, ...] = ()
    alarm_changed_at: str | None = None
    requested_at: str | None = None
    submitted_at: Mapping[str, str] = field(default_factory=dict)
    in_sync_at: Mapping[str, str] = field(default_factory=dict)
    lease_until: str | None = None
    pending: tuple[str, ...] = ()
    claim_id: str = ""
    chunks: tuple[tuple[str, ...], ...] = ()
    attempts: int = 1
    last_error: str | None = None

    @property
    def change_id_by_application(self) -> dict[str, str]:
        """Application -> change id of the batch that rolled it back (earlier attempts)."""
        return {app: b.change_id for b in self.batches for app in b.applications}


@dataclass(frozen=True)
class LedgerOutcome:
    """What one attempt found for each application (stored in the chunks)."""

    done: Collection[str] = ()
    pending: Collection[str] = ()
    already_rolled_back: Collection[str] = ()
    already_on_premises: Collection[str] = ()
    dns_reapplied: Collection[str] = ()
    unknown_applications: Collection[str] = ()
    incomplete_pairs: Mapping[str, str] = field(default_factory=dict)

    def for_names(self, names: Collection[str]) -> dict[str, Any]:
        """The chunk attributes of ``names`` (sorted lists, and the half-pair map)."""
        lists = {
            "done": self.done,
            "pending": self.pending,
            "alreadyRolledBack": self.already_rolled_back,
            "alreadyOnPremises": self.already_on_premises,
            "dnsReapplied": self.dns_reapplied,
            "unknownApplications": self.unknown_applications,
        }
        chosen: dict[str, Any] = {
            attribute: sorted(set(values) & set(names)) for attribute, values in lists.items()
        }
        chosen["incompletePairs"] = {
            app: text for app, text in sorted(self.incomplete_pairs.items()) if app in names
        }
        return chosen


def pack_chunks(names: Iterable[str], size: int = CHUNK_NAMES) -> tuple[tuple[str, ...], ...]:
    """Names in sorted order, ``size`` per chunk (pure)."""
    ordered = sorted(set(names))
    return tuple(tuple(ordered[i : i + size]) for i in range(0, len(ordered), size))


def chunk_item(
    key: str,
    claim_id: str,
    number: int,
    names: Collection[str],
    *,
    targets: Mapping[str, Split],
    on_premises_weights: Mapping[str, Split],
    unknown_applications: Collection[str],
    incomplete_pairs: Mapping[str, str],
    created_at: str,
    expires_at: int | None = None,
) -> dict[str, Any]:
    """The claim-time chunk item of ``names`` (plain values; pure).

    ``expires_at`` (epoch seconds): the expiry of a chunk written before its claim commits.
    """
    item: dict[str, Any] = {
        "serverId": event_item_id(key),
        "timestamp": f"{CHUNK_PREFIX}{claim_id}#{number:04d}",
        "eventType": CHUNK_EVENT_TYPE,
        "claimId": claim_id,
        "chunk": number,
        "targets": {app: weights(targets[app]) for app in names if app in targets},
        "onPremisesWeights": {
            app: weights(on_premises_weights[app]) for app in names if app in on_premises_weights
        },
        "unknownApplications": [app for app in names if app in unknown_applications],
        "incompletePairs": {app: incomplete_pairs[app] for app in names if app in incomplete_pairs},
        "createdAt": created_at,
    }
    if expires_at is not None:
        item[EXPIRY_ATTRIBUTE] = expires_at
    return item


class RollbackLedger:
    """Reads and writes the ledger items ``event#<key>`` of the tracking table.

    ``workers`` bounds the parallel writes of the chunk items (see
    :data:`migration.parallel.WRITE_WORKERS`); ``chunk_names`` the applications per chunk.
    """

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        workers: int = WRITE_WORKERS,
        chunk_names: int = CHUNK_NAMES,
        logger: logging.Logger = LOGGER,
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._clock = clock
        self._workers = workers
        self._chunk_names = chunk_names
        self._log = logger

    def _key(self, key: str, sort_key: str = HEAD_TIMESTAMP) -> dict[str, Any]:
        return to_item({"serverId": event_item_id(key), "timestamp": sort_key})

    # -- reads ------------------------------------------------------------------------

    def status(self, key: str) -> LedgerStatus | None:
        """The header's status (strongly consistent, one small read), or None."""
        item = self._client.get_item(
            TableName=self._table, Key=self._key(key), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = from_item(item)
        return LedgerStatus(
            data["status"], data.get("notificationId"), data.get("notifyLeaseUntil")
        )

    def _partition(self, key: str) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": "serverId"},
            "ExpressionAttributeValues": to_item({":pk": event_item_id(key)}),
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**params)
            for item in page.get("Items", []):
                yield from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, key: str) -> LedgerRecord | None:
        """The whole record of ``key`` (one strongly consistent, paginated query), or None."""
        header: dict[str, Any] | None = None
        chunks: list[dict[str, Any]] = []
        batches: list[dict[str, Any]] = []
        in_sync: dict[str, str] = {}
        for item in self._partition(key):
            sort_key = str(item["timestamp"])
            if sort_key == HEAD_TIMESTAMP:
                header = item
            elif sort_key.startswith(BATCH_PREFIX):
                batches.append(item)
            elif sort_key.startswith(CHUNK_PREFIX):
                chunks.append(item)
            elif sort_key.startswith(INSYNC_PREFIX):
                in_sync[str(item["changeId"])] = str(item["inSyncAt"])
        if header is None:
            return None
        claim_id = str(header.get("claimId", ""))
        mine = sorted(
            (c for c in chunks if c.get("claimId", "") == claim_id),
            key=lambda c: str(c["timestamp"]),
        )
        if "claimId" in header and len(mine) != int(header.get("chunkCount", 0)):
            raise MigrationError(
                f"rollback {key}: the ledger has {len(mine)} of its "
                f"{header.get('chunkCount')} chunk items; restore them or reset the event"
            )
        return _record(key, header, mine, batches, in_sync)

    # -- the claim --------------------------------------------------------------------

    def claim(
        self,
        key: str,
        *,
        trigger: str,
        reason: str,
        alarm_name: str | None,
        requested: tuple[str, ...] | None,
        targets: Mapping[str, Split],
        on_premises_weights: Mapping[str, Split] | None = None,
        unknown_applications: Iterable[str] = (),
        incomplete_pairs: Mapping[str, str] | None = None,
        alarm_changed_at: str | None = None,
        requested_at: str | None = None,
    ) -> LedgerRecord | None:
        """Store the target list and the PENDING header; None if another delivery was first.

        Raises LedgerWriteError (nothing claimed) when a chunk could not be written or the
        commit failed for another reason than a committed header; the chunks written by
        then expire (see "Expiry" in the module).
        """
        moment = self._clock()
        now = iso_timestamp(moment)
        expires_at = int((moment + CLAIM_EXPIRY).timestamp())
        quiet = dict(on_premises_weights or {})
        unknown = tuple(sorted(set(unknown_applications)))
        incomplete = dict(sorted((incomplete_pairs or {}).items()))
        chunks = pack_chunks([*targets, *quiet, *unknown, *incomplete], self._chunk_names)
        claim_id = uuid.uuid4().hex[:12]
        items = [
            chunk_item(
                key,
                claim_id,
                number,
                names,
                targets=targets,
                on_premises_weights=quiet,
                unknown_applications=unknown,
                incomplete_pairs=incomplete,
                created_at=now,
                expires_at=expires_at,
            )
            for number, names in enumerate(chunks)
        ]
        written = call_all(self._put, items, workers=self._workers)
        self._raise_failures(key, written, lambda item: str(item["timestamp"]))
        header = {
            "serverId": event_item_id(key),
            "timestamp": HEAD_TIMESTAMP,
            "eventType": ROLLBACK_EVENT_TYPE,
            "status": PENDING,
            "trigger": trigger,
            "reason": reason,
            "alarmName": alarm_name,
            "requestedAll": requested is None,
            "requestedCount": None if requested is None else len(requested),
            "claimId": claim_id,
            "chunkCount": len(chunks),
            "targetCount": len(targets),
            "alarmChangedAt": alarm_changed_at,
            "requestedAt": requested_at or now,
            "attempts": 1,
            "createdAt": now,
            "updatedAt": now,
        }
        if not self._commit(key, header, items):
            return None
        return LedgerRecord(
            key=key,
            status=PENDING,
            trigger=trigger,
            reason=reason,
            alarm_name=alarm_name,
            targets=dict(targets),
            already_on_premises=tuple(sorted(quiet)),
            unknown_applications=unknown,
            batches=(),
            done=(),
            notification_id=None,
            on_premises_weights=quiet,
            incomplete_pairs=incomplete,
            alarm_changed_at=alarm_changed_at,
            requested_at=requested_at or now,
            pending=tuple(sorted(targets)),
            claim_id=claim_id,
            chunks=chunks,
        )

    def _commit(
        self, key: str, header: Mapping[str, Any], chunks: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Put the header if none exists and make this claim's chunks permanent, atomically.

        One transaction: the conditional put of the header and, on each chunk it has room
        for, ``REMOVE expiresAt`` on condition that the chunk is still this claim's (so a
        chunk gone meanwhile cancels the commit instead of being committed missing). The
        chunks beyond its room (more than 99, or over the size budget) lose their expiry
        just before it. False if another claim committed first (this one's chunks are
        deleted); LedgerWriteError if the commit failed otherwise (nothing committed). A
        cancellation by this very claim's header (an SDK retry of a commit that went
        through, its response lost) is a success, not a loss.
        """
        inside, outside = _commit_split(header, chunks)
        sort_keys = [str(chunk["timestamp"]) for chunk in chunks]
        cleared = call_all(
            lambda sort_key: self._client.update_item(**self._keep_update(key, sort_key)),
            [str(chunk["timestamp"]) for chunk in outside],
            workers=self._workers,
        )
        if any(result.error is not None for result in cleared):
            self._discard(key, sort_keys)  # nothing committed: leave no permanent orphan
        self._raise_failures(key, cleared, str)
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(header),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": "serverId"},
                }
            },
            *({"Update": self._keep_update(key, str(c["timestamp"]))} for c in inside),
        ]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
            winner = self._claim_id(key)
            if winner == header["claimId"]:
                return True  # the SDK retried a commit whose first attempt went through
            self._discard(key, sort_keys)
            if winner is None:
                # Cancelled, yet no header: a chunk vanished or a conflict; retry afresh.
                raise LedgerWriteError(key, (HEAD_TIMESTAMP,), (exc,)) from exc
            return False
        return True

    def _claim_id(self, key: str) -> str | None:
        """The committed header's claim id ("" for the one-item format), or None."""
        item = self._client.get_item(
            TableName=self._table,
            Key=self._key(key),
            ConsistentRead=True,
            ProjectionExpression="#pk, #claim",
            ExpressionAttributeNames={"#pk": "serverId", "#claim": "claimId"},
        ).get("Item")
        return None if item is None else str(from_item(item).get("claimId", ""))

    def _keep_update(self, key: str, sort_key: str) -> dict[str, Any]:
        """The Update making chunk ``sort_key`` of ``key`` permanent, if it is still there."""
        claim_id = sort_key.removeprefix(CHUNK_PREFIX).split("#")[0]
        return {
            "TableName": self._table,
            "Key": self._key(key, sort_key),
            "UpdateExpression": "REMOVE #expires",
            "ConditionExpression": "#claim = :claim",
            "ExpressionAttributeNames": {"#expires": EXPIRY_ATTRIBUTE, "#claim": "claimId"},
            "ExpressionAttributeValues": to_item({":claim": claim_id}),
        }

    def _put(self, item: Mapping[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item=to_item(item))

    def _discard(self, key: str, sort_keys: Sequence[str]) -> None:
        """Delete a lost claim's chunks; they are unreferenced, so a failure is only logged."""

        def delete(sort_key: str) -> None:
            self._client.delete_item(TableName=self._table, Key=self._key(key, sort_key))

        for result in call_all(delete, sort_keys, workers=self._workers):
            if result.error is not None:
                self._log.warning(
                    "rollback %s: unreferenced ledger item %s not deleted: %s",
                    key,
                    result.item,
                    result.error,
                )

    def _raise_failures(self, key: str, results: Sequence[Any], name: Callable[[Any], str]) -> None:
        failed = [r for r in results if r.error is not None]
        if failed:
            raise LedgerWriteError(
                key, tuple(name(r.item) for r in failed), tuple(r.error for r in failed)
            ) from failed[0].error

    # -- progress ---------------------------------------------------------------------

    def add_batches(
        self, key: str, batches: Sequence[AppliedBatch], submitted_at: Mapping[str, str]
    ) -> None:
        """One item per accepted Route 53 change (in parallel); LedgerWriteError on failure."""
        now = iso_timestamp(self._clock())
        items = [
            {
                "serverId": event_item_id(key),
                "timestamp": f"{BATCH_PREFIX}{submitted_at.get(batch.change_id, now)}"
                f"#{uuid.uuid4().hex[:8]}",
                "eventType": BATCH_EVENT_TYPE,
                "changeId": batch.change_id,
                "applications": list(batch.applications),
                "submittedAt": submitted_at.get(batch.change_id),
                "createdAt": now,
            }
            for batch in batches
        ]
        written = call_all(self._put, items, workers=self._workers)
        self._raise_failures(key, written, lambda item: str(item["timestamp"]))

    def record_in_sync(self, key: str, change_id: str, at: str) -> None:
        """Remember when Route 53 reported change ``change_id`` INSYNC."""
        self._put(
            {
                "serverId": event_item_id(key),
                "timestamp": f"{INSYNC_PREFIX}{change_id}",
                "eventType": INSYNC_EVENT_TYPE,
                "changeId": change_id,
                "inSyncAt": at,
            }
        )

    def record_outcome(self, record: LedgerRecord, outcome: LedgerOutcome) -> None:
        """Store each application's outcome in its chunk (in parallel); LedgerWriteError."""
        now = iso_timestamp(self._clock())
        prefix = f"{CHUNK_PREFIX}{record.claim_id}#"

        def update(numbered: tuple[int, tuple[str, ...]]) -> None:
            number, names = numbered
            values = outcome.for_names(names)
            attributes = sorted(values)
            names_map = {f"#a{i}": attribute for i, attribute in enumerate(attributes)}
            self._client.update_item(
                TableName=self._table,
                Key=self._key(record.key, f"{prefix}{number:04d}"),
                UpdateExpression="SET #updatedAt = :updatedAt, "
                + ", ".join(f"#a{i} = :a{i}" for i in range(len(attributes))),
                ExpressionAttributeNames={**names_map, "#updatedAt": "updatedAt"},
                ExpressionAttributeValues=to_item(
                    {
                        **{f":a{i}": values[a] for i, a in enumerate(attributes)},
                        ":updatedAt": now,
                    }
                ),
            )

        written = call_all(update, list(enumerate(record.chunks)), workers=self._workers)
        self._raise_failures(record.key, written, lambda numbered: f"{prefix}{numbered[0]:04d}")

    def record_error(self, key: str, error: str) -> None:
        """Note why an attempt is incomplete on the header; the status stays PENDING."""
        self._update(
            key,
            "SET #error = :error ADD #attempts :one",
            {"#error": "lastError", "#attempts": "attempts"},
            {":error": error[:MAX_ERROR_CHARS], ":one": 1},
        )

    # -- the notification lease and completion ----------------------------------------

    def lease_notification(self, key: str, owner: str, *, now: datetime, until: datetime) -> bool:
        """Take the notification lease of a PENDING event; False if someone holds it.

        A lease whose expiry has passed counts as free: its holder crashed before it
        published or released it.
        """
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(key),
                UpdateExpression="SET #owner = :owner, #until = :until, #updatedAt = :now",
                ConditionExpression=(
                    "#status = :pending AND (attribute_not_exists(#until) OR #until < :now)"
                ),
                ExpressionAttributeNames={
                    "#owner": "notifyLeaseOwner",
                    "#until": "notifyLeaseUntil",
                    "#status": "status",
                    "#updatedAt": "updatedAt",
                },
                ExpressionAttributeValues=to_item(
                    {
                        ":owner": owner,
                        ":until": iso_timestamp(until),
                        ":now": iso_timestamp(now),
                        ":pending": PENDING,
                    }
                ),
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def release_notification(self, key: str, owner: str) -> None:
        """Give the notification lease up (only if ``owner`` still holds it)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(key),
                UpdateExpression="REMOVE #owner, #until",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={
                    "#owner": "notifyLeaseOwner",
                    "#until": "notifyLeaseUntil",
                },
                ExpressionAttributeValues=to_item({":owner": owner}),
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise

    def complete(self, key: str, *, notification_id: str | None) -> None:
        """Mark the event COMPLETED (later deliveries become duplicates).

        The outcome is in the chunks already (:meth:`record_outcome`);
        ``notification_id`` is None when there was nothing to notify.
        """
        names = {"#status": "status", "#completedAt": "completedAt"}
        values: dict[str, Any] = {":completed": COMPLETED, ":now": iso_timestamp(self._clock())}
        sets = "#status = :completed, #completedAt = :now"
        if notification_id is not None:
            sets += ", #nid = :nid"
            names["#nid"] = "notificationId"
            values[":nid"] = notification_id
        self._update(
            key,
            f"SET {sets} REMOVE #error, #owner, #until",
            {
                **names,
                "#error": "lastError",
                "#owner": "notifyLeaseOwner",
                "#until": "notifyLeaseUntil",
            },
            values,
        )

    def _update(
        self, key: str, expression: str, names: dict[str, str], values: dict[str, Any]
    ) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._key(key),
            UpdateExpression=expression.replace("SET ", "SET #updatedAt = :updatedAt, ", 1),
            ExpressionAttributeNames={**names, "#updatedAt": "updatedAt"},
            ExpressionAttributeValues=to_item(
                {**values, ":updatedAt": iso_timestamp(self._clock())}
            ),
        )


def _commit_split(
    header: Mapping[str, Any], chunks: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The chunks the commit transaction has room for, and the rest (pure).

    Room: :data:`TRANSACTION_ITEMS` actions (the header's put is one) and
    :data:`TRANSACTION_BYTES` of items (the header and the whole chunk items).
    """
    budget = TRANSACTION_BYTES - item_size(to_item(dict(header)))
    inside: list[Mapping[str, Any]] = []
    for number, chunk in enumerate(chunks):
        budget -= item_size(to_item(dict(chunk)))
        if number + 1 >= TRANSACTION_ITEMS or budget < 0:
            return inside, list(chunks[number:])
        inside.append(chunk)
    return inside, []


def _record(
    key: str,
    header: Mapping[str, Any],
    chunks: Sequence[Mapping[str, Any]],
    batch_items: Sequence[Mapping[str, Any]],
    in_sync_items: Mapping[str, str],
) -> LedgerRecord:
    """A LedgerRecord from the header, its chunks, batch and INSYNC items (pure).

    Per-application attributes are the union over the chunks; a header of the earlier
    one-item format holds them itself (an outcome in a chunk supersedes its copy).
    """

    def sources(attribute: str) -> list[Mapping[str, Any]]:
        stored = [c for c in chunks if attribute in c]
        return stored or ([header] if attribute in header else [])

    def union(attribute: str) -> list[Any]:
        return [value for source in sources(attribute) for value in source[attribute]]

    def merged(attribute: str) -> dict[str, Any]:
        return {k: v for source in sources(attribute) for k, v in source[attribute].items()}

    batches = list(header.get("batches", [])) + sorted(
        batch_items, key=lambda b: str(b["timestamp"])
    )
    in_sync = {**header.get("inSync", {}), **in_sync_items}
    chunk_names = tuple(
        tuple(
            sorted(
                {name for attribute in _CLAIM_MAPS for name in c.get(attribute, {})}
                | set(c.get("unknownApplications", []))
            )
        )
        for c in chunks
    )
    on_premises = merged("onPremisesWeights")
    # Until an attempt stored its outcome, the applications left on-premises are the
    # claimed ones at aws=0.
    left = union("alreadyOnPremises") if sources("alreadyOnPremises") else list(on_premises)
    return LedgerRecord(
        key=key,
        status=header["status"],
        trigger=header.get("trigger", ""),
        reason=header.get("reason", ""),
        alarm_name=header.get("alarmName"),
        targets={app: _split(w) for app, w in merged("targets").items()},
        already_on_premises=tuple(sorted(left)),
        unknown_applications=tuple(sorted(union("unknownApplications"))),
        batches=tuple(
            AppliedBatch(str(b["changeId"]), tuple(b.get("applications", [])))
            for b in batches
            if "changeId" in b
        ),
        done=tuple(sorted(union("done"))),
        notification_id=header.get("notificationId"),
        on_premises_weights={app: _split(w) for app, w in on_premises.items()},
        incomplete_pairs=dict(sorted(merged("incompletePairs").items())),
        already_rolled_back=tuple(sorted(union("alreadyRolledBack"))),
        dns_reapplied=tuple(sorted(union("dnsReapplied"))),
        alarm_changed_at=header.get("alarmChangedAt"),
        requested_at=header.get("requestedAt"),
        submitted_at={
            str(b["changeId"]): str(b["submittedAt"])
            for b in batches
            if "changeId" in b and b.get("submittedAt")
        },
        in_sync_at=in_sync,
        lease_until=header.get("notifyLeaseUntil"),
        pending=tuple(sorted(union("pending"))),
        claim_id=str(header.get("claimId", "")),
        chunks=chunk_names,
        attempts=int(header.get("attempts", 1)),
        last_error=header.get("lastError"),
    )
