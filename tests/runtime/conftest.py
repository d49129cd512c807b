"""Fixtures of the runtime tests: moto-backed AWS resources and instant fake time.

Dummy credentials and us-east-1 are forced at import time, before any boto3 client can
exist, so no test can ever reach real AWS.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

for _name in (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)

import boto3  # noqa: E402  (credentials above must be set first)
import pytest  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto import mock_aws  # noqa: E402

from migration.ledger import EXPIRY_ATTRIBUTE, RollbackLedger  # noqa: E402
from migration.local import dynamodb_fidelity, route53_fidelity  # noqa: E402
from migration.notify import Notifier  # noqa: E402
from migration.rollback import RollbackService  # noqa: E402
from migration.tracking import TrackingStore  # noqa: E402
from migration.traffic import TrafficShifter  # noqa: E402

# DELETE must match the current record set, as in Route 53 (see the module).
route53_fidelity.install()
# Concurrent DynamoDB requests are atomic and a transaction costs what it touches (see the module).
dynamodb_fidelity.install()

ZONE_NAME = "migration.internal"
TABLE_NAME = "migration-tracking"
PHASE_INDEX = "MigrationPhaseIndex"


def create_tracking_table(dynamodb: Any, name: str = TABLE_NAME) -> str:
    """The tracking table with the exact schema of the CDK stack."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "serverId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "S"},
            {"AttributeName": "migrationPhase", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "serverId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": PHASE_INDEX,
                "KeySchema": [
                    {"AttributeName": "migrationPhase", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRY_ATTRIBUTE},
    )
    return name


def create_private_zone(ec2: Any, route53: Any, name: str = ZONE_NAME) -> str:
    """A private hosted zone attached to a fresh VPC; returns its id."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zone = route53.create_hosted_zone(
        Name=name,
        CallerReference=f"tests-{name}",
        HostedZoneConfig={"PrivateZone": True, "Comment": "runtime tests"},
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc_id},
    )
    return str(zone["HostedZone"]["Id"])


def create_topic_with_queue(sns: Any, sqs: Any) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed (raw delivery); returns (arn, queue url)."""
    topic_arn = sns.create_topic(Name="migration-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="migration-notifications-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return topic_arn, queue_url


def seed_records(
    route53: Any,
    zone_id: str,
    splits: Mapping[str, tuple[int, int]],
    *,
    zone_name: str = ZONE_NAME,
    ttl: int = 60,
    record_type: str = "A",
    long_values: bool = False,
) -> None:
    """Create the weighted pair of each app: splits[app] = (aws weight, on-prem weight).

    ``long_values`` gives CNAME values of about 200 characters (three 60-character
    labels), which makes the 32,000-character request limit bind before the element limit.
    """
    padding = ".".join(c * 60 for c in "abc") + "." if long_values else ""
    changes: list[dict[str, Any]] = []
    for index, (app, (aws, on_prem)) in enumerate(sorted(splits.items())):
        if record_type == "A":
            host = f"{index // 250}.{index % 250 + 1}"
            values = (f"10.0.{host}", f"10.1.{host}")
        else:
            values = (f"{app}.onprem.{padding}example.com", f"{app}.aws.{padding}example.com")
        for identifier, weight, value in (
            ("on-premises", on_prem, values[0]),
            ("aws", aws, values[1]),
        ):
            changes.append(
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{app}.{zone_name}",
                        "Type": record_type,
                        "SetIdentifier": identifier,
                        "Weight": weight,
                        "TTL": ttl,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            )
    # 250 apps = 500 UPSERTs = 1,000 counted elements, the per-request maximum.
    for start in range(0, len(changes), 500):
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes[start : start + 500]}
        )


def weighted_state(route53: Any, zone_id: str) -> dict[str, dict[str, int]]:
    """{record name: {set identifier: weight}} straight from Route 53 (test oracle)."""
    state: dict[str, dict[str, int]] = {}
    kwargs: dict[str, str] = {}
    while True:
        page = route53.list_resource_record_sets(HostedZoneId=zone_id, **kwargs)
        for record in page["ResourceRecordSets"]:
            if "SetIdentifier" in record:
                name = record["Name"].rstrip(".").removesuffix("." + ZONE_NAME)
                state.setdefault(name, {})[record["SetIdentifier"]] = record["Weight"]
        if not page["IsTruncated"]:
            return state
        kwargs = {
            "StartRecordName": page["NextRecordName"],
            "StartRecordType": page["NextRecordType"],
        }


