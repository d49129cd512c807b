"""The demo: deploy the stack into a local AWS emulator and cut over the first wave.

``python -m migration.local.demo cdk.out/TapStackdev.template.json`` (``make demo`` runs it after
synthesizing). It starts moto's server on 127.0.0.1, deploys the template there (every resource
verified), prepares what a real account would already have (running DMS tasks, CDC metrics,
the applications' alarms), then runs the real ``migrate`` commands: status, ``cutover --watch``
of the plan's first wave, which starts the cutover server-side and follows it. Time is
compressed: each minute the watch waits, the deployed cutover controller's handler runs once
with the function's own environment, as its schedule would. An alarm is injected while one
application bakes; the rollback function's handler runs on that alarm's state-change event (as
EventBridge would) while the other applications complete. Then ``migrate reset`` and a second,
clean attempt; status and history. The wave's servers move next to their traffic
(``migration.local.demo_servers``, on the local MGN stand-in, said on screen): agents
installed, ``servers init``, a validated test; the controller holds each application until the
operator launches its servers for cutover; after the rollback they stay launched and
``servers finalize`` is refused, after the second attempt it ends replication. It checks the
story's end state. Then the database
chapter (``migration.local.demo_database``): the plan's first PostgreSQL database on two real
local clusters, ``migrate db cutover`` and ``migrate db failback`` with a workload writing
through the database's name, and the count of acknowledged rows lost or duplicated (0/0, or
the demo fails). Finally it stops the emulator and the clusters.

What the emulator cannot provide is supplied explicitly and said on screen: DMS table
validation statistics and VPN tunnel telemetry (see ``migration.local.signals``); alarm states
(moto evaluates no metrics); MGN (``migration.local.mgn_stand_in``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from migration import alarm_names, operations
from migration.cli import create_app
from migration.local.demo_database import DatabaseScene, choose_database
from migration.local.demo_servers import ServerScene, post_launch_actions
from migration.local.deploy import LocalDeployError, deploy_local
from migration.local.emulator import Emulator
from migration.local.invoke import invoke_controller_locally, invoke_rollback_locally
from migration.local.mgn_stand_in import MgnStandIn
from migration.local.postgres_clusters import LocalClusters
from migration.local.signals import DmsWithValidation, Ec2WithTunnels
from migration.outputs import LOCAL_OUTPUTS_PATH, StackOutputs, load_outputs
from migration.plan import Application, Plan, Wave, load_plan
from migration.tracking import Phase, TrackingStore, app_id
from migration.traffic import TrafficShifter

ROOT = Path(__file__).resolve().parents[3]
CDC_LATENCY_SECONDS = 3.0
# Simulated minutes of CDC latency datapoints published for the night (the compressed clock
# runs hours ahead of real time).
NIGHT_MINUTES = 8 * 60


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(number: int, text: str) -> None:
    say()
    say(f"== {number}. {text}")


class EmulatorClients:
    """The CLI's client factory for the demo: emulator clients plus the two stated signals."""

    def __init__(
        self,
        emulator: Emulator,
        plan: Plan,
        lambda_client: Callable[[Any], Any] | None = None,
        mgn: MgnStandIn | None = None,
    ) -> None:
        self._emulator = emulator
        tables = [(t.schema_name, t.table_name) for d in plan.databases for t in d.tables]
        self._wrapped: dict[str, Any] = {
            "dms": DmsWithValidation(emulator.client("dms"), tables),
            "ec2": Ec2WithTunnels(emulator.client("ec2")),
        }
        if lambda_client is not None:
            self._wrapped["lambda"] = lambda_client(emulator.client("lambda"))
        if mgn is not None:
            self._wrapped["mgn"] = mgn.client()

    @property
    def region(self) -> str:
        return self._emulator.region

    def client(self, service: str) -> Any:
        if service not in self._wrapped:
            self._wrapped[service] = self._emulator.client(service)
        return self._wrapped[service]


