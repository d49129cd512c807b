"""The ledger's bounded items, DynamoDB's item-size rules and the bounded parallel calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migration import ledger as ledger_module
from migration.errors import LedgerWriteError, PartialRollbackError
from migration.events import parse_event
from migration.item_size import MAX_ITEM_BYTES, item_size, number_size, value_size
from migration.ledger import (
    CHUNK_NAMES,
    CLAIM_EXPIRY,
    COMPLETED,
    EXPIRY_ATTRIBUTE,
    PENDING,
    TRANSACTION_ITEMS,
    LedgerOutcome,
    RollbackLedger,
    chunk_item,
    pack_chunks,
)
from migration.notify import Notifier
from migration.parallel import call_all
from migration.rollback import RollbackService
from migration.tracking import to_item
from migration.traffic import Split
from tests.runtime.conftest import Aws, FailingItems

# -- the documented size rules ----------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        # String: name bytes + UTF-8 bytes.
        ({"id": {"S": "abc"}}, 2 + 3),
        ({"név": {"S": "été"}}, 4 + 5),
        # Number: 1 byte per two significant digits + 1; zeros at either end trimmed.
        ({"n": {"N": "123"}}, 1 + 3),
        ({"n": {"N": "100"}}, 1 + 2),
        ({"n": {"N": "-0.0012"}}, 1 + 2),
        # Binary: raw bytes; null and boolean: 1 byte.
        ({"b": {"B": b"\x00\x01\x02"}}, 1 + 3),
        ({"t": {"BOOL": True}, "z": {"NULL": True}}, 2 + 2),
        # List/Map: 3 bytes + elements, 1 byte more per element; a map key is a name.
        ({"l": {"L": []}}, 1 + 3),
        ({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}, 1 + 3 + (1 + 2) + (1 + 2)),
        ({"m": {"M": {"aws": {"N": "50"}}}}, 1 + 3 + 1 + 3 + 2),
    ],
)
def test_item_size_follows_the_documented_rules(item: dict[str, Any], expected: int) -> None:
    assert item_size(item) == expected


def test_item_size_of_sets_and_unknown_types() -> None:
    assert value_size({"SS": ["ab", "c"]}) == 3 + (1 + 2) + (1 + 1)
    assert number_size("1E+3") == 2
    with pytest.raises(ValueError, match="unknown DynamoDB attribute type"):
        value_size({"X": 1})


def test_item_size_of_a_serialised_item_matches_the_plain_count() -> None:
    plain = {"serverId": "event#k", "weights": {"aws": 0, "onPremises": 100}, "done": ["a"]}
    expected = (8 + 7) + (7 + 3 + (1 + 3 + 1)) + (1 + 10 + 2) + (4 + 3 + 1 + 1)
    assert item_size(to_item(plain)) == expected


# -- the ledger's bounds ------------------------------------------------------------------


def test_chunks_hold_at_most_chunk_names_in_order() -> None:
    names = [f"app{i:05d}" for i in range(CHUNK_NAMES * 2 + 1)]
    chunks = pack_chunks(reversed(names))
    assert [len(c) for c in chunks] == [CHUNK_NAMES, CHUNK_NAMES, 1]
    assert [n for c in chunks for n in c] == names
    assert pack_chunks([]) == ()


def test_the_worst_chunk_stays_under_400_kb() -> None:
    """200 names of 255 bytes (any DNS name's maximum), every attribute filled."""
    names = [f"{i:03d}" + "é" * 126 for i in range(CHUNK_NAMES)]  # 3 + 252 bytes
    assert {len(n.encode()) for n in names} == {255}
    half = names[: CHUNK_NAMES // 2]
    item = chunk_item(
        "alarm:" + "a" * 255 + ":2026-11-28T12:00:00.123000Z",
        "0123456789ab",
        9999,
        names,
        targets=dict.fromkeys(half, Split(aws=100, on_premises=0)),
        on_premises_weights={},
        unknown_applications=(),
        incomplete_pairs={n: "only the 'on-premises' record (weight 100)" for n in names[100:]},
        created_at="2026-11-28T12:00:00.123456Z",
    )
    # An attempt's outcome: every name in two outcome lists, a half pair or unknown.
    item.update(
        LedgerOutcome(
            done=names,
            pending=names,
            dns_reapplied=(),
            unknown_applications=half,
            incomplete_pairs={n: "records of different types (CNAME, AAAA)" for n in names},
        ).for_names(names)
    )
    item["updatedAt"] = "2026-11-28T12:00:00.123456Z"
    size = item_size(to_item(item))
    assert size < MAX_ITEM_BYTES
    assert size < 4 * (255 + 64) * CHUNK_NAMES + 1024  # the bound stated in the module


def test_63_character_chunks_are_small() -> None:
    names = [f"{i:03d}" + "x" * 60 for i in range(CHUNK_NAMES)]
    item = chunk_item(
        "k",
        "c",
        0,
        names,
        targets=dict.fromkeys(names, Split(aws=50, on_premises=50)),
        on_premises_weights={},
        unknown_applications=(),
        incomplete_pairs={},
        created_at="2026-11-28T12:00:00Z",
    )
    item.update(LedgerOutcome(done=names).for_names(names))
    assert item_size(to_item(item)) < 32 * 1024


# -- the ledger against moto ---------------------------------------------------------------


def test_a_lost_claim_leaves_no_chunk_behind(aws: Aws) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table, chunk_names=2)
    claim: dict[str, Any] = {
        "trigger": "direct",
        "reason": "r",
        "alarm_name": None,
        "requested": None,
        "targets": {f"a{i}": Split(50, 50) for i in range(5)},
    }
    first = ledger.claim("k", **claim)
    assert first is not None and len(first.chunks) == 3
    assert ledger.claim("k", **claim) is None
    record = ledger.get("k")
    assert record is not None and record.claim_id == first.claim_id
    assert record.chunks == first.chunks and record.targets == first.targets
    assert len(aws.items()) == 1 + 3  # the header and the winner's chunks


def test_a_failed_chunk_write_claims_nothing(aws: Aws) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table, chunk_names=1)
    FailingItems(aws.dynamodb, "PutItem", ('#0001"',))
    with pytest.raises(LedgerWriteError, match="1 ledger write"):
        ledger.claim(
            "k",
            trigger="direct",
            reason="r",
            alarm_name=None,
            requested=("a", "b"),
            targets={"a": Split(50, 50), "b": Split(50, 50)},
        )
    assert ledger.get("k") is None
    # The chunk that was written is an orphan: it expires.
    [orphan] = aws.items()
    assert orphan["timestamp"]["S"].endswith("#0000") and EXPIRY_ATTRIBUTE in orphan