def all_items(dynamodb: Any, table: str = TABLE_NAME) -> list[dict[str, Any]]:
    """Every item of the table (a Scan is fine in a test oracle)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = dynamodb.scan(TableName=table, **kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["serverId"]["S"], i["timestamp"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class Inbox:
    """Messages the SNS topic delivered to the subscribed queue, accumulated across reads."""

    sqs: Any
    queue_url: str
    messages: list[str] = field(default_factory=list)

    def drain(self) -> list[str]:
        """Receive (and delete) everything currently in the queue; return all so far."""
        while True:
            page = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            batch = page.get("Messages", [])
            if not batch:
                return self.messages
            for message in batch:
                self.messages.append(message["Body"])
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def count(self) -> int:
        """Total messages delivered so far."""
        return len(self.drain())


class CallRecorder:
    """Counts API calls of a boto3 client through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.attempts: Counter[str] = Counter()
        self.succeeded: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build", self._parameters)
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)

    def _parameters(self, model: Any, params: Any, **_: Any) -> None:
        self.requests.append((model.name, dict(params)))

    def _before(self, model: Any, **_: Any) -> None:
        self.attempts[model.name] += 1

    def api_params(self, operation: str) -> list[dict[str, Any]]:
        """The keyword arguments of every call of ``operation``."""
        return [params for name, params in self.requests if name == operation]

    def _after(self, model: Any, http_response: Any, **_: Any) -> None:
        if http_response.status_code < 300:
            self.succeeded[model.name] += 1

    def reset(self) -> None:
        """Forget what was counted so far."""
        self.attempts.clear()
        self.succeeded.clear()
        self.requests.clear()


class FaultInjector:
    """Makes chosen operations of a client fail with given error codes, in order.

    ``fail(operation, ["Throttling", "Throttling"])`` fails the next two calls; ``codes``
    may also be a callable deciding per call (return an error code or None).
    """

    def __init__(self, client: Any) -> None:
        self._plans: dict[str, list[str | None] | Callable[[int], str | None]] = {}
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        client.meta.events.register("before-call", self._before)

    def fail(self, operation: str, codes: list[str | None] | Callable[[int], str | None]) -> None:
        """Plan failures for ``operation`` (e.g. ``ChangeResourceRecordSets``)."""
        self._plans[operation] = list(codes) if isinstance(codes, list) else codes
        self.calls[operation] = 0

    def clear(self) -> None:
        """Stop injecting."""
        self._plans.clear()

    def _before(self, model: Any, **_: Any) -> None:
        plan = self._plans.get(model.name)
        if plan is None:
            return
        self.calls[model.name] += 1
        code = plan(self.calls[model.name]) if callable(plan) else (plan.pop(0) if plan else None)
        if code:
            self.injected[model.name] += 1
            raise ClientError(
                {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {}},
                model.name,
            )


class FailingItems:
    """Makes calls of ``operation`` fail when their parameters mention one of ``needles``.

    Unlike :class:`FaultInjector` (by call number), the failure follows the item, whatever
    order parallel calls arrive in.
    """

    def __init__(self, client: Any, operation: str, needles: tuple[str, ...]) -> None:
        self._needles = needles
        self._event = f"before-parameter-build.{client.meta.service_model.service_name}.{operation}"
        self._client = client
        self.failed = 0
        client.meta.events.register(self._event, self._before)

    def _before(self, params: Any, model: Any, **_: Any) -> None:
        text = json.dumps(params, sort_keys=True, default=str)
        if any(needle in text for needle in self._needles):
            self.failed += 1
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}},
                model.name,
            )

    def clear(self) -> None:
        """Stop failing."""
        self._client.meta.events.unregister(self._event, self._before)


@dataclass
class FakeTime:
    """Instant time: ``sleep`` advances ``monotonic`` and the wall clock."""

    now: float = 1000.0
    wall: datetime = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    sleeps: list[float] = field(default_factory=list)
    random_value: float = 0.5

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.wall += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self.now

    def random(self) -> float:
        return self.random_value

    def clock(self) -> datetime:
        return self.wall


