"""``migrate plan apply`` against a stack on moto's server: diff, apply, rerun, refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from migration.cli import app as cli_app
from migration.registry import Registry
from tests.cli.conftest import EXAMPLE, MotoStack


def apply(stack: MotoStack, plan: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        cli_app,
        ["plan", "apply", str(plan), "--outputs", str(stack.outputs_path), "--by", "tests", *extra],
    )


def write_plan(tmp_path: Path, drop: str | None = None, add: str | None = None) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text())
    for wave in document["waves"]:
        wave["applications"] = [a for a in wave["applications"] if a["name"] != drop]
    if add:
        document["waves"][0]["applications"].append(
            {"name": add, "on_premises_address": "192.168.10.40", "aws_address": "10.0.1.40"}
        )
    path = tmp_path / f"plan-{drop}-{add}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_first_apply_shows_the_diff_then_registers(stack: MotoStack) -> None:
    result = apply(stack, EXAMPLE, "--yes")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert "+ application orders-api (wave-1, orders-api.migration.internal)" in out
    assert "+ database orders-db (wave-1, orders-db.db.migration.internal)" in out
    # The stack fixture already holds the pairs (adopted as they are); the names are new.
    assert any(
        line.startswith("Route 53: 0 record pairs to create") and "2 database names" in line
        for line in out
    ), out
    assert out[-1].startswith(f"{EXAMPLE}: applied, registered as ")
    registered = Registry(stack.dynamodb, stack.table).load()
    assert registered is not None
    assert registered.applied_by == "tests"
    assert sorted(registered.applications) == ["inventory", "orders-api", "storefront"]


def test_rerun_changes_nothing(stack: MotoStack) -> None:
    assert apply(stack, EXAMPLE, "--yes").exit_code == 0
    before = stack.snapshot()
    again = apply(stack, EXAMPLE, "--yes")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip().endswith("nothing to change")
    assert stack.snapshot() == before


def test_without_yes_off_a_terminal_nothing_is_applied(stack: MotoStack, tmp_path: Path) -> None:
    before = stack.snapshot()
    result = apply(stack, EXAMPLE)
    assert result.exit_code == 2
    assert "error: not a terminal: pass --yes to apply the plan" in result.stderr
    assert stack.snapshot() == before


def test_dropping_an_application_with_traffic_on_aws_is_refused(
    stack: MotoStack, tmp_path: Path
) -> None:
    assert apply(stack, EXAMPLE, "--yes").exit_code == 0
    stack.set_weights("storefront", 50)
    before = stack.snapshot()
    result = apply(stack, write_plan(tmp_path, drop="storefront", add="reports"), "--yes")
    assert result.exit_code == 2
    errors = result.stderr.splitlines()
    assert errors[0].startswith(
        "error: application storefront (removed from the plan) has traffic on AWS "
        "(50% on AWS at shop.migration.internal)"
    )
    assert errors[-1].endswith("not applied; nothing was changed")
    assert "Traceback" not in result.output
    assert stack.snapshot() == before
    assert stack.weights()["storefront"] == (50, 50)


def test_adding_an_application_creates_its_pair_on_premises(
    stack: MotoStack, tmp_path: Path
) -> None:
    assert apply(stack, EXAMPLE, "--yes").exit_code == 0
    stack.set_weights("orders-api", 50)
    result = apply(stack, write_plan(tmp_path, add="reports"), "--yes")
    assert result.exit_code == 0, result.output
    assert "+ application reports (wave-1, reports.migration.internal)" in result.stdout
    weights = stack.weights()
    assert weights["orders-api"] == (50, 50)
    assert weights["reports.migration.internal."] == (0, 100)


def test_a_bad_plan_file_is_one_error_line(stack: MotoStack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nwaves: []\n", encoding="utf-8")
    result = apply(stack, bad, "--yes")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
