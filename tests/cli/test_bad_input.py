"""Every bad input of the operator commands: one line ``error: ...``, exit 2, no traceback,
nothing changed (records, table items and messages compared before and after)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLE, Cli, MotoStack
from tests.cli.status_fixtures import register_plan

ROOT = Path(__file__).resolve().parents[2]
BAD_PLAN = ROOT / "tests" / "fixtures" / "bad_plans" / "misspelled_top_level_key.yaml"
PLAN_APPS = "orders-api, storefront, inventory"


def _missing_outputs(stack: MotoStack, tmp: Path) -> tuple[list[str], str]:
    path = tmp / "nowhere" / "flat-outputs.json"
    return (
        ["status", "--outputs", str(path)],
        f"{path}: not found; deploy first (make deploy) or pass --stack NAME (a local "
        "deployment writes cfn-outputs/local/flat-outputs.json: pass --outputs)",
    )


def _outputs_missing_a_key(stack: MotoStack, tmp: Path) -> tuple[list[str], str]:
    data = dict(stack.outputs)
    del data["SnsTopicArn"]
    path = tmp / "partial.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return (
        ["rollback", "--all", "--reason", "r", "--outputs", str(path)],
        f"{path}: missing output(s) SnsTopicArn; is this the migration stack's outputs file?",
    )


def _bad_settings(stack: MotoStack, tmp: Path) -> tuple[list[str], str]:
    data = dict(stack.outputs, CutoverSettings=json.dumps({"environmentSuffix": "x"}))
    path = tmp / "settings.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return (
        ["cutover", "--wave", "wave-1", "--yes", "--outputs", str(path)],
        f"{path}: CutoverSettings.replicationInstanceIdentifier: expected a non-empty string",
    )


def _bad_plan(stack: MotoStack, tmp: Path) -> tuple[list[str], str]:
    return (
        ["cutover", "--wave", "wave-1", "--yes", "--plan", str(BAD_PLAN)],
        f"{BAD_PLAN}: waves: is required (line 2) "
        f"(and 1 more problem(s); run: migrate plan check {BAD_PLAN})",
    )


def _missing_plan(stack: MotoStack, tmp: Path) -> tuple[list[str], str]:
    path = tmp / "plan.yaml"
    return (["status", "--plan", str(path)], f"{path}: file not found")


def _registered_unknown_wave(stack: MotoStack, tmp: Path) -> tuple[list[str], str]:
    register_plan(stack, stack.plan)
    return (
        ["status", "--wave", "wave-9"],
        "unknown wave 'wave-9': the plan registered in migration-tracking-test has wave-1, wave-2",
    )


def _simple(args: list[str], message: str) -> Callable[[MotoStack, Path], tuple[list[str], str]]:
    return lambda stack, tmp: (args, message)


CASES = {
    "missing outputs file": _missing_outputs,
    "outputs file missing a key": _outputs_missing_a_key,
    "bad CutoverSettings": _bad_settings,
    "bad plan": _bad_plan,
    "missing plan": _missing_plan,
    "unknown wave (status)": _simple(
        ["status", "--wave", "wave-9"],
        f"unknown wave 'wave-9': the plan {EXAMPLE} has wave-1, wave-2",
    ),
    "unknown wave (status, registered plan)": _registered_unknown_wave,
    "--page 0 (status)": _simple(
        ["status", "--page", "0"], "--page must be a whole number of 1 or more, not 0"
    ),
    "--page not a number (status)": _simple(
        ["status", "--page", "two"], "--page must be a whole number of 1 or more, not 'two'"
    ),
    "--page-size too large (status)": _simple(
        ["status", "--page-size", "1001"],
        "--page-size must be a whole number from 1 to 1000, not 1001",
    ),
    "--page past the end (status)": _simple(
        ["status", "--page", "2"], "--page 2 is past the end: 3 application(s) make 1 page(s) of 50"
    ),
    "--page past the end of a wave (status)": _simple(
        ["status", "--wave", "wave-2", "--page-size", "1", "--page", "2"],
        "--page 2 is past the end: 1 application(s) make 1 page(s) of 1",
    ),
    "unknown wave (cutover)": _simple(
        ["cutover", "--wave", "wave-9", "--yes"],
        f"unknown wave 'wave-9': the plan {EXAMPLE} has wave-1, wave-2",
    ),
    "unknown wave (rollback)": _simple(
        ["rollback", "--wave", "wave-9", "--reason", "r"],
        f"unknown wave 'wave-9': the plan {EXAMPLE} has wave-1, wave-2",
    ),
    "cutover without --wave": _simple(
        ["cutover", "--yes"], "--wave is required: which wave to cut over (see migrate status)"
    ),
    "unknown app (reset)": _simple(
        ["reset", "nope", "--reason", "r"],
        f"unknown application 'nope': the plan {EXAMPLE} has {PLAN_APPS}",
    ),
    "reset of an application that was not rolled back": _simple(
        ["reset", "orders-api", "--reason", "r"],
        "application orders-api is not started: only a ROLLED_BACK application can be reset",
    ),
    "reset without --reason": _simple(
        ["reset", "orders-api"], "--reason is required: say why you reset it"
    ),
    "unknown app (approve)": _simple(
        ["approve", "wave-1", "--app", "nope"],
        f"unknown application 'nope': the plan {EXAMPLE} has {PLAN_APPS}",
    ),
    "unknown wave (pause)": _simple(
        ["pause", "wave-9"], f"unknown wave 'wave-9': the plan {EXAMPLE} has wave-1, wave-2"
    ),
    "pause of a wave not started": _simple(
        ["pause", "wave-1"], "wave wave-1 has not been started: migrate cutover --wave wave-1"
    ),
    "resume of a wave not started": _simple(
        ["resume", "wave-2"], "wave wave-2 has not been started: migrate cutover --wave wave-2"
    ),
    "abort without --reason": _simple(
        ["abort", "wave-1"], "--reason is required: say why you abort"
    ),
    "approve of a wave not started": _simple(
        ["approve", "wave-1"], "wave wave-1 has not been started: migrate cutover --wave wave-1"
    ),
    "unknown wave (watch)": _simple(
        ["watch", "wave-9", "--once"],
        f"unknown wave 'wave-9': the plan {EXAMPLE} has wave-1, wave-2",
    ),
    "cutover not confirmed, not a terminal": _simple(
        ["cutover", "--wave", "wave-1"],
        "not a terminal: pass --yes to confirm the cutover (or --dry-run to preview)",
    ),
    "unknown app (rollback)": _simple(
        ["rollback", "--app", "orders-api", "--app", "nope", "--reason", "r"],
        f"unknown application 'nope': the plan {EXAMPLE} has {PLAN_APPS}",
    ),
    "--app and --all": _simple(
        ["rollback", "--app", "orders-api", "--all", "--reason", "r"],
        "--app and --all are mutually exclusive: give exactly one",
    ),
    "--wave and --all": _simple(
        ["rollback", "--wave", "wave-1", "--all", "--reason", "r"],
        "--wave and --all are mutually exclusive: give exactly one",
    ),
    "no target": _simple(
        ["rollback", "--reason", "r"], "say what to roll back: --app A, --wave W or --all"
    ),
    "missing --reason": _simple(
        ["rollback", "--app", "orders-api"], "--reason is required: say why you roll back"
    ),
    "empty --reason": _simple(
        ["rollback", "--app", "orders-api", "--reason", "  "],
        "--reason must not be empty: say why you roll back",
    ),
    "history of a name not in the plan": _simple(
        ["history", "nope"],
        f"no history for 'nope': not an application, database or server of the plan {EXAMPLE}",
    ),
    "history of an unknown entity id": _simple(
        ["history", "db#nope"], "no history for 'db#nope': no database 'nope' in the plan"
    ),
    "--outputs and --stack": _simple(
        ["status", "--stack", "TapStackdev", "--outputs", "x.json"],
        "--outputs and --stack are mutually exclusive: give one",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    cli: Cli, stack: MotoStack, tmp_path: Path, case: str
) -> None:
    stack.set_weights("orders-api", 50)  # something a wrong rollback would change
    args, message = CASES[case](stack, tmp_path)
    before = stack.snapshot()

    result = cli(*args)

    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert stack.snapshot() == before


def test_unknown_application_in_the_zone_is_refused_before_any_change(
    cli: Cli, stack: MotoStack, tmp_path: Path
) -> None:
    """In the plan but without a record pair: the rollback service refuses, exit 2."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            "      - name: inventory\n",
            "      - name: inventory\n        dns_name: missing.migration.internal\n",
        ),
        encoding="utf-8",
    )
    stack.set_weights("orders-api", 50)
    before = stack.snapshot()
    result = cli(
        "rollback", "--app", "orders-api", "--app", "inventory", "--reason", "r", plan=plan
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "error: unknown application(s) inventory: no weighted 'on-premises'/'aws' record pair "
        "in hosted zone migration.internal; check the name or create the record pair first\n"
    )
    assert stack.snapshot() == before


def test_no_region_anywhere(cli: Cli, stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from migration import operations

    monkeypatch.setattr(operations, "make_clients", operations.Boto3Clients)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    result = cli("status")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: no AWS region configured: pass --region or set AWS_REGION / AWS_DEFAULT_REGION\n"
    )
