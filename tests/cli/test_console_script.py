"""The installed ``migrate`` console script in a subprocess, against moto's server.

The subprocess gets only the environment (``AWS_ENDPOINT_URL`` pointing at the server,
``MIGRATION_PLAN``) and runs in a directory holding ``cfn-outputs/flat-outputs.json``, as an
operator would. No fakes reach it: moto reports no VPN tunnel telemetry and has no
``describe_table_statistics``, so a real cutover there must stop at the gates.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from migration.plan import PLAN_ENV_VAR
from tests.cli.conftest import EXAMPLE, Cli, MotoStack

MIGRATE = Path(sys.executable).parent / "migrate"
ON_PREM = (0, 100)


def migrate(stack: MotoStack, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack.env()
    env[PLAN_ENV_VAR] = str(EXAMPLE)
    return subprocess.run(
        [str(MIGRATE), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_and_history_after_a_cutover(cli: Cli, stack: MotoStack, tmp_path: Path) -> None:
    assert cli("cutover", "--wave", "wave-1", "--app", "orders-api", "--yes").exit_code == 0

    status = migrate(stack, tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert status.stderr == ""
    rows = status.stdout.splitlines()
    assert rows[0].split() == ["WAVE", "APPLICATION", "PHASE", "SPLIT", "LAST", "EVENT"]
    assert rows[2] == (
        "wave-1  orders-api   CUTOVER_COMPLETE  aws 100% / on-prem 0%  "
        "2026-11-28 12:45:00Z CUTOVER_COMPLETE step 3 (100%)"
    )
    assert rows[3] == "wave-1  storefront   PLANNED           aws 0% / on-prem 100%  -"

    history = migrate(stack, tmp_path, "history", "orders-api")
    assert history.returncode == 0, history.stderr
    assert history.stdout.splitlines()[0] == "app#orders-api: CUTOVER_COMPLETE (version 7)"
    assert len(history.stdout.splitlines()) == 3 + 7


def test_cutover_stops_at_the_gates_moto_cannot_satisfy(stack: MotoStack, tmp_path: Path) -> None:
    before = stack.weights()
    result = migrate(stack, tmp_path, "cutover", "--wave", "wave-1", "--app", "orders-api", "--yes")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line = next(x for x in result.stdout.splitlines() if "GATE FAILED" in x)
    assert line.startswith("[orders-api] step 1/3 (10% to AWS): GATE FAILED (2 of 5): ")
    assert "dms-validation:orders-db: orders-db-test: " in line
    assert f"vpn: {stack.vpn_id} reports 0 tunnel(s), expected 2" in line
    assert stack.weights() == before


def test_rollback_all_then_bad_input(cli: Cli, stack: MotoStack, tmp_path: Path) -> None:
    stack.set_weights("orders-api", 50)
    stack.set_weights("inventory", 10)

    result = migrate(stack, tmp_path, "rollback", "--all", "--reason", "drill")
    assert result.returncode == 0, result.stderr
    assert "rolled back 2 application(s) to 100% on-premises:" in result.stdout
    assert stack.weights() == {"orders-api": ON_PREM, "storefront": ON_PREM, "inventory": ON_PREM}
    assert stack.phase("orders-api") == stack.phase("inventory") == "ROLLED_BACK"

    before = stack.snapshot()
    empty = migrate(stack, tmp_path, "rollback", "--all", "--reason", "")
    assert empty.returncode == 2
    assert empty.stderr == "error: --reason must not be empty: say why you roll back\n"
    other = tmp_path / "elsewhere"
    other.mkdir()
    no_outputs = migrate(stack, other, "status")
    assert no_outputs.returncode == 2
    assert no_outputs.stderr == (
        "error: cfn-outputs/flat-outputs.json: not found; deploy first (make deploy, or make "
        "demo locally) or pass --stack\n"
    )
    assert stack.snapshot() == before
