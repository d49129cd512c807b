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

The work is split by job: :mod:`migration.rollback_result` (the result, and what one delivery
did so far), :mod:`migration.rollback_dns` (Route 53: move, record the changes, INSYNC,
re-check), :mod:`migration.rollback_tracking` (the ROLLED_BACK items),
:mod:`migration.rollback_outcome` (the ledger's outcome and error, the notification under its
lease) and :mod:`migration.rollback_message` (the SNS text). This module runs the steps in
order and is the public face: import the names from here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from migration.errors import ConcurrentUpdateError, IncompleteRecordPairsError
from migration.events import AlarmEvent, AlarmState, RollbackCommand, normalise_applications
from migration.ledger import (
    COMPLETED,
    PENDING,
    LedgerRecord,
    RollbackLedger,
    event_item_id,
)
from migration.notify import Notifier
from migration.parallel import WRITE_WORKERS
from migration.rollback_dns import INSYNC_RESERVE_S, RollbackDns
from migration.rollback_message import summarise
from migration.rollback_outcome import (
    LEASE_POLL_S,
    LEASE_WAIT_RESERVE_S,
    NOTIFICATION_LEASE_S,
    OutcomeRecorder,
)
from migration.rollback_result import (
    Attempt,
    RollbackResult,
    RolledBackApplication,
    Timing,
    duplicate_result,
)
from migration.rollback_tracking import (
    ACTIVE_CUTOVER_PHASES,
    ALARM_STATE_EVENT_TYPE,
    ALREADY,
    DONE,
    UNTOUCHED,
    RollbackTracker,
)
from migration.tracking import TrackingStore, iso_timestamp, utc_now
from migration.traffic import ApplicationRecords, TrafficShifter

__all__ = [
    "ACTIVE_CUTOVER_PHASES",
    "ALARM_STATE_EVENT_TYPE",
    "COMPLETED",
    "INSYNC_RESERVE_S",
    "LEASE_POLL_S",
    "LEASE_WAIT_RESERVE_S",
    "NOTIFICATION_LEASE_S",
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


@dataclass(frozen=True)
class _Request:
    """A trigger as the service handles it: event key, targets asked for, and times."""

    key: str
    trigger: str
    reason: str
    alarm_name: str | None
    applications: tuple[str, ...] | None
    strict: bool
    alarm_changed_at: str | None
    requested_at: str


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
        self._ledger = ledger
        self._alarm_applications = {
            alarm: None if apps is None else normalise_applications(apps)
            for alarm, apps in (alarm_applications or {}).items()
        }
        self._wait = wait_for_insync
        self._log = logger
        self._clock = clock
        self._dns = RollbackDns(
            shifter, ledger, logger=logger, clock=clock, remaining_s=remaining_s
        )
        self._tracker = RollbackTracker(
            tracking,
            actor=actor,
            max_transition_attempts=max_transition_attempts,
            workers=workers,
            logger=logger,
        )
        self._outcome = OutcomeRecorder(
            ledger,
            notifier,
            logger=logger,
            clock=clock,
            sleep=sleep,
            remaining_s=remaining_s,
            notification_lease_s=notification_lease_s,
            lease_poll_s=lease_poll_s,
        )

    def handle(self, trigger: AlarmEvent | RollbackCommand) -> RollbackResult:
        """Handle one event.

        Raises PartialRollbackError if only part of the work was done (the retry finishes
        it), and IncompleteRecordPairsError, after everything else is done, when targeted
        names hold only half a record pair.
        """
        if isinstance(trigger, AlarmEvent) and trigger.state is not AlarmState.ALARM:
            return self._tracker.record_alarm_state(trigger)
        request = self._request(trigger)
        record = self._ledger.get(request.key)
        current: Mapping[str, ApplicationRecords] = {}
        if record is None:
            record, current = self._claim(request)
        if record.status == COMPLETED:
            result = duplicate_result(record)
        else:
            result = self._execute(record, current)
        if result.incomplete_pairs:
            raise IncompleteRecordPairsError(
                result.event_key, result.incomplete_pairs, result.to_dict()
            )
        return result

    # -- steps ------------------------------------------------------------------------

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
        attempt = Attempt(Timing.from_record(record))
        # (1) DNS first, every target not yet at aws=0 / on-premises=100; then its records.
        failed = self._dns.move(key, current, attempt)
        self._dns.record_batches(key, attempt)

        # (2) INSYNC of every change that rolled a target back and is not confirmed yet.
        in_sync: bool | None = None
        if self._wait:
            timing = attempt.timing
            unconfirmed = dict.fromkeys(
                timing.change_ids[app]
                for app in sorted(current)
                if app not in failed and app in timing.change_ids
            )
            in_sync = self._dns.confirm_in_sync(
                key, [c for c in unconfirmed if c not in timing.in_sync_at], attempt
            )

        # (3) One ROLLED_BACK item per application and attempt, in bounded parallel.
        outcomes = self._tracker.track_all(
            record, [a for a in sorted(current) if a not in failed], attempt
        )
        pending = sorted(failed) + attempt.untracked
        done, already = outcomes[DONE], outcomes[ALREADY]

        # (4) Re-check: nothing recorded ROLLED_BACK may still (or again) reach AWS.
        reapplied: tuple[str, ...] = ()
        if done or already:
            reapplied, not_safe = self._dns.recheck(key, done + already, attempt)
            self._dns.record_batches(key, attempt)
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
            already_on_premises=tuple(sorted(outcomes[UNTOUCHED])),
            unknown_applications=tuple(sorted(set(record.unknown_applications) | set(vanished))),
            incomplete_pairs=dict(sorted({**record.incomplete_pairs, **broken}.items())),
            dns_reapplied=reapplied,
            in_sync=in_sync,
            alarm_changed_at=record.alarm_changed_at,
            requested_at=record.requested_at,
        )
        # (5) Each application's outcome into its ledger chunk; anything failed is raised.
        self._outcome.record(record, result, pending, attempt)
        if pending or attempt.problems:
            self._outcome.fail(key, done, pending, attempt)
        # (6) At most one notification, and only with something to say.
        if not (done or result.unknown_applications or result.incomplete_pairs or reapplied):
            self._outcome.complete(result, notification_id=None)
            return result
        return self._outcome.notify(result)
