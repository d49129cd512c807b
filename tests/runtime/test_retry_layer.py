"""One retry layer for Route 53: botocore makes one attempt per call, the shifter decides
every retry inside its time budget (throttling injected as real HTTP responses, so that
botocore's own retry handler sees them as it would in AWS)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from migration.errors import PartialShiftError, RetryBudgetExhaustedError
from migration.handlers import controller, rollback
from migration.operations import Boto3Clients
from migration.traffic import ROUTE53_CLIENT_CONFIG, Split, TrafficShifter
from tests.runtime.conftest import Aws

THROTTLED = (
    b'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    b"<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>x</RequestId></ErrorResponse>"
)


class _Raw:
    def stream(self, **_: Any) -> Any:
        yield THROTTLED


class Throttle:
    """Answers every ChangeResourceRecordSets HTTP request with a 400 Throttling response."""

    def __init__(self, client: Any) -> None:
        self.http_attempts = 0
        client.meta.events.register("before-send.route53.ChangeResourceRecordSets", self._send)

    def _send(self, request: Any, **_: Any) -> AWSResponse:
        self.http_attempts += 1
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw())


def _throttled_shift(aws: Aws, config: Any) -> tuple[int, int, float]:
    """(HTTP attempts, shifter attempts, fake seconds spent) of one throttled set_split."""
    aws.seed({"orders": (0, 100)})
    route53 = boto3.client("route53", config=config)
    throttle = Throttle(route53)
    started = aws.time.now
    shifter = TrafficShifter(
        route53,
        aws.zone_id,
        sleep=aws.time.sleep,
        monotonic=aws.time.monotonic,
        random=aws.time.random,
        time_budget_s=10.0,
    )
    with pytest.raises(PartialShiftError) as caught:
        shifter.set_split({"orders": Split(10, 90)})
    cause = caught.value.__cause__
    assert isinstance(cause, RetryBudgetExhaustedError)
    return throttle.http_attempts, cause.attempts, aws.time.now - started


def test_one_http_attempt_per_shifter_attempt_within_the_budget(aws: Aws) -> None:
    http, attempts, spent = _throttled_shift(aws, ROUTE53_CLIENT_CONFIG)
    assert http == attempts
    assert spent <= 10.0  # the budget holds: no retry sleeps past it


def test_every_route53_client_of_the_project_makes_one_attempt(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollback.reset_clients()
    clients = [
        rollback.get_clients().route53,
        controller._client("route53"),
        Boto3Clients("us-east-1").client("route53"),
    ]
    for client in clients:
        assert client.meta.config.retries["total_max_attempts"] == 1
    # DynamoDB and SNS keep botocore's standard retries (no second layer there).
    assert rollback.get_clients().dynamodb.meta.config.retries["total_max_attempts"] == 4
    rollback.reset_clients()
