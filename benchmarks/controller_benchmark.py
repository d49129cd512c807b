"""Benchmark: the cutover controller advancing waves of 1 to 200 applications, against moto.

Run: ``.venv/bin/python benchmarks/controller_benchmark.py [--sizes 1 10 100 200] [--write]``

For each N, a fresh in-process moto account (``mock_aws``, with
``migration.local.route53_fidelity`` installed for Route 53's DELETE semantics) holds a
private hosted zone with N weighted pairs at aws=0/on-premises=100, the tracking table,
the SNS topic, one running DMS task (the wave's one shared database) with CDC latency
datapoints, one alarm per application plus the CDC latency alarm, all OK, and a VPN
connection. moto lacks ``describe_table_statistics`` and VPN tunnel telemetry; the
shims of ``migration.local.signals`` answer those two calls.

A wave of N applications (steps 10/50/100 %, bake 15 minutes, all on the shared
database, ``max_parallel`` = N unless told otherwise) is started with ``WaveControls``;
then ``Controller.tick()`` runs once per simulated minute on a fake clock until the wave
is WAVE_COMPLETE. The fake clock's ``sleep`` advances both the monotonic and the wall
clock, and the controller's ``RateLimiter`` (5 requests per second) sleeps on it, so its
pacing is measured in simulated seconds.

Route 53 ``ChangeResourceRecordSets`` requests are counted by a botocore ``before-call``
hook on the client, stamped with the simulated time; the limiter's own record is
reported next to it. Nothing reaches AWS: dummy credentials, moto only.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_DEFAULT_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_ROLE_ARN", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import boto3
import moto
from moto import mock_aws

from migration.controller import Controller, TickReport
from migration.gates import Gates
from migration.local import route53_fidelity
from migration.local.signals import DmsWithValidation, Ec2WithTunnels
from migration.notify import Notifier
from migration.rollback import RollbackLedger, RollbackService
from migration.spec import ApplicationSpec, DatabaseSpec, WaveSpec
from migration.tracking import Phase, TrackingStore, app_id, wave_id
from migration.traffic import RateLimiter, TrafficShifter
from migration.waves import WaveControls

ROOT = Path(__file__).resolve().parents[1]
ZONE = "migration.internal"
TABLE = "migration-tracking"
PHASE_INDEX = "MigrationPhaseIndex"
WAVE = "wave-bench"
DATABASE = "shared-db"
CDC_ALARM = "migration-dms-cdc-latency"
REPLICATION_INSTANCE = "migration-dms-bench"
SHIFT_STEPS = (10, 50, 100)
BAKE_MINUTES = 15
RATE = 5.0
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Cutover controller"


@dataclass
class FakeTime:
    """Instant time: ``sleep`` advances ``monotonic`` and the wall clock together."""

    now: float = 1000.0
    wall: datetime = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.wall += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self.now

    def random(self) -> float:
        return 0.5

    def clock(self) -> datetime:
        return self.wall


@dataclass
class Route53Calls:
    """Every Route 53 API call by operation, and the simulated time of each change."""

    time: FakeTime
    counts: Counter[str] = field(default_factory=Counter)
    changes: list[float] = field(default_factory=list)

    def register(self, client: Any) -> None:
        client.meta.events.register("before-call", self._before)

    def _before(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1
        if model.name == "ChangeResourceRecordSets":
            self.changes.append(self.time.monotonic())

    def highest_per_second(self) -> int:
        """The most changes in any one simulated second (a sliding window)."""
        best, start = 0, 0
        for end, moment in enumerate(self.changes):
            while moment - self.changes[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


@dataclass(frozen=True)
class Row:
    """Measured figures for one wave."""

    n: int
    max_parallel: int
    minutes: float
    ticks: int
    changes: int
    limiter_calls: int
    highest_hook: int
    highest_limiter: int
    reads: int
    wall_s: float
    cpu_s: float
    completed: int


class ControllerBugError(Exception):
    """The controller misbehaved (reported with a reproduction, never fixed here)."""


# -- the account -------------------------------------------------------------------------


def _create_table(dynamodb: Any) -> None:
    """The tracking table, schema as tests/runtime/conftest.py create_tracking_table."""
    dynamodb.create_table(
        TableName=TABLE,
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


def _app_names(n: int) -> list[str]:
    return [f"app{i:04d}" for i in range(n)]


def _seed_zone(route53: Any, zone_id: str, apps: list[str]) -> None:
    changes: list[dict[str, Any]] = []
    for index, app in enumerate(apps):
        host = f"{index // 250}.{index % 250 + 1}"
        for identifier, weight, value in (
            ("on-premises", 100, f"10.0.{host}"),
            ("aws", 0, f"10.1.{host}"),
        ):
            changes.append(
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{app}.{ZONE}",
                        "Type": "A",
                        "SetIdentifier": identifier,
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            )
    for start in range(0, len(changes), 500):
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes[start : start + 500]}
        )


def _dms_task(dms: Any) -> str:
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=f"{DATABASE}-cdc",
        SourceEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:SRC",
        TargetEndpointArn="arn:aws:dms:us-east-1:123456789012:endpoint:TGT",
        ReplicationInstanceArn="arn:aws:dms:us-east-1:123456789012:rep:INSTANCE",
        MigrationType="full-load-and-cdc",
        TableMappings='{"rules": []}',
    )["ReplicationTask"]
    dms.start_replication_task(
        ReplicationTaskArn=task["ReplicationTaskArn"], StartReplicationTaskType="start-replication"
    )
    return str(task["ReplicationTaskArn"])


def _latency(cloudwatch: Any, task_arn: str, start: datetime, minutes: int) -> None:
    """One CDCLatencySource datapoint (5 s) a minute from ``start`` on."""
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": REPLICATION_INSTANCE},
        {"Name": "ReplicationTaskIdentifier", "Value": task_arn.rsplit(":", 1)[-1]},
    ]
    data = [
        {
            "MetricName": "CDCLatencySource",
            "Dimensions": dimensions,
            "Timestamp": start + timedelta(minutes=i),
            "Value": 5.0,
            "Unit": "Seconds",
        }
        for i in range(minutes)
    ]
    for chunk in range(0, len(data), 20):
        cloudwatch.put_metric_data(Namespace="AWS/DMS", MetricData=data[chunk : chunk + 20])


def _alarms(cloudwatch: Any, names: list[str]) -> None:
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="5XXError",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="benchmark")


def _vpn(ec2: Any) -> None:
    gateway = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="203.0.113.10", BgpAsn=65000)
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")
    ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=gateway["CustomerGateway"]["CustomerGatewayId"],
        VpnGatewayId=vgw["VpnGateway"]["VpnGatewayId"],
    )


def wave_spec(n: int, max_parallel: int) -> WaveSpec:
    return WaveSpec(
        name=WAVE,
        max_parallel=max_parallel,
        applications=tuple(
            ApplicationSpec(
                name=app,
                shift_steps=SHIFT_STEPS,
                bake_minutes=BAKE_MINUTES,
                alarms=(f"{app}-5xx", "dms-cdc-latency"),
                databases=(DATABASE,),
            )
            for app in _app_names(n)
        ),
        databases=(DatabaseSpec(DATABASE, 60.0),),
    )


# -- one run -----------------------------------------------------------------------------


def _expected_minutes(n: int, max_parallel: int) -> int:
    """About the ticks the protocol needs (per group of max_parallel: steps + bakes)."""
    groups = -(-n // max_parallel)
    return groups * (len(SHIFT_STEPS) * BAKE_MINUTES + 2)


def measure(n: int, max_parallel: int | None = None) -> Row:
    """Run one wave of ``n`` applications to WAVE_COMPLETE in a fresh moto account."""
    parallel = max_parallel or n
    started = time.perf_counter()
    cpu_started = time.process_time()
    fake = FakeTime()
    with mock_aws():
        route53 = boto3.client("route53")
        dynamodb = boto3.client("dynamodb")
        sns = boto3.client("sns")
        cloudwatch = boto3.client("cloudwatch")
        ec2 = boto3.client("ec2")
        dms = boto3.client("dms")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        zone_id = route53.create_hosted_zone(
            Name=ZONE,
            CallerReference="controller-benchmark",
            HostedZoneConfig={"PrivateZone": True},
            VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
        )["HostedZone"]["Id"]
        _create_table(dynamodb)
        topic_arn = sns.create_topic(Name="migration-notifications")["TopicArn"]
        apps = _app_names(n)
        _seed_zone(route53, zone_id, apps)
        task_arn = _dms_task(dms)
        limit = _expected_minutes(n, parallel) * 3 + 30
        _latency(cloudwatch, task_arn, fake.clock() - timedelta(minutes=5), limit + 10)
        _alarms(cloudwatch, [CDC_ALARM, *(f"{app}-5xx" for app in apps)])
        _vpn(ec2)
        gate_dms = DmsWithValidation(dms, [("public", "orders")])
        gate_ec2 = Ec2WithTunnels(ec2)

        calls = Route53Calls(fake)
        calls.register(route53)
        limiter = RateLimiter(RATE, monotonic=fake.monotonic, sleep=fake.sleep)
        shifter = TrafficShifter(
            route53,
            zone_id,
            sleep=fake.sleep,
            monotonic=fake.monotonic,
            random=fake.random,
            before_change=limiter,
        )
        tracking = TrackingStore(dynamodb, TABLE, clock=fake.clock)
        rollbacks = RollbackService(
            shifter,
            tracking,
            RollbackLedger(dynamodb, TABLE, clock=fake.clock),
            Notifier(sns, topic_arn),
        )

        def gates_for(spec: WaveSpec) -> Gates:
            return Gates(
                spec,
                dms=gate_dms,
                cloudwatch=cloudwatch,
                ec2=gate_ec2,
                alarm_names={"dms-cdc-latency": CDC_ALARM},
                replication_instance_identifier=REPLICATION_INSTANCE,
                clock=fake.clock,
            )

        controller = Controller(tracking, shifter, gates_for, rollbacks, clock=fake.clock)
        WaveControls(tracking, rollbacks, actor="benchmark").start(wave_spec(n, parallel))

        begin = fake.monotonic()
        ticks = 0
        reports: list[TickReport] = []
        while True:
            head = tracking.current(wave_id(WAVE))
            if head is not None and head.phase is Phase.WAVE_COMPLETE:
                break
            if ticks >= limit:
                raise ControllerBugError(
                    f"N={n} max_parallel={parallel}: wave still {head.phase if head else None}"
                    f" after {ticks} ticks; last report {reports[-1].to_dict() if reports else {}}"
                )
            fake.sleep(60)
            ticks += 1
            report = controller.tick()
            reports.append(report)
            problems = report.errors or report.conflicts or report.rolled_back or report.held
            if problems:
                raise ControllerBugError(
                    f"N={n} max_parallel={parallel} tick {ticks}: {report.to_dict()}"
                )
        minutes = (fake.monotonic() - begin) / 60
        counts = Counter(calls.counts)  # before the checks below read the zone
        splits = shifter.splits(apps)
        phases = [tracking.current(app_id(app)) for app in apps]
        completed = sum(1 for h in phases if h is not None and h.phase is Phase.CUTOVER_COMPLETE)
        if completed != n or any(s.aws != 100 or s.on_premises != 0 for s in splits.values()):
            raise ControllerBugError(
                f"N={n}: wave complete but {completed}/{n} applications CUTOVER_COMPLETE, "
                f"{sum(1 for s in splits.values() if s.aws == 100)}/{n} at aws=100"
            )
        if calls.changes != limiter.calls:
            raise ControllerBugError(
                f"N={n}: {len(calls.changes)} ChangeResourceRecordSets requests seen by the hook, "
                f"{len(limiter.calls)} paced by the limiter"
            )
    return Row(
        n=n,
        max_parallel=parallel,
        minutes=minutes,
        ticks=ticks,
        changes=counts["ChangeResourceRecordSets"],
        limiter_calls=len(limiter.calls),
        highest_hook=calls.highest_per_second(),
        highest_limiter=limiter.highest_rate(),
        reads=sum(v for k, v in counts.items() if k != "ChangeResourceRecordSets"),
        wall_s=time.perf_counter() - started,
        cpu_s=time.process_time() - cpu_started,
        completed=completed,
    )


# -- output ------------------------------------------------------------------------------

HEADER = (
    "| N | max_parallel | simulated minutes | ratio to N=1 | ticks | R53 changes (hook / limiter) "
    "| highest changes per simulated second (hook / limiter) | other R53 calls "
    "| wall time (s) | CPU time (s) |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _line(row: Row, base: float) -> str:
    return (
        f"| {row.n} | {row.max_parallel} | {row.minutes:g} | {row.minutes / base:.2f}x "
        f"| {row.ticks} | {row.changes} / {row.limiter_calls} "
        f"| {row.highest_hook} / {row.highest_limiter} | {row.reads} "
        f"| {row.wall_s:.1f} | {row.cpu_s:.1f} |"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _machine() -> str:
    import botocore

    return (
        f"{os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, moto {moto.__version__} (in-process), "
        f"boto3 {boto3.__version__}, botocore {botocore.__version__}"
    )


def _section(table: str, total_s: float, command: str, load: str) -> str:
    return f"""{SECTION}

