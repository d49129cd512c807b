"""Rollback: send targeted applications back to 100 % on-premises, once per event.

Order of work, fastest safety first: (1) DNS, in the fewest atomic Route 53 batches;
(2) one ROLLED_BACK tracking item per application that was on AWS; (3) one SNS summary.

Idempotency. Each event has a key (see :mod:`migration.events`). The first delivery
claims it with a conditional put of a ledger item ``serverId = "event#<key>"``,
``timestamp = "CURRENT"``, status PENDING, holding the target list computed once (the
applications that were on AWS and their weights). A later delivery of the same event:

* COMPLETED -> returns a "duplicate" result; no DNS, tracking or SNS call;
* PENDING (an earlier attempt failed part-way) -> reuses the stored target list,
  re-applies the idempotent UPSERT only to targets not yet rolled back, writes only the
  missing tracking items (the head records the event id, checked atomically in the
  transition), publishes, then marks COMPLETED.

The SNS message is published before the ledger is marked COMPLETED: a crash exactly
between the two repeats the message on retry, which we prefer to losing it. The ledger
item has no ``migrationPhase``, so it stays out of the phase index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from migration.errors import (
    ChangeNotInSyncError,
    ConcurrentUpdateError,
    PartialRollbackError,
    PartialShiftError,
    RetryBudgetExhaustedError,
    UnknownApplicationError,
)
from migration.events import AlarmEvent, AlarmState, RollbackCommand, normalise_applications
from migration.notify import Notifier
from migration.tracking import (
    HEAD_TIMESTAMP,
    Phase,
    TrackingStore,
    alarm_id,
    app_id,
    from_item,
    iso_timestamp,
    to_item,
    utc_now,
)
from migration.traffic import (
    ROLLED_BACK,
    ApplicationRecords,
    AppliedBatch,
    Split,
    TrafficShifter,
)

LOGGER = logging.getLogger(__name__)

EVENT_PREFIX = "event#"
PENDING = "PENDING"
COMPLETED = "COMPLETED"
ROLLBACK_EVENT_TYPE = "ROLLBACK"
ALARM_STATE_EVENT_TYPE = "ALARM_STATE_CHANGE"


def event_item_id(key: str) -> str:
    """Partition key of the ledger item of event ``key``."""
    return f"{EVENT_PREFIX}{key}"


def _weights(split: Split) -> dict[str, int]:
    return {"aws": split.aws, "onPremises": split.on_premises}


@dataclass(frozen=True)
class LedgerRecord:
    """The idempotency record of one rollback event."""

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

    @property
    def change_id_by_application(self) -> dict[str, str]:
        """Application -> change id of the batch that rolled it back (earlier attempts)."""
        return {app: b.change_id for b in self.batches for app in b.applications}


class RollbackLedger:
    """Reads and writes the ledger items ``event#<key>`` / ``CURRENT`` of the tracking table."""

    def __init__(
        self, dynamodb_client: Any, table_name: str, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._clock = clock

    def _key(self, key: str) -> dict[str, Any]:
        return to_item({"serverId": event_item_id(key), "timestamp": HEAD_TIMESTAMP})

    def get(self, key: str) -> LedgerRecord | None:
        """The ledger record of ``key`` (strongly consistent), or None."""
        item = self._client.get_item(
            TableName=self._table, Key=self._key(key), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = from_item(item)
        return LedgerRecord(
            key=key,
            status=data["status"],
            trigger=data.get("trigger", ""),
            reason=data.get("reason", ""),
            alarm_name=data.get("alarmName"),
            targets={
                app: Split(aws=int(w["aws"]), on_premises=int(w["onPremises"]))
                for app, w in data.get("targets", {}).items()
            },
            already_on_premises=tuple(data.get("alreadyOnPremises", [])),
            unknown_applications=tuple(data.get("unknownApplications", [])),
            batches=tuple(
                AppliedBatch(change_id=b["changeId"], applications=tuple(b["applications"]))
                for b in data.get("batches", [])
            ),
            done=tuple(data.get("done", [])),
            notification_id=data.get("notificationId"),
        )

    def claim(
        self,
        key: str,
        *,
        trigger: str,
        reason: str,
        alarm_name: str | None,
        requested: tuple[str, ...] | None,
        targets: Mapping[str, Split],
        already_on_premises: Iterable[str],
        unknown_applications: Iterable[str],
    ) -> bool:
        """Create the PENDING record; False when another delivery claimed ``key`` first."""
        now = iso_timestamp(self._clock())
        item = {
            "serverId": event_item_id(key),
            "timestamp": HEAD_TIMESTAMP,
            "eventType": ROLLBACK_EVENT_TYPE,
            "status": PENDING,
            "trigger": trigger,
            "reason": reason,
            "alarmName": alarm_name,
            "requestedApplications": "all" if requested is None else list(requested),
            "targets": {app: _weights(split) for app, split in sorted(targets.items())},
            "alreadyOnPremises": sorted(already_on_premises),
            "unknownApplications": sorted(unknown_applications),
            "batches": [],
            "done": [],
            "pending": sorted(targets),
            "attempts": 1,
            "createdAt": now,
            "updatedAt": now,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": "serverId"},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def add_batch(self, key: str, batch: AppliedBatch) -> None:
        """Append an accepted Route 53 batch (change id and its applications)."""
        self._update(
            key,
            "SET #batches = list_append(if_not_exists(#batches, :empty), :batch)",
            {"#batches": "batches"},
            {
                ":empty": [],
                ":batch": [{"changeId": batch.change_id, "applications": list(batch.applications)}],
            },
        )

    def record_progress(
        self, key: str, *, done: Iterable[str], pending: Iterable[str], error: str
    ) -> None:
        """Store what an incomplete attempt achieved; the status stays PENDING."""
        self._update(
            key,
            "SET #done = :done, #pending = :pending, #error = :error ADD #attempts :one",
            {
                "#done": "done",
                "#pending": "pending",
                "#error": "lastError",
                "#attempts": "attempts",
            },
            {":done": sorted(done), ":pending": sorted(pending), ":error": error[:2000], ":one": 1},
        )

    def complete(self, key: str, *, done: Iterable[str], notification_id: str) -> None:
        """Mark the event COMPLETED (later deliveries become duplicates)."""
        self._update(
            key,
            "SET #status = :completed, #done = :done, #pending = :none, #nid = :nid, "
            "#completedAt = :now REMOVE #error",
            {
                "#status": "status",
                "#done": "done",
                "#pending": "pending",
                "#nid": "notificationId",
                "#completedAt": "completedAt",
                "#error": "lastError",
            },
            {
                ":completed": COMPLETED,
                ":done": sorted(done),
                ":none": [],
                ":nid": notification_id,
                ":now": iso_timestamp(self._clock()),
            },
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


@dataclass(frozen=True)
class RolledBackApplication:
    """One application moved back on-premises, with the weights it had before."""

    application: str
    previous: Split
    change_id: str | None


@dataclass(frozen=True)
class RollbackResult:
    """Outcome of handling one event; ``to_dict`` is the Lambda's JSON response.

    ``status``: ``rolled_back``, ``nothing_to_roll_back``, ``duplicate`` (event already
    handled) or ``ignored`` (alarm state other than ALARM, recorded only).
    """

    status: str
    event_key: str
    trigger: str
    reason: str = ""
    alarm_name: str | None = None
    alarm_state: str | None = None
    rolled_back: tuple[RolledBackApplication, ...] = ()
    already_on_premises: tuple[str, ...] = ()
    unknown_applications: tuple[str, ...] = ()
    notification_id: str | None = None
    in_sync: bool | None = None

    @property
    def change_ids(self) -> tuple[str, ...]:
        """Distinct Route 53 change ids, in order of first use."""
        return tuple(dict.fromkeys(r.change_id for r in self.rolled_back if r.change_id))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return {
            "status": self.status,
            "eventKey": self.event_key,
            "trigger": self.trigger,
            "reason": self.reason,
            "alarmName": self.alarm_name,
            "alarmState": self.alarm_state,
            "rolledBack": [
                {
                    "application": r.application,
                    "previousWeights": _weights(r.previous),
                    "changeId": r.change_id,
                }
                for r in self.rolled_back
            ],
            "alreadyOnPremises": list(self.already_on_premises),
            "unknownApplications": list(self.unknown_applications),
            "changeIds": list(self.change_ids),
            "notificationId": self.notification_id,
            "inSync": self.in_sync,
        }


@dataclass(frozen=True)
class _Request:
    key: str
    trigger: str
    reason: str
    alarm_name: str | None
    applications: tuple[str, ...] | None
    strict: bool


class RollbackService:
    """Handles a parsed event: records alarm states, or rolls back exactly once.

    ``alarm_applications`` maps alarm names to applications (None or absent = all).
    Application names are normalised (stripped, lowercase) wherever they come from, so a
    request for ``ORDERS`` rolls back and records the application ``orders``.
    Unknown applications: a direct request naming one fails with UnknownApplicationError
    before anything changes; for an alarm the known applications are still rolled back
    (a configuration typo must not block an emergency rollback) and the unknown ones are
    reported in the result and the SNS message.
    """

    def __init__(
        self,
        shifter: TrafficShifter,
        tracking: TrackingStore,
        ledger: RollbackLedger,
        notifier: Notifier,
        *,
        alarm_applications: Mapping[str, tuple[str, ...] | None] | None = None,
        wait_for_insync: bool = False,
        actor: str = "rollback",
        max_transition_attempts: int = 20,
        logger: logging.Logger = LOGGER,
    ) -> None:
        self._shifter = shifter
        self._tracking = tracking
        self._ledger = ledger
        self._notifier = notifier
        self._alarm_applications = {
            alarm: None if apps is None else normalise_applications(apps)
            for alarm, apps in (alarm_applications or {}).items()
        }
        self._wait = wait_for_insync
        self._actor = actor
        self._max_transition_attempts = max_transition_attempts
        self._log = logger

    def handle(self, trigger: AlarmEvent | RollbackCommand) -> RollbackResult:
        """Handle one event; raises PartialRollbackError if only part of the work was done."""
        if isinstance(trigger, AlarmEvent) and trigger.state is not AlarmState.ALARM:
            return self._record_alarm_state(trigger)
        request = self._request(trigger)
        record = self._ledger.get(request.key)
        current: Mapping[str, ApplicationRecords] = {}
        if record is None:
            record, current = self._claim(request)
        if record.status == COMPLETED:
            return self._duplicate(record)
        return self._execute(record, current, alarm_state=request.trigger == "alarm")

    # -- steps ------------------------------------------------------------------------

    def _record_alarm_state(self, event: AlarmEvent) -> RollbackResult:
        key = event.idempotency_key
        self._tracking.record_event(
            alarm_id(event.alarm_name),
            ALARM_STATE_EVENT_TYPE,
            at=event.state_changed_at,
            event_id=key,
            actor=self._actor,
            reason=event.reason or None,
            details={
                "state": event.state.value,
                "previousState": event.previous_state,
                "channel": event.channel,
                "deliveryId": event.delivery_id or None,
            },
        )
        return RollbackResult(
            status="ignored",
            event_key=key,
            trigger="alarm",
            reason=event.reason,
            alarm_name=event.alarm_name,
            alarm_state=event.state.value,
        )

    def _request(self, trigger: AlarmEvent | RollbackCommand) -> _Request:
        if isinstance(trigger, AlarmEvent):
            return _Request(
                key=trigger.idempotency_key,
                trigger="alarm",
                reason=trigger.reason or f"alarm {trigger.alarm_name} in ALARM",
                alarm_name=trigger.alarm_name,
                applications=self._alarm_applications.get(trigger.alarm_name),
                strict=False,
            )
        return _Request(
            key=trigger.idempotency_key,
            trigger="direct",
            reason=trigger.reason,
            alarm_name=None,
            applications=(
                None
                if trigger.applications is None
                else normalise_applications(trigger.applications)
            ),
            strict=True,
        )

    def _claim(self, request: _Request) -> tuple[LedgerRecord, Mapping[str, ApplicationRecords]]:
        """Compute the target list once and store it; nothing is written if a name is unknown.

        Returns the stored record and the records just read (to save a second listing).
        """
        unknown: tuple[str, ...] = ()
        if request.applications is None:
            current = self._shifter.read()
        else:
            try:
                current = self._shifter.read(request.applications)
            except UnknownApplicationError as exc:
                if request.strict:
                    raise
                unknown = exc.applications
                self._log.warning(
                    "alarm %s targets unknown applications: %s",
                    request.alarm_name,
                    ", ".join(unknown),
                )
                known = [app for app in request.applications if app not in unknown]
                current = self._shifter.read(known) if known else {}
        targets = {app: recs.split for app, recs in current.items() if recs.split.reaches_aws}
        self._ledger.claim(
            request.key,
            trigger=request.trigger,
            reason=request.reason,
            alarm_name=request.alarm_name,
            requested=request.applications,
            targets=targets,
            already_on_premises=[app for app in current if app not in targets],
            unknown_applications=unknown,
        )
        # Whether we or a concurrent delivery won the claim, the stored record rules.
        record = self._ledger.get(request.key)
        if record is None:  # pragma: no cover - the put above succeeded or found the item
            raise ConcurrentUpdateError(event_item_id(request.key), 0)
        return record, current

    def _execute(
        self,
        record: LedgerRecord,
        fresh: Mapping[str, ApplicationRecords],
        *,
        alarm_state: bool,
    ) -> RollbackResult:
        key = record.key
        vanished: tuple[str, ...] = ()
        try:
            if all(app in fresh for app in record.targets):
                current = {app: fresh[app] for app in record.targets}
            else:
                current = self._shifter.read(record.targets)
        except UnknownApplicationError as exc:
            # Records deleted since the claim send no traffic anywhere; report, skip.
            vanished = exc.applications
            rest = [app for app in record.targets if app not in vanished]
            current = self._shifter.read(rest) if rest else {}
        need = {app: ROLLED_BACK for app, recs in current.items() if recs.split != ROLLED_BACK}
        failed: set[str] = set()
        errors: list[str] = []
        change_ids = record.change_id_by_application
        applied: list[AppliedBatch] = []
        try:
            shift = self._shifter.set_split(
                need,
                current=current,
                stop_on_error=False,
                comment=f"rollback {key}",
                on_batch_applied=lambda batch: self._remember_batch(key, batch, applied),
            )
        except PartialShiftError as exc:
            failed = set(exc.failed) | set(exc.not_attempted)
            errors.append(str(exc))
            self._log.error("rollback %s: DNS partly failed: %s", key, exc)
        else:
            applied = list(shift.batches)
        for batch in applied:
            change_ids.update(dict.fromkeys(batch.applications, batch.change_id))
        in_sync = self._wait_for_insync([b.change_id for b in applied]) if self._wait else None

        done: list[str] = []
        pending: list[str] = sorted(failed)
        for app in sorted(current):
            if app in failed:
                continue
            try:
                self._track(record, app, change_ids.get(app))
            except (ConcurrentUpdateError, ClientError) as exc:
                pending.append(app)
                errors.append(f"tracking {app}: {exc}")
            else:
                done.append(app)
        if pending:
            self._ledger.record_progress(key, done=done, pending=pending, error="; ".join(errors))
            raise PartialRollbackError(key, tuple(done), tuple(sorted(pending)))

        result = RollbackResult(
            status="rolled_back" if done else "nothing_to_roll_back",
            event_key=key,
            trigger=record.trigger,
            reason=record.reason,
            alarm_name=record.alarm_name,
            alarm_state=AlarmState.ALARM.value if alarm_state else None,
            rolled_back=tuple(
                RolledBackApplication(app, record.targets[app], change_ids.get(app)) for app in done
            ),
            already_on_premises=record.already_on_premises,
            unknown_applications=tuple(sorted(set(record.unknown_applications) | set(vanished))),
            in_sync=in_sync,
        )
        subject, body = summarise(result)
        try:
            notification_id = self._notifier.publish(subject, body)
        except ClientError as exc:
            # Everything else is done; the retry only publishes (nothing to re-apply).
            self._ledger.record_progress(
                key, done=done, pending=[], error=f"notification not sent: {exc}"
            )
            raise
        self._ledger.complete(key, done=done, notification_id=notification_id)
        return replace(result, notification_id=notification_id)

    def _remember_batch(self, key: str, batch: AppliedBatch, applied: list[AppliedBatch]) -> None:
        applied.append(batch)
        try:
            self._ledger.add_batch(key, batch)
        except ClientError as exc:
            # The ledger's batch list is bookkeeping; never stop a rollback for it.
            self._log.warning(
                "rollback %s: could not record batch %s: %s", key, batch.change_id, exc
            )

    def _wait_for_insync(self, change_ids: list[str]) -> bool:
        if not change_ids:
            return True
        try:
            self._shifter.wait_for_insync(change_ids)
        except (ChangeNotInSyncError, RetryBudgetExhaustedError, ClientError) as exc:
            # The changes are accepted and will propagate; not knowing when is no failure.
            self._log.warning("rollback: INSYNC not confirmed: %s", exc)
            return False
        return True

    def _track(self, record: LedgerRecord, app: str, change_id: str | None) -> None:
        """Write the ROLLED_BACK item of ``app`` once for this event; rollback always wins."""
        details = {
            "previousWeights": _weights(record.targets[app]),
            "weights": _weights(ROLLED_BACK),
            "changeId": change_id,
            "alarmName": record.alarm_name,
            "trigger": record.trigger,
        }
        for _attempt in range(self._max_transition_attempts):
            try:
                self._tracking.transition(
                    app_id(app),
                    Phase.ROLLED_BACK,
                    event_id=record.key,
                    actor=self._actor,
                    reason=record.reason,
                    details={k: v for k, v in details.items() if v is not None},
                )
                return
            except ConcurrentUpdateError:
                # Someone moved the entity meanwhile; re-read and write over it.
                continue
        raise ConcurrentUpdateError(app_id(app), -1)

    def _duplicate(self, record: LedgerRecord) -> RollbackResult:
        change_ids = record.change_id_by_application
        return RollbackResult(
            status="duplicate",
            event_key=record.key,
            trigger=record.trigger,
            reason=record.reason,
            alarm_name=record.alarm_name,
            rolled_back=tuple(
                RolledBackApplication(app, record.targets[app], change_ids.get(app))
                for app in record.done
                if app in record.targets
            ),
            already_on_premises=record.already_on_premises,
            unknown_applications=record.unknown_applications,
            notification_id=record.notification_id,
        )


def summarise(result: RollbackResult) -> tuple[str, str]:
    """Subject and body of the operators' SNS message for ``result``."""
    source = f" (alarm {result.alarm_name})" if result.alarm_name else ""
    count = len(result.rolled_back)
    if count:
        subject = f"Rollback: {count} application(s) back to 100% on-premises{source}"
    else:
        subject = f"Rollback: nothing was on AWS{source}"
    lines = [
        f"Rollback {result.event_key}",
        f"Trigger: {'alarm ' + result.alarm_name if result.alarm_name else 'direct request'}",
        f"Reason: {result.reason}",
        "",
        f"Rolled back to aws=0 / on-premises=100 ({count}):",
    ]
    lines += [
        f"  {r.application}: was aws={r.previous.aws} on-premises={r.previous.on_premises}"
        f" (change {r.change_id or 'applied by an earlier attempt'})"
        for r in result.rolled_back
    ]
    if result.already_on_premises:
        lines += [
            "",
            f"Already on-premises ({len(result.already_on_premises)}): "
            + ", ".join(result.already_on_premises),
        ]
    if result.unknown_applications:
        lines += [
            "",
            "NOT rolled back, no weighted record pair in the zone: "
            + ", ".join(result.unknown_applications),
        ]
    if result.in_sync is False:
        lines += ["", "Route 53 had not reported INSYNC yet when this was sent."]
    return subject, "\n".join(lines)
