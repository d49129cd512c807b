"""A rollback always wins: names, one record and one message per application, recovery time.

Scenarios of the first invariant, end to end against moto: application names are
normalised wherever they enter; every application gets one ROLLED_BACK item and one SNS
message per attempt, whatever the number of alarms or deliveries; an application in an
active cutover phase is recorded ROLLED_BACK even at 0 % on AWS; every ROLLED_BACK item
says how long the recovery took; half record pairs are reported and fail the invocation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migration.errors import (
    IncompleteRecordPairsError,
    InvalidTransitionError,
    NotificationPendingError,
    PartialRollbackError,
    UnknownApplicationError,
)
from migration.events import RollbackCommand, parse_event
from migration.notify import Notifier
from migration.rollback import (
    COMPLETED,
    NOTIFICATION_LEASE_S,
    PENDING,
    RollbackLedger,
    RollbackService,
)
from migration.tracking import HEAD_TIMESTAMP, Phase, TrackingStore, app_id, utc_now
from migration.traffic import Split, TrafficShifter
from tests.runtime.conftest import (
    ZONE_NAME,
    Aws,
    CallRecorder,
    FaultInjector,
    eventbridge_alarm_event,
    sns_alarm_event,
)


def rolled_back_items(aws: Aws) -> dict[str, list[dict[str, Any]]]:
    """ROLLED_BACK history items by entity id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item in aws.items():
        if (
            item["timestamp"]["S"] != HEAD_TIMESTAMP
            and item.get("migrationPhase", {}).get("S") == "ROLLED_BACK"
        ):
            found.setdefault(item["serverId"]["S"], []).append(item)
    return found


def assert_all_on_premises(aws: Aws) -> None:
    weights = aws.weights()
    assert weights and all(w == {"aws": 0, "on-premises": 100} for w in weights.values())


def entity_ids(aws: Aws) -> set[str]:
    return {item["serverId"]["S"] for item in aws.items()}


# -- 1. application names are normalised wherever they enter ------------------------------


def test_direct_command_in_capitals_records_the_real_application(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90)})
    result = aws.service().handle(parse_event({"applications": ["ORDERS"], "reason": "x"}))
    assert [r.application for r in result.rolled_back] == ["orders"]
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}
    assert aws.weights()["billing"] == {"aws": 10, "on-premises": 90}
    assert list(rolled_back_items(aws)) == ["app#orders"]
    assert "app#ORDERS" not in entity_ids(aws)
    assert "orders: was aws=50" in aws.inbox.drain()[0]


def test_names_from_commands_built_in_process_and_alarm_mappings_are_normalised(
    aws: Aws,
) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90)})
    # The CLI and the cutover engine build RollbackCommand themselves.
    command = RollbackCommand(applications=(" Orders ",), reason="x", idempotency_key="k")
    assert [r.application for r in aws.service().handle(command).rolled_back] == ["orders"]
    service = aws.service(alarm_applications={"billing-5xx": ("BILLING",)})
    result = service.handle(parse_event(sns_alarm_event("billing-5xx")))
    assert [r.application for r in result.rolled_back] == ["billing"]
    assert result.unknown_applications == ()
    assert sorted(rolled_back_items(aws)) == ["app#billing", "app#orders"]
    apps = [entity for entity in entity_ids(aws) if entity.startswith("app#")]
    assert apps and all(entity == entity.lower() for entity in apps)


# -- helpers for concurrent deliveries ----------------------------------------------------


