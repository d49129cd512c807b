"""Database step: the function that runs one database's cutover in AWS (issue 9).

The cutover controller invokes ``migration.handlers.database_step.handler`` asynchronously with
``{"database": <plan name>, "wave": <wave name>, "run": "cutover"}`` when the plan's order says
the writer moves. The function runs the same resumable, version-guarded ``DatabaseCutover`` the
operator's ``migrate db cutover`` runs: it connects to both databases (on-premises through the
VPN), freezes, drains, checks, stops and starts the DMS tasks and moves the database's name.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import (
    AssetHashType,
    Aws,
    BundlingOptions,
    CfnElement,
    DockerImage,
    Duration,
    ILocalBundling,
    Stack,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dms as dms
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_sns as sns
from constructs import Construct

from lib.nag import acknowledge
from lib.replication_tasks import (
    TASKS_FINDING,
    TASKS_REASON,
    grant_secret_reads,
    tasks_statement,
)
from lib.rollback import grant_zone_table_and_topic
from lib.runtime_function import (
    dead_letter_queue,
    failure_alarms,
    function_log_group,
    function_role,
    runtime_function,
)
from migration.plan import Database

HANDLER = "migration.handlers.database_step.handler"

# The controller's asset plus the database package (the drivers come from the layer). Still
# out: the operator side (CLI, plan model, cutover engine, operations) and the local tooling.
STEP_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "*.egg-info",
    "migration/cli",
    "migration/plan",
    "migration/engine.py",
    "migration/operations.py",
    "migration/local",
]

# The pure-Python PostgreSQL driver and what it imports beyond the Lambda runtime (which has
# python-dateutil, a botocore dependency).
DRIVER_PACKAGES = ("pg8000", "scramp", "asn1crypto")
LAYER_SOURCE = Path(__file__).resolve().parent / "layers" / "database_drivers"
# dist-info files that name the installer or the machine, or list files the layer leaves out
# (bytecode); METADATA stays: pg8000 and scramp read their version from it at import.
_DIST_INFO_SKIP = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})

# A drain waits up to the plan's drain_timeout_seconds (default 300 s) and a consistency check
# reads the selected tables: the step gets Lambda's longest run.
TIMEOUT = Duration.minutes(15)
MEMORY_MB = 512
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(1)
HTTPS = 443
FIVE_MINUTES = Duration.minutes(5)


def _copy_tree(source: Path, destination: Path) -> None:
    """Copy file contents only (no timestamps or modes), in a stable order, without bytecode."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if "__pycache__" in relative.parts or path.suffix == ".pyc" or path.is_dir():
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def copy_distribution(package: str, destination: Path) -> None:
    """Copy the installed ``package`` and its dist-info metadata into ``destination``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"database drivers layer: {package} is not an installed package; run make install "
            "(it installs the locked versions from Pipfile.lock)"
        )
    _copy_tree(Path(next(iter(spec.submodule_search_locations))), destination / package)
    distribution = importlib.metadata.distribution(package)
    (record,) = [
        f
        for f in distribution.files or ()
        if f.name == "METADATA" and f.parent.suffix == ".dist-info"
    ]
    dist_info = Path(str(distribution.locate_file(record))).parent
    metadata = destination / dist_info.name
    _copy_tree(dist_info, metadata)
    for skipped in _DIST_INFO_SKIP:
        (metadata / skipped).unlink(missing_ok=True)


@jsii.implements(ILocalBundling)
class InstalledPackages:
    """Local bundling: copies installed packages into ``python/`` (a layer's layout)."""

    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = tuple(packages)

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        for package in self.packages:
            copy_distribution(package, Path(output_dir) / "python")
        return True


def drivers_code() -> lambda_.AssetCode:
    """The layer's code: the locked drivers, hashed by content (never by path or mtime)."""
    return lambda_.Code.from_asset(
        str(LAYER_SOURCE),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Required by the API, never used: local bundling always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            # jsii calls try_bundle(output_dir, options) positionally; the generated stub
            # declares the options as keywords, hence the cast.
            local=cast(ILocalBundling, InstalledPackages(DRIVER_PACKAGES)),
        ),
    )


def hook_statements(databases: Iterable[Database]) -> list[iam.PolicyStatement]:
    """What the plan's freeze hooks need: invoke the functions, run the Automation documents."""
    prefix = f"arn:{Aws.PARTITION}"
    region = f"{Aws.REGION}:{Aws.ACCOUNT_ID}"
    methods = sorted({d.freeze for d in databases})
    functions = [m.removeprefix("lambda:") for m in methods if m.startswith("lambda:")]
    documents = [m.removeprefix("ssm:") for m in methods if m.startswith("ssm:")]
    statements = []
    if functions:
        arns = [
            f if f.startswith("arn:") else f"{prefix}:lambda:{region}:function:{f}"
            for f in functions
        ]
        statements.append(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=arns))
    if documents:
        statements.append(
            iam.PolicyStatement(
                actions=["ssm:StartAutomationExecution"],
                resources=[
                    arn
                    for d in documents
                    for arn in (
                        f"{prefix}:ssm:{region}:automation-definition/{d}:*",
                        f"{prefix}:ssm:{region}:document/{d}",
                    )
                ],
            )
        )
        statements.append(
            iam.PolicyStatement(
                actions=["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"],
                resources=[f"{prefix}:ssm:{region}:automation-execution/*"],
            )
        )
    return statements


