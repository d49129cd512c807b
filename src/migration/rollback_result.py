"""What handling one rollback event returns, and what one delivery of it did so far.

:class:`RollbackResult` (with one :class:`RolledBackApplication` per application this event
recorded ROLLED_BACK) is the Lambda's JSON response and the source of the SNS message.
:class:`Timing` and :class:`Attempt` are the working state of one delivery: its Route 53
change ids and times by application, its applied batches, and the failures to report and raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migration.ledger import LedgerRecord
from migration.ledger import weights as _weights
from migration.tracking import parse_timestamp
from migration.traffic import ROLLED_BACK, AppliedBatch, Split

__all__ = ["Attempt", "RollbackResult", "RolledBackApplication", "Timing", "duplicate_result"]


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


@dataclass
class Timing:
    """Route 53 change ids and their times, by application, for one event."""

    record: LedgerRecord
    change_ids: dict[str, str]
    submitted_at: dict[str, str]
    in_sync_at: dict[str, str]

    @classmethod
    def from_record(cls, record: LedgerRecord) -> Timing:
        """The changes and times ``record`` holds (copies: this delivery adds its own)."""
        return cls(
            record,
            record.change_id_by_application,
            dict(record.submitted_at),
            dict(record.in_sync_at),
        )

    def entry(self, app: str) -> RolledBackApplication:
        """``app``'s entry in the result: its weights before, its change and times."""
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
class Attempt:
    """What one delivery did so far: Route 53 changes, failures to report and raise."""

    timing: Timing
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


def duplicate_result(record: LedgerRecord) -> RollbackResult:
    """The result of an event whose ledger is COMPLETED, as the ledger recorded it."""
    timing = Timing.from_record(record)
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