@dataclass
class Aws:
    """The moto-backed clients and resources of one test."""

    route53: Any
    dynamodb: Any
    sns: Any
    sqs: Any
    zone_id: str
    table: str
    topic_arn: str
    inbox: Inbox
    route53_calls: CallRecorder
    route53_faults: FaultInjector
    dynamodb_faults: FaultInjector
    time: FakeTime

    def seed(self, splits: Mapping[str, tuple[int, int]], **kwargs: Any) -> None:
        """Create weighted pairs; splits[app] = (aws, on-premises)."""
        seed_records(self.route53, self.zone_id, splits, **kwargs)
        self.route53_calls.reset()

    def weights(self) -> dict[str, dict[str, int]]:
        """Current weights by application name."""
        return weighted_state(self.route53, self.zone_id)

    def items(self) -> list[dict[str, Any]]:
        """Every table item."""
        return all_items(self.dynamodb, self.table)

    def snapshot(self) -> tuple[Any, ...]:
        """Records, table items and messages delivered so far (for 'nothing changed')."""
        records = self.route53.list_resource_record_sets(HostedZoneId=self.zone_id)
        return (
            json.dumps(records["ResourceRecordSets"], sort_keys=True, default=str),
            json.dumps(self.items(), sort_keys=True),
            self.inbox.count(),
        )

    def shifter(self, **kwargs: Any) -> TrafficShifter:
        """A TrafficShifter over the zone with instant fake time."""
        options: dict[str, Any] = {
            "sleep": self.time.sleep,
            "monotonic": self.time.monotonic,
            "random": self.time.random,
        }
        options.update(kwargs)
        return TrafficShifter(self.route53, self.zone_id, **options)

    def tracking(self, **kwargs: Any) -> TrackingStore:
        """A TrackingStore over the table with the fake wall clock."""
        return TrackingStore(self.dynamodb, self.table, clock=self.time.clock, **kwargs)

    def service(
        self,
        *,
        alarm_applications: Mapping[str, tuple[str, ...] | None] | None = None,
        shifter: TrafficShifter | None = None,
        tracking: TrackingStore | None = None,
        wait_for_insync: bool = False,
        notifier: Notifier | None = None,
        **options: Any,
    ) -> RollbackService:
        """A RollbackService wired to this test's resources, on the fake clock."""
        settings: dict[str, Any] = {"clock": self.time.clock, "sleep": self.time.sleep}
        settings.update(options)
        return RollbackService(
            shifter or self.shifter(),
            tracking or self.tracking(),
            RollbackLedger(self.dynamodb, self.table, clock=settings["clock"]),
            notifier or Notifier(self.sns, self.topic_arn),
            alarm_applications=alarm_applications,
            wait_for_insync=wait_for_insync,
            **settings,
        )


@pytest.fixture
def aws() -> Iterator[Aws]:
    """Fresh moto account with the zone, the table and the topic+queue of the stack."""
    with mock_aws():
        route53 = boto3.client("route53")
        dynamodb = boto3.client("dynamodb")
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        zone_id = create_private_zone(boto3.client("ec2"), route53)
        table = create_tracking_table(dynamodb)
        topic_arn, queue_url = create_topic_with_queue(sns, sqs)
        yield Aws(
            route53=route53,
            dynamodb=dynamodb,
            sns=sns,
            sqs=sqs,
            zone_id=zone_id,
            table=table,
            topic_arn=topic_arn,
            inbox=Inbox(sqs, queue_url),
            route53_calls=CallRecorder(route53),
            route53_faults=FaultInjector(route53),
            dynamodb_faults=FaultInjector(dynamodb),
            time=FakeTime(),
        )


def sns_alarm_event(
    alarm: str,
    state: str = "ALARM",
    *,
    changed: str = "2026-11-28T12:00:00.123+0000",
    message_id: str = "4f5e6d7c-0000-4000-8000-000000000001",
) -> dict[str, Any]:
    """A CloudWatch alarm notification as SNS delivers it to Lambda."""
    message = {
        "AlarmName": alarm,
        "AlarmDescription": "test alarm",
        "AWSAccountId": "123456789012",
        "NewStateValue": state,
        "NewStateReason": f"Threshold crossed: {alarm}",
        "StateChangeTime": changed,
        "Region": "US East (N. Virginia)",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "Trigger": {"MetricName": "5XXError", "Namespace": "AWS/ApplicationELB"},
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alarms:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
                    "Subject": f'ALARM: "{alarm}" in US East (N. Virginia)',
                    "Message": json.dumps(message),
                    "Timestamp": "2026-11-28T12:00:01.000Z",
                },
            }
        ]
    }


def eventbridge_alarm_event(
    alarm: str,
    state: str = "ALARM",
    *,
    changed: str = "2026-11-28T12:00:00.123+0000",
    event_id: str = "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
) -> dict[str, Any]:
    """An EventBridge 'CloudWatch Alarm State Change' event."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2026-11-28T12:00:01Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {"value": state, "reason": "Threshold crossed", "timestamp": changed},
            "previousState": {"value": "OK", "timestamp": "2026-11-28T11:00:00.000+0000"},
        },
    }


@pytest.fixture
def sns_event() -> Callable[..., dict[str, Any]]:
    """Factory of SNS-delivered alarm notifications."""
    return sns_alarm_event


@pytest.fixture
def eventbridge_event() -> Callable[..., dict[str, Any]]:
    """Factory of EventBridge alarm state change events."""
    return eventbridge_alarm_event


def add_plain_and_half_records(aws: Aws) -> None:
    """A name with a plain record and a name with only the on-premises half."""
    aws.route53.change_resource_record_sets(
        HostedZoneId=aws.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"plain.{ZONE_NAME}",
                        "Type": "A",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "10.9.9.9"}],
                    },
                },
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"half.{ZONE_NAME}",
                        "Type": "A",
                        "SetIdentifier": "on-premises",
                        "Weight": 100,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.9.9.8"}],
                    },
                },
            ]
        },
    )
