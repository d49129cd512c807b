"""RollbackService end to end against moto: DNS, tracking items, SNS and idempotency."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migration.errors import PartialRollbackError, UnknownApplicationError
from migration.events import parse_event
from migration.ledger import COMPLETED, PENDING, LedgerRecord, RollbackLedger
from migration.tracking import HEAD_TIMESTAMP, Phase, TrackingStore, app_id
from tests.runtime.conftest import (
    Aws,
    CallRecorder,
    FailingItems,
    FaultInjector,
    eventbridge_alarm_event,
    sns_alarm_event,
)

MIXED = [(0, 100), (10, 90), (50, 50), (100, 0)]


def rolled_back_items(aws: Aws) -> dict[str, list[dict[str, Any]]]:
    """History items with migrationPhase ROLLED_BACK, by application."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item in aws.items():
        if (
            item["serverId"]["S"].startswith("app#")
            and item["timestamp"]["S"] != HEAD_TIMESTAMP
            and item.get("migrationPhase", {}).get("S") == "ROLLED_BACK"
        ):
            found.setdefault(item["serverId"]["S"][4:], []).append(item)
    return found


def assert_all_on_premises(aws: Aws) -> None:
    weights = aws.weights()
    assert weights and all(w == {"aws": 0, "on-premises": 100} for w in weights.values())


@pytest.mark.parametrize(
    ("splits", "expected_calls"),
    [
        ({"orders": (50, 50)}, 1),
        ({"orders": (10, 90), "billing": (100, 0)}, 1),
        (
            {f"app{i:03d}": s for i, s in enumerate(itertools.islice(itertools.cycle(MIXED), 600))},
            2,
        ),
    ],
    ids=["1-app", "2-apps", "600-apps"],
)
def test_alarm_rolls_back_every_application_on_aws(
    aws: Aws, splits: dict[str, tuple[int, int]], expected_calls: int
) -> None:
    aws.seed(splits)
    on_aws = sorted(app for app, (w, _) in splits.items() if w > 0)
    result = aws.service().handle(parse_event(sns_alarm_event("orders-5xx")))

    assert result.status == "rolled_back"
    assert [r.application for r in result.rolled_back] == on_aws
    assert_all_on_premises(aws)
    # Every record element is one value, UPSERT counts twice: 4 per application.
    needed_elements = 4 * len(on_aws)
    assert expected_calls == math.ceil(needed_elements / 1000)
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == expected_calls

    items = rolled_back_items(aws)
    assert sorted(items) == on_aws
    assert all(len(entries) == 1 for entries in items.values())
    sample = items[on_aws[-1]][0]
    details = sample["details"]["M"]
    previous = splits[on_aws[-1]]
    assert details["previousWeights"]["M"] == {
        "aws": {"N": str(previous[0])},
        "onPremises": {"N": str(previous[1])},
    }
    assert details["weights"]["M"] == {"aws": {"N": "0"}, "onPremises": {"N": "100"}}
    assert details["alarmName"] == {"S": "orders-5xx"}
    assert details["changeId"]["S"] in result.change_ids
    assert sample["reason"] == {"S": "Threshold crossed: orders-5xx"}
    assert sample["eventId"] == {"S": result.event_key}

    messages = aws.inbox.drain()
    assert len(messages) == 1
    assert f"Rolled back to aws=0 / on-premises=100 ({len(on_aws)})" in messages[0]
    assert result.notification_id


def test_applications_already_on_premises_are_left_alone(aws: Aws) -> None:
    aws.seed({"orders": (0, 100), "billing": (0, 100)}, ttl=300)
    result = aws.service().handle(parse_event({"applications": "all", "reason": "drill"}))
    assert result.status == "nothing_to_roll_back"
    assert result.already_on_premises == ("billing", "orders")
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert rolled_back_items(aws) == {}
    assert aws.shifter().read()["orders"].aws.ttl == 300  # untouched
    # Nothing rolled back and nothing else to report: no message (one per application
    # and attempt, and there is no application here). The ledger still completes.
    assert aws.inbox.count() == 0
    assert result.notification_id is None
    assert ledger_item(aws, result.event_key)["status"] == {"S": COMPLETED}


