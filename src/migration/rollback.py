"""Rollback: send targeted applications back to 100 % on-premises, once per event.

The first invariant of the project: **a rollback always wins**. After any rollback of an
application nothing moves it to AWS until a reset (ROLLED_BACK -> PLANNED, attempt + 1).

Order of work, fastest safety first: (1) DNS, in the fewest atomic Route 53 batches, for
the targeted applications that were on AWS; (2) when waiting is on (the Lambda's default),
each Route 53 change's INSYNC; (3) one ROLLED_BACK tracking item per application and
attempt, in bounded parallel; (4) a re-check of the DNS of every application now recorded
ROLLED_BACK: one moved back to AWS meanwhile (a cutover step racing the rollback) is
rolled back again; (5) each application's outcome into the ledger; (6) at most one SNS
summary.

Which applications get a ROLLED_BACK item: every targeted application that was on AWS,
and every targeted application already at aws=0 whose cutover is under way (REPLICATING,
READY, SHIFTING or HELD), so that the cutover stops before its next step. Applications
at aws=0 in PLANNED, with no head or CUTOVER_COMPLETE are left untouched. An application
whose head is already ROLLED_BACK (another alarm, or another delivery, was first) gets
no second item and no second notification: it is reported as "already rolled back". The
transition is version-guarded; on a conflict the head is read again and the rollback
retries on top of whatever the other writer wrote, unless that made it ROLLED_BACK.

Recovery time. Each ROLLED_BACK item's details (and the result) carry ``alarmChangedAt``
(the alarm's state change time; absent for a direct request), ``requestedAt`` (when the
service received the event), ``dnsSubmittedAt`` (when Route 53 accepted the change),
``dnsInSyncAt`` (when GetChange first reported INSYNC, if waiting is on and it did within
the time budget) and ``recoverySeconds`` (``dnsInSyncAt`` minus ``alarmChangedAt``, or
minus ``requestedAt`` for a direct request), ISO-8601 UTC text from the injected clock.
An application recorded without a DNS change (already at aws=0) has no DNS times.

Idempotency. Each event has a key (see :mod:`migration.events`). The first delivery
claims it in the ledger (:mod:`migration.ledger`): the target list computed once (the
applications that were on AWS and their weights, the others' weights, unknown names and
half record pairs) in chunk items of at most 200 applications, then a conditional put of
the header ``serverId = "event#<key>"``, ``timestamp = "CURRENT"``, status PENDING. A
later delivery of the same event:

* COMPLETED -> returns a "duplicate" result; no DNS, tracking or SNS call, no write;
* PENDING (an earlier attempt failed part-way, or a concurrent delivery is running) ->
  reuses the stored target list, re-applies the idempotent UPSERT only to targets not yet
  rolled back, writes only the missing tracking items (the head records the event id),
  and takes part in the notification below.

Scale. The DNS moves first; the ledger items of the accepted Route 53 changes are written
after the last change (in parallel). The tracking items are written
:data:`migration.parallel.WRITE_WORKERS` at a time; a write that fails does not stop the
others. Then each application's outcome is stored in its chunk. Anything that failed (an
application's DNS or tracking, a ledger write) is recorded on the header and raised as
PartialRollbackError once everything else is done, so the platform retries and the
retry completes only what is missing. Nothing is logged and forgotten, except what is no
failure: INSYNC not seen within the time budget, and a DNS re-check that could not read.

Notification. Sent only when the event rolled back something new, or has unknown names,
half record pairs or a DNS re-check to report; otherwise the ledger completes silently.
Only the holder of the ledger's notification lease (a conditional update, valid
``NOTIFICATION_LEASE_S``) publishes, then marks the ledger COMPLETED; a concurrent
delivery of the same event waits for COMPLETED (then returns "duplicate") or for the
lease to expire (a holder that crashed before publishing), then takes the lease and
publishes itself. A publish that fails releases the lease for the retry. A crash between
publishing and COMPLETED repeats the message on retry, which we prefer to losing it. No
ledger item has a ``migrationPhase``, so the ledger stays out of the phase index.

Half record pairs. A name holding only one of its two weighted records (e.g. only
``aws``, at weight 100) cannot be sent on-premises by weights. It is reported in the
result (``incompletePairs``) and the SNS message as NOT rolled back, and once everything
else is done and the ledger is COMPLETED, :meth:`RollbackService.handle` raises
IncompleteRecordPairsError so the invocation fails visibly; a retry is a duplicate and
raises it again without repeating the notification.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from migration.errors import (
    ChangeNotInSyncError,
    ConcurrentUpdateError,
    IncompleteRecordPairsError,
    LedgerWriteError,
    MigrationError,
    NotificationPendingError,
    PartialRollbackError,
    PartialShiftError,
    RetryBudgetExhaustedError,
)
from migration.events import AlarmEvent, AlarmState, RollbackCommand, normalise_applications
from migration.ledger import (
    COMPLETED,
    PENDING,
    LedgerOutcome,
    LedgerRecord,
    RollbackLedger,
    event_item_id,
)
from migration.ledger import weights as _weights
from migration.notify import Notifier
from migration.parallel import WRITE_WORKERS, call_all
from migration.tracking import (
    Phase,
    TrackingStore,
    alarm_id,
    app_id,
    iso_timestamp,
    parse_timestamp,
    utc_now,
)
from migration.traffic import (
    ROLLED_BACK,
    ApplicationRecords,
    AppliedBatch,
    Split,
    TrafficShifter,
)

__all__ = [
    "COMPLETED",
    "PENDING",
    "LedgerRecord",
    "RollbackLedger",
    "RollbackResult",
    "RollbackService",
    "RolledBackApplication",
    "event_item_id",
    "summarise",
]

LOGGER = logging.getLogger(__name__)

ALARM_STATE_EVENT_TYPE = "ALARM_STATE_CHANGE"

ACTIVE_CUTOVER_PHASES = frozenset({Phase.REPLICATING, Phase.READY, Phase.SHIFTING, Phase.HELD})
"""Phases in which an application at aws=0 is still recorded ROLLED_BACK."""

NOTIFICATION_LEASE_S = 120.0
"""How long a delivery may take to publish before another delivery may publish instead."""
LEASE_POLL_S = 1.0
INSYNC_RESERVE_S = 60.0
"""Time the function keeps for tracking and notifying after waiting for INSYNC."""
LEASE_WAIT_RESERVE_S = 10.0

# Outcomes of recording one application.
_DONE = "done"
_ALREADY = "already"
_UNTOUCHED = "untouched"


@dataclass(frozen=True)
class RolledBackApplication:
    """One application recorded ROLLED_BACK by this event, with the weights it had before.

    ``previous`` at aws=0 means it was only recorded (cutover under way, no DNS change).
    The times are ISO-8601 UTC text; ``recovery_seconds`` runs from the alarm's state
    change (or the request, for a direct one) to INSYNC.
    """

    application: str
    previous: Split
    change_id: str | None
    dns_submitted_at: str | None = None
    dns_in_sync_at: str | None = None
    recovery_seconds: float | None = None

    @property
    def dns_changed(self) -> bool:
        """True when the application was on AWS (its weights had to change)."""
        return self.previous.reaches_aws


@dataclass(frozen=True)
class RollbackResult:
    """Outcome of handling one event; ``to_dict`` is the Lambda's JSON response.

    ``status``: ``rolled_back`` (this event recorded at least one application),
    ``nothing_to_roll_back``, ``duplicate`` (event already handled, or handled by a
    concurrent delivery) or ``ignored`` (alarm state other than ALARM, recorded only).
    ``already_rolled_back``: targeted applications another event had already rolled back.
    ``incomplete_pairs``: name -> what it holds instead of a record pair (NOT rolled back).
    ``dns_reapplied``: applications found back on AWS after being recorded, rolled back again.
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
    already_rolled_back: tuple[str, ...] = ()
    incomplete_pairs: Mapping[str, str] = field(default_factory=dict)
    dns_reapplied: tuple[str, ...] = ()
    alarm_changed_at: str | None = None
    requested_at: str | None = None

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
            "alarmChangedAt": self.alarm_changed_at,
            "requestedAt": self.requested_at,
            "rolledBack": [
                {
                    "application": r.application,
                    "previousWeights": _weights(r.previous),
                    "changeId": r.change_id,
                    "dnsSubmittedAt": r.dns_submitted_at,
                    "dnsInSyncAt": r.dns_in_sync_at,
                    "recoverySeconds": r.recovery_seconds,
                }
                for r in self.rolled_back
            ],
            "alreadyRolledBack": list(self.already_rolled_back),
            "alreadyOnPremises": list(self.already_on_premises),
            "unknownApplications": list(self.unknown_applications),
            "incompletePairs": dict(self.incomplete_pairs),
            "dnsReapplied": list(self.dns_reapplied),
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
    alarm_changed_at: str | None
    requested_at: str


