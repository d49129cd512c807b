"""``migrate status / cutover / rollback / history`` in-process (typer's CliRunner) against a
stack on moto's server, with instant fake time and the two moto gaps filled by fakes."""

from __future__ import annotations

import pytest

from migration import operations
from migration.cli import cutover_cmd
from migration.operations import Timing
from tests.cli.conftest import ALARMS, Cli, Knobs, MotoStack, cdc_alarm, phases
from tests.runtime.conftest import FakeTime

WAVE_1 = ("orders-api", "storefront")
ON_PREM = (0, 100)
ON_AWS = (100, 0)


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


# -- status -------------------------------------------------------------------------------


def test_status_before_anything_happened(cli: Cli) -> None:
    result = cli("status")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
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
    rows = lines(result.stdout)[2:]
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
    assert rows[0].endswith("ROLLED_BACK: 5xx spike")
    assert "wave-1  storefront   PLANNED      aws 25% / on-prem 75%  -" in rows[1]


# -- cutover ------------------------------------------------------------------------------


def test_full_cutover_of_wave_1(cli: Cli, stack: MotoStack, fake_time: FakeTime) -> None:
    result = cli("cutover", "--wave", "wave-1", "--yes")

    assert result.exit_code == 0, result.output
    assert stack.weights() == {"orders-api": ON_AWS, "storefront": ON_AWS, "inventory": ON_PREM}
    assert phases(stack) == {
        "orders-api": "CUTOVER_COMPLETE",
        "storefront": "CUTOVER_COMPLETE",
        "inventory": None,
    }
    assert stack.history_phases("orders-api") == [
        "PLANNED",
        "REPLICATING",
        "READY",
        "SHIFTING",
        "SHIFTING",
        "SHIFTING",
        "CUTOVER_COMPLETE",
    ]
    out = lines(result.stdout)
    gates = (
        "gates passed: dms-task:orders-db ok, dms-latency:orders-db ok, "
        "dms-validation:orders-db ok, vpn ok, alarms ok"
    )
    for app, steps, bake in (
        ("orders-api", (10, 50, 100), 15),
        ("storefront", (5, 25, 50, 100), 10),
    ):
        n = len(steps)
        for k, percent in enumerate(steps, start=1):
            where = f"[{app}] step {k}/{n}"
            assert f"{where} ({percent}% to AWS): {gates}" in out
            assert f"{where}: weights set aws={percent} on-premises={100 - percent}" in out
            assert f"{where}: baking, alarms OK (poll 1), {bake}:00 left" in out
            assert f"{where}: baked {bake} min, alarms OK" in out
        assert f"[{app}] CUTOVER_COMPLETE: aws=100 on-premises=0" in out
    assert "[orders-api] step 1/3: baking, alarms OK (poll 11), 10:00 left" in out
    assert out[-1] == "wave-1: orders-api completed, storefront completed"
    # Bakes slept on the injected clock: 3 x 15 min + 4 x 10 min, polled every 30 s.
    assert sum(fake_time.sleeps) == (3 * 15 + 4 * 10) * 60
    assert set(fake_time.sleeps) == {30.0}

    again = cli("cutover", "--wave", "wave-1", "--yes")
    assert again.exit_code == 0
    assert "[orders-api]: skipped: already CUTOVER_COMPLETE" in again.stdout


def test_cutover_of_one_application(cli: Cli, stack: MotoStack) -> None:
    result = cli("cutover", "--wave", "wave-1", "--app", "storefront", "--yes")
    assert result.exit_code == 0, result.output
    assert stack.weights()["storefront"] == ON_AWS
    assert stack.weights()["orders-api"] == ON_PREM
    assert "[orders-api]" not in result.stdout


def test_gate_failure_exits_1_and_moves_no_weight(cli: Cli, stack: MotoStack) -> None:
    stack.set_alarm("orders-api-5xx", "ALARM")
    result = cli("cutover", "--wave", "wave-1", "--app", "orders-api", "--yes")

    assert result.exit_code == 1
    assert stack.weights()["orders-api"] == ON_PREM
    assert (
        "[orders-api] step 1/3 (10% to AWS): GATE FAILED (1 of 5): "
        "alarms: alarm orders-api-5xx is ALARM; weights unchanged"
    ) in lines(result.stdout)
    assert lines(result.stdout)[-1] == "wave-1: orders-api gate_failed (last step 0)"
    assert stack.history_phases("orders-api")[-1] == "GATE_FAILED"
    assert "Traceback" not in result.output


def test_cdc_latency_alarm_of_the_database_gates_the_application(
    cli: Cli, stack: MotoStack
) -> None:
    """orders-api lists dms-cdc-latency: that is the CDC alarm of orders-db."""
    stack.set_alarm(cdc_alarm("orders-db"), "ALARM")
    result = cli("cutover", "--wave", "wave-1", "--app", "orders-api", "--yes")
    assert result.exit_code == 1
    assert (
        f"alarms: alarm {cdc_alarm('orders-db')} (plan alarm dms-cdc-latency of orders-db) "
        "is ALARM" in result.stdout
    )
    assert stack.weights()["orders-api"] == ON_PREM


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("vpn", "vpn: {vpn} tunnel(s) not UP: 52.0.0.2 DOWN"),
        (
            "tables",
            "dms-validation:orders-db: orders-db-test: validation mismatches in public.orders",
        ),
    ],
)
def test_vpn_and_validation_gates_stop_the_cutover(
    cli: Cli, stack: MotoStack, knobs: Knobs, knob: str, message: str
) -> None:
    if knob == "vpn":
        knobs.vpn[:] = ["UP", "DOWN"]
    else:
        knobs.tables[0].update(ValidationState="Mismatched records", ValidationFailedRecords=3)
    result = cli("cutover", "--wave", "wave-1", "--yes")
    assert result.exit_code == 1
    assert message.format(vpn=stack.vpn_id) in result.stdout
    assert stack.weights() == {"orders-api": ON_PREM, "storefront": ON_PREM, "inventory": ON_PREM}


