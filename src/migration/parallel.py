"""Bounded parallel calls that lose no failure: every call runs, every exception is returned."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

WRITE_WORKERS = 8
"""Concurrent DynamoDB writes of one rollback (tracking transitions, ledger chunks).

Why 8: the workers share one boto3 client (thread-safe), whose connection pool holds 10
connections by default (botocore ``max_pool_connections``): 8 keeps every worker on a
pooled connection, with room for the caller's own calls. At 10-20 ms per DynamoDB call
from Lambda, 8 workers commit at most ~500 two-item transactions a second, about 2,000
write units (a transactional write costs 2 per KB and item): half of the 4,000 writes a
second a new on-demand table sustains, so the parallelism adds no throttling of its own.
5,000 tracking transitions (3 calls each) then take about 20 s instead of about 150 s,
well inside the rollback function's 5-minute timeout next to the DNS and INSYNC waits.
"""


@dataclass(frozen=True)
class CallResult(Generic[T, R]):
    """What one call returned (``value``) or raised (``error``)."""

    item: T
    value: R | None = None
    error: Exception | None = None


def call_all(
    function: Callable[[T], R], items: Iterable[T], *, workers: int = WRITE_WORKERS
) -> list[CallResult[T, R]]:
    """Call ``function`` on every item, at most ``workers`` at a time; results in input order.

    A call that raises does not stop the others: its exception is returned in its result,
    for the caller to report and raise once everything else is done. With one item or one
    worker the calls run in the calling thread.
    """
    todo = list(items)

    def run(item: T) -> CallResult[T, R]:
        try:
            return CallResult(item, value=function(item))
        except Exception as exc:  # returned to the caller, never dropped
            return CallResult(item, error=exc)

    if workers <= 1 or len(todo) <= 1:
        return [run(item) for item in todo]
    with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        return list(pool.map(run, todo))
