"""The demo: deploy the stack into a local AWS emulator and cut over the first wave.

``python -m migration.local.demo cdk.out/TapStackdev.template.json`` (``make demo`` runs it after
synthesizing). It starts moto's server on 127.0.0.1, deploys the template there (every resource
verified), prepares what a real account would already have (running DMS tasks, CDC metrics,
the applications' alarms), then runs the real ``migrate`` commands: status, a cutover of the
plan's first wave with time compressed, an alarm injected during one application's bake, the
rollback function's handler run on that alarm's state-change event (as EventBridge would),
then status and history. It checks the story's end state and stops the emulator.

What the emulator cannot provide is supplied explicitly and said on screen: DMS table
validation statistics and VPN tunnel telemetry (see ``migration.local.signals``); alarm states
(moto evaluates no metrics).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from migration import operations
from migration.cli import create_app
from migration.local.deploy import LocalDeployError, deploy_local
from migration.local.emulator import Emulator
from migration.local.invoke import invoke_rollback_locally
from migration.local.signals import DmsWithValidation, Ec2WithTunnels
from migration.outputs import StackOutputs, load_outputs
from migration.plan import Application, Plan, Wave, load_plan
from migration.tracking import Phase, TrackingStore, app_id
from migration.traffic import TrafficShifter

ROOT = Path(__file__).resolve().parents[3]
CDC_LATENCY_SECONDS = 3.0


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(number: int, text: str) -> None:
    say()
    say(f"== {number}. {text}")


class EmulatorClients:
    """The CLI's client factory for the demo: emulator clients plus the two stated signals."""

    def __init__(self, emulator: Emulator, plan: Plan) -> None:
        self._emulator = emulator
        tables = [(t.schema_name, t.table_name) for d in plan.databases for t in d.tables]
        self._wrapped: dict[str, Any] = {
            "dms": DmsWithValidation(emulator.client("dms"), tables),
            "ec2": Ec2WithTunnels(emulator.client("ec2")),
        }

    @property
    def region(self) -> str:
        return self._emulator.region

    def client(self, service: str) -> Any:
        if service not in self._wrapped:
            self._wrapped[service] = self._emulator.client(service)
        return self._wrapped[service]


class CompressedTime:
    """Bake time passes instantly; ``on_sleep`` runs at each bake poll (the chaos hook)."""

    def __init__(self, on_sleep: Callable[[], None]) -> None:
        self.now = 0.0
        self._on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self._on_sleep()


class AlarmDuringBake:
    """Sets an application's alarm to ALARM once its traffic reaches a step, and delivers the
    state change to the rollback function, as CloudWatch and EventBridge would."""

    def __init__(
        self,
        emulator: Emulator,
        outputs: StackOutputs,
        shifter: TrafficShifter,
        app: Application,
        alarm: str,
        percent: int,
    ) -> None:
        self._emulator = emulator
        self._outputs = outputs
        self._shifter = shifter
        self._app = app
        self._alarm = alarm
        self._percent = percent
        self.fired = False
        self.lambda_result: dict[str, Any] | None = None

    def __call__(self) -> None:
        if self.fired:
            return
        split = self._shifter.splits([self._app.name])[self._app.name]
        if split.aws != self._percent:
            return
        self.fired = True
        cloudwatch = self._emulator.client("cloudwatch")
        reason = f"threshold crossed at {self._percent}% on AWS (injected by the demo)"
        cloudwatch.set_alarm_state(AlarmName=self._alarm, StateValue="ALARM", StateReason=reason)
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[self._alarm])["MetricAlarms"]
        changed = alarm["StateUpdatedTimestamp"].astimezone(UTC).isoformat()
        say(f"   !! alarm {self._alarm} -> ALARM ({reason})")
        event = {
            "version": "0",
            "id": f"demo-{self._alarm}",
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": alarm["AlarmArn"].split(":")[4],
            "time": changed,
            "region": self._emulator.region,
            "resources": [alarm["AlarmArn"]],
            "detail": {
                "alarmName": self._alarm,
                "state": {"value": "ALARM", "reason": reason, "timestamp": changed},
                "previousState": {"value": "OK"},
            },
        }
        say("   -> EventBridge delivers the state change to the rollback function")
        self.lambda_result = invoke_rollback_locally(
            self._outputs,
            event,
            endpoint_url=self._emulator.endpoint_url,
            region=self._emulator.region,
        )
        rolled = ", ".join(rolled_back(self.lambda_result)) or "nothing"
        status = self.lambda_result.get("status")
        say(f"   <- rollback function: status {status}, rolled back {rolled}")


def rolled_back(result: dict[str, Any]) -> list[str]:
    """Application names in a rollback result (``RollbackResult.to_dict()``)."""
    return [entry["application"] for entry in result.get("rolledBack", [])]


