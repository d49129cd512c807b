"""The state behind the local MGN stand-in: source servers, launch jobs, launch
configurations and replication templates, in memory, on a clock that moves only when told.

Nothing here is observed: replication progress, lag, launched instances and post-launch
results are *stated* by the world's rules below and by the faults a test or the demo injects.

* A server is added when "the agent is installed" (:meth:`MgnWorld.add_server`): lifecycle
  ``NOT_READY``, replication ``INITIATING``.
* :meth:`MgnWorld.advance` moves the clock: ``INITIATING`` for ``initiating_minutes``, then
  ``INITIAL_SYNC`` (replicated bytes grow linearly to the disk's total over ``sync_minutes``),
  then ``CONTINUOUS`` with a lag (``PT5S`` unless :meth:`set_lag`) and lifecycle
  ``READY_FOR_TEST``.
* A launch job (``StartTest``/``StartCutover``) launches its instances ``launch_minutes``
  after it started (``LAUNCHED``, post-launch actions ``IN_PROGRESS``) and finishes their
  post-launch actions ``post_launch_minutes`` later (``SUCCESS``, or ``FAILED`` after
  :meth:`fail_post_launch`).
* Each server's EC2 launch template (its launch configuration's ``ec2LaunchTemplateID``):
  created in the given ``ec2`` client (the emulator's) as ``mgn-<source server id>`` with
  :data:`DEFAULT_INSTANCE_TYPE` and network interface 0 in the default VPC (its first subnet,
  its default security group), as MGN creates one per source server; without a client the
  id is made up (``lt-`` + 17 hex) and names nothing.
* Faults: :meth:`stall` (``STALLED`` with a ``dataReplicationError``; a continuous server's
  lag then grows with the clock), :meth:`set_lag`, :meth:`fail_post_launch`;
  :meth:`clear_faults` undoes them.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from migration.local.mgn_shapes import MgnApiError

START: Final = datetime(2026, 1, 1, tzinfo=UTC)
GIB: Final = 2**30
DEFAULT_LAG_SECONDS: Final = 5.0
DEFAULT_INSTANCE_TYPE: Final = "t3.medium"
"""The instance type of the EC2 launch template made for a new source server (stated: MGN
writes the type it recommends for the source's CPU and RAM)."""
STAND_IN_TAG: Final = {"Key": "CreatedBy", "Value": "local MGN stand-in"}
TEST: Final = "START_TEST"
CUTOVER: Final = "START_CUTOVER"
# Which lifecycle states each launch may start from (MGN's console offers the same).
_LAUNCH_FROM: Final = {
    TEST: ("READY_FOR_TEST", "TESTING"),
    CUTOVER: ("READY_FOR_TEST", "TESTING", "READY_FOR_CUTOVER"),
}
# A post-launch action's ``deployment`` and the launches it runs on.
_DEPLOYMENT_RUNS: Final = {
    "TEST_AND_CUTOVER": (TEST, CUTOVER),
    "TEST_ONLY": (TEST,),
    "CUTOVER_ONLY": (CUTOVER,),
}


def stable_id(prefix: str, *parts: object) -> str:
    """``prefix`` + 17 hex digits derived from ``parts`` (the same world, the same ids)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{digest[:17]}"


def launch_template_name(sid: str) -> str:
    """The name of the EC2 launch template made for source server ``sid``."""
    return f"mgn-{sid}"


def create_launch_template(
    ec2: Any, sid: str, hostname: str, instance_type: str = DEFAULT_INSTANCE_TYPE
) -> str:
    """The EC2 launch template of a new source server, in ``ec2`` (a boto3 client: the
    emulator's); returns its id. Version 1, the default, sets the instance type and, as MGN's
    default template does, network interface 0 in a subnet of the region's default VPC with
    that VPC's default security group (:func:`default_vpc_interface`)."""
    tags = [
        {"Key": "Name", "Value": hostname.split(".", 1)[0]},
        {"Key": "MgnSourceServerID", "Value": sid},
        STAND_IN_TAG,
    ]
    data: dict[str, Any] = {"InstanceType": instance_type}
    interface = default_vpc_interface(ec2)
    if interface is not None:
        data["NetworkInterfaces"] = [interface]
    created = ec2.create_launch_template(
        LaunchTemplateName=launch_template_name(sid),
        VersionDescription="made by the local MGN stand-in for a new source server",
        LaunchTemplateData=data,
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}],
    )
    return str(created["LaunchTemplate"]["LaunchTemplateId"])


