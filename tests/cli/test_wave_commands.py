"""``migrate cutover / watch / pause / resume / abort / approve / reset`` in-process against a
stack on moto's server; the controller's handler runs as the schedule would (``server``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration.cli import cutover_cmd
from tests.cli.conftest import EXAMPLE, Cli, Knobs, MotoStack, Server, phases

ON_PREM = (0, 100)
ON_AWS = (100, 0)


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


@pytest.fixture
def short_plan(tmp_path: Path) -> Path:
    """The example plan with 2-minute bakes (fewer ticks; the same story)."""
    text = EXAMPLE.read_text().replace("bake_minutes: 15", "bake_minutes: 2")
    text = text.replace(
        "        shift_steps: [5, 25, 50, 100]\n",
        "        shift_steps: [5, 25, 50, 100]\n        bake_minutes: 2\n",
    )
    path = tmp_path / "short-plan.yaml"
    path.write_text(text)
    return path


def test_cutover_starts_server_side_and_returns(cli: Cli, stack: MotoStack) -> None:
    result = cli("cutover", "--wave", "wave-1", "--yes")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert (
        "wave wave-1: cutover started server-side for 2 application(s), at most 25 at once" in out
    )
    assert out[-1] == "follow it with: migrate watch wave-1"
    assert stack.weights()["orders-api"] == ON_PREM  # nothing moves until the controller runs
    again = cli("cutover", "--wave", "wave-1", "--yes")
    assert "wave wave-1 is already running; nothing changed" in again.stdout


def test_cutover_watch_follows_the_wave_to_completion(
    cli: Cli, stack: MotoStack, server: Server, monkeypatch: pytest.MonkeyPatch, short_plan: Path
) -> None:
    server.follow(monkeypatch)
    result = cli(
        "cutover", "--wave", "wave-1", "--yes", "--watch", "--interval", "60", plan=short_plan
    )
    assert result.exit_code == 0, result.output
    assert stack.weights() == {"orders-api": ON_AWS, "storefront": ON_AWS, "inventory": ON_PREM}
    assert phases(stack)["orders-api"] == "CUTOVER_COMPLETE"
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
    assert out[-1] == "wave wave-1 (complete): 2 CUTOVER_COMPLETE"
    # Both applications moved in the same ticks: the first moves shared one request.
    assert server.reports[0]["moved"] == {"orders-api": 1, "storefront": 1}
    assert server.reports[0]["route53Changes"] == 1
    progress = [line for line in out if line.startswith("orders-api")]
    assert any("SHIFTING" in line and "1/3" in line and "aws 10%" in line for line in progress)
    assert any("2m00s" in line for line in progress)  # time left in the 2-minute bake


def test_an_alarm_rolls_one_back_while_the_other_completes_then_reset(
    cli: Cli, stack: MotoStack, server: Server, monkeypatch: pytest.MonkeyPatch, short_plan: Path
) -> None:
    def on_tick(done: int) -> None:
        if done == 3:  # orders-api is baking step 2
            stack.set_alarm("orders-api-5xx", "ALARM")

    server.follow(monkeypatch, on_tick)
    result = cli(
        "cutover", "--wave", "wave-1", "--yes", "--watch", "--interval", "60", plan=short_plan
    )
    assert result.exit_code == 1, result.output
    assert stack.weights()["orders-api"] == ON_PREM
    assert stack.phase("orders-api") == "ROLLED_BACK"
    assert stack.phase("storefront") == "CUTOVER_COMPLETE"
    assert lines(result.stdout)[-1] == "wave wave-1 (complete): 1 CUTOVER_COMPLETE, 1 ROLLED_BACK"
    assert stack.inbox.count() == 1

    stack.set_alarm("orders-api-5xx", "OK")
    reset = cli("reset", "orders-api", "--reason", "tunnel fixed", "--by", "alice", plan=short_plan)
    assert reset.exit_code == 0, reset.output
    assert reset.stdout == "orders-api reset for attempt 2 by alice\n"
    history = cli("history", "orders-api", plan=short_plan)
    reset_line = next(line for line in lines(history.stdout) if "ROLLED_BACK -> PLANNED" in line)
    assert reset_line.split()[5:8] == ["alice", "tunnel", "fixed"]

    second = cli(
        "cutover", "--wave", "wave-1", "--yes", "--watch", "--interval", "60", plan=short_plan
    )
    assert second.exit_code == 0, second.output
    assert stack.weights()["orders-api"] == ON_AWS
    assert stack.phase("orders-api") == "CUTOVER_COMPLETE"


def test_gates_failing_before_traffic_moved_wait_and_show_why(
    cli: Cli, stack: MotoStack, server: Server, knobs: Knobs
) -> None:
    knobs.vpn[:] = ["UP", "DOWN"]
    assert cli("cutover", "--wave", "wave-1", "--yes").exit_code == 0
    server.tick()
    view = cli("watch", "wave-1", "--once")
    assert view.exit_code == 0, view.output
    row = next(line for line in lines(view.stdout) if line.startswith("orders-api"))
    assert "gates failed: vpn:" in row and "tunnel(s) not UP" in row
    assert stack.weights()["orders-api"] == ON_PREM


def test_pause_resume_and_abort(cli: Cli, stack: MotoStack, server: Server) -> None:
    assert cli("cutover", "--wave", "wave-1", "--yes").exit_code == 0
    server.tick()
    paused = cli("pause", "wave-1", "--reason", "change window closed")
    assert paused.stdout == "wave wave-1 paused: no new step starts; alarms stay watched\n"
    assert cli("pause", "wave-1").stdout == "wave wave-1 is already paused; nothing changed\n"
    before = stack.weights()
    for _ in range(20):
        server.fake_time.sleep(60)
        server.tick()
    assert stack.weights() == before
    assert cli("resume", "wave-1").stdout == "wave wave-1 resumed\n"
    aborted = cli("abort", "wave-1", "--reason", "rehearsal over")
    assert aborted.exit_code == 0, aborted.output
    assert aborted.stdout == "wave wave-1 aborted; its applications are rolled back\n"
    assert stack.weights()["orders-api"] == ON_PREM
    assert stack.phase("orders-api") == "ROLLED_BACK"
    again = cli("abort", "wave-1", "--reason", "x")
    assert again.exit_code == 2
    assert again.stderr == "error: wave wave-1 is aborted: nothing to abort\n"


def test_approve_a_manual_step(
    cli: Cli, stack: MotoStack, server: Server, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.cli.conftest import EXAMPLE

    plan = Path(str(tmp_path)) / "plan.yaml"
    plan.write_text(
        EXAMPLE.read_text().replace(
            "        databases: [orders-db]\n      # CNAME",
            "        databases: [orders-db]\n        manual_approval_steps: [100]\n      # CNAME",
        )
    )
    assert cli("cutover", "--wave", "wave-1", "--yes", plan=plan).exit_code == 0
    for _ in range(40):
        server.fake_time.sleep(60)
        server.tick()
    assert stack.weights()["orders-api"] == (50, 50)
    view = cli("watch", "wave-1", "--once", plan=plan)
    assert "waiting for approval of step 3 (100% to AWS): migrate approve" in view.stdout
    approved = cli("approve", "wave-1", plan=plan)
    assert approved.stdout == "approved: orders-api step 3 (100%)\n"
    nothing = cli("approve", "wave-1", plan=plan)
    assert nothing.exit_code == 2
    assert nothing.stderr == "error: wave wave-1: no step is waiting for approval\n"
    server.fake_time.sleep(60)
    server.tick()
    assert stack.weights()["orders-api"] == ON_AWS


def test_confirmation_prompt(cli: Cli, stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cutover_cmd, "stdin_is_interactive", lambda: True)
    before = stack.snapshot()
    declined = cli("cutover", "--wave", "wave-1", input="n\n")
    assert declined.exit_code == 1
    assert "Shift traffic to AWS now? [y/N]" in declined.stdout
    assert "aborted: nothing was changed" in declined.stdout
    assert stack.snapshot() == before
    accepted = cli("cutover", "--wave", "wave-1", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "cutover started server-side" in accepted.stdout
