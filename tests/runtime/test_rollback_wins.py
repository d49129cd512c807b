"""A rollback always wins: names, one record and one message per application, recovery time.

Scenarios of the first invariant, end to end against moto: application names are
normalised wherever they enter; every application gets one ROLLED_BACK item and one SNS
message per attempt, whatever the number of alarms or deliveries; an application in an
active cutover phase is recorded ROLLED_BACK even at 0 % on AWS; every ROLLED_BACK item
says how long the recovery took; half record pairs are reported and fail the invocation.
"""

from __future__ import annotations

from typing import Any

from migration.events import RollbackCommand, parse_event
from migration.tracking import HEAD_TIMESTAMP
from tests.runtime.conftest import Aws, sns_alarm_event


def rolled_back_items(aws: Aws) -> dict[str, list[dict[str, Any]]]:
    """ROLLED_BACK history items by entity id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item in aws.items():
        if (
            item["timestamp"]["S"] != HEAD_TIMESTAMP
            and item.get("migrationPhase", {}).get("S") == "ROLLED_BACK"
        ):
            found.setdefault(item["serverId"]["S"], []).append(item)
    return found


def entity_ids(aws: Aws) -> set[str]:
    return {item["serverId"]["S"] for item in aws.items()}


# -- 1. application names are normalised wherever they enter ------------------------------


def test_direct_command_in_capitals_records_the_real_application(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90)})
    result = aws.service().handle(parse_event({"applications": ["ORDERS"], "reason": "x"}))
    assert [r.application for r in result.rolled_back] == ["orders"]
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}
    assert aws.weights()["billing"] == {"aws": 10, "on-premises": 90}
    assert list(rolled_back_items(aws)) == ["app#orders"]
    assert "app#ORDERS" not in entity_ids(aws)
    assert "orders: was aws=50" in aws.inbox.drain()[0]


def test_names_from_commands_built_in_process_and_alarm_mappings_are_normalised(
    aws: Aws,
) -> None:
    aws.seed({"orders": (50, 50), "billing": (10, 90)})
    # The CLI and the cutover engine build RollbackCommand themselves.
    command = RollbackCommand(applications=(" Orders ",), reason="x", idempotency_key="k")
    assert [r.application for r in aws.service().handle(command).rolled_back] == ["orders"]
    service = aws.service(alarm_applications={"billing-5xx": ("BILLING",)})
    result = service.handle(parse_event(sns_alarm_event("billing-5xx")))
    assert [r.application for r in result.rolled_back] == ["billing"]
    assert result.unknown_applications == ()
    assert sorted(rolled_back_items(aws)) == ["app#billing", "app#orders"]
    apps = [entity for entity in entity_ids(aws) if entity.startswith("app#")]
    assert apps and all(entity == entity.lower() for entity in apps)