def test_a_missing_chunk_is_an_error_not_a_shorter_list(aws: Aws) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table, chunk_names=1)
    record = ledger.claim(
        "k",
        trigger="direct",
        reason="r",
        alarm_name=None,
        requested=None,
        targets={"a": Split(50, 50), "b": Split(50, 50)},
    )
    assert record is not None
    aws.dynamodb.delete_item(
        TableName=aws.table,
        Key=to_item({"serverId": "event#k", "timestamp": f"chunk#{record.claim_id}#0001"}),
    )
    with pytest.raises(Exception, match="1 of its 2 chunk items"):
        ledger.get("k")


T1 = "2026-11-28T12:00:01.000000Z"
T2 = "2026-11-28T12:00:31.000000Z"


def test_a_ledger_of_the_one_item_format_is_still_read(aws: Aws) -> None:
    aws.seed({"orders": (0, 100)})
    header = {
        "serverId": "event#request:old",
        "timestamp": "CURRENT",
        "status": PENDING,
        "trigger": "direct",
        "reason": "before the upgrade",
        "targets": {"orders": {"aws": 50, "onPremises": 50}},
        "batches": [{"changeId": "/change/C1", "applications": ["orders"], "submittedAt": T1}],
        "inSync": {"/change/C1": T2},
        "done": [],
        "pending": ["orders"],
        "requestedAt": "2026-11-28T12:00:00.000000Z",
    }
    aws.dynamodb.put_item(TableName=aws.table, Item=to_item(header))
    record = RollbackLedger(aws.dynamodb, aws.table).get("request:old")
    assert record is not None and record.chunks == () and record.pending == ("orders",)
    assert record.change_id_by_application == {"orders": "/change/C1"}
    assert record.submitted_at == {"/change/C1": T1} and record.in_sync_at == {"/change/C1": T2}
    # A redelivery after the upgrade finishes it.
    event = parse_event({"applications": ["orders"], "reason": "x", "idempotencyKey": "old"})
    result = aws.service().handle(event)
    assert result.status == "rolled_back" and result.rolled_back[0].change_id == "/change/C1"
    assert result.rolled_back[0].dns_in_sync_at == T2
    done = RollbackLedger(aws.dynamodb, aws.table).get("request:old")
    assert done is not None and done.status == COMPLETED


