"""Property tests of the pure batching function ``plan_batches``.

What is asserted, for arbitrary lists of application change pairs (random name lengths,
value counts and value lengths, up to a few thousand applications):

* every batch respects both Route 53 limits: at most 1,000 ResourceRecord elements and
  at most 32,000 Value characters, UPSERT counting twice for both;
* both records of an application are always in the same batch;
* no change is lost or duplicated (the batches are a partition of the input);
* minimality: no two batches could be merged into one valid request (first-fit
  guarantees this), which implies fewer than ``2 * L + 1`` batches where
  ``L = elements / 1000 + characters / 32000`` (so at most about 4x the trivial lower
  bound ``max(ceil(elements / 1000), ceil(characters / 32000))`` in the worst case);
* with identical applications (the common case) the count is exactly optimal;
* a pair that cannot fit any request is refused up front.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration.errors import InvalidRecordSetError
from migration.traffic import (
    MAX_RECORD_ELEMENTS,
    MAX_VALUE_CHARS,
    ChangePair,
    WeightedRecord,
    plan_batches,
)


def make_pair(index: int, name_len: int, on_prem: list[int], aws: list[int]) -> ChangePair:
    """A pair whose records hold values of the given lengths."""
    name = f"{'n' * name_len}{index}.migration.internal."

    def record(identifier: str, lengths: list[int], weight: int) -> WeightedRecord:
        values = tuple(f"{i % 10}" * length for i, length in enumerate(lengths))
        return WeightedRecord(name, "A", identifier, weight, 60, values)

    return ChangePair(f"app{index}", record("on-premises", on_prem, 100), record("aws", aws, 0))


def fits(pair: ChangePair) -> bool:
    return pair.record_elements <= MAX_RECORD_ELEMENTS and pair.value_chars <= MAX_VALUE_CHARS


def check_batches(pairs: list[ChangePair], batches: list[tuple[ChangePair, ...]]) -> None:
    """Every property of the module docstring, for one input."""
    for batch in batches:
        changes = [change for pair in batch for change in pair.changes()]
        elements = sum(
            len(c["ResourceRecordSet"]["ResourceRecords"]) * (2 if c["Action"] == "UPSERT" else 1)
            for c in changes
        )
        chars = sum(
            len(rr["Value"]) * (2 if c["Action"] == "UPSERT" else 1)
            for c in changes
            for rr in c["ResourceRecordSet"]["ResourceRecords"]
        )
        assert elements <= MAX_RECORD_ELEMENTS
        assert chars <= MAX_VALUE_CHARS
        identifiers: dict[str, set[str]] = {}
        for c in changes:
            rrset = c["ResourceRecordSet"]
            identifiers.setdefault(rrset["Name"], set()).add(rrset["SetIdentifier"])
        assert all(ids == {"on-premises", "aws"} for ids in identifiers.values())

    flattened = [pair for batch in batches for pair in batch]
    assert Counter(map(id, flattened)) == Counter(map(id, pairs))
    assert all(batch for batch in batches)

    loads = [(sum(p.record_elements for p in b), sum(p.value_chars for p in b)) for b in batches]
    for i in range(len(loads)):
        for j in range(i + 1, len(loads)):
            merged = (loads[i][0] + loads[j][0], loads[i][1] + loads[j][1])
            assert merged[0] > MAX_RECORD_ELEMENTS or merged[1] > MAX_VALUE_CHARS

    total_elements = sum(p.record_elements for p in pairs)
    total_chars = sum(p.value_chars for p in pairs)
    lower = max(
        math.ceil(total_elements / MAX_RECORD_ELEMENTS), math.ceil(total_chars / MAX_VALUE_CHARS)
    )
    normalised = Fraction(total_elements, MAX_RECORD_ELEMENTS) + Fraction(
        total_chars, MAX_VALUE_CHARS
    )
    assert lower <= len(batches)
    assert len(batches) < 2 * normalised + 1 or len(batches) == 0


value_lengths = st.lists(st.integers(1, 255), min_size=1, max_size=12)
pair_shapes = st.tuples(st.integers(1, 60), value_lengths, value_lengths)


@settings(max_examples=150, deadline=None)
@given(st.lists(pair_shapes, max_size=300))
def test_batches_respect_limits_and_partition_the_input(
    shapes: list[tuple[int, list[int], list[int]]],
) -> None:
    pairs = [make_pair(i, *shape) for i, shape in enumerate(shapes)]
    check_batches(pairs, plan_batches(pairs))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(0, 4000), seed=st.integers(0, 2**32 - 1), wide=st.booleans())
def test_large_random_inputs(count: int, seed: int, wide: bool) -> None:
    # Thousands of applications: shapes come from a seeded RNG so examples stay cheap.
    rng = random.Random(seed)
    max_values = 60 if wide else 3
    pairs: list[ChangePair] = []
    for index in range(count):
        on_prem = [rng.randint(1, 255) for _ in range(rng.randint(1, max_values))]
        aws = [rng.randint(1, 255) for _ in range(rng.randint(1, max_values))]
        pair = make_pair(index, rng.randint(1, 60), on_prem, aws)
        if fits(pair):
            pairs.append(pair)
    check_batches(pairs, plan_batches(pairs))


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(1, 3000),
    values=st.integers(1, 4),
    length=st.integers(1, 255),
)
def test_identical_applications_are_packed_optimally(count: int, values: int, length: int) -> None:
    pairs = [make_pair(i, 5, [length] * values, [length] * values) for i in range(count)]
    per_batch = min(
        MAX_RECORD_ELEMENTS // pairs[0].record_elements, MAX_VALUE_CHARS // pairs[0].value_chars
    )
    batches = plan_batches(pairs)
    assert len(batches) == math.ceil(count / per_batch)
    check_batches(pairs, batches)


@settings(max_examples=50, deadline=None)
@given(st.lists(pair_shapes, min_size=1, max_size=30), st.integers(0, 29))
def test_oversized_pair_is_refused_before_planning(
    shapes: list[tuple[int, list[int], list[int]]], position: int
) -> None:
    pairs = [make_pair(i, *shape) for i, shape in enumerate(shapes)]
    huge = make_pair(999, 3, [255] * 40, [255] * 40)  # 40,800 characters as UPSERTs
    pairs.insert(min(position, len(pairs)), huge)
    with pytest.raises(InvalidRecordSetError, match="app999"):
        plan_batches(pairs)


def test_the_600_application_example() -> None:
    # One 12-char IP per record: 4 elements and 48 characters per application.
    pairs = [make_pair(i, 5, [12], [12]) for i in range(600)]
    batches = plan_batches(pairs)
    assert [len(b) for b in batches] == [250, 250, 100]


def test_character_limit_binds_for_long_values() -> None:
    # 2 x (250 + 250) = 1,000 characters per application: 32 per request.
    pairs = [make_pair(i, 5, [250], [250]) for i in range(100)]
    assert [len(b) for b in plan_batches(pairs)] == [32, 32, 32, 4]


def test_first_fit_fills_earlier_batches_with_later_small_pairs() -> None:
    big = [make_pair(i, 5, [250] * 30, [250] * 30) for i in range(2)]  # 30,000 chars each
    small = [make_pair(10 + i, 5, [1], [1]) for i in range(3)]
    batches = plan_batches([big[0], big[1], *small])
    assert [[p.application for p in b] for b in batches] == [
        ["app0", "app10", "app11", "app12"],
        ["app1"],
    ]


def test_empty_input_gives_no_batches() -> None:
    assert plan_batches([]) == []
