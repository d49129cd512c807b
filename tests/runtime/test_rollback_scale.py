"""Rollback at programme size: 5,000 applications with 63-character names, against moto.

moto accepts items DynamoDB would refuse, so every item's size is computed by DynamoDB's
documented rules (:mod:`migration.item_size`) and checked against the 400 KB limit.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from migration.events import parse_event
from migration.item_size import MAX_ITEM_BYTES, item_size
from migration.ledger import CHUNK_NAMES, COMPLETED, EXPIRY_ATTRIBUTE, RollbackLedger
from tests.runtime.conftest import Aws, CallRecorder

APPLICATIONS = 5000
NAME_CHARS = 63  # a DNS label's maximum


def names(count: int) -> list[str]:
    """``count`` distinct 63-character application names."""
    return [f"{i:05d}-" + "x" * (NAME_CHARS - 6) for i in range(count)]


def stored_items(aws: Aws) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of the table, straight from moto's storage (a Scan of 10,000 items
    through moto's serialiser takes longer than the rollback itself)."""
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[aws.table]
    return {
        (item.hash_key.value, item.range_key.value): item.to_json()["Attributes"]
        for by_range in table.items.values()
        for item in by_range.values()
    }


def test_5000_applications_roll_back_in_the_route53_minimum_with_bounded_items(aws: Aws) -> None:
    apps = names(APPLICATIONS)
    assert all(len(app) == NAME_CHARS for app in apps)
    aws.seed(dict.fromkeys(apps, (50, 50)))
    dynamodb_calls = CallRecorder(aws.dynamodb)
    event = parse_event({"applications": "all", "reason": "scale", "idempotencyKey": "k-5000"})

    result = aws.service().handle(event)

    assert result.status == "rolled_back"
    assert len(result.rolled_back) == APPLICATIONS
    # One value per record, UPSERT counting twice: 4 elements per application.
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == math.ceil(
        4 * APPLICATIONS / 1000
    )
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 20
    weights = aws.weights()
    assert len(weights) == APPLICATIONS
    assert all(w == {"aws": 0, "on-premises": 100} for w in weights.values())

    items = stored_items(aws)
    sizes = {key: item_size(item) for key, item in items.items()}
    largest = max(sizes.values())
    assert largest < MAX_ITEM_BYTES, max(sizes, key=lambda k: sizes[k])
    ledger = {k: v for k, v in sizes.items() if k[0] == f"event#{result.event_key}"}
    kinds = Counter(sort_key.split("#", 1)[0] for _, sort_key in ledger)
    assert kinds == {
        "CURRENT": 1,
        "chunk": math.ceil(APPLICATIONS / CHUNK_NAMES),
        "batch": 20,
    }
    # Well under the limit: the largest ledger item is a chunk of 200 names.
    assert max(ledger.values()) < 64 * 1024
    # One ROLLED_BACK transition (head + history item) per application.
    tracked = Counter(k[0] for k in sizes if k[0].startswith("app#"))
    assert len(tracked) == APPLICATIONS and set(tracked.values()) == {2}
    # Those transitions, and the claim's commit (its header and its 25 chunks, one transaction).
    assert dynamodb_calls.attempts["TransactWriteItems"] == APPLICATIONS + 1
    # Committed: no item of the ledger or the history expires.
    assert not [key for key, item in items.items() if EXPIRY_ATTRIBUTE in item]

    record = RollbackLedger(aws.dynamodb, aws.table).get(result.event_key)
    assert record is not None and record.status == COMPLETED
    assert len(record.done) == APPLICATIONS and len(record.targets) == APPLICATIONS
    assert aws.inbox.count() == 1

    # A redelivery changes nothing: no Route 53 change, no write, the same items.
    aws.route53_calls.reset()
    dynamodb_calls.reset()
    again = aws.service().handle(event)
    assert again.status == "duplicate" and len(again.rolled_back) == APPLICATIONS
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    writes = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
    assert not writes & set(dynamodb_calls.attempts)
    assert stored_items(aws) == items
    assert aws.inbox.count() == 1
