"""Make moto's DynamoDB safe under concurrent requests and cheap per transaction.

DynamoDB serves concurrent requests; the rollback writes its tracking items from several
threads (:data:`migration.parallel.WRITE_WORKERS`). moto 5.2 has two gaps there:

* its backend is not thread-safe: ``transact_write_items`` deep-copies the table while
  another thread may be inserting into it ("dictionary changed size during iteration"),
  and restores that copy on failure, which would drop the other thread's writes;
* that copy is of the whole table, twice per transaction, so a transaction's cost grows
  with the table: 1,000 rollback transitions took 145 s, 5,000 would take hours.

:func:`install` serialises every DynamoDB request of the process under one lock (each
request is atomic, as in DynamoDB) and makes a transaction snapshot only the items it
names, restoring exactly those if it fails: the same all-or-nothing result. Stream records
of a failed transaction are not rolled back (nothing here reads streams). Idempotent;
used by the local emulator, the tests and the benchmarks (never shipped to Lambda).
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from typing import Any

_INSTALLED = "_migration_dynamodb_fidelity"
_LOCK = threading.RLock()


Snapshot = list[tuple[Any, Any, Any, Any]]


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> Snapshot:
    """(table, hash key, range key, copy of the item or None) per item the transaction names."""
    taken: Snapshot = []
    for entry in transact_items:
        _, operation = next(iter(entry.items()))
        table = backend.tables.get(operation.get("TableName"))
        if table is None:
            continue
        if "Key" in operation:
            keys = operation["Key"]
        else:
            item = operation.get("Item", {})
            keys = {
                name: item[name]
                for name in (table.hash_key_attr, table.range_key_attr)
                if name and name in item
            }
        try:
            hash_key, range_key = backend.get_keys_value(table, keys)
        except Exception:  # malformed: moto itself reports it
            continue
        item_copy = copy.deepcopy(table.get_item(hash_key, range_key))
        taken.append((table, hash_key, range_key, item_copy))
    return taken


def _restore(taken: Snapshot) -> None:
    """Put each named item back as it was (or remove it if it did not exist)."""
    for table, hash_key, range_key, item in reversed(taken):
        if item is None:
            if table.get_item(hash_key, range_key) is not None:
                if range_key is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key].pop(range_key, None)
        elif range_key is None:
            table.items[hash_key] = item
        else:
            table.items[hash_key][range_key] = item


def install() -> None:
    """Patch moto's DynamoDB request handler and transactions once per process."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoDBBackend, _INSTALLED, False):
        return

    original_call = DynamoHandler.call_action

    @functools.wraps(original_call)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original_call(self)

    original_transact = DynamoDBBackend.transact_write_items

    @functools.wraps(original_transact)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            taken = _snapshot(self, transact_items)
            try:
                original_transact(self, transact_items)
            except Exception:
                _restore(taken)
                raise

    # moto's own whole-table copy becomes the table itself (restoring it is then a
    # no-op); the items named above are restored instead.
    real_deepcopy = copy.deepcopy

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else real_deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy)  # type: ignore[assignment]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    setattr(DynamoDBBackend, _INSTALLED, True)