def test_a_failed_outcome_write_is_raised_and_the_retry_completes(aws: Aws) -> None:
    aws.seed({f"app{i}": (50, 50) for i in range(5)})
    broken = FailingItems(aws.dynamodb, "UpdateItem", ('"chunk#',))
    event = parse_event({"applications": "all", "reason": "x", "idempotencyKey": "k"})
    with pytest.raises(PartialRollbackError, match="also failed: ledger") as caught:
        aws.service().handle(event)
    assert caught.value.pending == () and len(caught.value.done) == 5
    assert caught.value.problems and aws.inbox.count() == 0
    broken.clear()
    aws.route53_calls.reset()
    result = aws.service().handle(event)
    assert result.status == "rolled_back" and len(result.rolled_back) == 5
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert aws.inbox.count() == 1


def test_failed_batch_and_insync_records_are_raised_not_swallowed(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    FailingItems(aws.dynamodb, "PutItem", ('"batch#', '"insync#'))
    event = parse_event({"applications": ["orders"], "reason": "x", "idempotencyKey": "k"})
    with pytest.raises(PartialRollbackError) as caught:
        aws.service(wait_for_insync=True).handle(event)
    assert len(caught.value.problems) == 2
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}  # DNS moved first


# -- expiry: only an uncommitted claim's chunks expire -----------------------------------


class Crash(BaseException):
    """The function dies (timeout, out of memory) at a chosen call."""


def crash_on(client: Any, operation: str, needle: str) -> Callable[[], None]:
    """Make ``operation`` calls whose parameters mention ``needle`` die; returns the undo."""
    event = f"before-parameter-build.dynamodb.{operation}"

    def die(params: Any, **_: Any) -> None:
        if needle in json.dumps(params, default=str):
            raise Crash

    client.meta.events.register(event, die)
    return lambda: client.meta.events.unregister(event, die)


def expiring(aws: Aws) -> list[str]:
    """Sort keys of the items that carry the expiry attribute."""
    return [item["timestamp"]["S"] for item in aws.items() if EXPIRY_ATTRIBUTE in item]


def chunked_service(aws: Aws, chunk_names: int, **options: Any) -> RollbackService:
    """aws.service() with a ledger of ``chunk_names`` applications per chunk."""
    clock = aws.time.clock
    return RollbackService(
        aws.shifter(),
        aws.tracking(),
        RollbackLedger(aws.dynamodb, aws.table, clock=clock, chunk_names=chunk_names),
        Notifier(aws.sns, aws.topic_arn),
        clock=clock,
        sleep=aws.time.sleep,
        **options,
    )


CLAIM = {
    "trigger": "direct",
    "reason": "r",
    "alarm_name": None,
    "requested": None,
}


def test_a_crashed_claims_chunks_carry_the_expiry(aws: Aws) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table, clock=aws.time.clock, chunk_names=2)
    crash_on(aws.dynamodb, "TransactWriteItems", '"CURRENT"')  # dies at the commit
    with pytest.raises(Crash):
        ledger.claim("k", **CLAIM, targets={f"a{i}": Split(50, 50) for i in range(5)})
    assert ledger.get("k") is None
    items = aws.items()
    assert [i["timestamp"]["S"].rsplit("#", 1)[1] for i in items] == ["0000", "0001", "0002"]
    expected = int((aws.time.wall + CLAIM_EXPIRY).timestamp())
    assert {i[EXPIRY_ATTRIBUTE]["N"] for i in items} == {str(expected)}
    assert timedelta(days=7) == CLAIM_EXPIRY