class CompressedTime:
    """Minutes pass instantly: ``sleep`` advances both clocks, then runs ``on_minute`` (the
    controller's schedule and the chaos hook) for each sleep of a minute or more."""

    def __init__(self, start: datetime) -> None:
        self.now = 0.0
        self._start = start
        self.on_minute: Callable[[], None] = lambda: None

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self._start + timedelta(seconds=self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if seconds >= 60:
            self.on_minute()


class Schedule:
    """The controller's EventBridge schedule, compressed: one run of the deployed function's
    handler per simulated minute, with the function's own environment."""

    def __init__(
        self,
        emulator: Emulator,
        outputs: StackOutputs,
        clients: Any,
        clock: CompressedTime,
        mgn_endpoint_url: str | None = None,
    ) -> None:
        self._emulator = emulator
        self._outputs = outputs
        self._clients = clients
        self._clock = clock
        self._mgn_endpoint_url = mgn_endpoint_url
        self.ticks = 0

    def __call__(self) -> dict[str, Any]:
        self.ticks += 1
        return invoke_controller_locally(
            self._outputs,
            endpoint_url=self._emulator.endpoint_url,
            region=self._emulator.region,
            clock=self._clock.wall,
            monotonic=self._clock.monotonic,
            sleep=self._clock.advance,
            client=self._clients.client,
            mgn_endpoint_url=self._mgn_endpoint_url,
        )


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


def prepare_account(
    emulator: Emulator, outputs: StackOutputs, plan: Plan, wave: Wave, now: datetime
) -> None:
    """What a real account would already have when the wave's cutover night starts."""
    settings = outputs.settings
    dms = emulator.client("dms")
    cloudwatch = emulator.client("cloudwatch")
    for database in wave.databases:
        task_id = settings.task_identifier(database.name)
        (task,) = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [task_id]}]
        )["ReplicationTasks"]
        dms.start_replication_task(
            ReplicationTaskArn=task["ReplicationTaskArn"],
            StartReplicationTaskType="start-replication",
        )
        resource_id = task["ReplicationTaskArn"].rsplit(":", 1)[-1]
        for first in range(-5, NIGHT_MINUTES, 20):
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
                        "Timestamp": now + timedelta(minutes=minute),
                        "Value": CDC_LATENCY_SECONDS,
                        "Unit": "Seconds",
                    }
                    for minute in range(first, min(first + 20, NIGHT_MINUTES))
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
    cdc_alarms = settings.cdc_latency_alarms_of(d.name for d in plan.databases)
    stack_alarms = [*settings.alarms.values(), *cdc_alarms.values()]
    for name in [*stack_alarms, *plan_alarms]:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="demo start")
    say(f"   {len(stack_alarms) + len(plan_alarms)} alarms set to OK (moto evaluates no metrics)")
    say("   stated signals (moto cannot emulate them): DMS validation = Validated, 0 failed rows;")
    say("   VPN telemetry = both tunnels UP")


def check_story(
    outputs: StackOutputs, emulator: Emulator, plan: Plan, wave: Wave, victim: Application
) -> list[str]:
    """The end state the demo promises; returns the problems (empty when it all held).

    Every application of the wave 100% on AWS and CUTOVER_COMPLETE; the victim there on its
    second attempt, after exactly one ROLLED_BACK in its first.
    """
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
        split = splits[app.name]
        if (split.aws, split.on_premises) != (100, 0):
            problems.append(f"{app.name}: split {split.aws}/{split.on_premises}, expected 100/0")
        if phase is not Phase.CUTOVER_COMPLETE:
            problems.append(f"{app.name}: phase {phase}, expected {Phase.CUTOVER_COMPLETE}")
    rolled = [
        entry
        for entry in tracking.history(app_id(victim.name))
        if entry.event_type == "TRANSITION" and entry.phase is Phase.ROLLED_BACK
    ]
    if len(rolled) != 1:
        problems.append(f"{victim.name}: {len(rolled)} ROLLED_BACK items, expected 1")
    head = tracking.current(app_id(victim.name))
    if head is None or head.attempt != 2:
        problems.append(f"{victim.name}: attempt {head.attempt if head else None}, expected 2")
    return problems


