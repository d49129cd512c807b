"""``migrate status`` in-process against a stack on moto's server: the source (registered plan
or plan file), the summary per wave and phase, pages of rows, the wave filter, and what it
reads (never a Scan, never a call per application)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from migration.cli import app as cli_app
from migration.cli import status_data
from migration.tracking import Phase, TrackingStore, app_id, db_id, server_id
from tests.cli.conftest import EXAMPLE, Cli, MotoStack
from tests.cli.status_fixtures import calls, register, register_plan, track

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
    assert out[1:5] == [
        "WAVE    APPLICATIONS  PLANNED  ROLLED_BACK",
        "------  ------------  -------  -----------",
        "wave-1  2             1        1",
        "",
    ]
    assert out[5] == "applications 1-2 of 2 (page 1 of 1)"
    rows = out[8:]
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
    assert out[1:8] == [
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
    assert out[9] == "applications 1-23 of 23 (page 1 of 1)"
    rows = out[12:]
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
    assert wave[1:5] == [
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

    assert ("dynamodb", "Scan") not in reads
    assert reads == {
        ("dynamodb", "GetItem"): 1,  # the registry's meta item
        ("dynamodb", "Query"): 1 + len(status_data.APPLICATION_PHASES),  # registry, phases
        ("dynamodb", "BatchGetItem"): 3,  # record names, heads, last transitions
        ("route53", "ListResourceRecordSets"): 50,  # no records: one per name shown
    }
    # A page of 10 reads the same way; the summary's queries do not grow with the rows.
    small = _reads(cli, calls, "--page-size", "10")
    assert small[("dynamodb", "Query")] == reads[("dynamodb", "Query")]
    assert small[("dynamodb", "BatchGetItem")] == 3
    assert small[("route53", "ListResourceRecordSets")] == 10


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
