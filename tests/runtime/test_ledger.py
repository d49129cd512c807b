"""The ledger's bounded items, DynamoDB's item-size rules and the bounded parallel calls."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from migration.errors import LedgerWriteError, PartialRollbackError
from migration.events import parse_event
from migration.item_size import MAX_ITEM_BYTES, item_size, number_size, value_size
from migration.ledger import (
    CHUNK_NAMES,
    COMPLETED,
    PENDING,
    LedgerOutcome,
    RollbackLedger,
    chunk_item,
    pack_chunks,
)
from migration.parallel import call_all
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