def test_all_zero_weights_count_as_on_aws(aws: Aws) -> None:
    # Route 53 answers 50/50 when every weight is zero.
    aws.seed({"orders": (0, 0)})
    result = aws.service().handle(parse_event({"applications": ["orders"], "reason": "fix"}))
    assert [r.application for r in result.rolled_back] == ["orders"]
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}


@pytest.mark.parametrize(
    "redelivery",
    [
        pytest.param(lambda: sns_alarm_event("orders-5xx"), id="same-sns-message"),
        pytest.param(
            lambda: sns_alarm_event("orders-5xx", message_id="republished-9"),
            id="republished-new-message-id",
        ),
        pytest.param(
            lambda: eventbridge_alarm_event("orders-5xx"), id="same-change-via-eventbridge"
        ),
    ],
)
def test_the_same_event_again_changes_nothing(aws: Aws, redelivery: Any) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90), "search": (0, 100)})
    service = aws.service()
    first = service.handle(parse_event(sns_alarm_event("orders-5xx")))
    assert first.status == "rolled_back"
    before = aws.snapshot()
    aws.route53_calls.reset()

    again = aws.service().handle(parse_event(redelivery()))

    assert again.status == "duplicate"
    assert again.event_key == first.event_key
    assert [r.application for r in again.rolled_back] == ["billing", "orders"]
    assert again.notification_id == first.notification_id
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert aws.snapshot() == before  # no new tracking item, no new SNS message
    assert aws.inbox.count() == 1


def test_direct_invocation_with_idempotency_key_runs_once(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    event = {"applications": ["orders"], "reason": "bad deploy", "idempotencyKey": "chg-1"}
    assert aws.service().handle(parse_event(event)).status == "rolled_back"
    assert aws.service().handle(parse_event(event)).status == "duplicate"
    assert len(rolled_back_items(aws)["orders"]) == 1
    assert aws.inbox.count() == 1


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_non_alarm_states_are_recorded_and_ignored(aws: Aws, state: str) -> None:
    aws.seed({"orders": (50, 50)})
    weights = aws.weights()
    result = aws.service().handle(parse_event(sns_alarm_event("orders-5xx", state)))
    assert result.status == "ignored" and result.alarm_state == state
    items = aws.items()
    assert [(i["serverId"]["S"], i["eventType"]["S"]) for i in items] == [
        ("alarm#orders-5xx", "ALARM_STATE_CHANGE")
    ]
    assert items[0]["timestamp"] == {"S": "2026-11-28T12:00:00.123000Z"}
    assert items[0]["details"]["M"]["state"] == {"S": state}
    assert "migrationPhase" not in items[0]
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert aws.weights() == weights
    assert aws.inbox.count() == 0
    # Redelivery records nothing new.
    aws.service().handle(parse_event(eventbridge_alarm_event("orders-5xx", state)))
    assert len(aws.items()) == 1


def test_unknown_application_in_a_direct_request_changes_nothing(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90)})
    before = aws.snapshot()
    event = parse_event({"applications": ["orders", "invoicing"], "reason": "x"})
    with pytest.raises(UnknownApplicationError, match="invoicing") as caught:
        aws.service().handle(event)
    assert caught.value.applications == ("invoicing",)
    assert "migration.internal" in str(caught.value)
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert aws.snapshot() == before
    assert aws.items() == []  # not even an idempotency record


def test_alarm_mapping_targets_only_its_applications(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90), "search": (100, 0)})
    service = aws.service(alarm_applications={"orders-5xx": ("orders", "ghost"), "all-5xx": None})
    result = service.handle(parse_event(sns_alarm_event("orders-5xx")))
    # The typo "ghost" must not block the emergency rollback of "orders".
    assert [r.application for r in result.rolled_back] == ["orders"]
    assert result.unknown_applications == ("ghost",)
    weights = aws.weights()
    assert weights["orders"] == {"aws": 0, "on-premises": 100}
    assert weights["billing"] == {"aws": 10, "on-premises": 90}
    assert weights["search"] == {"aws": 100, "on-premises": 0}
    (message,) = aws.inbox.drain()
    assert "NOT rolled back, no weighted record pair in the zone: ghost" in message
    # An alarm that is not in the mapping rolls back everything.
    other = service.handle(parse_event(sns_alarm_event("unmapped")))
    assert [r.application for r in other.rolled_back] == ["billing", "search"]
    assert_all_on_premises(aws)


