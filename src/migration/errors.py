"""Exceptions raised by the migration runtime.

Every error is a :class:`MigrationError`, so a caller can catch the whole family in one
place. Messages are one line: they name the field or thing that is wrong and say what
to do about it. Attributes carry the same facts in machine-readable form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class MigrationError(Exception):
    """Base class of every error raised on purpose by the migration runtime."""


class ConfigurationError(MigrationError):
    """A setting (environment variable) is missing or malformed."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"setting {name}: {problem}")


class InvalidEventError(MigrationError):
    """An incoming event (alarm notification, EventBridge event, direct call) is malformed.

    ``field`` is a path such as ``Records[0].Sns.Message.AlarmName``.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"invalid event: {field}: {problem}")


class UnknownApplicationError(MigrationError):
    """One or more applications have no weighted ``on-premises``/``aws`` record pair."""

    def __init__(self, applications: Iterable[str], zone: str, detail: str = "") -> None:
        self.applications = tuple(applications)
        self.zone = zone
        names = ", ".join(self.applications)
        hint = f" ({detail})" if detail else ""
        super().__init__(
            f"unknown application(s) {names}: no weighted 'on-premises'/'aws' record pair in "
            f"hosted zone {zone}{hint}; check the name or create the record pair first"
        )


class InvalidWeightsError(MigrationError):
    """Requested Route 53 weights are out of range or would send traffic nowhere."""

    def __init__(self, application: str, aws: object, on_premises: object, problem: str) -> None:
        self.application = application
        super().__init__(
            f"invalid weights for {application} (aws={aws}, on-premises={on_premises}): {problem}"
        )


class InvalidRecordSetError(MigrationError):
    """A change cannot be expressed as one valid Route 53 request (e.g. too many values)."""


class RetryBudgetExhaustedError(MigrationError):
    """An AWS call kept failing with a retryable error until the time budget ran out."""

    def __init__(self, operation: str, attempts: int, budget_s: float, last_code: str) -> None:
        self.operation = operation
        self.attempts = attempts
        self.last_code = last_code
        super().__init__(
            f"{operation} still failing with {last_code} after {attempts} attempt(s) within the "
            f"{budget_s:g} s time budget; retry later or raise the budget"
        )


class ChangeNotInSyncError(MigrationError):
    """A Route 53 change did not reach INSYNC within the time budget."""

    def __init__(self, change_id: str, budget_s: float) -> None:
        self.change_id = change_id
        super().__init__(
            f"Route 53 change {change_id} not INSYNC within {budget_s:g} s; it is accepted and "
            f"will propagate, check it with get-change"
        )


class PartialShiftError(MigrationError):
    """Some batches of a traffic shift were applied and some were not.

    ``applied`` maps application -> change id; ``failed`` lists applications whose batch
    was rejected; ``not_attempted`` lists applications whose batch was never sent.
    """

    def __init__(
        self,
        applied: dict[str, str],
        failed: tuple[str, ...],
        not_attempted: tuple[str, ...],
        cause: str,
    ) -> None:
        self.applied = applied
        self.failed = failed
        self.not_attempted = not_attempted
        self.cause = cause
        super().__init__(
            f"traffic shift incomplete: {len(applied)} application(s) changed, {len(failed)} "
            f"failed, {len(not_attempted)} not attempted ({cause}); rerun to finish"
        )


class ConcurrentUpdateError(MigrationError):
    """Another writer changed a tracking head item between our read and our write."""

    def __init__(self, entity_id: str, expected_version: int) -> None:
        self.entity_id = entity_id
        self.expected_version = expected_version
        super().__init__(
            f"concurrent update of {entity_id}: version {expected_version} is no longer "
            f"current; re-read the entity and retry"
        )


class InvalidTransitionError(MigrationError):
    """A phase transition was requested from a phase the caller did not allow."""

    def __init__(self, entity_id: str, current: str | None, allowed: Iterable[str]) -> None:
        self.entity_id = entity_id
        self.current = current
        allowed_text = ", ".join(sorted(allowed))
        super().__init__(
            f"{entity_id} is in phase {current or '<none>'}, expected one of {allowed_text}; "
            f"check the entity's history before retrying"
        )


class PartialRollbackError(MigrationError):
    """A rollback changed some applications but not all; retrying the event finishes it."""

    def __init__(
        self,
        event_key: str,
        done: tuple[str, ...],
        pending: tuple[str, ...],
        problems: tuple[str, ...] = (),
    ) -> None:
        self.event_key = event_key
        self.done = done
        self.pending = pending
        # What failed besides the pending applications (e.g. a ledger write), one line each.
        self.problems = problems
        extra = f"; also failed: {problems[0]}" if problems else ""
        if len(problems) > 1:
            extra += f" (and {len(problems) - 1} more)"
        super().__init__(
            f"rollback {event_key} incomplete: {len(done)} application(s) rolled back, "
            f"{len(pending)} pending ({', '.join(pending[:5])}"
            f"{', ...' if len(pending) > 5 else ''}){extra}; the retry of this event "
            f"finishes the job"
        )


class LedgerWriteError(MigrationError):
    """Some writes of the rollback ledger failed (the others were made); retrying completes it.

    ``failed`` names each item that was not written; ``errors`` holds the exceptions.
    """

    def __init__(self, event_key: str, failed: tuple[str, ...], errors: tuple[Exception, ...]):
        self.event_key = event_key
        self.failed = failed
        self.errors = errors
        super().__init__(
            f"rollback {event_key}: {len(failed)} ledger write(s) failed "
            f"({', '.join(failed[:3])}{', ...' if len(failed) > 3 else ''}): {errors[0]}"
        )


class IncompleteRecordPairsError(MigrationError):
    """A rollback finished everything it could, but some names hold only half a pair.

    Such a name (e.g. only its ``aws`` record, at weight 100) cannot be sent on-premises
    by changing weights, so it was NOT rolled back. Raised after the rollback is complete
    and the operators are notified, so that the invocation fails visibly; a retry of the
    same event is a duplicate and raises it again without repeating any work.
    ``incomplete`` maps each name to what it holds; ``summary`` is the rollback's result.
    """

    def __init__(
        self, event_key: str, incomplete: Mapping[str, str], summary: Mapping[str, Any]
    ) -> None:
        self.event_key = event_key
        self.incomplete = dict(incomplete)
        self.summary = dict(summary)
        names = ", ".join(f"{app} ({what})" for app, what in sorted(self.incomplete.items()))
        super().__init__(
            f"rollback {event_key}: NOT rolled back, no complete 'on-premises'/'aws' record "
            f"pair: {names}; everything else is done ({len(summary.get('rolledBack') or [])} "
            f"application(s) rolled back); fix the records, then roll these back"
        )


class NotificationPendingError(MigrationError):
    """Another delivery of the same rollback holds the notification lease and has not finished.

    Raised when a delivery can wait no longer for the other one (the lease does not
    expire in time, or the invocation's time runs short); the retry of the event
    publishes the notification if the other delivery never does.
    """

    def __init__(self, event_key: str, lease_until: str | None) -> None:
        self.event_key = event_key
        self.lease_until = lease_until
        super().__init__(
            f"rollback {event_key}: another delivery holds the notification lease "
            f"(until {lease_until or 'unknown'}); the retry of this event sends the "
            f"notification if that delivery does not"
        )


class OutputsError(MigrationError):
    """The deployed stack's outputs cannot be read: missing file, missing key, bad value."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        super().__init__(f"{source}: {problem}")
