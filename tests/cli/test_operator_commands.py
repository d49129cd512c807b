"""``migrate status / cutover / rollback / history`` in-process (typer's CliRunner) against a
stack on moto's server, with instant fake time and the two moto gaps filled by fakes."""

from __future__ import annotations

import pytest

from migration import operations
from tests.cli.conftest import Cli, Knobs, MotoStack

WAVE_1 = ("orders-api", "storefront")
ON_PREM = (0, 100)
ON_AWS = (100, 0)


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


# -- cutover ------------------------------------------------------------------------------


def test_dry_run_prints_every_change_and_changes_nothing(cli: Cli, stack: MotoStack) -> None:
    before = stack.snapshot()
    result = cli("cutover", "--wave", "wave-1", "--dry-run")

    assert result.exit_code == 0, result.output
    assert stack.snapshot() == before
    out = lines(result.stdout)
    assert out[0] == "DRY RUN of the cutover of wave-1:"
    gates = (
        "dms-task:orders-db, dms-latency:orders-db, dms-validation:orders-db, servers, vpn, alarms"
    )
    for k, percent in enumerate((5, 25, 50, 100), start=1):
        assert f"[storefront] step {k}/4 ({percent}% to AWS): would check gates: {gates}" in out
        assert (
            f"[storefront] step {k}/4: would set weights aws={percent} "
            f"on-premises={100 - percent}, then bake 10 min"
        ) in out
    assert len([line for line in out if "would set weights" in line]) == 3 + 4
    assert out[-1] == (
        "dry run: nothing was changed (wave-1: orders-api dry_run (last step 0), "
        "storefront dry_run (last step 0))"
    )


# -- rollback -----------------------------------------------------------------------------


def rolled_back_items(stack: MotoStack) -> dict[str, dict[str, object]]:
    found = {}
    for item in stack.items():
        if (
            item["serverId"]["S"].startswith("app#")
            and item["timestamp"]["S"] != "CURRENT"
            and item.get("migrationPhase", {}).get("S") == "ROLLED_BACK"
        ):
            found[item["serverId"]["S"]] = item
    return found


def test_rollback_app(cli: Cli, stack: MotoStack) -> None:
    stack.set_weights("orders-api", 50)
    stack.set_weights("storefront", 25)
    result = cli("rollback", "--app", "orders-api", "--reason", "5xx spike after step 2")

    assert result.exit_code == 0, result.output
    assert stack.weights() == {"orders-api": ON_PREM, "storefront": (25, 75), "inventory": ON_PREM}
    assert list(rolled_back_items(stack)) == ["app#orders-api"]
    out = lines(result.stdout)
    assert out[0] == "rolling back orders-api to aws=0 / on-premises=100"
    assert out[1].startswith("rollback migrate:") and out[1].endswith(": rolled_back")
    assert out[2] == "reason: 5xx spike after step 2"
    row = next(line for line in out if line.startswith("orders-api "))
    assert row.split()[:5] == ["orders-api", "aws=50", "on-premises=50", "aws=0", "on-premises=100"]
    assert "/change/" in row
    assert out[-1].startswith("operators notified (SNS message ")
    (message,) = stack.inbox.drain()
    assert "Reason: 5xx spike after step 2" in message


def test_rollback_wave(cli: Cli, stack: MotoStack) -> None:
    for app in ("orders-api", "storefront", "inventory"):
        stack.set_weights(app, 10)
    result = cli("rollback", "--wave", "wave-1", "--reason", "drill")
    assert result.exit_code == 0, result.output
    assert stack.weights() == {"orders-api": ON_PREM, "storefront": ON_PREM, "inventory": (10, 90)}
    assert sorted(rolled_back_items(stack)) == ["app#orders-api", "app#storefront"]


