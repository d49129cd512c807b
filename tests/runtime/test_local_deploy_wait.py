"""The local deployment waits for its stack with CloudFormation's waiters (no hand loop).

moto finishes a stack at once, so these drive a stubbed client through what a slow or failing
stack reports: in progress then complete, a rollback (with the failed resources named), a stack
still in progress after the time limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import botocore.waiter
import pytest
from botocore.stub import Stubber

from migration.local import deploy
from migration.local.deploy_types import LocalDeployError

STACK = "TapStackdev"


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("cloudformation", region_name="us-east-1")
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.waiter.time, "sleep", sleeps.append)
    client.sleeps = sleeps
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def _deployment(client: Any) -> deploy._Deployment:
    return deploy._Deployment(
        {"Resources": {}},
        Path("TapStackdev.template.json"),
        client=lambda _service: client,
        stack_name=STACK,
        region="us-east-1",
    )


def _status(client: Any, status: str, reason: str = "") -> None:
    stack: dict[str, Any] = {
        "StackName": STACK,
        "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": status,
    }
    if reason:
        stack["StackStatusReason"] = reason
    client.stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})


def test_waits_until_the_stack_is_complete(cloudformation: Any) -> None:
    for status in ("CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"):
        _status(cloudformation, status)
    _status(cloudformation, "CREATE_COMPLETE")  # read once more for the outputs
    stack = _deployment(cloudformation).wait("create_stack")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert cloudformation.sleeps == [deploy.STACK_WAIT_DELAY_S] * 2


def test_an_update_waits_for_update_complete(cloudformation: Any) -> None:
    for status in ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_COMPLETE"):
        _status(cloudformation, status)
    assert _deployment(cloudformation).wait("update_stack")["StackStatus"] == "UPDATE_COMPLETE"


def test_a_rolled_back_stack_names_the_failed_resources(cloudformation: Any) -> None:
    _status(cloudformation, "ROLLBACK_COMPLETE", "The following resource(s) failed: [Queue]")
    _status(cloudformation, "ROLLBACK_COMPLETE", "The following resource(s) failed: [Queue]")
    cloudformation.stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                {
                    "StackId": STACK,
                    "EventId": "1",
                    "StackName": STACK,
                    "Timestamp": "2026-01-01T00:00:00Z",
                    "LogicalResourceId": "Queue",
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": "bad property",
                }
            ]
        },
        {"StackName": STACK},
    )
    with pytest.raises(LocalDeployError) as caught:
        _deployment(cloudformation).wait("create_stack")
    assert str(caught.value) == (
        f"{STACK}: ROLLBACK_COMPLETE The following resource(s) failed: [Queue]"
        "\n  Queue: CREATE_FAILED bad property"
    )


def test_a_stack_still_in_progress_at_the_limit_is_refused(
    cloudformation: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy, "STACK_WAIT_TIMEOUT_S", 3)
    for _ in range(4):  # three attempts of the waiter, then the final read
        _status(cloudformation, "UPDATE_IN_PROGRESS")
    with pytest.raises(LocalDeployError, match=rf"^{STACK} still UPDATE_IN_PROGRESS after 3 s$"):
        _deployment(cloudformation).wait("update_stack")
    assert len(cloudformation.sleeps) == 2
