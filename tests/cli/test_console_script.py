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
        "error: cfn-outputs/flat-outputs.json: not found; deploy first (make deploy) or pass "
        "--stack NAME (a local deployment writes cfn-outputs/local/flat-outputs.json: pass "
        "--outputs)\n"
    )
    assert stack.snapshot() == before