@dataclass
class _Timing:
    """Route 53 change ids and their times, by application, for one event."""

    record: LedgerRecord
    change_ids: dict[str, str]
    submitted_at: dict[str, str]
    in_sync_at: dict[str, str]

    def entry(self, app: str) -> RolledBackApplication:
        previous = self.record.targets.get(app) or self.record.on_premises_weights.get(
            app, ROLLED_BACK
        )
        change_id = self.change_ids.get(app) if previous.reaches_aws else None
        submitted = self.submitted_at.get(change_id) if change_id else None
        in_sync = self.in_sync_at.get(change_id) if change_id else None
        start = self.record.alarm_changed_at or self.record.requested_at
        recovery = None
        if in_sync and start:
            seconds = (parse_timestamp(in_sync) - parse_timestamp(start)).total_seconds()
            recovery = round(seconds, 3)
        return RolledBackApplication(app, previous, change_id, submitted, in_sync, recovery)


@dataclass
class _Attempt:
    """What one delivery did so far: Route 53 changes, failures to report and raise."""

    timing: _Timing
    applied: list[AppliedBatch] = field(default_factory=list)
    recorded: int = 0
    """How many of ``applied`` have their ledger item."""
    untracked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        """A failure that is not an application's (a ledger write): reported and raised."""
        self.problems.append(text)
        self.errors.append(text)