BUILTIN_ALARMS = alarm_names.BUILTIN_ALARMS


@dataclass
class Story:
    """What the demo's steps share: the plan's first wave, its victim and the wiring."""

    plan: Plan
    plan_path: Path
    outputs_path: Path
    wave: Wave
    victim: Application
    victim_alarm: str
    inject_at: int

    @property
    def common(self) -> list[str]:
        return ["--plan", str(self.plan_path), "--outputs", str(self.outputs_path)]


def choose_story(plan_path: Path, outputs_path: Path) -> Story | None:
    """The first wave and the application whose own alarm will fire (None: there is none)."""
    plan = load_plan(plan_path)
    wave = plan.waves[0]
    victim = next((a for a in wave.applications if set(a.alarms) - BUILTIN_ALARMS), None)
    if victim is None:
        return None
    alarm = sorted(set(victim.alarms) - BUILTIN_ALARMS)[0]
    inject_at = victim.shift_steps[1] if len(victim.shift_steps) > 1 else victim.shift_steps[0]
    return Story(plan, plan_path, outputs_path, wave, victim, alarm, inject_at)


def point_at(emulator: Emulator) -> None:
    """The CLI's boto3 clients and the functions' handlers go to the emulator too."""
    os.environ.update(
        AWS_ENDPOINT_URL=emulator.endpoint_url,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_REGION=emulator.region,
        AWS_DEFAULT_REGION=emulator.region,
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)


def deploy(
    emulator: Emulator, template: Path, story: Story, show_resources: bool
) -> StackOutputs | None:
    """Deploy and verify every resource; print the summary (the list on request)."""
    try:
        deployment = deploy_local(
            template,
            endpoint_url=emulator.endpoint_url,
            stack_name=template.name.removesuffix(".template.json"),
            region=emulator.region,
            outputs_path=story.outputs_path,
        )
    except LocalDeployError as error:
        say(f"error: local deployment failed: {error}")
        return None
    summary = deployment.summary().splitlines()
    for line in summary if show_resources else [summary[0], summary[-1]]:
        say(f"   {line}")
    if not show_resources:
        say("   (every resource with what was verified: make demo DEMO_ARGS=--resources)")
    return load_outputs(story.outputs_path)


def wire(
    emulator: Emulator,
    outputs: StackOutputs,
    story: Story,
    clock: CompressedTime,
    scene: DatabaseScene | None = None,
    servers: ServerScene | None = None,
) -> tuple[Schedule, AlarmDuringBake]:
    """The compressed schedule of the controller, the alarm injection, MGN's clock (the
    stand-in's), and the CLI's seams."""
    shifter = TrafficShifter(
        emulator.client("route53"),
        outputs.hosted_zone_id,
        application_records={a.name: a.dns_name for a in story.plan.applications},
    )
    chaos = AlarmDuringBake(
        emulator, outputs, shifter, story.victim, story.victim_alarm, story.inject_at
    )
    mgn = servers.stand_in if servers else None
    factory = EmulatorClients(emulator, story.plan, scene.lambda_client if scene else None, mgn=mgn)
    schedule = Schedule(
        emulator, outputs, factory, clock, mgn_endpoint_url=mgn.endpoint_url if mgn else None
    )

    def minute() -> None:
        schedule()
        chaos()
        if servers is not None:
            servers.minute()

    clock.on_minute = minute

    def emulator_clients(region: str | None) -> operations.ClientFactory:
        return factory

    def compressed_timing() -> operations.Timing:
        return operations.Timing(monotonic=clock.monotonic, sleep=clock.sleep, wall=clock.wall)

    # The CLI's documented seams for clients and time (its tests use them too).
    operations.make_clients = emulator_clients
    operations.make_timing = compressed_timing
    return schedule, chaos