def test_rollback_all(cli: Cli, stack: MotoStack) -> None:
    stack.set_weights("orders-api", 100)
    stack.set_weights("inventory", 50)
    result = cli("rollback", "--all", "--reason", "site-wide incident")
    assert result.exit_code == 0, result.output
    assert stack.weights() == {"orders-api": ON_PREM, "storefront": ON_PREM, "inventory": ON_PREM}
    assert sorted(rolled_back_items(stack)) == ["app#inventory", "app#orders-api"]
    assert "already on-premises: storefront" in result.stdout


def test_rollback_when_nothing_is_on_aws(cli: Cli, stack: MotoStack) -> None:
    result = cli("rollback", "--app", "orders-api", "--reason", "just in case")
    assert result.exit_code == 0
    assert "nothing was on AWS: no weight changed" in result.stdout
    assert "already on-premises: orders-api" in result.stdout
    assert rolled_back_items(stack) == {}


# -- history ------------------------------------------------------------------------------


def test_history_of_a_known_entity_without_events(cli: Cli) -> None:
    for name, entity in (
        ("orders-db", "db#orders-db"),
        ("server#orders-app-01", "server#orders-app-01"),
    ):
        result = cli("history", name)
        assert result.exit_code == 0
        assert result.stdout == f"{entity}: no events yet\n"


# -- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "cutover", "rollback", "history", "plan"])
def test_every_command_has_help(cli: Cli, command: str) -> None:
    from typer.testing import CliRunner

    from migration.cli import app

    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    if command != "plan":
        for option in ("--outputs", "--stack", "--plan", "--region"):
            assert option in result.stdout


class FakeLambda:
    """Records the invocation and answers like the deployed rollback function."""

    def __init__(self, response: dict[str, object], error: str | None = None) -> None:
        self.response = response
        self.error = error
        self.calls: list[dict[str, object]] = []

    def invoke(self, **kwargs: object) -> dict[str, object]:
        import io
        import json

        self.calls.append(kwargs)
        answer: dict[str, object] = {
            "StatusCode": 200,
            "Payload": io.BytesIO(json.dumps(self.response).encode()),
        }
        if self.error:
            answer["FunctionError"] = self.error
        return answer


def test_rollback_via_lambda(
    cli: Cli, stack: MotoStack, knobs: Knobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from tests.cli.conftest import FakedClients

    fake = FakeLambda(
        {
            "status": "rolled_back",
            "eventKey": "request:k",
            "reason": "drill",
            "rolledBack": [
                {
                    "application": "orders-api",
                    "previousWeights": {"aws": 50, "onPremises": 50},
                    "changeId": "C1",
                }
            ],
            "alreadyOnPremises": [],
            "unknownApplications": [],
            "notificationId": "n-1",
        }
    )

    class WithLambda(FakedClients):
        def client(self, service: str) -> object:
            return fake if service == "lambda" else super().client(service)

    monkeypatch.setattr(operations, "make_clients", lambda region: WithLambda(region, knobs))
    before = stack.snapshot()
    result = cli("rollback", "--wave", "wave-1", "--reason", "drill", "--via-lambda")

    assert result.exit_code == 0, result.output
    (call,) = fake.calls
    assert call["FunctionName"] == stack.outputs["RollbackLambdaArn"]
    assert call["InvocationType"] == "RequestResponse"
    payload = json.loads(call["Payload"])  # type: ignore[arg-type]
    assert payload["applications"] == ["orders-api", "storefront"]
    assert payload["reason"] == "drill"
    assert payload["idempotencyKey"].startswith("migrate:")
    assert "orders-api   aws=50 on-premises=50  aws=0 on-premises=100  C1" in result.stdout
    assert stack.snapshot() == before  # the function did the work, not the CLI

    fake.error, fake.response = (
        "Unhandled",
        {"errorType": "PartialRollbackError", "errorMessage": "x"},
    )
    failed = cli("rollback", "--all", "--reason", "drill", "--via-lambda")
    assert failed.exit_code == 1
    assert failed.stderr == "error: the rollback function failed: PartialRollbackError: x\n"
