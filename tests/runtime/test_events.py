"""Parsing of SNS alarm notifications, EventBridge alarm events and direct invocations."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from migration.errors import InvalidEventError
from migration.events import AlarmEvent, AlarmState, RollbackCommand, parse_event
from tests.runtime.conftest import eventbridge_alarm_event, sns_alarm_event


def test_sns_alarm_notification() -> None:
    parsed = parse_event(sns_alarm_event("orders-5xx", message_id="m-1"))
    assert isinstance(parsed, AlarmEvent)
    assert parsed.alarm_name == "orders-5xx"
    assert parsed.state is AlarmState.ALARM
    assert parsed.state_changed_at == datetime(2026, 11, 28, 12, 0, 0, 123000, tzinfo=UTC)
    assert parsed.channel == "sns" and parsed.delivery_id == "m-1"
    assert parsed.previous_state == "OK"
    assert parsed.idempotency_key == "alarm:orders-5xx:2026-11-28T12:00:00.123000Z"


def test_eventbridge_alarm_event() -> None:
    parsed = parse_event(eventbridge_alarm_event("orders-5xx", "OK", event_id="e-1"))
    assert isinstance(parsed, AlarmEvent)
    assert (parsed.alarm_name, parsed.state, parsed.channel) == (
        "orders-5xx",
        AlarmState.OK,
        "eventbridge",
    )
    assert parsed.delivery_id == "e-1" and parsed.previous_state == "OK"


def test_idempotency_key_is_stable_across_republishing_and_channels() -> None:
    first = parse_event(sns_alarm_event("a", message_id="m-1"))
    republished = parse_event(sns_alarm_event("a", message_id="m-2"))
    via_eventbridge = parse_event(eventbridge_alarm_event("a", event_id="e-9"))
    assert isinstance(first, AlarmEvent) and isinstance(republished, AlarmEvent)
    assert isinstance(via_eventbridge, AlarmEvent)
    assert first.idempotency_key == republished.idempotency_key == via_eventbridge.idempotency_key
    # A later state change of the same alarm is a different event.
    later = parse_event(sns_alarm_event("a", changed="2026-11-28T12:05:00.000+0000"))
    assert isinstance(later, AlarmEvent) and later.idempotency_key != first.idempotency_key


def test_offsets_are_normalised_to_utc() -> None:
    parsed = parse_event(sns_alarm_event("a", changed="2026-11-28T07:00:00.123-0500"))
    assert isinstance(parsed, AlarmEvent)
    assert parsed.idempotency_key == "alarm:a:2026-11-28T12:00:00.123000Z"


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA", "ALARM"])
def test_every_alarm_state_parses(state: str) -> None:
    parsed = parse_event(sns_alarm_event("a", state))
    assert isinstance(parsed, AlarmEvent) and parsed.state.value == state


def test_direct_invocation() -> None:
    parsed = parse_event(
        {"applications": ["b", "a", "b"], "reason": " latency ", "idempotencyKey": "ticket-42"}
    )
    assert parsed == RollbackCommand(
        applications=("b", "a"), reason="latency", idempotency_key="request:ticket-42"
    )
    everything = parse_event({"applications": "all", "reason": "drill"}, fallback_key="req-1")
    assert everything == RollbackCommand(
        applications=None, reason="drill", idempotency_key="invocation:req-1"
    )
    random_key = parse_event({"applications": "all", "reason": "drill"})
    assert isinstance(random_key, RollbackCommand)
    assert random_key.idempotency_key.startswith("invocation:")
    assert random_key.idempotency_key != "invocation:req-1"


def test_direct_invocation_normalises_application_names() -> None:
    parsed = parse_event({"applications": ["ORDERS", " orders ", "Billing"], "reason": "x"})
    assert isinstance(parsed, RollbackCommand)
    assert parsed.applications == ("orders", "billing")


def _sns_with(message: Any) -> dict[str, Any]:
    event = sns_alarm_event("a")
    event["Records"][0]["Sns"]["Message"] = (
        message if isinstance(message, str) else json.dumps(message)
    )
    return event


def _sns_message_without(key: str) -> dict[str, Any]:
    message = json.loads(sns_alarm_event("a")["Records"][0]["Sns"]["Message"])
    del message[key]
    return _sns_with(message)


def _sns_message_with(key: str, value: Any) -> dict[str, Any]:
    message = json.loads(sns_alarm_event("a")["Records"][0]["Sns"]["Message"])
    message[key] = value
    return _sns_with(message)


def _eventbridge_with(path: list[str], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(eventbridge_alarm_event("a"))
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


def _record_with(key: str, value: Any) -> dict[str, Any]:
    event = sns_alarm_event("a")
    event["Records"][0][key] = value
    return event


_DELETE = object()

# (case id, event, field that the error must name)
MALFORMED: list[tuple[str, Any, str]] = [
    ("not-a-dict", ["Records"], "event"),
    ("string", "ALARM", "event"),
    ("unrecognised-shape", {"hello": "world"}, "event"),
    ("records-empty", {"Records": []}, "Records"),
    ("records-not-list", {"Records": {"Sns": {}}}, "Records"),
    ("two-records", {"Records": sns_alarm_event("a")["Records"] * 2}, "Records"),
    ("record-not-object", {"Records": ["x"]}, "Records[0]"),
    ("wrong-event-source", _record_with("EventSource", "aws:sqs"), "Records[0].EventSource"),
    ("sns-missing", _record_with("Sns", None), "Records[0].Sns"),
    ("message-not-json", _sns_with("ALARM: orders-5xx"), "Records[0].Sns.Message"),
    ("message-not-object", _sns_with([1, 2]), "Records[0].Sns.Message"),
    (
        "message-not-string",
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": {"AlarmName": "a"}}}]},
        "Records[0].Sns.Message",
    ),
    ("missing-alarm-name", _sns_message_without("AlarmName"), "Records[0].Sns.Message.AlarmName"),
    ("empty-alarm-name", _sns_message_with("AlarmName", "  "), "Records[0].Sns.Message.AlarmName"),
    (
        "unknown-state",
        _sns_message_with("NewStateValue", "BROKEN"),
        "Records[0].Sns.Message.NewStateValue",
    ),
    (
        "missing-state",
        _sns_message_without("NewStateValue"),
        "Records[0].Sns.Message.NewStateValue",
    ),
    (
        "bad-state-time",
        _sns_message_with("StateChangeTime", "yesterday"),
        "Records[0].Sns.Message.StateChangeTime",
    ),
    (
        "naive-state-time",
        _sns_message_with("StateChangeTime", "2026-11-28T12:00:00"),
        "Records[0].Sns.Message.StateChangeTime",
    ),
    # Valid ISO text whose UTC moment is outside datetime's range (OverflowError before).
    (
        "state-time-before-year-1-utc",
        _sns_message_with("StateChangeTime", "0001-01-01T00:00:00.000+0100"),
        "Records[0].Sns.Message.StateChangeTime",
    ),
    (
        "state-time-after-year-9999-utc",
        _sns_message_with("StateChangeTime", "9999-12-31T23:59:59.000-0100"),
        "Records[0].Sns.Message.StateChangeTime",
    ),
    (
        "eventbridge-timestamp-before-year-1-utc",
        _eventbridge_with(["detail", "state", "timestamp"], "0001-01-01T00:00:00.000+0100"),
        "detail.state.timestamp",
    ),
    (
        "eventbridge-timestamp-after-year-9999-utc",
        _eventbridge_with(["detail", "state", "timestamp"], "9999-12-31T23:59:59.000-0100"),
        "detail.state.timestamp",
    ),
    ("eventbridge-wrong-source", _eventbridge_with(["source"], "aws.ec2"), "source"),
    (
        "eventbridge-wrong-type",
        _eventbridge_with(["detail-type"], "EC2 State Change"),
        "detail-type",
    ),
    ("eventbridge-no-id", _eventbridge_with(["id"], _DELETE), "id"),
    ("eventbridge-no-detail", _eventbridge_with(["detail"], _DELETE), "detail"),
    (
        "eventbridge-no-alarm-name",
        _eventbridge_with(["detail", "alarmName"], _DELETE),
        "detail.alarmName",
    ),
    (
        "eventbridge-state-not-object",
        _eventbridge_with(["detail", "state"], "ALARM"),
        "detail.state",
    ),
    (
        "eventbridge-unknown-state",
        _eventbridge_with(["detail", "state", "value"], "alarm"),
        "detail.state.value",
    ),
    (
        "eventbridge-bad-timestamp",
        _eventbridge_with(["detail", "state", "timestamp"], 17),
        "detail.state.timestamp",
    ),
    ("applications-number", {"applications": 3, "reason": "x"}, "applications"),
    ("applications-wrong-word", {"applications": "everything", "reason": "x"}, "applications"),
    ("applications-empty", {"applications": [], "reason": "x"}, "applications"),
    ("application-not-string", {"applications": ["a", 7], "reason": "x"}, "applications[1]"),
    ("application-blank", {"applications": ["a", "  "], "reason": "x"}, "applications[1]"),
    ("applications-missing", {"reason": "x"}, "applications"),
    ("reason-empty", {"applications": "all", "reason": "   "}, "reason"),
    ("reason-missing", {"applications": "all"}, "reason"),
    ("reason-too-long", {"applications": "all", "reason": "x" * 2000}, "reason"),
    (
        "idempotency-key-number",
        {"applications": "all", "reason": "x", "idempotencyKey": 5},
        "idempotencyKey",
    ),
    (
        "unknown-direct-field",
        {"applications": "all", "reason": "x", "application": "a"},
        "application",
    ),
]


@pytest.mark.parametrize(
    ("event", "field"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_events_name_the_field(event: Any, field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event(event, fallback_key="req-1")
    assert caught.value.field == field
    message = str(caught.value)
    assert message.startswith(f"invalid event: {field}: ")
    assert "\n" not in message


@pytest.mark.parametrize(
    "changed",
    [
        "0001-01-01T00:00:00.000+0100",
        "9999-12-31T23:59:59.000-0100",
        "0999-12-31T23:59:59.000+0000",  # fits, but not as 4-digit ISO text
    ],
)
def test_out_of_range_state_change_times_are_refused_not_crashing(changed: str) -> None:
    for event, field in (
        (sns_alarm_event("a", changed=changed), "Records[0].Sns.Message.StateChangeTime"),
        (eventbridge_alarm_event("a", changed=changed), "detail.state.timestamp"),
    ):
        with pytest.raises(InvalidEventError, match="out of range") as caught:
            parse_event(event)
        assert caught.value.field == field
    # The extremes that do fit in UTC still parse.
    parsed = parse_event(sns_alarm_event("a", changed="9999-12-31T23:59:59.000+0100"))
    assert isinstance(parsed, AlarmEvent) and parsed.state_changed_at.year == 9999


def test_the_malformed_table_is_big_enough() -> None:
    assert len(MALFORMED) >= 10
    assert len({case_id for case_id, _, _ in MALFORMED}) == len(MALFORMED)
