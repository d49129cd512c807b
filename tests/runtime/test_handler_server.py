"""The rollback handler end to end through moto's HTTP server on 127.0.0.1.

The function's clients are built by boto3 from the environment, as in Lambda, with
``AWS_ENDPOINT_URL`` pointing at a ThreadedMotoServer bound to an ephemeral port.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from migration.handlers import rollback as rollback_handler
from tests.runtime.conftest import (
    CallRecorder,
    Inbox,
    create_private_zone,
    create_topic_with_queue,
    create_tracking_table,
    eventbridge_alarm_event,
    seed_records,
    sns_alarm_event,
    weighted_state,
)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and an OS-chosen port; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert port > 0
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class Stack:
    """Resources of the stack created on the server, plus clients to inspect them."""

    def __init__(self, url: str) -> None:
        def client(service: str) -> Any:
            return boto3.client(
                service,
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )

        self.route53 = client("route53")
        self.dynamodb = client("dynamodb")
        self.zone_id = create_private_zone(client("ec2"), self.route53)
        self.table = create_tracking_table(self.dynamodb)
        sqs = client("sqs")
        self.topic_arn, queue_url = create_topic_with_queue(client("sns"), sqs)
        self.inbox = Inbox(sqs, queue_url)

    def items(self, prefix: str) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=self.table)["Items"]
        return [i for i in items if i["serverId"]["S"].startswith(prefix)]


@pytest.fixture
def stack(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    created = Stack(moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("HOSTED_ZONE_ID", created.zone_id)
    monkeypatch.setenv("TABLE_NAME", created.table)
    monkeypatch.setenv("SNS_TOPIC_ARN", created.topic_arn)
    rollback_handler.reset_clients()
    yield created
    rollback_handler.reset_clients()


def context(request_id: str) -> Any:
    return SimpleNamespace(aws_request_id=request_id)


def test_alarm_rollback_end_to_end_over_http(stack: Stack) -> None:
    seed_records(
        stack.route53, stack.zone_id, {"orders": (50, 50), "billing": (10, 90), "search": (0, 100)}
    )
    summary = rollback_handler.handler(sns_alarm_event("orders-5xx"), context("r-1"))

    assert summary["status"] == "rolled_back"
    assert [r["application"] for r in summary["rolledBack"]] == ["billing", "orders"]
    weights = weighted_state(stack.route53, stack.zone_id)
    assert all(w == {"aws": 0, "on-premises": 100} for w in weights.values())
    history = [i for i in stack.items("app#") if i["timestamp"]["S"] != "CURRENT"]
    assert sorted(i["serverId"]["S"] for i in history) == ["app#billing", "app#orders"]
    assert {i["migrationPhase"]["S"] for i in history} == {"ROLLED_BACK"}
    assert len(stack.inbox.drain()) == 1

    # The handler's clients really talk to the server: count the redelivery's calls.
    clients = rollback_handler.get_clients()
    assert clients.route53.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]
    assert clients.dynamodb.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]
    calls = CallRecorder(clients.route53)
    again = rollback_handler.handler(
        sns_alarm_event("orders-5xx", message_id="m-2"), context("r-2")
    )
    assert again["status"] == "duplicate"
    assert calls.attempts["ChangeResourceRecordSets"] == 0
    assert len(stack.items("app#")) == 4  # 2 history + 2 heads, nothing new
    assert len(stack.inbox.drain()) == 1


def test_ok_state_over_http_is_recorded_only(stack: Stack) -> None:
    seed_records(stack.route53, stack.zone_id, {"orders": (50, 50)})
    summary = rollback_handler.handler(eventbridge_alarm_event("orders-5xx", "OK"), context("r"))
    assert summary["status"] == "ignored" and summary["alarmState"] == "OK"
    assert weighted_state(stack.route53, stack.zone_id)["orders"] == {
        "aws": 50,
        "on-premises": 50,
    }
    assert [i["serverId"]["S"] for i in stack.items("")] == ["alarm#orders-5xx"]
    assert stack.inbox.drain() == []