def cutover_night(
    emulator: Emulator, story: Story, schedule: Schedule, servers: ServerScene | None = None
) -> dict[str, int]:
    """Steps 4-7: status, the watched cutover, reset and second attempt, status and history.

    Returns the exit status of each command that the story checks, and the tick counts.
    """
    wave, victim, common = story.wave, story.victim, story.common
    watch = ["--watch", "--interval", "60", "--by", "demo"]
    heading(4, "Where traffic is before the cutover")
    migrate(["status", "--wave", wave.name, *common])

    heading(
        5,
        f"Start the cutover of {wave.name} in AWS and watch it (time compressed: the "
        f"controller runs once a simulated minute; {story.victim_alarm} will fire while "
        f"{victim.name} bakes at {story.inject_at}% on AWS)",
    )
    first = migrate(["cutover", "--wave", wave.name, "--yes", *watch, *common])
    say(f"   migrate cutover exited {first} (1 = an application was rolled back)")
    first_ticks = schedule.ticks
    if servers is not None:
        servers.after_rollback()

    heading(6, f"Reset {victim.name} for a second attempt, and run the wave again")
    reason = "5xx fixed in release 2.4.1"
    reset = migrate(["reset", victim.name, "--reason", reason, "--by", "demo", *common])
    emulator.client("cloudwatch").set_alarm_state(
        AlarmName=story.victim_alarm, StateValue="OK", StateReason="fixed (set by the demo)"
    )
    say(f"   alarm {story.victim_alarm} -> OK (set by the demo)")
    second = migrate(["cutover", "--wave", wave.name, "--yes", *watch, *common])
    say(f"   migrate cutover exited {second}")

    heading(7, "After the cutover")
    migrate(["status", "--wave", wave.name, *common])
    migrate(["history", victim.name, *common])
    if servers is not None:
        say("   every application using the servers completed: replication may end")
        servers.finalize()
    return {
        "first": first,
        "reset": reset,
        "second": second,
        "first_ticks": first_ticks,
        "second_ticks": schedule.ticks - first_ticks,
    }


def check(
    emulator: Emulator,
    outputs: StackOutputs,
    story: Story,
    chaos: AlarmDuringBake,
    codes: dict[str, int],
) -> list[str]:
    """Step 8: every promise of the story, printed; the problems found (empty: it all held)."""
    victim = story.victim
    heading(8, "Check the story")
    problems = check_story(outputs, emulator, story.plan, story.wave, victim)
    if not chaos.fired or chaos.lambda_result is None:
        problems.append(f"the alarm on {victim.name} never fired")
    elif victim.name not in rolled_back(chaos.lambda_result):
        problems.append(f"the rollback function did not roll back {victim.name}")
    if codes["first"] != 1:
        problems.append(f"the first watch exited {codes['first']}, expected 1 (one rollback)")
    if codes["reset"] != 0 or codes["second"] != 0:
        problems.append(
            f"reset exited {codes['reset']}, the second attempt {codes['second']}; expected 0, 0"
        )
    say(
        f"   controller runs: {codes['first_ticks']} for the first attempt, "
        f"{codes['second_ticks']} for the second (one per simulated minute)"
    )
    for problem in problems:
        say(f"   FAIL {problem}")
    if not problems:
        others = ", ".join(a.name for a in story.wave.applications if a is not victim)
        say(f"   OK {others}: 100% on AWS, CUTOVER_COMPLETE in the first attempt")
        say(
            f"   OK {victim.name}: rolled back to 100% on-premises by the rollback function, "
            "reset, then 100% on AWS in its second attempt"
        )
    return problems


def server_scene(
    emulator: Emulator, outputs: StackOutputs, story: Story, template: Path, stack: ExitStack
) -> ServerScene | None:
    """The MGN stand-in with the deployed launch template's post-launch validation, and the
    scene of the wave's MGN servers (None when the wave has none)."""
    if not any(s.is_mgn for s in story.plan.wave_spec(story.wave.name).servers):
        return None
    actions = post_launch_actions(json.loads(template.read_text()), outputs)
    mgn = stack.enter_context(
        MgnStandIn(post_launch_actions=actions, region=emulator.region, ec2=emulator.client("ec2"))
    )
    tracking = TrackingStore(emulator.client("dynamodb"), outputs.table_name)
    return ServerScene(story.plan, story.wave, mgn, tracking, story.common, migrate, say)


