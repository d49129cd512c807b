"""``migrate servers status|test|cutover|finalize`` against the local MGN stand-in, reached
as a real deployment's MGN would be: the commands' own boto3 ``mgn`` client, routed by
``AWS_ENDPOINT_URL_MGN`` (the rest of the stack on moto's server through
``AWS_ENDPOINT_URL``). Nothing of the commands is replaced for MGN."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migration.local.mgn_stand_in import ENDPOINT_VARIABLE, MgnStandIn
from migration.tracking import Phase, TrackingStore, app_id, server_id
from tests.cli.conftest import Cli, MotoStack

ORDERS = "orders-app-01.corp.example.com"
WEB = "storefront-web-01.corp.example.com"


@pytest.fixture
def mgn(stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[MgnStandIn]:
    validate = {
        "actionName": "validate",
        "ssmDocumentName": "migration-cutover-test",
        "mustSucceedForCutover": True,
    }
    with MgnStandIn(post_launch_actions=[validate]) as stand_in:
        monkeypatch.setenv(ENDPOINT_VARIABLE, stand_in.endpoint_url)
        yield stand_in


def rows(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines()[2:] if line.strip()}


def head_phase(stack: MotoStack, server: str) -> str:
    (head,) = [
        i
        for i in stack.items()
        if i["serverId"]["S"] == server_id(server) and i["timestamp"]["S"] == "CURRENT"
    ]
    return str(head["migrationPhase"]["S"])


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_status_test_cutover_finalize_against_the_stand_in(
    cli: Cli, mgn: MgnStandIn, stack: MotoStack
) -> None:
    orders = mgn.add_server(ORDERS, "192.168.10.21", "linux")
    mgn.add_server(WEB, "192.168.10.31", "windows")
    mgn.advance(20)  # 5 minutes initiating, half of the 30-minute initial sync
    result = cli("servers", "status")
    assert result.exit_code == 0, result.output
    assert "NOT_READY / INITIAL_SYNC" in rows(result.output)["orders-app-01"]
    assert "50%" in rows(result.output)["orders-app-01"]
    mgn.advance(20)
    result = cli("servers", "status")
    assert "READY_FOR_TEST / CONTINUOUS  5s" in rows(result.output)["orders-app-01"]

    result = cli("servers", "test", "--wave", "wave-1", "--yes", "--by", "ops")
    assert result.exit_code == 0, result.output
    assert "orders-app-01: TESTING (MGN job mgnjob-" in result.output
    assert "storefront-web-01: TESTING (MGN job mgnjob-" in result.output

    result = cli("servers", "cutover", "orders-app-01", "--yes")
    assert result.exit_code == 2
    assert error_lines(result.output)[0].endswith("is PENDING")
    mgn.advance(2)  # launched, then validated
    result = cli("servers", "cutover", "orders-app-01", "--yes")
    assert result.exit_code == 0, result.output
    assert "orders-app-01: CUTTING_OVER" in result.output

    mgn.advance(2)
    TrackingStore(stack.dynamodb, stack.table).transition(
        app_id("orders-api"), Phase.CUTOVER_COMPLETE
    )
    result = cli("servers", "finalize", "orders-app-01", "--yes")
    assert result.exit_code == 0, result.output
    assert head_phase(stack, "orders-app-01") == "CUT_OVER"
    result = cli("servers", "status", "orders-app-01")
    assert "CUTOVER / DISCONNECTED" in rows(result.output)["orders-app-01"]
    assert orders in result.output


def test_a_fault_refuses_the_command_in_one_line_and_changes_nothing(
    cli: Cli, mgn: MgnStandIn, stack: MotoStack
) -> None:
    mgn.add_server(ORDERS, "192.168.10.21", "linux")
    mgn.add_server(WEB, "192.168.10.31", "windows")
    mgn.advance(40)
    mgn.stall(WEB, "AGENT_NOT_SEEN", "no heartbeat for 10 minutes")
    before = stack.snapshot()
    result = cli("servers", "test", "--wave", "wave-1", "--yes")
    assert result.exit_code == 2
    assert error_lines(result.output) == [
        "error: test refused, nothing changed: server storefront-web-01: replication stalled"
        " (AGENT_NOT_SEEN no heartbeat for 10 minutes)"
    ]
    assert stack.snapshot() == before
    assert "StartTest" not in mgn.calls
