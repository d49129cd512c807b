"""TrackingStore batch reads: heads and history items of many entities, 100 keys a request."""

from __future__ import annotations

from typing import Any

import pytest

from migration.errors import MigrationError
from migration.tracking import Phase, TrackingStore, app_id
from tests.runtime.conftest import Aws, CallRecorder


def _track(store: TrackingStore, count: int) -> list[str]:
    ids = [app_id(f"app{i:03d}") for i in range(count)]
    for index, entity in enumerate(ids):
        store.transition(entity, Phase.PLANNED)
        if index % 2:
            store.transition(entity, Phase.SHIFTING, details={"step": 1, "percent": 10})
    return ids


def test_heads_of_many_entities_in_requests_of_100(aws: Aws) -> None:
    store = aws.tracking()
    ids = _track(store, 150)
    calls = CallRecorder(aws.dynamodb)

    heads = store.heads([*ids, app_id("never-tracked"), ids[0]])

    assert heads == {entity: store.current(entity) for entity in ids}
    assert heads[ids[1]].phase is Phase.SHIFTING and heads[ids[1]].version == 2
    assert calls.attempts["BatchGetItem"] == 2  # 151 distinct keys
    assert all(
        request["RequestItems"][aws.table]["ConsistentRead"]
        for request in calls.api_params("BatchGetItem")
    )


def test_entries_at_the_heads_last_event_are_the_last_transitions(aws: Aws) -> None:
    store = aws.tracking()
    ids = _track(store, 5)
    heads = store.heads(ids)

    entries = store.entries((h.entity_id, h.last_event_at) for h in heads.values())

    assert entries == {
        (entity, heads[entity].last_event_at): store.history(entity)[-1] for entity in ids
    }
    assert entries[(ids[1], heads[ids[1]].last_event_at)].details == {"step": 1, "percent": 10}
    assert store.entries([(ids[0], "2000-01-01T00:00:00.000000Z")]) == {}
    assert store.heads([]) == {}


class Unprocessing:
    """The moto client, whose BatchGetItem leaves the keys unprocessed ``times`` times."""

    def __init__(self, inner: Any, times: int) -> None:
        self._inner = inner
        self.times = times
        self.calls = 0

    def batch_get_item(self, RequestItems: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return self._inner.batch_get_item(RequestItems=RequestItems)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_unprocessed_keys_are_asked_again_with_backoff(aws: Aws) -> None:
    ids = _track(aws.tracking(), 3)
    client = Unprocessing(aws.dynamodb, times=2)
    store = TrackingStore(client, aws.table, sleep=aws.time.sleep)

    assert set(store.heads(ids)) == set(ids)
    assert client.calls == 3
    assert aws.time.sleeps == [0.1, 0.2]


def test_keys_still_unprocessed_after_the_last_attempt_raise(aws: Aws) -> None:
    ids = _track(aws.tracking(), 1)
    store = TrackingStore(Unprocessing(aws.dynamodb, times=99), aws.table, sleep=aws.time.sleep)
    with pytest.raises(MigrationError, match=r"1 key\(s\) still unprocessed after 6 attempts"):
        store.heads(ids)