def report_servers(servers: ServerScene) -> list[str]:
    """The server scene's promises, printed; its problems."""
    problems = servers.check()
    for problem in problems:
        say(f"   FAIL {problem}")
    if not problems:
        names = ", ".join(s.id for s in servers.servers)
        say(
            f"   OK {names}: tested, launched for cutover while the controller held their "
            "applications, still launched after the rollback, finalised once all completed"
        )
    return problems


def run(
    template: Path, plan_path: Path, outputs_path: Path, region: str, show_resources: bool = False
) -> int:
    story = choose_story(plan_path, outputs_path)
    if story is None:
        say(f"error: {plan_path}: the first wave needs an application with an alarm of its own")
        return 2
    # The functions' JSON log lines are part of the story; the emulator's access log is not.
    logging.basicConfig(level=logging.WARNING, format="   [rollback function log] %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    database = choose_database(story.plan)
    heading(1, "Start a local AWS emulator (moto server on 127.0.0.1)")
    with Emulator(region=region) as emulator, ExitStack() as stack:
        say(f"   endpoint {emulator.endpoint_url}; no AWS account or credentials involved")
        point_at(emulator)
        heading(2, f"Deploy {template.name} into the emulator")
        outputs = deploy(emulator, template, story, show_resources)
        if outputs is None:
            return 1
        say("   the stack owns no record: registering the plan creates them (100% on-premises)")
        if migrate(["plan", "apply", str(story.plan_path), *story.common[2:], "--yes"]):
            return 1
        heading(3, f"Cutover night for {story.wave.name}: what the account already has")
        clock = CompressedTime(datetime.now(UTC))
        prepare_account(emulator, outputs, story.plan, story.wave, clock.wall())
        scene = None
        if database is not None:
            onprem, aws = stack.enter_context(LocalClusters())
            scene = DatabaseScene(database, emulator, outputs, onprem, aws)
            scene.start(say)
        servers = server_scene(emulator, outputs, story, template, stack)
        schedule, chaos = wire(emulator, outputs, story, clock, scene, servers)
        if servers is not None:
            servers.start()
        codes = cutover_night(emulator, story, schedule, servers)
        problems = check(emulator, outputs, story, chaos, codes)
        if servers is not None:
            problems += report_servers(servers)
        if scene is not None:
            problems += scene.after_the_night(migrate, say, heading, story.common)
    say()
    say("== Emulator and database clusters stopped; nothing left running.")
    return 1 if problems else 0


def run_isolated(
    template: Path, plan_path: Path, outputs_path: Path, region: str, show_resources: bool = False
) -> int:
    """:func:`run`, then put back the environment and the CLI seams it changed."""
    saved_env = dict(os.environ)
    saved_hooks = (operations.make_clients, operations.make_timing, operations.make_replications)
    try:
        return run(template, plan_path, outputs_path, region, show_resources)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        (operations.make_clients, operations.make_timing, operations.make_replications) = (
            saved_hooks
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migration.local.demo")
    parser.add_argument("template", type=Path, help="cdk.out/TapStack<env>.template.json")
    parser.add_argument("--plan", type=Path, default=ROOT / "examples" / "migration-plan.yaml")
    # Not cfn-outputs/flat-outputs.json: that file describes a real deployment (make deploy),
    # and a demo must never replace it.
    parser.add_argument("--outputs", type=Path, default=LOCAL_OUTPUTS_PATH)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--resources", action="store_true", help="list every deployed resource and its checks"
    )
    args = parser.parse_args(argv)
    if not args.template.is_file():
        print(f"error: {args.template}: not found; run `make synth` first", file=sys.stderr)
        return 2
    return run_isolated(args.template, args.plan, args.outputs, args.region, args.resources)


if __name__ == "__main__":
    sys.exit(main())