def migrate(args: Sequence[str]) -> int:
    """Run one ``migrate`` command in-process (the same app as the console script)."""
    say(f"$ migrate {' '.join(args)}")
    try:
        create_app(plain=True)(list(args), prog_name="migrate", standalone_mode=True)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    except typer.Exit as exit_:  # pragma: no cover - standalone mode converts it
        return int(exit_.exit_code)
    return 0


def prepare_account(emulator: Emulator, outputs: StackOutputs, plan: Plan, wave: Wave) -> None:
    """What a real account would already have when the wave's cutover night starts."""
    settings = outputs.settings
    dms = emulator.client("dms")
    cloudwatch = emulator.client("cloudwatch")
    now = datetime.now(UTC)
    for database in wave.databases:
        task_id = settings.replication_tasks[database.name]
        (task,) = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [task_id]}]
        )["ReplicationTasks"]
        dms.start_replication_task(
            ReplicationTaskArn=task["ReplicationTaskArn"],
            StartReplicationTaskType="start-replication",
        )
        resource_id = task["ReplicationTaskArn"].rsplit(":", 1)[-1]
        cloudwatch.put_metric_data(
            Namespace="AWS/DMS",
            MetricData=[
                {
                    "MetricName": "CDCLatencySource",
                    "Dimensions": [
                        {
                            "Name": "ReplicationInstanceIdentifier",
                            "Value": settings.replication_instance_identifier,
                        },
                        {"Name": "ReplicationTaskIdentifier", "Value": resource_id},
                    ],
                    "Timestamp": now - timedelta(minutes=minute),
                    "Value": CDC_LATENCY_SECONDS,
                    "Unit": "Seconds",
                }
                for minute in range(1, 5)
            ],
        )
        say(
            f"   DMS task {task_id}: started (full load + CDC), CDC latency "
            f"{CDC_LATENCY_SECONDS:g} s (threshold {database.cdc_latency_threshold_seconds} s)"
        )
    plan_alarms = sorted({a.name for a in plan.alarms})
    for name in plan_alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="TargetResponseTime",
            Namespace="AWS/ApplicationELB",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    say(f"   application teams' alarms created: {', '.join(plan_alarms)}")
    stack_alarms = [*settings.alarms.values(), *settings.cdc_latency_alarms.values()]
    for name in [*stack_alarms, *plan_alarms]:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="demo start")
    say(f"   {len(stack_alarms) + len(plan_alarms)} alarms set to OK (moto evaluates no metrics)")
    say("   stated signals (moto cannot emulate them): DMS validation = Validated, 0 failed rows;")
    say("   VPN telemetry = both tunnels UP")


def check_story(
    outputs: StackOutputs, emulator: Emulator, plan: Plan, wave: Wave, victim: Application
) -> list[str]:
    """The end state the demo promises; returns the problems (empty when it all held)."""
    shifter = TrafficShifter(
        emulator.client("route53"),
        outputs.hosted_zone_id,
        application_records={a.name: a.dns_name for a in plan.applications},
    )
    splits = shifter.splits([a.name for a in wave.applications])
    tracking = TrackingStore(emulator.client("dynamodb"), outputs.table_name)
    problems = []
    for app in wave.applications:
        head = tracking.current(app_id(app.name))
        phase = head.phase if head else None
        if app.name == victim.name:
            expected_split, expected_phase = (0, 100), Phase.ROLLED_BACK
        else:
            expected_split, expected_phase = (100, 0), Phase.CUTOVER_COMPLETE
        split = splits[app.name]
        if (split.aws, split.on_premises) != expected_split:
            problems.append(
                f"{app.name}: split {split.aws}/{split.on_premises}, expected "
                f"{expected_split[0]}/{expected_split[1]}"
            )
        if phase != expected_phase:
            problems.append(f"{app.name}: phase {phase}, expected {expected_phase}")
    return problems


