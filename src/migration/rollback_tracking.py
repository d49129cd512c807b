"""Tracking side of a rollback: the ROLLED_BACK items, and alarm states recorded only.

One ROLLED_BACK item per application and attempt, version-guarded: on a conflict the head
is read again and the item is written over whatever the other writer wrote, unless that
made it ROLLED_BACK (a rollback always wins, and is recorded once).
"""

from __future__ import annotations

import logging

from migration.errors import ConcurrentUpdateError
from migration.events import AlarmEvent
from migration.ledger import LedgerRecord
from migration.ledger import weights as _weights
from migration.parallel import call_all
from migration.rollback_result import Attempt, RollbackResult, Timing
from migration.tracking import Phase, TrackingStore, alarm_id, app_id
from migration.traffic import ROLLED_BACK

__all__ = [
    "ACTIVE_CUTOVER_PHASES",
    "ALARM_STATE_EVENT_TYPE",
    "ALREADY",
    "DONE",
    "UNTOUCHED",
    "RollbackTracker",
]

ALARM_STATE_EVENT_TYPE = "ALARM_STATE_CHANGE"

ACTIVE_CUTOVER_PHASES = frozenset({Phase.REPLICATING, Phase.READY, Phase.SHIFTING, Phase.HELD})
"""Phases in which an application at aws=0 is still recorded ROLLED_BACK."""

# Outcomes of recording one application.
DONE = "done"
ALREADY = "already"
UNTOUCHED = "untouched"


class RollbackTracker:
    """Writes an event's tracking items: ROLLED_BACK per application, or an alarm state.

    ``workers`` bounds the parallel writes; ``max_transition_attempts`` the retries of one
    application's version-guarded transition.
    """

    def __init__(
        self,
        tracking: TrackingStore,
        *,
        actor: str,
        max_transition_attempts: int,
        workers: int,
        logger: logging.Logger,
    ) -> None:
        self._tracking = tracking
        self._actor = actor
        self._max_transition_attempts = max_transition_attempts
        self._workers = workers
        self._log = logger

    def record_alarm_state(self, event: AlarmEvent) -> RollbackResult:
        """Record an alarm state other than ALARM on the alarm's entity; nothing rolls back."""
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

    def track_all(
        self, record: LedgerRecord, moved: list[str], attempt: Attempt
    ) -> dict[str, list[str]]:
        """Track every moved and every quiet target, ``workers`` at a time; by outcome.

        A failed write does not stop the others; its application goes to
        ``attempt.untracked`` (pending) with the error, to be raised once all are done.
        """
        quiet = record.on_premises_weights
        results = call_all(
            lambda app: self.track(record, app, attempt.timing, record_only=app in quiet),
            moved + sorted(quiet),
            workers=self._workers,
        )
        outcomes: dict[str, list[str]] = {DONE: [], ALREADY: [], UNTOUCHED: []}
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

    def track(self, record: LedgerRecord, app: str, timing: Timing, *, record_only: bool) -> str:
        """Record ``app`` ROLLED_BACK once per attempt; rollback always wins.

        Returns DONE (this event's item exists), ALREADY (another event's ROLLED_BACK is
        the head) or UNTOUCHED (``record_only`` and no cutover under way).
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
                return DONE if head.last_event_id == record.key else ALREADY
            if record_only and (head is None or head.phase not in ACTIVE_CUTOVER_PHASES):
                return UNTOUCHED
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
            return DONE
        raise ConcurrentUpdateError(entity, -1)