def test_a_committed_ledger_and_the_history_carry_no_expiry(aws: Aws) -> None:
    aws.seed({f"app{i}": (50, 50) for i in range(5)} | {"quiet": (0, 100)})
    event = parse_event({"applications": "all", "reason": "x", "idempotencyKey": "k"})
    result = chunked_service(aws, 2, wait_for_insync=True).handle(event)
    assert result.status == "rolled_back" and len(result.rolled_back) == 5
    kinds = {item["timestamp"]["S"].split("#")[0] for item in aws.items()}
    assert {"CURRENT", "chunk", "batch", "insync"} <= kinds  # the whole ledger, and history
    assert any(item["serverId"]["S"].startswith("app#") for item in aws.items())
    assert expiring(aws) == []


def test_a_redelivery_after_a_crashed_claim_commits_its_own_chunks_without_expiry(
    aws: Aws,
) -> None:
    aws.seed({f"app{i}": (50, 50) for i in range(5)})
    event = parse_event({"applications": "all", "reason": "x", "idempotencyKey": "k"})
    undo = crash_on(aws.dynamodb, "TransactWriteItems", '"CURRENT"')
    with pytest.raises(Crash):
        chunked_service(aws, 2).handle(event)
    orphans = expiring(aws)
    assert len(orphans) == 3 and aws.weights()["app0"]["aws"] == 50  # nothing moved
    undo()
    result = chunked_service(aws, 2).handle(event)
    assert result.status == "rolled_back" and len(result.rolled_back) == 5
    record = RollbackLedger(aws.dynamodb, aws.table).get(result.event_key)
    assert record is not None and record.status == COMPLETED
    # Only the crashed claim's chunks expire; every read ignores them.
    assert expiring(aws) == orphans
    assert all(record.claim_id not in sort_key for sort_key in orphans)


def test_a_claim_resumed_after_its_commit_finds_its_chunks_permanent(aws: Aws) -> None:
    aws.seed({f"app{i}": (50, 50) for i in range(5)})
    event = parse_event({"applications": "all", "reason": "x", "idempotencyKey": "k"})
    aws.route53_faults.fail("ChangeResourceRecordSets", ["InternalError"] * 10)
    with pytest.raises(PartialRollbackError):
        chunked_service(aws, 2).handle(event)
    record = RollbackLedger(aws.dynamodb, aws.table).get("request:k")
    assert record is not None and record.status == PENDING and len(record.chunks) == 3
    assert expiring(aws) == []  # the commit removed the expiry of all three
    aws.route53_faults.clear()
    result = chunked_service(aws, 2).handle(event)
    assert result.status == "rolled_back" and len(result.rolled_back) == 5
    assert expiring(aws) == []


def test_chunks_beyond_one_transaction_lose_their_expiry_before_the_commit(aws: Aws) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table, chunk_names=1)
    names = [f"a{i:03d}" for i in range(TRANSACTION_ITEMS + 20)]
    record = ledger.claim("k", **CLAIM, targets=dict.fromkeys(names, Split(50, 50)))
    assert record is not None and len(record.chunks) == len(names)
    assert expiring(aws) == []
    stored = ledger.get("k")
    assert stored is not None and sorted(stored.targets) == names


def test_a_failed_clear_beyond_the_transaction_claims_nothing_and_leaves_nothing(
    aws: Aws,
) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table, chunk_names=1)
    names = [f"a{i:03d}" for i in range(TRANSACTION_ITEMS + 2)]
    FailingItems(aws.dynamodb, "UpdateItem", ("#0100",))
    with pytest.raises(LedgerWriteError, match="#0100"):
        ledger.claim("k", **CLAIM, targets=dict.fromkeys(names, Split(50, 50)))
    assert ledger.get("k") is None and aws.items() == []


