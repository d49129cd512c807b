"""``migrate plan check`` through the typer app and through the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migration.cli import app, main
from migration.plan import PLAN_ENV_VAR

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "migration-plan.yaml"
BAD = ROOT / "tests" / "fixtures" / "bad_plans"
MIGRATE = Path(sys.executable).parent / "migrate"  # the console script of this venv
SUMMARY = "OK: 2 waves, 3 applications, 2 databases, 3 servers"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv(PLAN_ENV_VAR, raising=False)
    return CliRunner()


def test_example_plan_passes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["plan", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert f"{EXAMPLE}: {SUMMARY}" in result.stdout
    assert "wave-1: 2 applications, 1 database, 2 servers" in result.stdout
    assert "wave-2: 1 application, 1 database, 1 server" in result.stdout
    assert result.stderr == ""


def test_bad_plan_exits_2_with_each_problem_on_stderr(runner: CliRunner) -> None:
    path = BAD / "misspelled_top_level_key.yaml"
    result = runner.invoke(app, ["plan", "check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}: waves: is required (line 2)",
        f"error: {path}: wavez: unknown field (line 8)",
    ]
    assert result.stdout == ""
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("case", "field"),
    [
        (
            "shift_steps_not_increasing",
            "waves[0].applications[0].shift_steps[2]: must be increasing",
        ),
        ("yaml_syntax_error", "invalid YAML at line 4"),
        ("empty_file", "the plan is empty"),
        ("password_in_plan", "waves[0].databases[0].source.password: plans must not contain"),
    ],
)
def test_user_mistakes_never_show_a_traceback(runner: CliRunner, case: str, field: str) -> None:
    path = BAD / f"{case}.yaml"
    result = runner.invoke(app, ["plan", "check", str(path)])
    assert result.exit_code == 2
    assert f"error: {path}: {field}" in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["plan", "check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: file not found"


def test_default_file_is_the_example_in_the_current_directory(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["plan", "check"])
    assert result.exit_code == 0, result.output
    assert f"examples/migration-plan.yaml: {SUMMARY}" in result.stdout
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plan", "check"])
    assert result.exit_code == 2
    assert "examples/migration-plan.yaml: file not found" in result.stderr


def test_default_file_from_environment(runner: CliRunner) -> None:
    path = BAD / "unknown_field.yaml"
    result = runner.invoke(app, ["plan", "check"], env={PLAN_ENV_VAR: str(path)})
    assert result.exit_code == 2
    assert f"error: {path}: waves[0].applications[0].colour: unknown field" in result.stderr
    # an explicit argument wins over the environment
    result = runner.invoke(app, ["plan", "check", str(EXAMPLE)], env={PLAN_ENV_VAR: str(path)})
    assert result.exit_code == 0


@pytest.mark.parametrize("args", [["--help"], ["plan", "--help"], ["plan", "check", "--help"]])
def test_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "Usage" in result.stdout


@pytest.mark.parametrize(
    "args",
    [["plan", "chek"], ["nope"], ["plan", "check", "a.yaml", "b.yaml"], ["plan", "check", "--x"]],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_main_runs_the_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["migrate", "plan", "check", str(EXAMPLE)])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 0
    assert SUMMARY in capsys.readouterr().out


# -- the installed console script -------------------------------------------------------------


def _migrate(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != PLAN_ENV_VAR}
    return subprocess.run(
        [str(MIGRATE), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def test_console_script_reports_bad_plan() -> None:
    path = BAD / "shift_steps_not_increasing.yaml"
    result = _migrate("plan", "check", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {path}: waves[0].applications[0].shift_steps[2]: must be increasing"
        " (previous step is 50) (line 14)\n"
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stderr  # plain output when not a terminal


def test_console_script_accepts_the_example() -> None:
    result = _migrate("plan", "check", "examples/migration-plan.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"examples/migration-plan.yaml: {SUMMARY}"
    assert "\x1b[" not in result.stdout


def test_console_script_usage_error_is_plain_and_exits_2() -> None:
    result = _migrate("plan", "chek")
    assert result.returncode == 2
    assert "No such command 'chek'" in result.stderr
    assert "\x1b[" not in result.stderr
    assert "╭" not in result.stderr  # no rich panel when not a terminal


def test_plan_show_describes_the_plan_offline() -> None:
    from typer.testing import CliRunner

    from migration.cli import create_app

    result = CliRunner().invoke(create_app(plain=True), ["plan", "show", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert "wave wave-1: at most 25 application(s) in flight" in out
    assert (
        "  application orders-api (orders-api.migration.internal, A): 10% -> 50% -> 100%, "
        "bake 15 min, on gate failure: rollback"
    ) in out
    assert any(line.startswith("    gates: dms orders-db: task running") for line in out)
    assert (
        "  server inventory-app-01 (inventory-app-01.corp.example.com, 192.168.30.15): manual"
        in out
    )


def test_plan_show_of_a_bad_plan_exits_2(tmp_path) -> None:
    from typer.testing import CliRunner

    from migration.cli import create_app

    bad = tmp_path / "plan.yaml"
    bad.write_text("version: 2\n")
    result = CliRunner().invoke(create_app(plain=True), ["plan", "show", str(bad)])
    assert result.exit_code == 2
    assert "version" in result.stderr