def ledger_record(aws: Aws, key: str) -> LedgerRecord:
    record = RollbackLedger(aws.dynamodb, aws.table).get(key)
    assert record is not None
    return record


def ledger_item(aws: Aws, key: str) -> dict[str, Any]:
    item = aws.dynamodb.get_item(
        TableName=aws.table,
        Key={"serverId": {"S": f"event#{key}"}, "timestamp": {"S": HEAD_TIMESTAMP}},
    )["Item"]
    return dict(item)


def test_partial_dns_failure_then_retry_finishes_the_job(aws: Aws) -> None:
    # 100 long CNAME pairs: the 32,000-character limit makes 3 batches (38, 38, 24).
    apps = {f"app{i:03d}": (50, 50) for i in range(100)}
    aws.seed(apps, record_type="CNAME", long_values=True)
    aws.route53_faults.fail("ChangeResourceRecordSets", [None, "InvalidChangeBatch", None])
    event = sns_alarm_event("orders-5xx")

    with pytest.raises(PartialRollbackError) as caught:
        aws.service().handle(parse_event(event))

    error = caught.value
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 3
    assert len(error.done) + len(error.pending) == 100
    assert error.done and error.pending
    weights = aws.weights()
    assert all(weights[a] == {"aws": 0, "on-premises": 100} for a in error.done)
    assert all(weights[a] == {"aws": 50, "on-premises": 50} for a in error.pending)
    assert sorted(rolled_back_items(aws)) == sorted(error.done)  # a true record only
    record = ledger_record(aws, error.event_key)
    assert record.status == PENDING
    assert record.done == tuple(sorted(error.done))
    assert record.pending == tuple(sorted(error.pending))
    assert len(record.batches) == 2
    assert "InvalidChangeBatch" in (record.last_error or "")
    assert aws.inbox.count() == 0

    # The platform retries the same event.
    aws.route53_faults.clear()
    aws.route53_calls.reset()
    result = aws.service().handle(parse_event(event))

    assert result.status == "rolled_back"
    assert len(result.rolled_back) == 100
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 1  # only the failed batch
    assert_all_on_premises(aws)
    items = rolled_back_items(aws)
    assert sorted(items) == sorted(apps) and all(len(v) == 1 for v in items.values())
    assert aws.inbox.count() == 1
    record = ledger_record(aws, error.event_key)
    assert record.status == COMPLETED and record.pending == ()
    assert record.last_error is None and record.attempts == 2
    # Earlier change ids are remembered for the applications of the first attempt.
    assert all(r.change_id for r in result.rolled_back)

    assert aws.service().handle(parse_event(event)).status == "duplicate"
    assert aws.inbox.count() == 1


def test_partial_tracking_failure_then_retry(aws: Aws) -> None:
    aws.seed({f"app{i}": (10, 90) for i in range(5)})
    # The transactions of app2 and app3 fail (no botocore retry at this hook); the tracking
    # writes run in parallel, so the others are written all the same.
    broken = FailingItems(aws.dynamodb, "TransactWriteItems", ('"app#app2"', '"app#app3"'))
    event = parse_event({"applications": "all", "reason": "x", "idempotencyKey": "k"})
    with pytest.raises(PartialRollbackError) as caught:
        aws.service().handle(event)
    assert caught.value.pending == ("app2", "app3")
    assert broken.failed == 2
    assert_all_on_premises(aws)  # DNS first: every application is already safe
    assert sorted(rolled_back_items(aws)) == ["app0", "app1", "app4"]
    assert aws.inbox.count() == 0

    broken.clear()
    aws.route53_calls.reset()
    result = aws.service().handle(event)
    assert result.status == "rolled_back" and len(result.rolled_back) == 5
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    items = rolled_back_items(aws)
    assert sorted(items) == [f"app{i}" for i in range(5)]
    assert all(len(v) == 1 for v in items.values())
    assert aws.inbox.count() == 1