def default_vpc_interface(ec2: Any) -> dict[str, Any] | None:
    """Network interface 0 of MGN's default launch template: the first subnet (by id) of the
    default VPC and its ``default`` security group; no public address member (the default
    VPC's subnets give one). None where the region has no default VPC."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        return None
    vpc = [{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}]
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=vpc)["Subnets"])
    groups = ec2.describe_security_groups(
        Filters=[*vpc, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    if not subnets or not groups:
        return None
    return {"DeviceIndex": 0, "SubnetId": subnets[0], "Groups": [groups[0]["GroupId"]]}


@dataclass
class Server:
    """One source server (what the agent reported, and where replication stands)."""

    sid: str
    hostname: str
    ip: str
    os: str
    total_bytes: int
    sync_minutes: float
    initiating_left: float
    added_at: datetime
    launch_configuration: dict[str, Any]
    replicated_bytes: int = 0
    state: str = "INITIATING"
    life: str = "NOT_READY"
    lag_seconds: float = DEFAULT_LAG_SECONDS
    stalled: tuple[str, str] | None = None
    stalled_from: str = ""
    post_launch_failure: str | None = None
    first_byte_at: datetime | None = None
    last_test: dict[str, Any] = field(default_factory=dict)
    last_cutover: dict[str, Any] = field(default_factory=dict)
    launched_instance: dict[str, Any] | None = None

    @property
    def short_name(self) -> str:
        return self.hostname.split(".", 1)[0]


@dataclass
class Participant:
    """One server of a launch job: its launch and its post-launch actions."""

    sid: str
    actions: list[dict[str, Any]]
    launch_status: str = "PENDING"
    instance_id: str = ""
    action_status: str = ""
    """Empty until launched, then ``IN_PROGRESS``, ``SUCCESS`` or ``FAILED``."""
    failure: str = ""
    discovered_at: datetime | None = None


@dataclass
class Job:
    """A launch job (``StartTest`` or ``StartCutover``)."""

    job_id: str
    initiated_by: str
    created_at: datetime
    participants: list[Participant]
    status: str = "PENDING"
    ended_at: datetime | None = None
    elapsed: float = 0.0


class MgnWorld:
    """The stand-in's state and its clock; see the module docstring. Not thread-safe on its
    own: the HTTP stand-in serialises every call."""

    def __init__(
        self,
        *,
        post_launch_actions: Sequence[Mapping[str, Any]] = (),
        region: str = "us-east-1",
        account: str = "123456789012",
        initialized: bool = True,
        start: datetime = START,
        launch_minutes: float = 1.0,
        post_launch_minutes: float = 1.0,
        ec2: Any | None = None,
    ) -> None:
        self.post_launch_actions = [dict(a) for a in post_launch_actions]
        self.ec2 = ec2
        """The emulator's boto3 ``ec2`` client, where each server's launch template is made."""
        self.region = region
        self.account = account
        self.initialized = initialized
        self.start = start
        self.launch_minutes = launch_minutes
        self.post_launch_minutes = post_launch_minutes
        self.elapsed_minutes = 0.0
        self.servers: dict[str, Server] = {}
        self.jobs: dict[str, Job] = {}
        self.templates: dict[str, dict[str, Any]] = {}

    # -- the clock ----------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.start + timedelta(minutes=self.elapsed_minutes)

    def arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:mgn:{self.region}:{self.account}:{kind}/{resource_id}"

    def advance(self, minutes: float) -> None:
        """Move the clock: replication and launch jobs progress by ``minutes``."""
        if minutes < 0:
            raise ValueError(f"advance({minutes}): the clock only moves forward")
        self.elapsed_minutes += minutes
        for server in self.servers.values():
            _replicate(server, minutes, self.now)
        for job in self.jobs.values():
            self._progress_job(job, minutes)

    def _progress_job(self, job: Job, minutes: float) -> None:
        running = any(p.action_status == "IN_PROGRESS" for p in job.participants)
        if job.status == "COMPLETED" and not running:
            return
        job.elapsed += minutes
        if job.status != "COMPLETED" and job.elapsed >= self.launch_minutes:
            job.status, job.ended_at = "COMPLETED", self.now
            for p in job.participants:
                p.launch_status = "LAUNCHED"
                p.instance_id = stable_id("i-", job.job_id, p.sid)
                p.action_status = "IN_PROGRESS" if p.actions else ""
                p.discovered_at = self.now
                self.servers[p.sid].launched_instance = {
                    "ec2InstanceID": p.instance_id,
                    "jobID": job.job_id,
                    "firstBoot": "SUCCEEDED",
                }
        elif job.status == "PENDING":
            job.status = "STARTED"
        if job.elapsed >= self.launch_minutes + self.post_launch_minutes:
            for p in job.participants:
                if p.action_status == "IN_PROGRESS":
                    failure = self.servers[p.sid].post_launch_failure
                    p.action_status = "FAILED" if failure else "SUCCESS"
                    p.failure = failure or ""

    # -- what the demo and tests state ----------------------------------------------------

    def add_server(
        self,
        hostname: str,
        ip: str,
        os: str = "linux",
        *,
        disk_bytes: int = 20 * GIB,
        sync_minutes: float = 30.0,
        initiating_minutes: float = 5.0,
    ) -> str:
        """The replication agent was installed on ``hostname``: a new source server (a second
        install on the same host is a second source server, as in MGN). Returns its id."""
        again = sum(1 for s in self.servers.values() if s.hostname == hostname)
        sid = stable_id("s-", hostname, again)
        self.servers[sid] = Server(
            sid=sid,
            hostname=hostname,
            ip=ip,
            os=os,
            total_bytes=disk_bytes,
            sync_minutes=max(sync_minutes, 1e-9),
            initiating_left=initiating_minutes,
            added_at=self.now,
            launch_configuration=self._launch_configuration(sid, hostname),
        )
        return sid

    def _launch_configuration(self, sid: str, hostname: str) -> dict[str, Any]:
        return {
            "sourceServerID": sid,
            "name": hostname.split(".", 1)[0],
            "ec2LaunchTemplateID": (
                create_launch_template(self.ec2, sid, hostname)
                if self.ec2 is not None
                else stable_id("lt-", sid)
            ),
            "launchDisposition": "STARTED",
            "targetInstanceTypeRightSizingMethod": "BASIC",
            "copyPrivateIp": False,
            "copyTags": True,
            "licensing": {"osByol": False},
            "bootMode": "USE_SOURCE",
            "postLaunchActions": {
                "deployment": "TEST_AND_CUTOVER",
                "ssmDocuments": copy.deepcopy(self.post_launch_actions),
            },
            "enableMapAutoTagging": False,
        }

    def server(self, ref: str) -> Server:
        """A server by its source server id or its hostname (full or short); ValueError if
        none or several."""
        if ref in self.servers:
            return self.servers[ref]
        found = [s for s in self.servers.values() if ref in (s.hostname, s.short_name)]
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise ValueError(f"{what} source server(s) of the local MGN stand-in match {ref!r}")
        return found[0]

    def stall(self, ref: str, error: str = "UNSTABLE_NETWORK", raw: str = "") -> None:
        """Replication ``STALLED`` with ``dataReplicationError`` (MGN's ``error`` enum)."""
        server = self.server(ref)
        if server.state == "DISCONNECTED":
            raise ValueError(f"{server.sid} is finalised: its replication cannot stall")
        if server.stalled is None:
            server.stalled_from = server.state
        server.stalled = (error, raw or "connection to the replication server lost (stated)")
        server.state = "STALLED"

    def set_lag(self, ref: str, seconds: float) -> None:
        """The lag a continuous server reports from now on."""
        self.server(ref).lag_seconds = float(seconds)

    def fail_post_launch(self, ref: str, message: str) -> None:
        """Post-launch actions of this server that finish from now on end ``FAILED``."""
        self.server(ref).post_launch_failure = message

    def clear_faults(self, ref: str) -> None:
        """Undo :meth:`stall` (replication resumes where it was, lag back to the default),
        :meth:`set_lag` and :meth:`fail_post_launch`."""
        server = self.server(ref)
        if server.stalled is not None:
            server.state, server.stalled = server.stalled_from, None
        server.lag_seconds = DEFAULT_LAG_SECONDS
        server.post_launch_failure = None

    # -- MGN's calls that change the world -----------------------------------------------

    def start_launch(self, initiated_by: str, sids: Iterable[str]) -> Job:
        """``StartTest`` / ``StartCutover`` of ``sids``: one job; ConflictException naming
        every server whose lifecycle does not allow it (nothing started)."""
        wanted = list(dict.fromkeys(sids))
        unknown = [sid for sid in wanted if sid not in self.servers]
        if unknown:
            raise MgnApiError("ValidationException", f"unknown source server(s): {unknown}")
        allowed = _LAUNCH_FROM[initiated_by]
        refused = [
            f"{sid} is {self.servers[sid].life}"
            for sid in wanted
            if self.servers[sid].life not in allowed
        ]
        if refused:
            raise MgnApiError(
                "ConflictException",
                f"{initiated_by} needs lifecycle {' or '.join(allowed)}: {'; '.join(refused)}",
            )
        job_id = stable_id("mgnjob-", "job", len(self.jobs))
        job = Job(
            job_id,
            initiated_by,
            self.now,
            [Participant(sid, self._actions(sid, initiated_by)) for sid in wanted],
        )
        self.jobs[job_id] = job
        for sid in wanted:
            server = self.servers[sid]
            initiated = {"initiated": {"jobID": job_id, "apiCallDateTime": self.now}}
            if initiated_by == TEST:
                server.life, server.last_test = "TESTING", initiated
            else:
                server.life, server.last_cutover = "CUTTING_OVER", initiated
        return job

    def _actions(self, sid: str, initiated_by: str) -> list[dict[str, Any]]:
        configured = self.servers[sid].launch_configuration.get("postLaunchActions") or {}
        runs = _DEPLOYMENT_RUNS.get(str(configured.get("deployment", "TEST_AND_CUTOVER")), ())
        if initiated_by not in runs:
            return []
        return copy.deepcopy(list(configured.get("ssmDocuments") or []))

    def change_life_cycle_state(self, sid: str, state: str) -> Server:
        """MGN's "mark as ready for cutover" (``READY_FOR_CUTOVER`` from ``TESTING``), the
        reverts (``READY_FOR_TEST`` from ``TESTING``/``READY_FOR_CUTOVER``,
        ``READY_FOR_CUTOVER`` from ``CUTTING_OVER``)."""
        server = self._known(sid)
        at = {"apiCallDateTime": self.now}
        if state == "CUTOVER":
            raise MgnApiError(
                "ValidationException",
                "ChangeServerLifeCycleState CUTOVER is not emulated by the local MGN stand-in"
                " (FinalizeCutover is)",
            )
        if state == "READY_FOR_CUTOVER" and server.life == "TESTING":
            server.last_test["finalized"] = at
        elif state == "READY_FOR_CUTOVER" and server.life == "CUTTING_OVER":
            server.last_cutover["reverted"] = at
        elif state == "READY_FOR_TEST" and server.life in ("TESTING", "READY_FOR_CUTOVER"):
            server.last_test["reverted"] = at
        else:
            raise MgnApiError(
                "ConflictException", f"source server {sid} is {server.life}; cannot become {state}"
            )
        server.life = state
        return server

    def finalize_cutover(self, sid: str) -> Server:
        """``FinalizeCutover``: after its cutover instance launched; replication stops."""
        server = self._known(sid)
        job = self.jobs.get(str((server.last_cutover.get("initiated") or {}).get("jobID", "")))
        launched = job is not None and all(
            p.launch_status == "LAUNCHED" for p in job.participants if p.sid == sid
        )
        if server.life != "CUTTING_OVER" or not launched:
            raise MgnApiError(
                "ConflictException",
                f"source server {sid} is {server.life}"
                f"{'' if launched else ' without a launched cutover instance'}; FinalizeCutover"
                " needs CUTTING_OVER with the cutover instance launched",
            )
        server.life, server.state = "CUTOVER", "DISCONNECTED"
        server.stalled = None
        server.last_cutover["finalized"] = {"apiCallDateTime": self.now}
        return server

    def _known(self, sid: str) -> Server:
        if sid not in self.servers:
            raise MgnApiError("ResourceNotFoundException", f"source server {sid} not found")
        return self.servers[sid]


def _replicate(server: Server, minutes: float, now: datetime) -> None:
    """Replication of one server over ``minutes`` (nothing while stalled or disconnected;
    a stalled continuous server falls behind: its lag grows with the clock)."""
    if server.stalled is not None:
        if server.stalled_from == "CONTINUOUS":
            server.lag_seconds += minutes * 60
        return
    left = minutes
    if server.state == "INITIATING":
        used = min(left, server.initiating_left)
        server.initiating_left -= used
        left -= used
        if server.initiating_left > 0:
            return
        server.state, server.first_byte_at = "INITIAL_SYNC", now
    if server.state == "INITIAL_SYNC" and left > 0:
        rate = server.total_bytes / server.sync_minutes
        server.replicated_bytes = min(
            server.total_bytes, server.replicated_bytes + round(rate * left)
        )
        if server.replicated_bytes >= server.total_bytes:
            server.state = "CONTINUOUS"
            if server.life == "NOT_READY":
                server.life = "READY_FOR_TEST"