def test_the_commit_respects_the_transaction_size_budget(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "TRANSACTION_BYTES", 1500)
    calls = CommitRecorder(aws.dynamodb)
    ledger = RollbackLedger(aws.dynamodb, aws.table, chunk_names=1)
    names = [f"a{i}" for i in range(8)]
    assert ledger.claim("k", **CLAIM, targets=dict.fromkeys(names, Split(50, 50))) is not None
    assert 1 < calls.transaction_size < TRANSACTION_ITEMS  # the header and a few chunks
    assert calls.cleared == 8 - (calls.transaction_size - 1)
    assert expiring(aws) == []


class CommitRecorder:
    """Counts the commit transaction's actions and the chunk updates outside it."""

    def __init__(self, client: Any) -> None:
        self.transaction_size = 0
        self.cleared = 0
        client.meta.events.register(
            "before-parameter-build.dynamodb.TransactWriteItems", self._transaction
        )
        client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", self._update)

    def _transaction(self, params: Any, **_: Any) -> None:
        self.transaction_size = len(params["TransactItems"])

    def _update(self, params: Any, **_: Any) -> None:
        if params.get("UpdateExpression") == "REMOVE #expires":
            self.cleared += 1


def test_a_chunk_gone_before_the_commit_cancels_the_claim(aws: Aws) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table, chunk_names=1)

    def vanish(params: Any, **_: Any) -> None:
        # As if Time To Live deleted the chunk between its write and the commit.
        chunk = params["TransactItems"][1]["Update"]["Key"]
        aws.dynamodb.delete_item(TableName=aws.table, Key=chunk)

    aws.dynamodb.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", vanish)
    with pytest.raises(LedgerWriteError, match="CURRENT"):
        ledger.claim("k", **CLAIM, targets={"a": Split(50, 50), "b": Split(50, 50)})
    aws.dynamodb.meta.events.unregister(
        "before-parameter-build.dynamodb.TransactWriteItems", vanish
    )
    assert ledger.get("k") is None and aws.items() == []  # nothing committed, nothing left


class RetriedCommit:
    """A client whose commit goes through, loses its response and is sent again (SDK retry)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self._inner.transact_write_items(**kwargs)
        return self._inner.transact_write_items(**kwargs)


def test_a_retried_commit_that_went_through_keeps_its_chunks(aws: Aws) -> None:
    ledger = RollbackLedger(RetriedCommit(aws.dynamodb), aws.table, chunk_names=1)
    record = ledger.claim("k", **CLAIM, targets={"a": Split(50, 50), "b": Split(50, 50)})
    assert record is not None
    stored = ledger.get("k")
    assert stored is not None and stored.claim_id == record.claim_id
    assert stored.chunks == (("a",), ("b",)) and expiring(aws) == []


def test_a_commit_error_other_than_a_cancellation_is_raised(aws: Aws) -> None:
    ledger = RollbackLedger(aws.dynamodb, aws.table)
    FailingItems(aws.dynamodb, "TransactWriteItems", ('"CURRENT"',))
    with pytest.raises(ClientError, match="injected"):
        ledger.claim("k", **CLAIM, targets={"a": Split(50, 50)})
    assert expiring(aws) != [] and ledger.get("k") is None


# -- bounded parallel calls ----------------------------------------------------------------


def test_call_all_runs_everything_and_returns_every_failure() -> None:
    seen: list[int] = []
    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        try:
            seen.append(n)
            if n % 3 == 0:
                raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")
            return n * 2
        finally:
            with lock:
                running["now"] -= 1

    results = call_all(work, range(30), workers=4)
    assert sorted(seen) == list(range(30))
    assert [r.item for r in results] == list(range(30))
    assert [r.item for r in results if r.error is not None] == list(range(0, 30, 3))
    assert all(r.value == r.item * 2 for r in results if r.error is None)
    assert running["most"] <= 4
    assert [r.value for r in call_all(work, [1, 2], workers=1)] == [2, 4]