class DatabaseStep(Construct):
    """The database step function, its drivers layer, role, security group, log group, dead-letter
    queue and alarms; nothing when the plan has no databases (``function`` is then ``None``).

    It runs in the VPC's private subnets: it reaches the on-premises databases through the VPN
    and the AWS databases inside the VPC. Its security group admits nothing and sends only to
    the planned databases' ports (on-premises CIDRs for the sources, the VPC for the targets)
    and HTTPS for the AWS APIs. Invocations are asynchronous (the controller does not wait for a
    drain): two retries, then the dead-letter queue. Concurrency is not reserved: several
    databases may move at once, and the runtime's version-guarded writes refuse a duplicate.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_suffix: str,
        databases: Sequence[Database],
        vpc: ec2.IVpc,
        vpc_cidr: str,
        on_premises_cidrs: Sequence[str],
        key: kms.IKey,
        table: dynamodb.Table,
        topic: sns.ITopic,
        hosted_zone: route53.IHostedZone,
        vpn_connection: ec2.CfnVPNConnection,
        replication_tasks: Sequence[dms.CfnReplicationTask],
        cutover_settings: Mapping[str, Any],
        rollback_function: lambda_.Function,
        dashboard: cloudwatch.Dashboard,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: lambda_.Function | None = None
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if not databases:
            return
        self._key = key
        self._security_group(environment_suffix, databases, vpc, vpc_cidr, on_premises_cidrs)
        self._role_and_queue(key, log_retention)
        self.function = self._function(
            vpc, key, table, topic, hosted_zone, vpn_connection, cutover_settings, rollback_function
        )
        self._grant(databases, key, table, topic, hosted_zone, replication_tasks)
        self._alarms(topic, dashboard)

    def _function(
        self,
        vpc: ec2.IVpc,
        key: kms.IKey,
        table: dynamodb.Table,
        topic: sns.ITopic,
        hosted_zone: route53.IHostedZone,
        vpn_connection: ec2.CfnVPNConnection,
        cutover_settings: Mapping[str, Any],
        rollback_function: lambda_.Function,
    ) -> lambda_.Function:
        """The drivers layer and the function (same runtime and architecture as the rollback's)."""
        stack = Stack.of(self)
        self.layer = lambda_.LayerVersion(
            self,
            "DriversLayer",
            code=drivers_code(),
            compatible_runtimes=[rollback_function.runtime],
            compatible_architectures=[rollback_function.architecture],
            description="pg8000, scramp and asn1crypto from the locked environment",
        )
        return runtime_function(
            self,
            handler=HANDLER,
            exclude=STEP_EXCLUDES,
            runtime=rollback_function.runtime,
            architecture=rollback_function.architecture,
            layers=[self.layer],
            role=self.role,
            log_group=self.log_group,
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            environment={
                "HOSTED_ZONE_ID": hosted_zone.hosted_zone_id,
                "TABLE_NAME": table.table_name,
                "SNS_TOPIC_ARN": topic.topic_arn,
                "CUTOVER_SETTINGS": stack.to_json_string(cutover_settings),
                "VPN_CONNECTION_ID": vpn_connection.ref,
            },
            key=key,
            description="Database step: cuts one planned database over (freeze, drain, switch)",
        )

    def _security_group(
        self,
        environment_suffix: str,
        databases: Sequence[Database],
        vpc: ec2.IVpc,
        vpc_cidr: str,
        on_premises_cidrs: Sequence[str],
    ) -> None:
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Database step function ({environment_suffix}): egress only",
            allow_all_outbound=False,
        )
        sources = sorted({d.source.port for d in databases})
        targets = sorted({d.target.port for d in databases})
        rules = [(cidr, port, "on-premises") for cidr in on_premises_cidrs for port in sources]
        rules += [(vpc_cidr, port, "AWS") for port in targets]
        for cidr, port, side in rules:
            self.security_group.add_egress_rule(
                ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), f"{side} database port {port}"
            )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(HTTPS),
            "AWS APIs over HTTPS (DMS, Route 53, DynamoDB, Secrets Manager, KMS, CloudWatch)",
        )

    def _role_and_queue(self, key: kms.IKey, log_retention: logs.RetentionDays) -> None:
        self.log_group = function_log_group(self, key=key, retention=log_retention)
        self.role = function_role(
            self,
            description="Database step: DMS tasks, database secrets and names, tracking table",
            log_group=self.log_group,
        )
        # What the managed AWSLambdaVPCAccessExecutionRole grants, inline: Lambda manages the
        # function's network interfaces with the execution role.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", key=key)

    def _grant(
        self,
        databases: Sequence[Database],
        key: kms.IKey,
        table: dynamodb.Table,
        topic: sns.ITopic,
        hosted_zone: route53.IHostedZone,
        replication_tasks: Sequence[dms.CfnReplicationTask],
    ) -> None:
        grant_secret_reads(self.role, (e.secret for d in databases for e in (d.source, d.target)))
        statements = [
            # This stack's forward and reverse tasks, by their tag: one statement whatever the
            # number of databases.
            tasks_statement(
                [
                    "dms:DescribeTableStatistics",
                    "dms:StartReplicationTask",
                    "dms:StopReplicationTask",
                ],
                replication_tasks,
            ),
            # Read-only calls without resource-level permissions.
            iam.PolicyStatement(
                actions=[
                    "dms:DescribeReplicationTasks",
                    "cloudwatch:GetMetricStatistics",
                    "ec2:DescribeVpnConnections",
                ],
                resources=["*"],
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        grant_zone_table_and_topic(self.role, key, table, topic, hosted_zone)
        for statement in hook_statements(databases):
            self.role.add_to_policy(statement)
        self._acknowledge(databases, table)

    def _alarms(self, topic: sns.ITopic, dashboard: cloudwatch.Dashboard) -> None:
        """Errors and dead letters, in the controller's style: >= 1 over 5 minutes, notify."""
        function = cast(lambda_.Function, self.function)
        self.alarms = failure_alarms(
            self,
            topic,
            [
                (
                    "Errors",
                    "The database step function failed (a database cutover stopped or could not "
                    "start; Lambda retries it twice); check its logs and the database's phase",
                    function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                ),
                (
                    "DeadLetters",
                    "A database step exhausted its retries and is in the dead-letter queue: the "
                    "database did not move; migrate db status shows where it stopped",
                    self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum"
                    ),
                ),
            ],
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Database step",
                left=[
                    function.metric_invocations(period=FIVE_MINUTES),
                    function.metric_errors(period=FIVE_MINUTES),
                ],
                right=[function.metric_duration(period=FIVE_MINUTES, statistic="Maximum")],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Database step alarms", alarms=list(self.alarms.values()), width=12
            ),
        )

    def _acknowledge(self, databases: Sequence[Database], table: dynamodb.Table) -> None:
        table_id = Stack.of(self).get_logical_id(cast(CfnElement, table.node.default_child))
        findings = {
            "Resource::*": "dms:DescribeReplicationTasks, cloudwatch:GetMetricStatistics and "
            "ec2:DescribeVpnConnections (read-only gates), the network interface calls Lambda "
            "makes for a function in a VPC (the managed AWSLambdaVPCAccessExecutionRole's "
            "actions, inline) and X-Ray's PutTraceSegments/PutTelemetryRecords support no "
            "resource-level permissions.",
            "Resource::arn:<AWS::Partition>:route53:::change/*": "route53:GetChange (waiting "
            "for INSYNC after the name moves) only accepts change ARNs, whose ids Route 53 "
            "assigns per request; it is read-only and reveals only a change's status.",
            f"Resource::<{table_id}.Arn>/index/*": "Query on the tracking table's "
            "MigrationPhaseIndex; the wildcard covers only this table's own indexes.",
            "Action::kms:GenerateDataKey*": "Granted by topic.grant_publish for the "
            "KMS-encrypted topic; the same data keys of the project key (the statement's only "
            "resource) let Lambda write failed events to the dead-letter queue it encrypts.",
        }
        documents = sorted(
            {d.freeze.removeprefix("ssm:") for d in databases if d.freeze.startswith("ssm:")}
        )
        for document in documents:
            findings[
                "Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
                f"automation-definition/{document}:*"
            ] = (
                f"freeze: ssm:{document} in the plan: StartAutomationExecution is authorised on "
                "the runbook's versions (automation-definition/<name>:<version>), any version."
            )
        if documents:
            findings[
                "Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
                "automation-execution/*"
            ] = (
                "Get/StopAutomationExecution of the freeze hooks' own runs: execution ids are "
                "assigned by SSM when the hook starts, so no narrower ARN exists beforehand."
            )
        for finding, reason in findings.items():
            acknowledge(self.role, f"AwsSolutions-IAM5[{finding}]", reason)
        acknowledge(self.role, TASKS_FINDING, TASKS_REASON)

    def allow_invocation_by(self, function: lambda_.Function) -> None:
        """Let ``function`` (the cutover controller) invoke the step; tell it the step's name."""
        if self.function is None:
            return
        cast(iam.IRole, function.role).add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
            )
        )
        function.add_environment("DATABASE_STEP_FUNCTION", self.function.function_name)
