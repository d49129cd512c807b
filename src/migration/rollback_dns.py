"""Route 53 side of a rollback: move the DNS, record the changes, wait for INSYNC, re-check.

Every move is an unconditional UPSERT to aws=0 / on-premises=100 (a rollback always wins),
in the fewest atomic batches (:class:`migration.traffic.TrafficShifter`). The ledger items of
the accepted changes are written after the DNS has moved; INSYNC is awaited within the time
the function has left; the re-check rolls back again whatever moved back to AWS meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from botocore.exceptions import ClientError

from migration.errors import (
    ChangeNotInSyncError,
    LedgerWriteError,
    MigrationError,
    PartialShiftError,
    RetryBudgetExhaustedError,
)
from migration.ledger import RollbackLedger
from migration.rollback_result import Attempt
from migration.tracking import iso_timestamp
from migration.traffic import ROLLED_BACK, ApplicationRecords, AppliedBatch, TrafficShifter

__all__ = ["INSYNC_RESERVE_S", "RollbackDns"]

INSYNC_RESERVE_S = 60.0
"""Time the function keeps for tracking and notifying after waiting for INSYNC."""


class RollbackDns:
    """Moves an event's targets on-premises in Route 53 and records each change's times.

    ``clock`` stamps the submitted and INSYNC times; ``remaining_s`` (the Lambda's remaining
    time, optional) bounds the INSYNC wait.
    """

    def __init__(
        self,
        shifter: TrafficShifter,
        ledger: RollbackLedger,
        *,
        logger: logging.Logger,
        clock: Callable[[], datetime],
        remaining_s: Callable[[], float] | None,
    ) -> None:
        self._shifter = shifter
        self._ledger = ledger
        self._log = logger
        self._clock = clock
        self._remaining_s = remaining_s

    def move(
        self, key: str, current: Mapping[str, ApplicationRecords], attempt: Attempt
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
                on_batch_applied=lambda batch: self.remember_batch(batch, attempt),
            )
        except PartialShiftError as exc:
            failed = set(exc.failed) | set(exc.not_attempted)
            attempt.errors.append(str(exc))
            self._log.error("rollback %s: DNS partly failed: %s", key, exc)
        return failed

    def remember_batch(self, batch: AppliedBatch, attempt: Attempt) -> None:
        """In memory only: the ledger's batch items are written once the DNS has moved."""
        attempt.applied.append(batch)
        attempt.timing.submitted_at[batch.change_id] = iso_timestamp(self._clock())
        attempt.timing.change_ids.update(dict.fromkeys(batch.applications, batch.change_id))

    def record_batches(self, key: str, attempt: Attempt) -> None:
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

    def confirm_in_sync(self, key: str, change_ids: list[str], attempt: Attempt) -> bool:
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

    def recheck(
        self, key: str, apps: list[str], attempt: Attempt
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
                on_batch_applied=lambda batch: self.remember_batch(batch, attempt),
            )
        except PartialShiftError as exc:
            failed = set(exc.failed) | set(exc.not_attempted)
            return tuple(sorted(set(on_aws) - failed)), sorted(failed)
        return tuple(sorted(on_aws)), []
