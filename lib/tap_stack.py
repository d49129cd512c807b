"""The migration orchestration stack: composes one construct per capability and wires them.

Public contract (kept from the seed): ``TapStack``, ``TapStackProps(environment_suffix=...)``, the
attributes below, the ten outputs and their export names ``{Name}-{suffix}``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_logs as logs
from constructs import Construct

from lib.config import MigrationConfig
from lib.cutover_controller import CutoverController
from lib.database_migration import DatabaseMigration
from lib.database_step import DatabaseStep
from lib.encryption import Encryption
from lib.hybrid_connectivity import HybridConnectivity
from lib.monitoring import Monitoring
from lib.name_resolution import NameResolution
from lib.network import Network
from lib.notifications import Notifications
from lib.rollback import Rollback
from lib.server_replication import ServerReplication, launch_defaults
from lib.tracking import Tracking
from lib.traffic import Traffic
from lib.validation import Validation
from lib.wave_stack import WaveStack, wave_parts
from migration import alarm_names
from migration.plan import Plan
from migration.servers.spec import MGN

# CloudWatch Logs retention, by the number of days ``MigrationConfig.log_retention_days`` accepts.
LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
}


# Names of the ``cdk.StackProps`` fields, which ``TapStack`` passes on to ``cdk.Stack``.
_STACK_PROP_NAMES = tuple(
    name for name, value in vars(cdk.StackProps).items() if isinstance(value, property)
)


class TapStackProps(cdk.StackProps):
    """Properties of ``TapStack``: the environment suffix, optional typed configuration, the
    migration plan (no applications or databases when omitted), and any ``cdk.StackProps``
    (``env``, ``description``, ``synthesizer``...)."""

    def __init__(
        self,
        environment_suffix: str,
        config: MigrationConfig | None = None,
        plan: Plan | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.environment_suffix = environment_suffix
        self.config = config or MigrationConfig(environment_suffix=environment_suffix)
        self.plan = plan
        if self.config.environment_suffix != environment_suffix:
            raise ValueError(
                f"environment_suffix {environment_suffix!r} differs from the configuration's "
                f"{self.config.environment_suffix!r}"
            )


class TapStack(Stack):
    """Migration orchestration infrastructure: replication, connectivity, traffic and safety net."""

    def __init__(
        self, scope: Construct, construct_id: str, *, props: TapStackProps, **kwargs: Any
    ) -> None:
        # The StackProps the props carry (env, description...) apply; explicit keywords win.
        stack_props = {name: getattr(props, name) for name in _STACK_PROP_NAMES}
        stack_props = {name: value for name, value in stack_props.items() if value is not None}
        super().__init__(scope, construct_id, **{**stack_props, **kwargs})
        config, plan = props.config, props.plan
        self.environment_suffix = props.environment_suffix
        retention = LOG_RETENTION[config.log_retention_days]
        database = self._create_connectivity(config, retention)
        self._create_cutover_targets(config, plan)
        rollback, monitoring = self._create_safety_net(config, database, retention)
        self._create_server_migration(config, plan)
        self._wire_rollback_triggers(monitoring.rollback_alarms, rollback)
        self._create_wave_stacks(plan, config, database, rollback)
        self.cutover_settings = self._cutover_settings(database)
        controller = CutoverController(
            self,
            "CutoverController",
            environment_suffix=self.environment_suffix,
            key=self.kms_key,
            table=self.migration_tracking_table,
            topic=self.sns_topic,
            hosted_zone=self.private_hosted_zone,
            vpn_connection=self.vpn_connection,
            replication_tasks=list(self.dms_replication_tasks.values()),
            cutover_settings=self.cutover_settings,
            rollback_function=self.rollback_lambda,
            dashboard=self.dashboard,
            log_retention=retention,
            reserve_concurrency=config.rollback_reserved_concurrency > 0,
            reads_servers=bool(plan and any(s.replication == MGN for s in plan.servers)),
        )
        self.cutover_controller_lambda = controller.function
        self._create_database_step(plan, config, controller)
        self._create_outputs()

    def _create_connectivity(
        self, config: MigrationConfig, retention: logs.RetentionDays
    ) -> DatabaseMigration:
        """The key, the VPC, the VPN to the site and the DMS replication instance."""
        suffix = self.environment_suffix
        encryption = Encryption(self, "Encryption", environment_suffix=suffix)
        self.kms_key = encryption.key

        network = Network(
            self, "Network", config=config.network, key=self.kms_key, log_retention=retention
        )
        self.vpc = network.vpc

        hybrid = HybridConnectivity(
            self,
            "HybridConnectivity",
            vpc=self.vpc,
            on_premises=config.on_premises,
            amazon_side_asn=config.network.amazon_side_asn,
        )
        self.customer_gateway = hybrid.customer_gateway
        self.vpn_gateway = hybrid.vpn_gateway
        self.vpn_connection = hybrid.vpn_connection

        database = DatabaseMigration(
            self,
            "DatabaseMigration",
            vpc=self.vpc,
            key=self.kms_key,
            config=config.dms,
            on_premises=config.on_premises,
            environment_suffix=suffix,
        )
        self.dms_replication_subnet_group = database.subnet_group
        self.dms_replication_instance = database.replication_instance
        return database

    def _create_cutover_targets(self, config: MigrationConfig, plan: Plan | None) -> None:
        """What the plan moves: the zone, name resolution (servers: ``_create_server_migration``,
        once the validation document exists)."""
        suffix = self.environment_suffix
        self.private_hosted_zone = Traffic(
            self, "Traffic", vpc=self.vpc, zone_name=config.zone_name
        ).hosted_zone

        self.name_resolution = NameResolution(
            self,
            "NameResolution",
            vpc=self.vpc,
            vpc_cidr=config.network.vpc_cidr,
            on_premises_cidrs=config.on_premises.cidrs,
            on_premises_domains=plan.site.on_premises_domains if plan else (),
            on_premises_resolvers=plan.site.on_premises_resolvers if plan else (),
            environment_suffix=suffix,
        )
        # No record sets here: ``migrate plan apply`` creates each application's weighted pair
        # and each database's writer name, so no deploy can move traffic (docs/plan-registry.md).
        self.database_names = {d.name: d.dns_name for d in (plan.databases if plan else ())}

    def _create_server_migration(self, config: MigrationConfig, plan: Plan | None) -> None:
        """MGN: the agent-installation role, the replication servers' security group and the
        launch configuration template validating every launch with the SSM document."""
        replication = ServerReplication(
            self,
            "ServerReplication",
            environment_suffix=self.environment_suffix,
            vpc=self.vpc,
            key=self.kms_key,
            on_premises_cidrs=config.on_premises.cidrs,
            validation_document_name=self.ssm_document.ref,
            server_defaults=launch_defaults(plan),
        )
        self.cloudendure_role = replication.role
        self.mgn_replication_security_group = replication.security_group
        self.mgn_launch_security_group = replication.launch_security_group
        self.mgn_launch_template = replication.launch_template
        # The staging area: the private subnets. Their route tables get the on-premises routes
        # from the VPN (lib/hybrid_connectivity.py) and reach the MGN and EC2 endpoints through
        # the NAT gateway; the public subnets hold only the NAT gateway, and there are no
        # isolated subnets (replication servers need those endpoints).
        self.server_migration_settings: dict[str, Any] = {
            "stagingSubnetIds": [subnet.subnet_id for subnet in self.vpc.private_subnets],
            "replicationSecurityGroupId": replication.security_group.security_group_id,
            "kmsKeyArn": self.kms_key.key_arn,
            # Ref is the template's ARN; MGN's API names a template by its ID (lct-...).
            "launchConfigurationTemplateId": (
                replication.launch_template.attr_launch_configuration_template_id
            ),
            "validationDocumentName": self.ssm_document.ref,
            # The group init puts on launched instances (with the plan's security_groups).
            "launchSecurityGroupId": replication.launch_security_group.security_group_id,
        }

    def _create_wave_stacks(
        self,
        plan: Plan | None,
        config: MigrationConfig,
        database: DatabaseMigration,
        rollback: Rollback,
    ) -> None:
        """Per wave (part), a nested stack with its databases' DMS resources, their alarms and
        the rules routing the wave's alarms to the rollback function (lib/wave_stack.py)."""
        used = frozenset(d for a in (plan.applications if plan else ()) for d in a.databases)
        self.wave_stacks = [
            WaveStack(
                self,
                part=part,
                used_databases=used,
                replication_instance=self.dms_replication_instance,
                replication_instance_identifier=database.replication_instance_identifier,
                key=self.kms_key,
                topic=self.sns_topic,
                rollback=rollback,
                environment_suffix=self.environment_suffix,
                cdc_latency_evaluation_periods=config.monitoring.cdc_latency_evaluation_periods,
            )
            for part in wave_parts(plan)
        ]
        self.dms_replication_tasks = {
            name: task for wave in self.wave_stacks for name, task in wave.replication.tasks.items()
        }
        self.dms_reverse_replication_tasks = {
            name: task
            for wave in self.wave_stacks
            for name, task in wave.replication.reverse_tasks.items()
        }

    def _create_safety_net(
        self,
        config: MigrationConfig,
        database: DatabaseMigration,
        retention: logs.RetentionDays,
    ) -> tuple[Rollback, Monitoring]:
        """Tracking, notifications, validation, the rollback function and the alarms."""
        self.migration_tracking_table = Tracking(
            self, "Tracking", key=self.kms_key, environment_suffix=self.environment_suffix
        ).table

        self.sns_topic = Notifications(self, "Notifications", key=self.kms_key).topic

        self.ssm_document = Validation(self, "Validation").document

        rollback = Rollback(
            self,
            "Rollback",
            key=self.kms_key,
            table=self.migration_tracking_table,
            topic=self.sns_topic,
            hosted_zone=self.private_hosted_zone,
            log_retention=retention,
            reserved_concurrency=config.rollback_reserved_concurrency,
        )
        self.rollback_lambda = rollback.function

        monitoring = Monitoring(
            self,
            "Monitoring",
            environment_suffix=self.environment_suffix,
            topic=self.sns_topic,
            vpn_connection=self.vpn_connection,
            replication_instance_identifier=database.replication_instance_identifier,
            rollback_function=self.rollback_lambda,
            rollback_dead_letter_queue=rollback.dead_letter_queue,
            rollback_trigger_dead_letter_queue=rollback.trigger_dead_letter_queue,
            rollback_error_threshold=config.monitoring.rollback_error_threshold,
            table=self.migration_tracking_table,
        )
        self.dashboard = monitoring.dashboard
        self.alarms = monitoring.alarms
        return rollback, monitoring

    def _create_database_step(
        self,
        plan: Plan | None,
        config: MigrationConfig,
        controller: CutoverController,
    ) -> None:
        """The function the controller invokes to cut a database over (none without databases)."""
        self.database_step = DatabaseStep(
            self,
            "DatabaseStep",
            environment_suffix=self.environment_suffix,
            databases=plan.databases if plan else (),
            vpc=self.vpc,
            vpc_cidr=config.network.vpc_cidr,
            on_premises_cidrs=config.on_premises.cidrs,
            key=self.kms_key,
            table=self.migration_tracking_table,
            topic=self.sns_topic,
            hosted_zone=self.private_hosted_zone,
            vpn_connection=self.vpn_connection,
            replication_tasks=[
                *self.dms_replication_tasks.values(),
                *self.dms_reverse_replication_tasks.values(),
            ],
            cutover_settings=self.cutover_settings,
            rollback_function=self.rollback_lambda,
            dashboard=self.dashboard,
            log_retention=LOG_RETENTION[config.log_retention_days],
        )
        self.database_step.allow_invocation_by(controller.function)

    def _cutover_settings(self, database: DatabaseMigration) -> dict[str, Any]:
        """Names the runtime looks up (the ``CutoverSettings`` output and the controller's and
        database step's environment): the DMS instance, the stack's alarms, and the suffix the
        per-database task and alarm names derive from (``migration.database.names``): the
        same size whatever the number of planned databases."""
        return {
            "environmentSuffix": self.environment_suffix,
            "replicationInstanceIdentifier": database.replication_instance_identifier,
            "alarms": {
                alarm_names.VPN_TUNNEL_DOWN: self.alarms["VpnTunnelDown"].alarm_name,
                alarm_names.VPN_BOTH_TUNNELS_DOWN: self.alarms["VpnBothTunnelsDown"].alarm_name,
                "rollback-errors": self.alarms["RollbackErrors"].alarm_name,
                "rollback-dead-letters": self.alarms["RollbackDeadLetters"].alarm_name,
            },
        }

    def _wire_rollback_triggers(
        self, stack_alarms: list[cloudwatch.Alarm], rollback: Rollback
    ) -> None:
        """Route the stack's rollback alarms (both VPN tunnels down) to the rollback function.

        Every state is delivered (not only ALARM) so OK transitions land in the audit trail too.
        The plan's alarms and the databases' CDC latency alarms have their rules in the wave
        stacks. Whom an alarm targets the function reads from the registered plan: a CDC
        latency alarm rolls back the applications that use that database; a plan alarm the
        applications that list it; any other (both VPN tunnels down) every application.
        """
        self.rollback_triggers = [
            rollback.add_trigger(
                self,
                "RollbackTrigger",
                rule_name=f"migration-rollback-trigger-{self.environment_suffix}",
                description="Stack alarm state changes that roll traffic back on-premises",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=["CloudWatch Alarm State Change"],
                    resources=[alarm.alarm_arn for alarm in stack_alarms],
                ),
            )
        ]

    def _create_outputs(self) -> None:
        outputs = {
            "VpcId": self.vpc.vpc_id,
            "DmsReplicationInstanceArn": self.dms_replication_instance.ref,
            "CloudEndureRoleArn": self.cloudendure_role.role_arn,
            "VpnConnectionId": self.vpn_connection.ref,
            "PrivateHostedZoneId": self.private_hosted_zone.hosted_zone_id,
            "MigrationTrackingTableName": self.migration_tracking_table.table_name,
            "SnsTopicArn": self.sns_topic.topic_arn,
            "SsmDocumentName": self.ssm_document.ref,
            "RollbackLambdaArn": self.rollback_lambda.function_arn,
            "DashboardName": self.dashboard.dashboard_name,
            # Beyond the seed's ten: what the runtime (migrate, the cutover engine) needs to
            # find the alarms and replication tasks this deployment created.
            "CutoverSettings": self.to_json_string(self.cutover_settings),
            # The server-side cutover (optional for the runtime: older outputs lack it).
            "CutoverControllerArn": self.cutover_controller_lambda.function_arn,
            # The database step (only with planned databases).
            **(
                {"DatabaseStepFunctionArn": self.database_step.function.function_arn}
                if self.database_step.function
                else {}
            ),
            # Where on-premises DNS forwards the migration zone (pinned addresses).
            "ResolverInboundAddresses": ",".join(self.name_resolution.inbound_addresses),
            # What `migrate servers init` configures MGN with (docs/server-migration.md).
            "ServerMigrationSettings": self.to_json_string(self.server_migration_settings),
        }
        for name, value in outputs.items():
            CfnOutput(
                self,
                name,
                value=value,
                description=f"{name} of the migration infrastructure",
                export_name=f"{name}-{self.environment_suffix}",
            )
