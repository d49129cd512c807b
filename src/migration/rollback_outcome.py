"""Closing one delivery of a rollback event: outcome, error, and the one notification.

Each application's outcome goes into its ledger chunk; anything that failed is noted on the
ledger header (which stays PENDING) and raised as PartialRollbackError for the platform's
retry. Otherwise the event completes, silently or after at most one SNS message published
by the holder of the ledger's notification lease (see :mod:`migration.rollback`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from migration.errors import LedgerWriteError, NotificationPendingError, PartialRollbackError
from migration.ledger import COMPLETED, LedgerOutcome, LedgerRecord, RollbackLedger
from migration.notify import Notifier
from migration.rollback_message import summarise
from migration.rollback_result import Attempt, RollbackResult

__all__ = [
    "LEASE_POLL_S",
    "LEASE_WAIT_RESERVE_S",
    "NOTIFICATION_LEASE_S",
    "OutcomeRecorder",
]

NOTIFICATION_LEASE_S = 120.0
"""How long a delivery may take to publish before another delivery may publish instead."""
LEASE_POLL_S = 1.0
LEASE_WAIT_RESERVE_S = 10.0


class OutcomeRecorder:
    """Records an event's outcome on the ledger and publishes its notification once.

    ``clock``, ``sleep`` and ``remaining_s`` (the Lambda's remaining time, optional) bound
    the wait for another delivery's lease.
    """

    def __init__(
        self,
        ledger: RollbackLedger,
        notifier: Notifier,
        *,
        logger: logging.Logger,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        remaining_s: Callable[[], float] | None,
        notification_lease_s: float,
        lease_poll_s: float,
    ) -> None:
        self._ledger = ledger
        self._notifier = notifier
        self._log = logger
        self._clock = clock
        self._sleep = sleep
        self._remaining_s = remaining_s
        self._lease_s = notification_lease_s
        self._lease_poll_s = lease_poll_s

    def record(
        self, record: LedgerRecord, result: RollbackResult, pending: list[str], attempt: Attempt
    ) -> None:
        """Each application's outcome into its ledger chunk; a failure is kept to raise."""
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

    def fail(self, key: str, done: list[str], pending: list[str], attempt: Attempt) -> None:
        """Note the error on the ledger (PENDING stays) and raise for the platform's retry."""
        try:
            self._ledger.record_error(key, "; ".join(attempt.errors))
        except ClientError as exc:
            self._log.error("rollback %s: error not recorded on the ledger: %s", key, exc)
            attempt.problem(f"ledger: last error: {exc}")
        raise PartialRollbackError(
            key, tuple(done), tuple(sorted(set(pending))), problems=tuple(attempt.problems)
        )

    def complete(self, result: RollbackResult, *, notification_id: str | None) -> None:
        """Mark the event COMPLETED (with the notification's id, if one was sent)."""
        self._ledger.complete(result.event_key, notification_id=notification_id)

    def notify(self, result: RollbackResult) -> RollbackResult:
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
        self.complete(result, notification_id=notification_id)
        return replace(result, notification_id=notification_id)