class Serialised:
    """A client whose calls run one at a time, optionally meeting at a barrier first.

    Every AWS call is atomic in AWS, but moto's in-process backends are not thread-safe
    (a TransactWriteItems checks, then writes, then may restore a deep copy), so the
    threads below interleave between calls, never inside one. ``gates`` maps an
    operation to a barrier each thread meets before its first call of that operation.
    """

    def __init__(
        self, inner: Any, lock: threading.Lock, gates: dict[str, threading.Barrier] | None = None
    ) -> None:
        self._inner = inner
        self._lock = lock
        self._gates = gates or {}
        self._seen = threading.local()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            gate = self._gates.get(name)
            # The ledger's claim commits in a transaction too: a gate waits for the others.
            claim = name == "transact_write_items" and is_claim(kwargs)
            if gate is not None and not claim and not getattr(self._seen, name, False):
                setattr(self._seen, name, True)
                gate.wait()
            with self._lock:
                return attribute(*args, **kwargs)

        return call


def is_claim(params: Mapping[str, Any]) -> bool:
    """Whether TransactWriteItems ``params`` commit a ledger claim (its header's put)."""
    first = params["TransactItems"][0]
    return "Put" in first and first["Put"]["Item"]["serverId"]["S"].startswith("event#")


def serialised_service(
    aws: Aws,
    lock: threading.Lock,
    *,
    dynamodb_gates: dict[str, threading.Barrier] | None = None,
    **options: Any,
) -> RollbackService:
    """A RollbackService on serialised clients (one per thread, shared lock)."""
    route53 = Serialised(aws.route53, lock)
    dynamodb = Serialised(aws.dynamodb, lock, dynamodb_gates)
    settings: dict[str, Any] = {"clock": aws.time.clock, "sleep": aws.time.sleep}
    settings.update(options)
    return RollbackService(
        TrafficShifter(route53, aws.zone_id, sleep=aws.time.sleep, monotonic=aws.time.monotonic),
        TrackingStore(dynamodb, aws.table, clock=aws.time.clock),
        RollbackLedger(dynamodb, aws.table, clock=settings["clock"]),
        Notifier(Serialised(aws.sns, lock), aws.topic_arn),
        **settings,
    )


def run_concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads started together; their results, or raise the first error."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a delivery hung"
    if errors:
        raise errors[0]
    return results


def start_cutover(aws: Aws, app: str, phase: Phase) -> None:
    """Walk ``app``'s head to ``phase`` the way the cutover engine does."""
    store = aws.tracking()
    path = {
        Phase.PLANNED: [Phase.PLANNED],
        Phase.REPLICATING: [Phase.PLANNED, Phase.REPLICATING],
        Phase.READY: [Phase.PLANNED, Phase.REPLICATING, Phase.READY],
        Phase.SHIFTING: [Phase.PLANNED, Phase.REPLICATING, Phase.READY, Phase.SHIFTING],
        Phase.HELD: [Phase.PLANNED, Phase.REPLICATING, Phase.READY, Phase.SHIFTING, Phase.HELD],
        Phase.CUTOVER_COMPLETE: [
            Phase.PLANNED,
            Phase.REPLICATING,
            Phase.READY,
            Phase.SHIFTING,
            Phase.CUTOVER_COMPLETE,
        ],
    }[phase]
    for step in path:
        store.transition(app_id(app), step, actor="cutover")


TWO_ALARMS = {"orders-5xx": ("orders",), "orders-latency": ("orders",)}


def assert_once(aws: Aws, app: str) -> str:
    """One ROLLED_BACK item for ``app`` and one message naming it; returns the message."""
    items = rolled_back_items(aws)
    assert len(items[app_id(app)]) == 1
    messages = [m for m in aws.inbox.drain() if f"  {app}: " in m]
    assert len(messages) == 1, messages
    return messages[0]


# -- 2a. two different alarms, one application ---------------------------------------------


