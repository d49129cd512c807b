"""``migrate status`` in-process against a stack on moto's server: the source (registered plan
or plan file), the summary per wave and phase, pages of rows, the wave filter, and what it
reads (never a Scan, never a call per application)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from migration.cli import app as cli_app
from migration.cli import status_data
from migration.tracking import Phase, TrackingStore, app_id, db_id, server_id
from tests.cli.conftest import EXAMPLE, Cli, MotoStack
from tests.cli.status_fixtures import calls, register, register_plan, snapshot, track

__all__ = ["calls"]  # the fixture

PLAN_SOURCE = "no plan registered in migration-tracking-test"


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


# -- the plan file (no plan registered) ---------------------------------------------------


def test_status_before_anything_happened(cli: Cli) -> None:
    result = cli("status")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[0].startswith("source: plan file ") and out[0].endswith(f"({PLAN_SOURCE})")
    assert out[1:] == [
        "summary counted now from the phase index (no plan registered)",
        "WAVE    APPLICATIONS  PLANNED",
        "------  ------------  -------",
        "wave-1  2             2",
        "wave-2  1             1",
        "all     3             3",
        "",
        "applications 1-3 of 3 (page 1 of 1)",
        "WAVE    APPLICATION  PHASE    SPLIT                  LAST EVENT",
        "------  -----------  -------  ---------------------  ----------",
        "wave-1  orders-api   PLANNED  aws 0% / on-prem 100%  -",
        "wave-1  storefront   PLANNED  aws 0% / on-prem 100%  -",
        "wave-2  inventory    PLANNED  aws 0% / on-prem 100%  -",
    ]
    assert result.stderr == ""


def test_status_of_a_wave_shows_split_phase_and_last_event(cli: Cli, stack: MotoStack) -> None:
    stack.set_weights("orders-api", 50)
    rolled = cli("rollback", "--app", "orders-api", "--reason", "5xx spike")
    assert rolled.exit_code == 0, rolled.output
    stack.set_weights("storefront", 25)

    result = cli("status", "--wave", "wave-1")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[2:6] == [
        "WAVE    APPLICATIONS  PLANNED  ROLLED_BACK",
        "------  ------------  -------  -----------",
        "wave-1  2             1        1",
        "",
    ]
    assert out[6] == "applications 1-2 of 2 (page 1 of 1)"
    rows = out[9:]
    assert len(rows) == 2
    assert rows[0].split()[:8] == [
        "wave-1",
        "orders-api",
        "ROLLED_BACK",
        "aws",
        "0%",
        "/",
        "on-prem",
        "100%",
    ]
    assert "ROLLED_BACK: 5xx spike (back on-premises " in rows[0]
    assert rows[0].endswith(" s after the trigger)")  # the recovery time, measured
    assert "wave-1  storefront   PLANNED      aws 25% / on-prem 75%  -" in rows[1]


# -- the registered plan ------------------------------------------------------------------


def test_a_registered_plan_is_the_source_and_the_plan_file_is_not_read(
    cli: Cli, stack: MotoStack, tmp_path: Any
) -> None:
    digest = register_plan(stack, stack.plan)
    stack.set_weights("storefront", 25)  # shop.migration.internal: the registry's record name

    result = cli("status", plan=tmp_path / "no-such-plan.yaml")

    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[0] == (
        f"source: plan registry in migration-tracking-test (digest {digest[:12]}, "
        "applied 2026-11-30T09:00:00.000000Z, by lead)"
    )
    assert out[-3:] == [
        "wave-1  orders-api   PLANNED  aws 0% / on-prem 100%  -",
        "wave-1  storefront   PLANNED  aws 25% / on-prem 75%  -",
        "wave-2  inventory    PLANNED  aws 0% / on-prem 100%  -",
    ]


def test_after_migrate_plan_apply_status_reads_what_it_registered(
    cli: Cli, stack: MotoStack, tmp_path: Any
) -> None:
    outputs = str(stack.outputs_path)
    applied = CliRunner().invoke(
        cli_app, ["plan", "apply", str(EXAMPLE), "--outputs", outputs, "--by", "tests", "--yes"]
    )
    assert applied.exit_code == 0, applied.output

    result = cli("status", "--wave", "wave-2", plan=tmp_path / "not-read.yaml")

    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[0].startswith("source: plan registry in migration-tracking-test (digest ")
    assert out[0].endswith(", by tests)")
    assert out[-1] == "wave-2  inventory    PLANNED  aws 0% / on-prem 100%  -"


def _programme(stack: MotoStack) -> dict[str, Phase]:
    """23 applications in 3 waves (one empty), heads in assorted phases, plus heads that are
    not registered applications: a database, a server and an application left the plan."""
    register(
        stack,
        {
            "alpha": [f"a{i:02d}" for i in range(10)],
            "beta": [f"b{i:02d}" for i in range(13)],
            "gamma": [],
        },
    )
    phases = {
        "a00": Phase.CUTOVER_COMPLETE,
        "a01": Phase.CUTOVER_COMPLETE,
        "a02": Phase.SHIFTING,
        "a03": Phase.ROLLED_BACK,
        "a04": Phase.PLANNED,  # reset after a rollback: a head, and PLANNED
        "b00": Phase.HELD,
        "b05": Phase.READY,
        "b06": Phase.REPLICATING,
        "b12": Phase.SHIFTING,
        "gone": Phase.SHIFTING,  # tracked, no longer registered
    }
    track(stack, phases)
    store = TrackingStore(stack.dynamodb, stack.table)
    store.transition(db_id("orders-db"), Phase.REPLICATING)
    store.transition(server_id("i-0abc"), Phase.SHIFTING)
    return phases


def test_summary_counts_every_wave_and_phase_planned_included(cli: Cli, stack: MotoStack) -> None:
    _programme(stack)

    result = cli("status")

    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[1] == (
        "summary counted now from the phase index: no summary snapshot yet "
        "(the cutover controller writes one each minute)"
    )
    assert out[2:9] == [
        "WAVE   APPLICATIONS  PLANNED  REPLICATING  READY  SHIFTING  HELD  CUTOVER_COMPLETE"
        "  ROLLED_BACK",
        "-----  ------------  -------  -----------  -----  --------  ----  ----------------"
        "  -----------",
        "alpha  10            6        0            0      1         0     2                 1",
        "beta   13            9        1            1      1         1     0                 0",
        "gamma  0             0        0            0      0         0     0                 0",
        "all    23            15       1            1      2         1     2                 1",
        "1 tracked application(s) not in the plan: gone",
    ]
    assert out[10] == "applications 1-23 of 23 (page 1 of 1)"
    rows = out[13:]
    assert [row.split()[:3] for row in rows[:5]] == [
        ["alpha", "a00", "CUTOVER_COMPLETE"],
        ["alpha", "a01", "CUTOVER_COMPLETE"],
        ["alpha", "a02", "SHIFTING"],
        ["alpha", "a03", "ROLLED_BACK"],
        ["alpha", "a04", "PLANNED"],
    ]
    assert "no record pair  2026-11-30 10:00:02Z SHIFTING step 1 (10%)" in rows[2]
    assert rows[5].split()[:3] == ["alpha", "a05", "PLANNED"] and rows[5].endswith("  -")
    assert [row.split()[1] for row in rows[10:]] == [f"b{i:02d}" for i in range(13)]


def test_pages_follow_each_other_and_the_wave_filter_pages_its_own(
    cli: Cli, stack: MotoStack
) -> None:
    _programme(stack)

    def page(*args: str) -> tuple[str, list[str]]:
        result = cli("status", "--page-size", "4", *args)
        assert result.exit_code == 0, result.output
        out = lines(result.stdout)
        title = next(line for line in out if line.startswith("applications "))
        rows = out[out.index(title) + 3 :]
        return title, [row.split()[1] for row in rows]

    assert page() == (
        "applications 1-4 of 23 (page 1 of 6; next: --page 2)",
        ["a00", "a01", "a02", "a03"],
    )
    assert page("--page", "2") == (
        "applications 5-8 of 23 (page 2 of 6; next: --page 3)",
        ["a04", "a05", "a06", "a07"],
    )
    assert page("--page", "3") == (
        "applications 9-12 of 23 (page 3 of 6; next: --page 4)",
        ["a08", "a09", "b00", "b01"],
    )
    assert page("--page", "6") == ("applications 21-23 of 23 (page 6 of 6)", ["b10", "b11", "b12"])
    assert page("--wave", "beta", "--page", "4") == (
        "applications 13 of 13 (page 4 of 4)",
        ["b12"],
    )
    wave = lines(cli("status", "--wave", "beta").stdout)
    assert wave[2:6] == [
        "WAVE  APPLICATIONS  PLANNED  REPLICATING  READY  SHIFTING  HELD",
        "----  ------------  -------  -----------  -----  --------  ----",
        "beta  13            9        1            1      1         1",
        "",  # no 'all' row for one wave; heads of other waves are not 'not in the plan'
    ]


def test_an_empty_wave_says_so(cli: Cli, stack: MotoStack) -> None:
    _programme(stack)
    result = cli("status", "--wave", "gamma", "--page", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout == "no applications in the plan wave gamma\n"


# -- what it reads ------------------------------------------------------------------------


def _reads(cli: Cli, calls: Counter[tuple[str, str]], *args: str) -> Counter[tuple[str, str]]:
    calls.clear()
    result = cli("status", *args)
    assert result.exit_code == 0, result.output
    return Counter(calls)


def test_no_scan_and_no_call_per_application(
    cli: Cli, stack: MotoStack, calls: Counter[tuple[str, str]]
) -> None:
    waves = {f"wave-{w}": [f"app{w}-{i:03d}" for i in range(100)] for w in range(3)}
    register(stack, waves)
    track(stack, {f"app{w}-{i:03d}": Phase.SHIFTING for w in range(3) for i in range(0, 100, 3)})

    reads = _reads(cli, calls)

    # No snapshot: the summary is counted now (the phase index, every roster of the plan).
    assert ("dynamodb", "Scan") not in reads
    assert reads == {
        ("dynamodb", "GetItem"): 2,  # the registry's meta item, the (missing) snapshot
        ("dynamodb", "Query"): len(status_data.APPLICATION_PHASES),  # the phase index
        ("dynamodb", "BatchGetItem"): 4,  # rosters, record names, heads, last transitions
        ("route53", "ListResourceRecordSets"): 50,  # no records: one per name shown
    }
    # A page of 10 reads the same way; the summary's queries do not grow with the rows.
    small = _reads(cli, calls, "--page-size", "10")
    assert small[("dynamodb", "Query")] == reads[("dynamodb", "Query")]
    assert small[("dynamodb", "BatchGetItem")] == 4
    assert small[("route53", "ListResourceRecordSets")] == 10
    # With the controller's snapshot: no query at all, the page's roster item only.
    snapshot(stack, waves)
    fresh = _reads(cli, calls)
    assert fresh == {
        ("dynamodb", "GetItem"): 2,  # the meta item, the snapshot
        ("dynamodb", "BatchGetItem"): 4,  # the page's roster, record names, heads, last events
        ("route53", "ListResourceRecordSets"): 50,
    }


def test_the_split_reads_only_the_names_shown(
    cli: Cli, stack: MotoStack, calls: Counter[tuple[str, str]]
) -> None:
    register_plan(stack, stack.plan)
    reads = _reads(cli, calls, "--wave", "wave-1")
    # orders-api and shop (storefront's record) are read from their names, not the zone.
    assert reads[("route53", "ListResourceRecordSets")] <= 2
    assert ("route53", "GetHostedZone") not in reads


def test_the_plan_file_source_reads_the_same_way(
    cli: Cli, stack: MotoStack, calls: Counter[tuple[str, str]]
) -> None:
    reads = _reads(cli, calls)
    assert ("dynamodb", "Scan") not in reads
    assert reads[("dynamodb", "GetItem")] == 1  # looked for a registered plan: none
    assert reads[("dynamodb", "Query")] == len(status_data.APPLICATION_PHASES)
    assert reads[("dynamodb", "BatchGetItem")] == 1  # heads (none: no last transitions)


class _Pages:
    """A client whose phase index answers from a dict: phase -> [(serverId, version)]."""

    def __init__(self, heads: dict[str, list[tuple[str, int]]]) -> None:
        self._heads = heads

    def get_paginator(self, operation: str) -> Any:
        assert operation == "query"
        return self

    def paginate(self, **params: Any) -> list[dict[str, Any]]:
        phase = params["ExpressionAttributeValues"][":phase"]["S"]
        assert params["IndexName"] == "MigrationPhaseIndex"
        assert params["ProjectionExpression"] == "#id, #version"
        items = [
            {"serverId": {"S": entity}, "version": {"N": str(version)}}
            for entity, version in self._heads.get(phase, [])
        ]
        return [{"Items": items[:1]}, {"Items": items[1:]}]


def test_a_head_seen_in_two_phases_while_the_index_catches_up_counts_once() -> None:
    client = _Pages(
        {
            "SHIFTING": [(app_id("a"), 3), (app_id("b"), 1)],
            "CUTOVER_COMPLETE": [(app_id("a"), 4)],
            "ROLLED_BACK": [(app_id("b"), 0)],
        }
    )
    assert status_data.tracked_phases(client, "t") == {
        "a": Phase.CUTOVER_COMPLETE,
        "b": Phase.SHIFTING,
    }


@pytest.mark.parametrize("size", ["1", "1000"])
def test_page_size_bounds_are_accepted(cli: Cli, size: str) -> None:
    assert cli("status", "--page-size", size).exit_code == 0


def test_summary_of_a_listing_names_at_most_five_unlisted_applications(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from migration.cli.status_cmd import show

    listing = status_data.Listing(
        source="test", waves=("w",), applications=(("w", "kept"),), record_names={}
    )
    phases = {name: Phase.SHIFTING for name in ("kept", "g1", "g2", "g3", "g4", "g5", "g6")}
    summary = status_data.summarise(listing, phases)
    assert summary.counts == {"w": Counter({Phase.SHIFTING: 1})}
    assert summary.unlisted == ("g1", "g2", "g3", "g4", "g5", "g6")

    show(listing, summary, [], 1, 50)

    out = capsys.readouterr().out
    assert "6 tracked application(s) not in the plan: g1, g2, g3, g4, g5, ...\n" in out
    wave = status_data.Listing("test", ("w",), (("w", "kept"),), complete=False)
    assert status_data.summarise(wave, phases).unlisted == ()


# -- the summary snapshot -----------------------------------------------------------------


def test_a_recent_snapshot_is_the_summary_and_the_rows_stay_live(
    cli: Cli, stack: MotoStack, calls: Counter[tuple[str, str]]
) -> None:
    waves = {"alpha": ["a0", "a1", "a2"], "beta": ["b0"]}
    register(stack, waves)
    track(stack, {"a0": Phase.SHIFTING, "gone": Phase.SHIFTING})
    taken = snapshot(stack, waves, age=timedelta(seconds=40))
    # After the snapshot a0 is rolled back (between two ticks): the row shows it, the
    # summary trails until the next tick.
    track(stack, {"a0": Phase.ROLLED_BACK}, version=2)

    reads = _reads(cli, calls)

    assert ("dynamodb", "Query") not in reads  # the phase index is not read
    out = lines(cli("status").stdout)
    # 40 s old when taken, a few seconds more by now on a busy machine.
    assert re.fullmatch(
        f"summary as of {taken.computed_at[:10]} {taken.computed_at[11:19]}Z, "
        r"(4\d|5\d) s ago \(by the controller\); rows are live",
        out[1],
    ), out[1]
    assert out[2:8] == [
        "WAVE   APPLICATIONS  PLANNED  SHIFTING",
        "-----  ------------  -------  --------",
        "alpha  3             2        1",
        "beta   1             1        0",
        "all    4             3        1",
        "1 tracked application(s) not in the plan: gone",
    ]
    assert out[12].split()[:3] == ["alpha", "a0", "ROLLED_BACK"]
    # One wave: its counts only, and nothing "not in the plan".
    beta = lines(cli("status", "--wave", "beta").stdout)
    assert beta[2:6] == [
        "WAVE  APPLICATIONS  PLANNED",
        "----  ------------  -------",
        "beta  1             1",
        "",
    ]


@pytest.mark.parametrize(
    ("age", "other", "why"),
    [
        (timedelta(minutes=10), False, " is 10 min old: is the cutover controller running?"),
        (timedelta(seconds=5), True, ": the summary snapshot is of another registration"),
    ],
)
def test_an_old_snapshot_or_one_of_another_plan_is_not_shown(
    cli: Cli,
    stack: MotoStack,
    calls: Counter[tuple[str, str]],
    age: timedelta,
    other: bool,
    why: str,
) -> None:
    waves = {"alpha": ["a0", "a1"]}
    register(stack, waves)
    snapshot(stack, waves, age=age, digest="0" * 64 if other else None)
    track(stack, {"a0": Phase.SHIFTING})

    reads = _reads(cli, calls)

    assert reads[("dynamodb", "Query")] == len(status_data.APPLICATION_PHASES)
    out = lines(cli("status").stdout)
    assert out[1].startswith("summary counted now from the phase index: ")
    assert why in out[1]
    assert out[4] == "alpha  2             1        1"


def test_a_snapshot_with_unknown_content_is_ignored(cli: Cli, stack: MotoStack) -> None:
    register(stack, {"alpha": ["a0"]})
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={"serverId": {"S": "plan"}, "timestamp": {"S": "summary"}, "x": {"S": "?"}},
    )
    out = lines(cli("status").stdout)
    assert out[1].startswith("summary counted now from the phase index: no summary snapshot")


# -- rosters ------------------------------------------------------------------------------


def test_pages_follow_the_rosters_across_chunks_and_waves(
    cli: Cli, stack: MotoStack, calls: Counter[tuple[str, str]]
) -> None:
    # Plan order is not name order: the rows follow the plan (the rosters).
    big = [f"app-{1004 - i:04d}" for i in range(1005)]  # two roster items: 1,000 + 5
    waves = {"big": big, "empty": [], "small": ["s2", "s1", "s3"]}
    register(stack, waves)
    snapshot(stack, waves)

    def page(*args: str) -> tuple[str, list[str]]:
        result = cli("status", "--page-size", "10", *args)
        assert result.exit_code == 0, result.output
        out = lines(result.stdout)
        title = next(line for line in out if line.startswith("applications "))
        return title, [" ".join(row.split()[:2]) for row in out[out.index(title) + 3 :]]

    assert page()[1][:2] == ["big app-1004", "big app-1003"]
    assert page("--page", "100") == (
        "applications 991-1000 of 1008 (page 100 of 101; next: --page 101)",
        [f"big app-{n:04d}" for n in range(14, 4, -1)],
    )
    calls.clear()
    assert page("--page", "101") == (
        "applications 1001-1008 of 1008 (page 101 of 101)",
        [*(f"big app-{n:04d}" for n in range(4, -1, -1)), "small s2", "small s1", "small s3"],
    )
    assert ("dynamodb", "Query") not in calls
    # The two rosters in one request, record names, heads (none, so no last transitions).
    assert calls[("dynamodb", "BatchGetItem")] == 3
    assert page("--wave", "small") == (
        "applications 1-3 of 3 (page 1 of 1)",
        ["small s2", "small s1", "small s3"],
    )
    assert page("--wave", "big", "--page", "101")[1] == [
        f"big app-{n:04d}" for n in range(4, -1, -1)
    ]


def test_a_registry_without_rosters_is_listed_by_name(cli: Cli, stack: MotoStack) -> None:
    # Registered by an earlier version: status still answers, from the application items.
    register(stack, {"alpha": ["a2", "a1"], "beta": ["b1"]}, rosters=False)
    result = cli("status")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[1].startswith("note: no rosters in the registry (registered by an earlier")
    assert [" ".join(row.split()[:2]) for row in out[-3:]] == ["alpha a1", "alpha a2", "beta b1"]
    waves = {"alpha": ["a2", "a1"], "beta": ["b1"]}
    snapshot(stack, waves)
    paged = lines(cli("status", "--page-size", "1", "--page", "2").stdout)
    assert paged[-1].split()[:2] == ["alpha", "a2"]