def test_sns_failure_is_retried_without_repeating_work(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    faults = FaultInjector(aws.sns)
    faults.fail("Publish", ["InternalError"])
    event = parse_event(sns_alarm_event("orders-5xx"))
    with pytest.raises(ClientError, match="InternalError"):
        aws.service().handle(event)
    assert aws.inbox.count() == 0
    record = ledger_record(aws, event.idempotency_key)
    assert record.status == PENDING and record.done == ("orders",)
    assert (record.last_error or "").startswith("notification not sent")
    aws.route53_calls.reset()
    result = aws.service().handle(event)
    assert result.status == "rolled_back" and result.notification_id
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert len(rolled_back_items(aws)["orders"]) == 1
    assert aws.inbox.count() == 1


def test_route53_throttling_during_rollback_is_survived(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (100, 0)})
    aws.route53_faults.fail(
        "ChangeResourceRecordSets", ["Throttling", "PriorRequestNotComplete", "Throttling"]
    )
    result = aws.service().handle(parse_event(sns_alarm_event("orders-5xx")))
    assert result.status == "rolled_back"
    assert aws.route53_faults.injected["ChangeResourceRecordSets"] == 3
    assert len(aws.time.sleeps) == 3
    assert_all_on_premises(aws)
    assert aws.inbox.count() == 1


class _CompetingWriter:
    """Client wrapper: before the first N transactions, another writer moves the entity."""

    def __init__(self, inner: Any, table: str, competitor_writes: int) -> None:
        self._inner = inner
        self._competitor = TrackingStore(inner, table)
        self._left = competitor_writes
        self.transactions = 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions += 1
        if self._left:
            self._left -= 1
            self._competitor.transition(app_id("orders"), Phase.SHIFTING, actor="cutover")
        return self._inner.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_rollback_wins_against_a_concurrent_phase_change(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    aws.tracking().transition(app_id("orders"), Phase.SHIFTING)
    racing = _CompetingWriter(aws.dynamodb, aws.table, competitor_writes=2)
    tracking = TrackingStore(racing, aws.table, clock=aws.time.clock)
    result = aws.service(tracking=tracking).handle(parse_event(sns_alarm_event("x")))
    assert result.status == "rolled_back"
    assert racing.transactions == 3  # lost twice, re-read, won
    store = aws.tracking()
    head = store.current(app_id("orders"))
    assert head is not None and head.phase is Phase.ROLLED_BACK and head.version == 4
    assert [e.phase for e in store.history(app_id("orders"))] == [
        Phase.SHIFTING,
        Phase.SHIFTING,
        Phase.SHIFTING,
        Phase.ROLLED_BACK,
    ]


def test_subject_fits_sns_limit_for_long_alarm_names(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    calls = CallRecorder(aws.sns)
    aws.service().handle(parse_event(sns_alarm_event("a" * 255)))
    (params,) = calls.api_params("Publish")
    assert len(params["Subject"]) <= 100 and params["Subject"].endswith("...")
    assert aws.inbox.count() == 1


def test_ledger_record_round_trip(aws: Aws) -> None:
    aws.seed({"orders": (30, 70)})
    result = aws.service().handle(parse_event({"applications": ["orders"], "reason": "r"}))
    record = RollbackLedger(aws.dynamodb, aws.table).get(result.event_key)
    assert record is not None
    assert record.status == COMPLETED and record.trigger == "direct"
    assert record.targets == {"orders": result.rolled_back[0].previous}
    assert record.done == ("orders",) and record.notification_id == result.notification_id
    assert record.change_id_by_application == {"orders": result.rolled_back[0].change_id}
    item = ledger_item(aws, result.event_key)
    assert "migrationPhase" not in item  # stays out of the phase index


def test_waiting_for_insync_is_reported_not_fatal(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    result = aws.service(wait_for_insync=True).handle(parse_event(sns_alarm_event("a")))
    assert result.in_sync is True
    assert aws.route53_calls.attempts["GetChange"] == 1
    aws.seed({"billing": (50, 50)})
    aws.route53_faults.fail("GetChange", lambda _n: "Throttling")
    slow = aws.service(wait_for_insync=True, shifter=aws.shifter(time_budget_s=1))
    late = slow.handle(parse_event(sns_alarm_event("b")))
    assert late.status == "rolled_back" and late.in_sync is False
    assert aws.weights()["billing"] == {"aws": 0, "on-premises": 100}
    assert "had not reported INSYNC" in aws.inbox.drain()[-1]