def test_two_alarms_one_after_the_other_record_and_notify_once(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90)})
    start_cutover(aws, "orders", Phase.SHIFTING)
    first = aws.service(alarm_applications=TWO_ALARMS).handle(
        parse_event(sns_alarm_event("orders-5xx"))
    )
    second = aws.service(alarm_applications=TWO_ALARMS).handle(
        parse_event(eventbridge_alarm_event("orders-latency"))
    )

    assert [r.application for r in first.rolled_back] == ["orders"]
    assert first.notification_id
    assert second.status == "nothing_to_roll_back"
    assert second.rolled_back == ()
    assert second.already_rolled_back == ("orders",)
    assert second.to_dict()["alreadyRolledBack"] == ["orders"]
    assert second.notification_id is None
    assert assert_once(aws, "orders")
    assert aws.inbox.count() == 1
    ledger = RollbackLedger(aws.dynamodb, aws.table).get(second.event_key)
    assert ledger is not None and ledger.status == COMPLETED
    assert ledger.already_rolled_back == ("orders",)
    # A redelivery of the second alarm is a duplicate that says the same.
    again = aws.service(alarm_applications=TWO_ALARMS).handle(
        parse_event(sns_alarm_event("orders-latency"))
    )
    assert again.status == "duplicate" and again.already_rolled_back == ("orders",)
    assert aws.inbox.count() == 1
    assert aws.weights()["billing"] == {"aws": 10, "on-premises": 90}


@pytest.mark.parametrize("interleaving", ["free", "both-read-the-head-first"])
def test_two_alarms_at_the_same_moment_record_and_notify_once(aws: Aws, interleaving: str) -> None:
    aws.seed({"orders": (50, 50)})
    start_cutover(aws, "orders", Phase.SHIFTING)
    lock = threading.Lock()
    # Forced: neither writes its ROLLED_BACK before both have read the SHIFTING head.
    gates = (
        {"transact_write_items": threading.Barrier(2, timeout=30)}
        if interleaving != "free"
        else None
    )
    services = [
        serialised_service(aws, lock, dynamodb_gates=gates, alarm_applications=TWO_ALARMS)
        for _ in range(2)
    ]
    calls = CallRecorder(aws.dynamodb)
    events = [
        parse_event(sns_alarm_event("orders-5xx")),
        parse_event(eventbridge_alarm_event("orders-latency")),
    ]
    results = run_concurrently(
        lambda: services[0].handle(events[0]), lambda: services[1].handle(events[1])
    )

    winners = [r for r in results if r.rolled_back]
    losers = [r for r in results if not r.rolled_back]
    assert len(winners) == 1 and len(losers) == 1
    assert [r.application for r in winners[0].rolled_back] == ["orders"]
    assert winners[0].notification_id
    assert losers[0].already_rolled_back == ("orders",)
    assert losers[0].notification_id is None
    assert assert_once(aws, "orders")
    assert aws.inbox.count() == 1
    head = aws.tracking().current(app_id("orders"))
    assert head is not None and head.phase is Phase.ROLLED_BACK
    assert head.last_event_id == winners[0].event_key
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}
    if gates:
        # Both wrote from the same version: one transaction won, the other was cancelled,
        # re-read the head and found it ROLLED_BACK.
        transitions = [p for p in calls.api_params("TransactWriteItems") if not is_claim(p)]
        assert len(transitions) == 2
        # Two claims (two events) and one transition committed.
        assert calls.succeeded["TransactWriteItems"] == 3


# -- 2b. the same event delivered twice -----------------------------------------------------


def test_the_same_event_delivered_twice_at_once_notifies_once(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (100, 0)})
    lock = threading.Lock()
    # Both deliveries find no ledger item before either claims it: both run the rollback.
    gates = {"put_item": threading.Barrier(2, timeout=30)}
    services = [
        serialised_service(
            aws, lock, dynamodb_gates=gates, clock=utc_now, sleep=time.sleep, lease_poll_s=0.01
        )
        for _ in range(2)
    ]
    calls = CallRecorder(aws.dynamodb)
    event = sns_alarm_event("orders-5xx")
    results = run_concurrently(
        lambda: services[0].handle(parse_event(event)),
        lambda: services[1].handle(parse_event(event)),
    )

    assert sorted(r.status for r in results) == ["duplicate", "rolled_back"]
    assert results[0].notification_id == results[1].notification_id is not None
    for result in results:
        assert [r.application for r in result.rolled_back] == ["billing", "orders"]
    assert aws.inbox.count() == 1
    items = rolled_back_items(aws)
    assert sorted(items) == ["app#billing", "app#orders"]
    assert all(len(entries) == 1 for entries in items.values())
    record = RollbackLedger(aws.dynamodb, aws.table).get(results[0].event_key)
    assert record is not None and record.status == COMPLETED and record.lease_until is None
    # Both claimed (one header put each; one succeeded); both ran the rollback.
    headers = [p for p in calls.api_params("TransactWriteItems") if is_claim(p)]
    assert len(headers) == 2