Runs the server-side cutover controller (`migration.controller.Controller`) on waves of
N applications against moto (in-process `mock_aws`, with
`migration.local.route53_fidelity` installed), on a compressed clock: one
`Controller.tick()` per simulated minute until the wave is WAVE_COMPLETE. Each N starts
from a fresh account: N weighted pairs at aws=0/on-premises=100, the tracking table, the
SNS topic, one running DMS task (the one database all applications share) with CDC
latency datapoints, one alarm per application plus the CDC latency alarm (all OK), a VPN
connection. moto's missing `describe_table_statistics` and VPN tunnel telemetry are
answered by `migration.local.signals`. Wave: steps 10/50/100 %, bake 15 minutes,
`max_parallel` = N (last row: 50), started with `WaveControls.start`.

### Command

```sh
{command}
```

### Machine

- {_machine()}
- shared with other jobs: load average {load}

### Results (one run, {date.today().isoformat()})

{table}

Total run time of the command above: {int(total_s) // 60} min {int(total_s) % 60} s.

Columns:

- **simulated minutes**: fake-clock time from the wave's start to the tick that marked it
  WAVE_COMPLETE (one tick a minute; the rate limiter's sleeps also advance this clock).
- **ratio to N=1**: simulated minutes over those of the single-application wave. The
  goal is flat, at most 1.5x for 200 applications.
- **ticks**: `Controller.tick()` calls.
- **R53 changes**: `ChangeResourceRecordSets` requests, counted by a botocore
  `before-call` hook on the Route 53 client / let through by the controller's
  `RateLimiter` (the two always agree; the benchmark fails otherwise).
- **highest changes per simulated second**: the most `ChangeResourceRecordSets`
  requests in any one-second window of simulated time, from the hook's timestamps /
  `RateLimiter.highest_rate()`. Route 53 allows 5 per second per account.
- **other R53 calls**: every other Route 53 call: the zone listing of each tick
  (`ListResourceRecordSets`, 300 records a page, so two pages a tick at N=200) and one
  `GetHostedZone`.
- **wall time / CPU time**: real and process CPU seconds of the whole run of that row,
  account setup included. The machine is shared; see the load averages above.

### Reading the figures

- Every step of every application moving in a tick shares one conditional request (up
  to 250 applications per request), so a wave of 200 applications makes as many
  requests as a wave of one: one per step, 3 in all, and never more than one in a
  simulated second. The 5-per-second limiter does not bind at these sizes; it would only
  pace a tick that moves more than 250 applications.
- The time to complete is the protocol's: the first step in the first tick, then a
  15-minute bake after each of the three steps (1 + 3 x 15 = 46 minutes), independent of
  N while N fits in `max_parallel`.
- The last row is the bound working: with `max_parallel` = 50, 200 applications go
  through in four groups of 50, each group starting the tick after the previous one
  completes, hence about 4x the minutes.
- Wall time is moto's, not AWS's, and grows faster than N. Each tick reads every
  application's head (`GetItem`, twice: once to advance, once to see whether the wave is
  complete) and each transition is one `TransactWriteItems`, which moto emulates by
  deep-copying the whole table once per item of the transaction. A `cProfile` of the
  N=200 row on the same machine (profiling about doubles the time): 553 s in all, 302 s
  in moto's `transact_write_items` (1,411 transitions; 289 s of it in `copy.deepcopy`),
  140 s in 20,895 head reads, 50 s in alarm checks. The bounded row is the slowest: four
  times the ticks, each reading 400 heads. None of this says anything about the
  controller's duration in AWS.
"""


def write_section(section: str) -> None:
    text = DOC.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print a Markdown table, and with --write update the doc."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[1, 10, 100, 200], help="N=1 always runs"
    )
    parser.add_argument(
        "--bounded",
        type=int,
        nargs=2,
        metavar=("N", "MAX_PARALLEL"),
        default=[200, 50],
        help="the extra run showing the max_parallel bound (default: 200 50)",
    )
    parser.add_argument("--no-bounded", action="store_true", help="skip the bounded run")
    parser.add_argument("--write", action="store_true", help=f"update {SECTION!r} in {DOC}")
    args = parser.parse_args(argv)
    route53_fidelity.install()

    print(_machine())
    load_before = os.getloadavg()[0]
    print()
    print(HEADER)
    started = time.perf_counter()
    rows: list[Row] = []
    base: float | None = None
    sizes = args.sizes if 1 in args.sizes else [1, *args.sizes]  # the ratio's base
    runs: list[tuple[int, int | None]] = [(n, None) for n in sizes]
    if not args.no_bounded:
        runs.append((args.bounded[0], args.bounded[1]))
    for n, parallel in runs:
        row = measure(n, parallel)
        rows.append(row)
        if base is None:
            base = row.minutes
        print(_line(row, base), flush=True)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s")
    if args.write:
        assert base is not None
        table = HEADER + "\n" + "\n".join(_line(row, base) for row in rows)
        command = ".venv/bin/python benchmarks/controller_benchmark.py " + " ".join(
            a for a in (argv if argv is not None else sys.argv[1:])
        )
        load = f"{load_before:.1f} at the start of the run, {os.getloadavg()[0]:.1f} at the end"
        write_section(_section(table, total, command.strip(), load))
        print(f"wrote {SECTION!r} in {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
