"""Parsing of the events that can trigger a rollback into typed values.

Three shapes are accepted:

* a CloudWatch alarm notification delivered by SNS (``{"Records": [{"EventSource":
  "aws:sns", "Sns": {"Message": "<alarm JSON>"}}]}``);
* an EventBridge "CloudWatch Alarm State Change" event;
* a direct invocation ``{"applications": [...] | "all", "reason": "...",
  "idempotencyKey": "..."}``.

Anything else raises InvalidEventError naming the offending field, including a state
change time that is not a real UTC moment (``0001-01-01T00:00:00.000+0100`` lies before
year 1 in UTC).

Application names are normalised where they enter (:func:`normalise_application`: spaces
around removed, lowercase), as the plan names applications, so ``ORDERS`` is the
application ``orders`` and its tracking entity ``app#orders``.

Idempotency keys. SNS MessageIds change when an alarm notification is published again,
and the same state change can arrive both through SNS and EventBridge, so alarm events
are keyed by what identifies the state change itself: ``alarm:<name>:<state change time
as ISO UTC>``. Both channels carry the same StateChangeTime, so both map to one key. A
direct invocation uses its ``idempotencyKey`` when given; otherwise the caller's fallback
(the Lambda request id, stable across Lambda's own retries of an async invocation).
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from migration.errors import InvalidEventError
from migration.tracking import iso_timestamp

ALL_APPLICATIONS = "all"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
MAX_NAME_LENGTH = 255
MAX_REASON_LENGTH = 1024
MAX_KEY_LENGTH = 256
MIN_YEAR = 1000
DIRECT_KEYS = frozenset({"applications", "reason", "idempotencyKey"})


def normalise_application(name: str) -> str:
    """The canonical form of an application name: stripped and lowercase.

    The plan only accepts lowercase labels and record names are case-insensitive, so this
    is the name under which an application is tracked (``app#<name>``).
    """
    return name.strip().lower()


def normalise_applications(names: Iterable[str]) -> tuple[str, ...]:
    """Normalised names, first occurrence kept (``ORDERS`` and ``orders`` are one)."""
    return tuple(dict.fromkeys(normalise_application(name) for name in names))


class AlarmState(enum.StrEnum):
    """CloudWatch alarm states."""

    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class AlarmEvent:
    """A CloudWatch alarm state change, from SNS or EventBridge."""

    alarm_name: str
    state: AlarmState
    state_changed_at: datetime
    reason: str
    channel: str
    delivery_id: str
    previous_state: str | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable across SNS re-publishing and across the SNS/EventBridge channels."""
        return f"alarm:{self.alarm_name}:{iso_timestamp(self.state_changed_at)}"


@dataclass(frozen=True)
class RollbackCommand:
    """A direct request to roll back ``applications`` (None = every application)."""

    applications: tuple[str, ...] | None
    reason: str
    idempotency_key: str


def parse_event(event: object, *, fallback_key: str | None = None) -> AlarmEvent | RollbackCommand:
    """Parse a Lambda event into an AlarmEvent or a RollbackCommand.

    ``fallback_key`` keys a direct invocation without ``idempotencyKey`` (pass the Lambda
    request id); without either a random key is used and the call is not deduplicated.
    """
    if not isinstance(event, Mapping):
        raise InvalidEventError("event", f"expected a JSON object, got {type(event).__name__}")
    if "Records" in event:
        return _parse_sns(event["Records"])
    if "source" in event or "detail-type" in event:
        return _parse_eventbridge(event)
    if "applications" in event or "reason" in event:
        return _parse_direct(event, fallback_key)
    raise InvalidEventError(
        "event",
        "not an SNS alarm notification, an EventBridge alarm event or a direct rollback "
        "request (expected 'Records', 'source' or 'applications')",
    )


def _parse_sns(records: object) -> AlarmEvent:
    if not isinstance(records, list) or not records:
        raise InvalidEventError("Records", "expected a non-empty list of SNS records")
    if len(records) != 1:
        # SNS invokes Lambda with exactly one record; more means a different producer.
        raise InvalidEventError("Records", f"expected exactly one SNS record, got {len(records)}")
    record = records[0]
    if not isinstance(record, Mapping):
        raise InvalidEventError("Records[0]", "expected an object")
    source = record.get("EventSource", record.get("eventSource"))
    if source != "aws:sns":
        raise InvalidEventError("Records[0].EventSource", f"expected 'aws:sns', got {source!r}")
    sns = record.get("Sns")
    if not isinstance(sns, Mapping):
        raise InvalidEventError("Records[0].Sns", "expected an object")
    message_id = _string(sns, "MessageId", "Records[0].Sns.MessageId", required=False)
    raw = sns.get("Message")
    if not isinstance(raw, str):
        raise InvalidEventError("Records[0].Sns.Message", "expected a JSON string")
    try:
        message = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidEventError("Records[0].Sns.Message", f"not valid JSON ({exc.msg})") from None
    prefix = "Records[0].Sns.Message"
    if not isinstance(message, Mapping):
        raise InvalidEventError(prefix, "expected a JSON object (a CloudWatch alarm message)")
    return AlarmEvent(
        alarm_name=_name(message, "AlarmName", f"{prefix}.AlarmName"),
        state=_state(message.get("NewStateValue"), f"{prefix}.NewStateValue"),
        state_changed_at=_time(message.get("StateChangeTime"), f"{prefix}.StateChangeTime"),
        reason=_string(message, "NewStateReason", f"{prefix}.NewStateReason", required=False),
        channel="sns",
        delivery_id=message_id,
        previous_state=_optional_str(message.get("OldStateValue")),
    )


def _parse_eventbridge(event: Mapping[str, Any]) -> AlarmEvent:
    if event.get("source") != "aws.cloudwatch":
        raise InvalidEventError("source", f"expected 'aws.cloudwatch', got {event.get('source')!r}")
    if event.get("detail-type") != ALARM_STATE_CHANGE:
        raise InvalidEventError(
            "detail-type", f"expected {ALARM_STATE_CHANGE!r}, got {event.get('detail-type')!r}"
        )
    event_id = _name(event, "id", "id")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEventError("detail", "expected an object")
    state = detail.get("state")
    if not isinstance(state, Mapping):
        raise InvalidEventError("detail.state", "expected an object with value and timestamp")
    previous = detail.get("previousState")
    return AlarmEvent(
        alarm_name=_name(detail, "alarmName", "detail.alarmName"),
        state=_state(state.get("value"), "detail.state.value"),
        state_changed_at=_time(state.get("timestamp"), "detail.state.timestamp"),
        reason=_string(state, "reason", "detail.state.reason", required=False),
        channel="eventbridge",
        delivery_id=event_id,
        previous_state=(
            _optional_str(previous.get("value")) if isinstance(previous, Mapping) else None
        ),
    )


def _parse_direct(event: Mapping[str, Any], fallback_key: str | None) -> RollbackCommand:
    unknown = sorted(str(key) for key in event if key not in DIRECT_KEYS)
    if unknown:
        raise InvalidEventError(
            unknown[0], f"unknown field; a direct rollback takes only {sorted(DIRECT_KEYS)}"
        )
    if "applications" not in event:
        raise InvalidEventError("applications", 'missing; give a list of names or "all"')
    raw_apps = event["applications"]
    applications: tuple[str, ...] | None
    if raw_apps == ALL_APPLICATIONS:
        applications = None
    elif isinstance(raw_apps, list):
        if not raw_apps:
            raise InvalidEventError("applications", 'empty list; name applications or use "all"')
        for index, app in enumerate(raw_apps):
            if not isinstance(app, str) or not app.strip():
                raise InvalidEventError(f"applications[{index}]", "expected a non-empty name")
            if len(app.strip()) > MAX_NAME_LENGTH:
                raise InvalidEventError(f"applications[{index}]", "name too long")
        applications = normalise_applications(raw_apps)
    else:
        raise InvalidEventError(
            "applications", f'expected a list of names or "all", got {type(raw_apps).__name__}'
        )
    reason = event.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidEventError("reason", "expected a non-empty string saying why")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidEventError("reason", f"longer than {MAX_REASON_LENGTH} characters")
    key = event.get("idempotencyKey")
    if key is not None:
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise InvalidEventError(
                "idempotencyKey", f"expected a non-empty string of at most {MAX_KEY_LENGTH} chars"
            )
        idempotency_key = f"request:{key}"
    elif fallback_key:
        idempotency_key = f"invocation:{fallback_key}"
    else:
        idempotency_key = f"invocation:{uuid.uuid4()}"
    return RollbackCommand(
        applications=applications, reason=reason.strip(), idempotency_key=idempotency_key
    )


def _name(container: Mapping[str, Any], key: str, field: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEventError(field, "missing or empty; expected a non-empty string")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidEventError(field, f"longer than {MAX_NAME_LENGTH} characters")
    return value


def _string(container: Mapping[str, Any], key: str, field: str, *, required: bool) -> str:
    value = container.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidEventError(field, f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _state(value: object, field: str) -> AlarmState:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return AlarmState(value)
    except ValueError:
        allowed = ", ".join(state.value for state in AlarmState)
        problem = f"unknown alarm state {value!r}; expected {allowed}"
        raise InvalidEventError(field, problem) from None


def _time(value: object, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise InvalidEventError(field, "missing; expected an ISO-8601 timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEventError(field, f"not an ISO-8601 timestamp: {value!r}") from None
    if moment.tzinfo is None:
        raise InvalidEventError(field, f"timestamp without a UTC offset: {value!r}")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    # Years before 1000 would not give the 4-digit ISO text the tracking keys rely on.
    if utc is None or utc.year < MIN_YEAR:
        raise InvalidEventError(field, f"timestamp out of range: {value!r}")
    return utc