def test_alarm_during_bake_rolls_back_and_exits_1(
    cli: Cli, stack: MotoStack, monkeypatch: pytest.MonkeyPatch, fake_time: FakeTime
) -> None:
    def sleep(seconds: float) -> None:
        fake_time.sleep(seconds)
        if fake_time.now - 1000.0 >= 20 * 60:  # during the bake of step 2
            stack.set_alarm(ALARMS["vpn-tunnel-down"], "ALARM")

    monkeypatch.setattr(
        operations,
        "make_timing",
        lambda: Timing(monotonic=fake_time.monotonic, sleep=sleep, wall=fake_time.clock),
    )
    result = cli("cutover", "--wave", "wave-1", "--app", "orders-api", "--yes")

    assert result.exit_code == 1
    assert stack.weights()["orders-api"] == ON_PREM
    assert stack.phase("orders-api") == "ROLLED_BACK"
    out = lines(result.stdout)
    assert "[orders-api] step 2/3: weights set aws=50 on-premises=50" in out
    rolled = [line for line in out if "ROLLED BACK" in line]
    assert rolled == [
        "[orders-api] step 2/3: ALARM during bake: ROLLED BACK to aws=0 on-premises=100 "
        "(cutover of orders-api step 2: alarm migration-vpn-tunnel-down-test "
        "(plan alarm vpn-tunnel-down) is ALARM)"
    ]
    assert out[-1] == "wave-1: orders-api rolled_back (last step 2)"
    assert stack.inbox.count() == 1  # the rollback service notified the operators


def test_dry_run_prints_every_change_and_changes_nothing(cli: Cli, stack: MotoStack) -> None:
    before = stack.snapshot()
    result = cli("cutover", "--wave", "wave-1", "--dry-run")

    assert result.exit_code == 0, result.output
    assert stack.snapshot() == before
    out = lines(result.stdout)
    assert out[0] == "DRY RUN of the cutover of wave-1:"
    gates = "dms-task:orders-db, dms-latency:orders-db, dms-validation:orders-db, vpn, alarms"
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


def test_confirmation_prompt(cli: Cli, stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cutover_cmd, "stdin_is_interactive", lambda: True)
    before = stack.snapshot()
    declined = cli("cutover", "--wave", "wave-1", input="n\n")
    assert declined.exit_code == 1
    assert "Shift traffic to AWS now? [y/N]" in declined.stdout
    assert "aborted: nothing was changed" in declined.stdout
    assert stack.snapshot() == before

    accepted = cli("cutover", "--wave", "wave-1", "--app", "storefront", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert stack.weights()["storefront"] == ON_AWS


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


def test_history_after_a_cutover_and_a_rollback(cli: Cli, stack: MotoStack) -> None:
    assert cli("cutover", "--wave", "wave-1", "--app", "orders-api", "--yes").exit_code == 0
    assert cli("rollback", "--app", "orders-api", "--reason", "latency").exit_code == 0

    result = cli("history", "orders-api")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[0] == "app#orders-api: ROLLED_BACK (version 8)"
    assert out[1].split() == ["TIME", "PHASE", "ACTOR", "REASON", "DETAILS"]
    body = out[3:]
    assert len(body) == 8
    assert body[0].split()[2:] == ["PLANNED", "cutover", "-", "-"]
    assert body[3].split()[2:] == [
        "READY",
        "->",
        "SHIFTING",
        "cutover",
        "-",
        "step=1",
        "percent=10",
    ]
    assert "SHIFTING -> CUTOVER_COMPLETE" in body[6]
    last = body[7]
    assert "CUTOVER_COMPLETE -> ROLLED_BACK  rollback  latency" in last
    assert 'previousWeights={"aws":100,"onPremises":0}' in last
    assert "changeId=/change/" in last

    by_id = cli("history", "app#orders-api")
    assert by_id.stdout == result.stdout


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


def test_terminal_mode_renders_live_progress_and_rich_tables(
    cli: Cli, stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal: the live table (countdown ticking each second) and rich tables."""
    from migration.cli import output

    monkeypatch.setattr(output, "is_terminal", lambda: True)
    result = cli("cutover", "--wave", "wave-1", "--app", "storefront", "--yes")
    assert result.exit_code == 0, result.output
    assert stack.weights()["storefront"] == ON_AWS
    assert "[storefront] CUTOVER_COMPLETE: aws=100 on-premises=0" in result.stdout
    assert "APPLICATION" in result.stdout and "CUTOVER_COMPLETE" in result.stdout

    status = cli("status")
    assert status.exit_code == 0
    assert "┃ WAVE" in status.stdout and "storefront" in status.stdout  # rich box, folded at 80
