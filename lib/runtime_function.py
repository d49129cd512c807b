"""The parts every runtime function of the stack is made of, made the same way.

The rollback function, the cutover controller and the database step all run the runtime package
(``src/``) as a code asset, log in Lambda's JSON format to their own log group encrypted with the
project key, encrypt their environment with that key and are traced with X-Ray. What differs
(handler, asset excludes, environment, timeout, memory, retries, concurrency, network, layers)
is a parameter, so each construct still states it where it creates its function.

These are functions, not a construct: the parts keep their construct ids ("LogGroup", "Role",
"Function", the queues') directly under the construct that owns them, and so their logical ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# The runtime package, shipped as the functions' code (each function names what it leaves out).
RUNTIME_SOURCE = Path(__file__).resolve().parent.parent / "src"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
DEAD_LETTER_RETENTION = Duration.days(14)


def function_log_group(
    scope: Construct, *, key: kms.IKey, retention: logs.RetentionDays
) -> logs.LogGroup:
    """The function's log group ("LogGroup"), encrypted with the project key."""
    return logs.LogGroup(
        scope,
        "LogGroup",
        encryption_key=key,
        retention=retention,
        removal_policy=RemovalPolicy.DESTROY,
    )


def function_role(scope: Construct, *, description: str, log_group: logs.ILogGroup) -> iam.Role:
    """The function's execution role ("Role"), allowed to write to its log group only."""
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    log_group.grant_write(role)
    return role


def dead_letter_queue(scope: Construct, construct_id: str, *, key: kms.IKey) -> sqs.Queue:
    """A dead-letter queue encrypted with the project key, TLS only, kept the longest SQS allows."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )


def runtime_function(
    scope: Construct,
    *,
    handler: str,
    exclude: Sequence[str],
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    key: kms.IKey,
    environment: Mapping[str, str],
    description: str,
    timeout: Duration,
    memory_size: int,
    retry_attempts: int,
    max_event_age: Duration,
    dead_letter_queue: sqs.IQueue | None = None,
    reserved_concurrent_executions: int | None = None,
    layers: Sequence[lambda_.ILayerVersion] | None = None,
    vpc: ec2.IVpc | None = None,
    vpc_subnets: ec2.SubnetSelection | None = None,
    security_groups: Sequence[ec2.ISecurityGroup] | None = None,
) -> lambda_.Function:
    """The function ("Function"): ``handler`` in the runtime package minus ``exclude``.

    Its environment is encrypted with ``key``; it logs JSON at INFO and is actively traced
    (tracing adds the X-Ray statements, and ``dead_letter_queue`` the send, to ``role``).
    """
    return lambda_.Function(
        scope,
        "Function",
        runtime=runtime,
        architecture=architecture,
        handler=handler,
        code=lambda_.Code.from_asset(str(RUNTIME_SOURCE), exclude=list(exclude)),
        layers=list(layers) if layers is not None else None,
        role=role,
        log_group=log_group,
        timeout=timeout,
        memory_size=memory_size,
        vpc=vpc,
        vpc_subnets=vpc_subnets,
        security_groups=list(security_groups) if security_groups is not None else None,
        reserved_concurrent_executions=reserved_concurrent_executions,
        dead_letter_queue=dead_letter_queue,
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
        environment=dict(environment),
        environment_encryption=key,
        description=description,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        # INFO keeps the platform's START/REPORT lines (duration, memory, trace id).
        system_log_level_v2=lambda_.SystemLogLevel.INFO,
        tracing=lambda_.Tracing.ACTIVE,
    )


def failure_alarms(
    scope: Construct,
    topic: sns.ITopic,
    alarms: Sequence[tuple[str, str, cloudwatch.IMetric]],
) -> dict[str, cloudwatch.Alarm]:
    """A function's failure alarms, each given as (construct id, description, metric).

    In lib/monitoring.py's style: >= 1 in one period, missing data not breaching, ALARM and OK
    both notify ``topic``.
    """
    notify = cw_actions.SnsAction(topic)
    made: dict[str, cloudwatch.Alarm] = {}
    for alarm_id, description, metric in alarms:
        alarm = cloudwatch.Alarm(
            scope,
            alarm_id,
            alarm_description=description,
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(notify)
        alarm.add_ok_action(notify)
        made[alarm_id] = alarm
    return made