def run(template: Path, plan_path: Path, outputs_path: Path, region: str) -> int:
    plan = load_plan(plan_path)
    wave = plan.waves[0]
    victim = next(
        (
            a
            for a in wave.applications
            if set(a.alarms) - {"vpn-tunnel-down", "vpn-both-tunnels-down", "dms-cdc-latency"}
        ),
        None,
    )
    if victim is None:
        say(f"error: {plan_path}: the first wave needs an application with an alarm of its own")
        return 2
    victim_alarm = sorted(
        set(victim.alarms) - {"vpn-tunnel-down", "vpn-both-tunnels-down", "dms-cdc-latency"}
    )[0]
    inject_at = victim.shift_steps[1] if len(victim.shift_steps) > 1 else victim.shift_steps[0]

    # The rollback handler's JSON log lines are part of the story; the emulator's access log
    # is not.
    logging.basicConfig(level=logging.WARNING, format="   [rollback function log] %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    heading(1, "Start a local AWS emulator (moto server on 127.0.0.1)")
    with Emulator(region=region) as emulator:
        say(f"   endpoint {emulator.endpoint_url}; no AWS account or credentials involved")
        # The CLI's boto3 clients and the rollback handler go to the emulator too.
        os.environ.update(
            AWS_ENDPOINT_URL=emulator.endpoint_url,
            AWS_ACCESS_KEY_ID="demo",
            AWS_SECRET_ACCESS_KEY="demo",
            AWS_REGION=region,
            AWS_DEFAULT_REGION=region,
        )
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)

        heading(2, f"Deploy {template.name} into the emulator")
        try:
            deployment = deploy_local(
                template,
                endpoint_url=emulator.endpoint_url,
                stack_name=template.name.removesuffix(".template.json"),
                region=region,
                outputs_path=outputs_path,
            )
        except LocalDeployError as error:
            say(f"error: local deployment failed: {error}")
            return 1
        for line in deployment.summary().splitlines():
            say(f"   {line}")
        outputs = load_outputs(outputs_path)

        heading(3, f"Cutover night for {wave.name}: what the account already has")
        prepare_account(emulator, outputs, plan, wave)

        shifter = TrafficShifter(
            emulator.client("route53"),
            outputs.hosted_zone_id,
            application_records={a.name: a.dns_name for a in plan.applications},
        )
        chaos = AlarmDuringBake(emulator, outputs, shifter, victim, victim_alarm, inject_at)
        clock = CompressedTime(chaos)
        factory = EmulatorClients(emulator, plan)

        def emulator_clients(region: str | None) -> operations.ClientFactory:
            return factory

        def compressed_timing() -> operations.Timing:
            return operations.Timing(monotonic=clock.monotonic, sleep=clock.sleep)

        # The CLI's documented seams for clients and time (its tests use them too).
        operations.make_clients = emulator_clients
        operations.make_timing = compressed_timing
        common = ["--plan", str(plan_path), "--outputs", str(outputs_path)]

        heading(4, "Where traffic is before the cutover")
        migrate(["status", "--wave", wave.name, *common])

        heading(
            5,
            f"Cut over {wave.name} step by step (bake time compressed; {victim_alarm} will fire "
            f"while {victim.name} bakes at {inject_at}% on AWS)",
        )
        code = migrate(["cutover", "--wave", wave.name, "--yes", *common])
        say(f"   migrate cutover exited {code} (1 = a gate failed or an application rolled back)")

        heading(6, "After the cutover")
        migrate(["status", "--wave", wave.name, *common])
        migrate(["history", victim.name, *common])

        heading(7, "Check the story")
        problems = check_story(outputs, emulator, plan, wave, victim)
        if not chaos.fired or chaos.lambda_result is None:
            problems.append(f"the alarm on {victim.name} never fired")
        elif victim.name not in rolled_back(chaos.lambda_result):
            problems.append(f"the rollback function did not roll back {victim.name}")
        if code != 1:
            problems.append(
                f"migrate cutover exited {code}, expected 1 (one application rolled back)"
            )
        for problem in problems:
            say(f"   FAIL {problem}")
        if not problems:
            others = ", ".join(a.name for a in wave.applications if a is not victim)
            say(f"   OK {others}: 100% on AWS, CUTOVER_COMPLETE")
            say(f"   OK {victim.name}: rolled back to 100% on-premises by the rollback function")
    say()
    say("== Emulator stopped; nothing left running.")
    return 1 if problems else 0


def run_isolated(template: Path, plan_path: Path, outputs_path: Path, region: str) -> int:
    """:func:`run`, then put back the environment and the CLI seams it changed."""
    saved_env = dict(os.environ)
    saved_hooks = (operations.make_clients, operations.make_timing)
    try:
        return run(template, plan_path, outputs_path, region)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        operations.make_clients, operations.make_timing = saved_hooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migration.local.demo")
    parser.add_argument("template", type=Path, help="cdk.out/TapStack<env>.template.json")
    parser.add_argument("--plan", type=Path, default=ROOT / "examples" / "migration-plan.yaml")
    parser.add_argument("--outputs", type=Path, default=Path("cfn-outputs/flat-outputs.json"))
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    if not args.template.is_file():
        print(f"error: {args.template}: not found; run `make synth` first", file=sys.stderr)
        return 2
    return run_isolated(args.template, args.plan, args.outputs, args.region)


if __name__ == "__main__":
    sys.exit(main())