class Crash(BaseException):
    """The function dies (timeout, out of memory) between the lease and the publish."""


class CrashingNotifier(Notifier):
    def publish(self, subject: str, message: str) -> str:
        raise Crash


def test_a_crash_between_lease_and_publish_lets_a_later_retry_publish(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    event = parse_event(sns_alarm_event("orders-5xx"))
    with pytest.raises(Crash):
        aws.service(notifier=CrashingNotifier(aws.sns, aws.topic_arn)).handle(event)
    record = RollbackLedger(aws.dynamodb, aws.table).get(event.idempotency_key)
    assert record is not None and record.status == PENDING and record.lease_until
    assert aws.inbox.count() == 0

    # A retry while the dead delivery's lease still runs waits it out, then publishes.
    aws.route53_calls.reset()
    retry = aws.service().handle(event)
    assert retry.status == "rolled_back" and retry.notification_id
    assert sum(aws.time.sleeps) >= NOTIFICATION_LEASE_S
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert aws.inbox.count() == 1
    assert len(rolled_back_items(aws)[app_id("orders")]) == 1
    assert aws.service().handle(event).status == "duplicate"
    assert aws.inbox.count() == 1


def test_a_retry_short_of_time_leaves_the_lease_to_a_later_retry(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    event = parse_event(sns_alarm_event("orders-5xx"))
    with pytest.raises(Crash):
        aws.service(notifier=CrashingNotifier(aws.sns, aws.topic_arn)).handle(event)
    with pytest.raises(NotificationPendingError, match="notification lease"):
        aws.service(remaining_s=lambda: 5.0).handle(event)
    assert aws.inbox.count() == 0
    aws.time.wall += timedelta(seconds=NOTIFICATION_LEASE_S + 1)  # the lease expires
    sleeps = len(aws.time.sleeps)
    result = aws.service().handle(event)
    assert result.status == "rolled_back" and len(aws.time.sleeps) == sleeps  # no wait
    assert aws.inbox.count() == 1


def test_a_failed_publish_releases_the_lease_for_an_immediate_retry(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    FaultInjector(aws.sns).fail("Publish", ["InternalError"])
    event = parse_event(sns_alarm_event("orders-5xx"))
    with pytest.raises(ClientError):
        aws.service().handle(event)
    record = RollbackLedger(aws.dynamodb, aws.table).get(event.idempotency_key)
    assert record is not None and record.lease_until is None
    assert aws.service().handle(event).notification_id
    assert aws.time.sleeps == [] and aws.inbox.count() == 1


# -- 3. a cutover under way is recorded ROLLED_BACK even at 0 % on AWS ---------------------


@pytest.mark.parametrize(
    "phase", [Phase.REPLICATING, Phase.READY, Phase.SHIFTING, Phase.HELD], ids=str
)
def test_an_active_cutover_at_zero_percent_is_recorded_rolled_back(aws: Aws, phase: Phase) -> None:
    aws.seed({"orders": (0, 100), "planned": (0, 100), "fresh": (0, 100), "storefront": (100, 0)})
    start_cutover(aws, "orders", phase)
    start_cutover(aws, "planned", Phase.PLANNED)
    start_cutover(aws, "storefront", Phase.CUTOVER_COMPLETE)
    result = aws.service().handle(parse_event(sns_alarm_event("vpn-down")))

    assert result.status == "rolled_back"
    assert [r.application for r in result.rolled_back] == ["orders", "storefront"]
    orders = result.rolled_back[0]
    assert orders.previous == Split(0, 100) and not orders.dns_changed
    assert orders.change_id is None
    assert result.already_on_premises == ("fresh", "planned")  # untouched, not recorded
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 1  # storefront only
    assert_all_on_premises(aws)
    items = rolled_back_items(aws)
    assert sorted(items) == ["app#orders", "app#storefront"]
    (item,) = items["app#orders"]
    assert item["fromPhase"] == {"S": str(phase)}
    assert item["details"]["M"]["dnsChanged"] == {"BOOL": False}
    assert item["details"]["M"]["previousWeights"]["M"]["aws"] == {"N": "0"}
    message = assert_once(aws, "orders")
    assert "orders: already aws=0 on-premises=100; cutover under way" in message
    assert "storefront: was aws=100 on-premises=0" in message
    head = aws.tracking().current(app_id("planned"))
    assert head is not None and head.phase is Phase.PLANNED


def test_a_direct_request_records_a_ready_application_and_the_cutover_stops(aws: Aws) -> None:
    aws.seed({"orders": (0, 100)})
    start_cutover(aws, "orders", Phase.READY)
    result = aws.service().handle(parse_event({"applications": ["orders"], "reason": "stop"}))
    assert [r.application for r in result.rolled_back] == ["orders"]
    head = aws.tracking().current(app_id("orders"))
    assert head is not None and head.phase is Phase.ROLLED_BACK
    # The engine's step 1 expects READY: it cannot record a shift any more.
    with pytest.raises(InvalidTransitionError):
        aws.tracking().transition(app_id("orders"), Phase.SHIFTING, expected_from=Phase.READY)


class _CutoverStepRacingTheRollback:
    """Before the rollback's first transaction, a cutover sets step 1 (10 %) and records it."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self._inner = aws.dynamodb
        self._raced = False

    def transact_write_items(self, **kwargs: Any) -> Any:
        if not self._raced:
            self._raced = True
            self._aws.shifter().set_split({"orders": Split.percent_on_aws(10)})
            self._aws.tracking().transition(
                app_id("orders"), Phase.SHIFTING, expected_from=Phase.READY, actor="cutover"
            )
        return self._inner.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_cutover_step_racing_the_rollback_is_rolled_back_again(aws: Aws) -> None:
    aws.seed({"orders": (0, 100)})
    start_cutover(aws, "orders", Phase.READY)
    tracking = TrackingStore(_CutoverStepRacingTheRollback(aws), aws.table, clock=aws.time.clock)
    result = aws.service(tracking=tracking).handle(parse_event(sns_alarm_event("vpn-down")))

    assert [r.application for r in result.rolled_back] == ["orders"]
    assert result.dns_reapplied == ("orders",)
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}
    store = aws.tracking()
    head = store.current(app_id("orders"))
    assert head is not None and head.phase is Phase.ROLLED_BACK
    assert [e.phase for e in store.history(app_id("orders"))][-2:] == [
        Phase.SHIFTING,
        Phase.ROLLED_BACK,
    ]
    message = assert_once(aws, "orders")
    assert "rolled back again: orders" in message


# -- 4. recovery time, recorded ------------------------------------------------------------


class SlowPropagation:
    """Route 53 client whose changes report PENDING on their first GetChange."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._seen: set[str] = set()

    def get_change(self, **kwargs: Any) -> Any:
        response = self._inner.get_change(**kwargs)
        if kwargs["Id"] not in self._seen:
            self._seen.add(kwargs["Id"])
            response["ChangeInfo"]["Status"] = "PENDING"
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def slow_shifter(aws: Aws) -> TrafficShifter:
    return TrafficShifter(
        SlowPropagation(aws.route53),
        aws.zone_id,
        sleep=aws.time.sleep,
        monotonic=aws.time.monotonic,
        random=aws.time.random,
    )


def details_of(aws: Aws, app: str) -> dict[str, Any]:
    (item,) = rolled_back_items(aws)[app_id(app)]
    return {key: next(iter(value.values())) for key, value in item["details"]["M"].items()}


def test_an_alarm_rollback_records_when_traffic_was_back(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    aws.time.wall = datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC)  # the alarm is 4.877 s old
    shifter = slow_shifter(aws)
    service = aws.service(shifter=shifter, wait_for_insync=True)
    result = service.handle(parse_event(sns_alarm_event("orders-5xx")))

    assert result.in_sync is True
    assert aws.time.sleeps == [2.0]  # one poll interval: INSYNC on the second GetChange
    details = details_of(aws, "orders")
    assert details["alarmChangedAt"] == "2026-11-28T12:00:00.123000Z"
    assert details["requestedAt"] == "2026-11-28T12:00:05.000000Z"
    assert details["dnsSubmittedAt"] == "2026-11-28T12:00:05.000000Z"
    assert details["dnsInSyncAt"] == "2026-11-28T12:00:07.000000Z"
    assert details["recoverySeconds"] == "6.877"
    summary = result.to_dict()
    assert summary["alarmChangedAt"] == "2026-11-28T12:00:00.123000Z"
    (entry,) = summary["rolledBack"]
    assert entry["dnsSubmittedAt"] == "2026-11-28T12:00:05.000000Z"
    assert entry["dnsInSyncAt"] == "2026-11-28T12:00:07.000000Z"
    assert entry["recoverySeconds"] == 6.877
    assert "6.877 s after the alarm" in aws.inbox.drain()[0]
    # A duplicate reports the same times from the ledger.
    again = aws.service().handle(parse_event(eventbridge_alarm_event("orders-5xx")))
    assert again.status == "duplicate" and again.to_dict()["rolledBack"] == [entry]


def test_a_direct_rollback_measures_recovery_from_the_request(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    shifter = slow_shifter(aws)
    result = aws.service(shifter=shifter, wait_for_insync=True).handle(
        parse_event({"applications": ["orders"], "reason": "bad deploy"})
    )
    details = details_of(aws, "orders")
    assert "alarmChangedAt" not in details
    assert details["requestedAt"] == "2026-11-28T12:00:00.000000Z"
    assert details["dnsInSyncAt"] == "2026-11-28T12:00:02.000000Z"
    assert float(details["recoverySeconds"]) == 2.0
    assert result.rolled_back[0].recovery_seconds == 2.0
    assert result.to_dict()["alarmChangedAt"] is None


def test_without_waiting_only_the_submission_is_recorded(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    result = aws.service(wait_for_insync=False).handle(parse_event(sns_alarm_event("a")))
    details = details_of(aws, "orders")
    assert details["dnsSubmittedAt"] == "2026-11-28T12:00:00.000000Z"
    assert "dnsInSyncAt" not in details and "recoverySeconds" not in details
    assert result.in_sync is None and result.rolled_back[0].recovery_seconds is None
    assert aws.route53_calls.attempts["GetChange"] == 0


def test_the_insync_wait_stays_within_the_invocations_remaining_time(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    shifter = slow_shifter(aws)
    # 30 s left, 60 s kept for tracking and notifying: one GetChange, no waiting.
    service = aws.service(shifter=shifter, wait_for_insync=True, remaining_s=lambda: 30.0)
    result = service.handle(parse_event(sns_alarm_event("a")))
    assert result.in_sync is False and aws.time.sleeps == []
    assert aws.route53_calls.attempts["GetChange"] == 1
    assert "dnsInSyncAt" not in details_of(aws, "orders")
    assert "had not reported INSYNC" in aws.inbox.drain()[0]


def test_a_retry_confirms_insync_of_an_earlier_attempts_change(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90)})
    # Call 1 commits the ledger's claim; call 2 is the first tracking transition.
    aws.dynamodb_faults.fail(
        "TransactWriteItems", lambda n: "InternalServerError" if n == 2 else None
    )
    event = parse_event({"applications": "all", "reason": "x", "idempotencyKey": "k"})
    with pytest.raises(PartialRollbackError):
        aws.service().handle(event)  # DNS done, not waited for, one item missing
    aws.dynamodb_faults.clear()
    result = aws.service(wait_for_insync=True).handle(event)
    assert result.in_sync is True
    assert {r.dns_in_sync_at for r in result.rolled_back} == {"2026-11-28T12:00:00.000000Z"}
    assert all(r.dns_submitted_at for r in result.rolled_back)


# -- 6. half record pairs are reported and fail the invocation ------------------------------


def seed_half_pair(aws: Aws, name: str, identifier: str = "aws", weight: int = 100) -> None:
    """Only one of the two weighted records of ``name``."""
    aws.route53.change_resource_record_sets(
        HostedZoneId=aws.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"{name}.{ZONE_NAME}",
                        "Type": "A",
                        "SetIdentifier": identifier,
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.9.9.9"}],
                    },
                }
            ]
        },
    )
    aws.route53_calls.reset()