class RollbackService:
    """Handles a parsed event: records alarm states, or rolls back exactly once.

    ``alarm_applications`` maps alarm names to applications (None or absent = all).
    Application names are normalised (stripped, lowercase) wherever they come from, so a
    request for ``ORDERS`` rolls back and records the application ``orders``.
    Unknown applications: a direct request naming one (or a name with half a record
    pair) fails with UnknownApplicationError before anything changes; for an alarm the
    known applications are still rolled back (a configuration typo must not block an
    emergency rollback) and the unknown ones are reported in the result and the SNS
    message. ``clock`` and ``sleep`` are injected; ``remaining_s`` (the Lambda's remaining
    time, optional) bounds the INSYNC wait and the wait for another delivery's lease.
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
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        remaining_s: Callable[[], float] | None = None,
        notification_lease_s: float = NOTIFICATION_LEASE_S,
        lease_poll_s: float = LEASE_POLL_S,
        workers: int = WRITE_WORKERS,
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
        self._clock = clock
        self._sleep = sleep
        self._remaining_s = remaining_s
        self._lease_s = notification_lease_s
        self._lease_poll_s = lease_poll_s
        self._workers = workers

    def handle(self, trigger: AlarmEvent | RollbackCommand) -> RollbackResult:
        """Handle one event.

        Raises PartialRollbackError if only part of the work was done (the retry finishes
        it), and IncompleteRecordPairsError, after everything else is done, when targeted
        names hold only half a record pair.
        """
        if isinstance(trigger, AlarmEvent) and trigger.state is not AlarmState.ALARM:
            return self._record_alarm_state(trigger)
        request = self._request(trigger)
        record = self._ledger.get(request.key)
        current: Mapping[str, ApplicationRecords] = {}
        if record is None:
            record, current = self._claim(request)
        if record.status == COMPLETED:
            result = self._duplicate(record)
        else:
            result = self._execute(record, current)
        if result.incomplete_pairs:
            raise IncompleteRecordPairsError(
                result.event_key, result.incomplete_pairs, result.to_dict()
            )
        return result

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
        requested_at = iso_timestamp(self._clock())
        if isinstance(trigger, AlarmEvent):
            return _Request(
                key=trigger.idempotency_key,
                trigger="alarm",
                reason=trigger.reason or f"alarm {trigger.alarm_name} in ALARM",
                alarm_name=trigger.alarm_name,
                applications=self._alarm_applications.get(trigger.alarm_name),
                strict=False,
                alarm_changed_at=iso_timestamp(trigger.state_changed_at),
                requested_at=requested_at,
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
            alarm_changed_at=None,
            requested_at=requested_at,
        )

    def _claim(self, request: _Request) -> tuple[LedgerRecord, Mapping[str, ApplicationRecords]]:
        """Compute the target list once and store it; nothing is written if a name is unknown.

        Returns the stored record and the records just read (to save a second listing).
        """
        survey = self._shifter.survey(request.applications)
        if request.strict and request.applications is not None:
            self._shifter.require_pairs(survey, request.applications)
        if survey.unknown:
            self._log.warning(
                "alarm %s targets unknown applications: %s",
                request.alarm_name,
                ", ".join(survey.unknown),
            )
        if survey.incomplete:
            self._log.error(
                "rollback %s: half record pairs, NOT rolled back: %s",
                request.key,
                "; ".join(f"{app} has {what}" for app, what in survey.incomplete.items()),
            )
        current = survey.found
        targets = {app: recs.split for app, recs in current.items() if recs.split.reaches_aws}
        quiet = {app: recs.split for app, recs in current.items() if app not in targets}
        record = self._ledger.claim(
            request.key,
            trigger=request.trigger,
            reason=request.reason,
            alarm_name=request.alarm_name,
            requested=request.applications,
            targets=targets,
            on_premises_weights=quiet,
            unknown_applications=survey.unknown,
            incomplete_pairs=survey.incomplete,
            alarm_changed_at=request.alarm_changed_at,
            requested_at=request.requested_at,
        )
        if record is None:
            # A concurrent delivery claimed the event first: its stored record rules.
            record = self._ledger.get(request.key)
            if record is None:  # pragma: no cover - the claim found the header
                raise ConcurrentUpdateError(event_item_id(request.key), 0)
        return record, current

    def _current(
        self, record: LedgerRecord, fresh: Mapping[str, ApplicationRecords]
    ) -> tuple[dict[str, ApplicationRecords], tuple[str, ...], dict[str, str]]:
        """Records of the targets; names gone since the claim; names now half a pair."""
        if all(app in fresh for app in record.targets):
            return {app: fresh[app] for app in record.targets}, (), {}
        # Records deleted since the claim send no traffic anywhere; report, skip.
        survey = self._shifter.survey(record.targets)
        return survey.found, survey.unknown, survey.incomplete

    def _execute(
        self, record: LedgerRecord, fresh: Mapping[str, ApplicationRecords]
    ) -> RollbackResult:
        key = record.key
        current, vanished, broken = self._current(record, fresh)
        attempt = _Attempt(
            _Timing(
                record,
                record.change_id_by_application,
                dict(record.submitted_at),
                dict(record.in_sync_at),
            )
        )
        # (1) DNS first, every target not yet at aws=0 / on-premises=100; then its records.
        failed = self._move_dns(key, current, attempt)
        self._record_batches(key, attempt)

        # (2) INSYNC of every change that rolled a target back and is not confirmed yet.
        in_sync: bool | None = None
        if self._wait:
            timing = attempt.timing
            unconfirmed = dict.fromkeys(
                timing.change_ids[app]
                for app in sorted(current)
                if app not in failed and app in timing.change_ids
            )
            in_sync = self._confirm_in_sync(
                key, [c for c in unconfirmed if c not in timing.in_sync_at], attempt
            )

        # (3) One ROLLED_BACK item per application and attempt, in bounded parallel.
        outcomes = self._track_all(record, [a for a in sorted(current) if a not in failed], attempt)
        pending = sorted(failed) + attempt.untracked
        done, already = outcomes[_DONE], outcomes[_ALREADY]

        # (4) Re-check: nothing recorded ROLLED_BACK may still (or again) reach AWS.
        reapplied: tuple[str, ...] = ()
        if done or already:
            reapplied, not_safe = self._recheck(key, done + already, attempt)
            self._record_batches(key, attempt)
            if not_safe:
                pending.extend(not_safe)
                attempt.errors.append(f"DNS re-check: could not roll back {', '.join(not_safe)}")

        result = RollbackResult(
            status="rolled_back" if done else "nothing_to_roll_back",
            event_key=key,
            trigger=record.trigger,
            reason=record.reason,
            alarm_name=record.alarm_name,
            alarm_state=AlarmState.ALARM.value if record.trigger == "alarm" else None,
            rolled_back=tuple(attempt.timing.entry(app) for app in sorted(done)),
            already_rolled_back=tuple(sorted(already)),
            already_on_premises=tuple(sorted(outcomes[_UNTOUCHED])),
            unknown_applications=tuple(sorted(set(record.unknown_applications) | set(vanished))),
            incomplete_pairs=dict(sorted({**record.incomplete_pairs, **broken}.items())),
            dns_reapplied=reapplied,
            in_sync=in_sync,
            alarm_changed_at=record.alarm_changed_at,
            requested_at=record.requested_at,
        )
        # (5) Each application's outcome into its ledger chunk; anything failed is raised.
        self._record_outcome(record, result, pending, attempt)
        if pending or attempt.problems:
            self._fail(key, done, pending, attempt)
        # (6) At most one notification, and only with something to say.
        if not (done or result.unknown_applications or result.incomplete_pairs or reapplied):
            self._complete(result, notification_id=None)
            return result
        return self._notify(result)

    def _move_dns(
        self, key: str, current: Mapping[str, ApplicationRecords], attempt: _Attempt
    ) -> set[str]:
        """Send every target not at aws=0 on-premises; returns the applications that failed."""
        need = {app: ROLLED_BACK for app, recs in current.items() if recs.split != ROLLED_BACK}
        failed: set[str] = set()
        try:
            self._shifter.set_split(
                need,
                current=current,
                stop_on_error=False,
                comment=f"rollback {key}",
                on_batch_applied=lambda batch: self._remember_batch(batch, attempt),
            )
        except PartialShiftError as exc:
            failed = set(exc.failed) | set(exc.not_attempted)
            attempt.errors.append(str(exc))
            self._log.error("rollback %s: DNS partly failed: %s", key, exc)
        return failed

    def _remember_batch(self, batch: AppliedBatch, attempt: _Attempt) -> None:
        """In memory only: the ledger's batch items are written once the DNS has moved."""
        attempt.applied.append(batch)
        attempt.timing.submitted_at[batch.change_id] = iso_timestamp(self._clock())
        attempt.timing.change_ids.update(dict.fromkeys(batch.applications, batch.change_id))

    def _record_batches(self, key: str, attempt: _Attempt) -> None:
        """Write the batch items not written yet (in parallel); a failure is kept to raise."""
        new = attempt.applied[attempt.recorded :]
        attempt.recorded = len(attempt.applied)
        if not new:
            return
        try:
            self._ledger.add_batches(key, new, attempt.timing.submitted_at)
        except (LedgerWriteError, ClientError) as exc:
            self._log.error("rollback %s: Route 53 changes not recorded: %s", key, exc)
            attempt.problem(f"ledger: {exc}")

    def _confirm_in_sync(self, key: str, change_ids: list[str], attempt: _Attempt) -> bool:
        """Wait for each change's INSYNC within the budget; False if one was not seen."""
        budget = self._shifter.time_budget_s
        if self._remaining_s is not None:
            budget = min(budget, self._remaining_s() - INSYNC_RESERVE_S)
        started = self._clock()
        confirmed = True
        for change_id in change_ids:
            left = budget - (self._clock() - started).total_seconds()
            try:
                # With no budget left this is one GetChange: INSYNC already, or not known.
                self._shifter.wait_for_insync([change_id], budget_s=max(left, 0.0))
            except (ChangeNotInSyncError, RetryBudgetExhaustedError, ClientError) as exc:
                # The change is accepted and will propagate; not knowing when is no failure.
                self._log.warning("rollback %s: INSYNC not confirmed: %s", key, exc)
                confirmed = False
                continue
            at = iso_timestamp(self._clock())
            attempt.timing.in_sync_at[change_id] = at
            try:
                self._ledger.record_in_sync(key, change_id, at)
            except ClientError as exc:
                self._log.error("rollback %s: INSYNC time not recorded: %s", key, exc)
                attempt.problem(f"ledger: INSYNC time of {change_id}: {exc}")
        return confirmed

    def _track_all(
        self, record: LedgerRecord, moved: list[str], attempt: _Attempt
    ) -> dict[str, list[str]]:
        """Track every moved and every quiet target, ``workers`` at a time; by outcome.

        A failed write does not stop the others; its application goes to
        ``attempt.untracked`` (pending) with the error, to be raised once all are done.
        """
        quiet = record.on_premises_weights
        results = call_all(
            lambda app: self._track(record, app, attempt.timing, record_only=app in quiet),
            moved + sorted(quiet),
            workers=self._workers,
        )
        outcomes: dict[str, list[str]] = {_DONE: [], _ALREADY: [], _UNTOUCHED: []}
        for result in results:
            if result.error is None and result.value is not None:
                outcomes[result.value].append(result.item)
            else:
                attempt.untracked.append(result.item)
                attempt.errors.append(f"tracking {result.item}: {result.error}")
        if attempt.untracked:
            self._log.error(
                "rollback %s: %d tracking write(s) failed, first: %s",
                record.key,
                len(attempt.untracked),
                attempt.errors[-len(attempt.untracked)],
            )
        return outcomes

    def _record_outcome(
        self, record: LedgerRecord, result: RollbackResult, pending: list[str], attempt: _Attempt
    ) -> None:
        outcome = LedgerOutcome(
            done=[r.application for r in result.rolled_back],
            pending=pending,
            already_rolled_back=result.already_rolled_back,
            already_on_premises=result.already_on_premises,
            dns_reapplied=result.dns_reapplied,
            unknown_applications=result.unknown_applications,
            incomplete_pairs=result.incomplete_pairs,
        )
        try:
            self._ledger.record_outcome(record, outcome)
        except (LedgerWriteError, ClientError) as exc:
            self._log.error("rollback %s: outcome not recorded: %s", record.key, exc)
            attempt.problem(f"ledger: {exc}")

    def _fail(self, key: str, done: list[str], pending: list[str], attempt: _Attempt) -> None:
        """Note the error on the ledger (PENDING stays) and raise for the platform's retry."""
        try:
            self._ledger.record_error(key, "; ".join(attempt.errors))
        except ClientError as exc:
            self._log.error("rollback %s: error not recorded on the ledger: %s", key, exc)
            attempt.problem(f"ledger: last error: {exc}")
        raise PartialRollbackError(
            key, tuple(done), tuple(sorted(set(pending))), problems=tuple(attempt.problems)
        )

    def _track(self, record: LedgerRecord, app: str, timing: _Timing, *, record_only: bool) -> str:
        """Record ``app`` ROLLED_BACK once per attempt; rollback always wins.

        Returns _DONE (this event's item exists), _ALREADY (another event's ROLLED_BACK is
        the head) or _UNTOUCHED (``record_only`` and no cutover under way).
        """
        entity = app_id(app)
        entry = timing.entry(app)
        details = {
            "previousWeights": _weights(entry.previous),
            "weights": _weights(ROLLED_BACK),
            "dnsChanged": entry.dns_changed,
            "changeId": entry.change_id,
            "alarmName": record.alarm_name,
            "trigger": record.trigger,
            "alarmChangedAt": record.alarm_changed_at,
            "requestedAt": record.requested_at,
            "dnsSubmittedAt": entry.dns_submitted_at,
            "dnsInSyncAt": entry.dns_in_sync_at,
            "recoverySeconds": entry.recovery_seconds,
        }
        for _attempt in range(self._max_transition_attempts):
            head = self._tracking.current(entity)
            if head is not None and head.phase is Phase.ROLLED_BACK:
                return _DONE if head.last_event_id == record.key else _ALREADY
            if record_only and (head is None or head.phase not in ACTIVE_CUTOVER_PHASES):
                return _UNTOUCHED
            try:
                self._tracking.transition(
                    entity,
                    Phase.ROLLED_BACK,
                    expected_version=head.version if head else 0,
                    event_id=record.key,
                    actor=self._actor,
                    reason=record.reason,
                    details={k: v for k, v in details.items() if v is not None},
                    head=head,
                )
            except ConcurrentUpdateError:
                # Someone moved the entity meanwhile: re-read, and unless it is now
                # ROLLED_BACK, write over it.
                continue
            return _DONE
        raise ConcurrentUpdateError(entity, -1)

    def _recheck(
        self, key: str, apps: list[str], attempt: _Attempt
    ) -> tuple[tuple[str, ...], list[str]]:
        """Roll back again what is recorded ROLLED_BACK but reaches AWS.

        Returns (rolled back again, could not be rolled back). A failed read is logged
        only: every target's change was accepted by Route 53 before.
        """
        try:
            found = self._shifter.survey(apps).found
        except (MigrationError, ClientError) as exc:
            self._log.warning("rollback %s: DNS re-check not possible: %s", key, exc)
            return (), []
        on_aws = {app: ROLLED_BACK for app, recs in found.items() if recs.split.reaches_aws}
        if not on_aws:
            return (), []
        self._log.error(
            "rollback %s: back on AWS after being recorded ROLLED_BACK, rolling back again: %s",
            key,
            ", ".join(sorted(on_aws)),
        )
        try:
            self._shifter.set_split(
                on_aws,
                current=found,
                stop_on_error=False,
                comment=f"rollback {key} (re-check)",
                on_batch_applied=lambda batch: self._remember_batch(batch, attempt),
            )
        except PartialShiftError as exc:
            failed = set(exc.failed) | set(exc.not_attempted)
            return tuple(sorted(set(on_aws) - failed)), sorted(failed)
        return tuple(sorted(on_aws)), []

    def _complete(self, result: RollbackResult, *, notification_id: str | None) -> None:
        self._ledger.complete(result.event_key, notification_id=notification_id)

    def _notify(self, result: RollbackResult) -> RollbackResult:
        """Publish once per event under the ledger's lease, then mark it COMPLETED."""
        key = result.event_key
        owner = str(uuid.uuid4())
        give_up = self._clock() + timedelta(seconds=self._lease_s + self._lease_poll_s)
        # Hand loop: no waiter watches a DynamoDB item; the injected clock and time left bound it.
        while True:
            now = self._clock()
            until = now + timedelta(seconds=self._lease_s)
            if self._ledger.lease_notification(key, owner, now=now, until=until):
                break
            record = self._ledger.status(key)
            if record is None or record.status == COMPLETED:
                # A concurrent delivery of this event published and completed it.
                return replace(
                    result,
                    status="duplicate",
                    notification_id=record.notification_id if record else None,
                )
            out_of_time = (
                self._remaining_s is not None
                and self._remaining_s() < self._lease_poll_s + LEASE_WAIT_RESERVE_S
            )
            if now >= give_up or out_of_time:
                raise NotificationPendingError(key, record.lease_until)
            self._sleep(self._lease_poll_s)
        subject, body = summarise(result)
        try:
            notification_id = self._notifier.publish(subject, body)
        except Exception as exc:
            # Everything else is done; the retry only publishes (nothing to re-apply).
            self._ledger.release_notification(key, owner)
            self._ledger.record_error(key, f"notification not sent: {exc}")
            raise
        self._complete(result, notification_id=notification_id)
        return replace(result, notification_id=notification_id)

    def _duplicate(self, record: LedgerRecord) -> RollbackResult:
        timing = _Timing(
            record,
            record.change_id_by_application,
            dict(record.submitted_at),
            dict(record.in_sync_at),
        )
        return RollbackResult(
            status="duplicate",
            event_key=record.key,
            trigger=record.trigger,
            reason=record.reason,
            alarm_name=record.alarm_name,
            rolled_back=tuple(timing.entry(app) for app in record.done),
            already_rolled_back=record.already_rolled_back,
            already_on_premises=record.already_on_premises,
            unknown_applications=record.unknown_applications,
            incomplete_pairs=record.incomplete_pairs,
            dns_reapplied=record.dns_reapplied,
            notification_id=record.notification_id,
            alarm_changed_at=record.alarm_changed_at,
            requested_at=record.requested_at,
        )


def _recovery_text(result: RollbackResult, entry: RolledBackApplication) -> str:
    if entry.dns_in_sync_at is None:
        return ""
    since = "alarm" if result.alarm_changed_at else "request"
    return f"; INSYNC {entry.dns_in_sync_at}, {entry.recovery_seconds:g} s after the {since}"


def summarise(result: RollbackResult) -> tuple[str, str]:
    """Subject and body of the operators' SNS message for ``result``."""
    source = f" (alarm {result.alarm_name})" if result.alarm_name else ""
    count = len(result.rolled_back)
    if result.incomplete_pairs:
        subject = (
            f"Rollback INCOMPLETE: {len(result.incomplete_pairs)} name(s) NOT rolled back, "
            f"{count} rolled back{source}"
        )
    elif count:
        subject = f"Rollback: {count} application(s) back to 100% on-premises{source}"
    elif result.unknown_applications:
        subject = f"Rollback: unknown application(s), nothing rolled back{source}"
    elif result.dns_reapplied:
        subject = f"Rollback: DNS rolled back again{source}"
    else:
        subject = f"Rollback: nothing was on AWS{source}"
    lines = [
        f"Rollback {result.event_key}",
        f"Trigger: {'alarm ' + result.alarm_name if result.alarm_name else 'direct request'}",
        f"Reason: {result.reason}",
    ]
    if result.alarm_changed_at:
        lines.append(f"Alarm changed state at: {result.alarm_changed_at}")
    lines += ["", f"Rolled back to aws=0 / on-premises=100 ({count}):"]
    for r in result.rolled_back:
        if r.dns_changed:
            lines.append(
                f"  {r.application}: was aws={r.previous.aws} on-premises={r.previous.on_premises}"
                f" (change {r.change_id or 'applied by an earlier attempt'}"
                f"{_recovery_text(result, r)})"
            )
        else:
            lines.append(
                f"  {r.application}: already aws={r.previous.aws} "
                f"on-premises={r.previous.on_premises}; cutover under way, recorded "
                f"ROLLED_BACK (no DNS change)"
            )
    if result.already_rolled_back:
        lines += [
            "",
            f"Already rolled back by an earlier rollback ({len(result.already_rolled_back)}): "
            + ", ".join(result.already_rolled_back),
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
    if result.incomplete_pairs:
        lines += [
            "",
            f"NOT rolled back, incomplete 'on-premises'/'aws' record pair "
            f"({len(result.incomplete_pairs)}); fix the records, then roll these back:",
        ]
        lines += [f"  {app}: has {what}" for app, what in result.incomplete_pairs.items()]
    if result.dns_reapplied:
        lines += [
            "",
            "Back on AWS after being recorded ROLLED_BACK, rolled back again: "
            + ", ".join(result.dns_reapplied),
        ]
    if result.in_sync is False:
        lines += ["", "Route 53 had not reported INSYNC yet when this was sent."]
    return subject, "\n".join(lines)