def test_rollback_of_all_reports_an_aws_only_name_and_fails_after_everything_else(
    aws: Aws,
) -> None:
    aws.seed({"orders": (50, 50), "billing": (0, 100)})
    seed_half_pair(aws, "legacy")
    event = parse_event({"applications": "all", "reason": "incident", "idempotencyKey": "i"})

    with pytest.raises(IncompleteRecordPairsError) as caught:
        aws.service().handle(event)

    error = caught.value
    assert error.incomplete == {"legacy": "only the 'aws' record (weight 100)"}
    assert "legacy (only the 'aws' record (weight 100))" in str(error)
    assert error.summary["incompletePairs"] == error.incomplete
    assert [r["application"] for r in error.summary["rolledBack"]] == ["orders"]
    # Everything else is done: DNS, tracking, the notification, the ledger.
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}
    assert aws.weights()["legacy"] == {"aws": 100}  # nothing could be done about it
    assert sorted(rolled_back_items(aws)) == ["app#orders"]
    (message,) = aws.inbox.drain()
    assert "NOT rolled back, incomplete 'on-premises'/'aws' record pair (1)" in message
    assert "  legacy: has only the 'aws' record (weight 100)" in message
    record = RollbackLedger(aws.dynamodb, aws.table).get(error.event_key)
    assert record is not None and record.status == COMPLETED
    assert record.incomplete_pairs == error.incomplete

    # The platform retries the failed invocation: a duplicate, failing again, silently.
    aws.route53_calls.reset()
    with pytest.raises(IncompleteRecordPairsError) as again:
        aws.service().handle(event)
    assert again.value.summary["status"] == "duplicate"
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert aws.inbox.count() == 1


def test_an_alarm_naming_a_half_pair_reports_it_even_with_nothing_else_to_do(aws: Aws) -> None:
    aws.seed({"orders": (0, 100)})
    seed_half_pair(aws, "legacy", "on-premises", 100)
    service = aws.service(alarm_applications={"legacy-5xx": ("legacy", "orders")})
    with pytest.raises(IncompleteRecordPairsError) as caught:
        service.handle(parse_event(sns_alarm_event("legacy-5xx")))
    assert caught.value.incomplete == {"legacy": "only the 'on-premises' record (weight 100)"}
    assert caught.value.summary["alreadyOnPremises"] == ["orders"]
    (message,) = aws.inbox.drain()
    assert "  legacy: has only the 'on-premises' record (weight 100)" in message


def test_a_direct_request_naming_a_half_pair_still_changes_nothing(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    seed_half_pair(aws, "legacy")
    before = aws.snapshot()
    with pytest.raises(UnknownApplicationError, match="legacy has only the 'aws' record"):
        aws.service().handle(parse_event({"applications": ["orders", "legacy"], "reason": "x"}))
    assert aws.snapshot() == before
