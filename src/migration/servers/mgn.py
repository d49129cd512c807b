"""AWS Application Migration Service (MGN) as the server lifecycle uses it: a thin wrapper over
an injected boto3 ``mgn`` client, and what it reads, typed.

Every name is MGN's (API version 2020-02-26, as botocore's service model gives it):
``DescribeSourceServers`` (filters by ``sourceServerIDs`` only: a hostname is matched here
against ``sourceProperties.identificationHints``), ``StartTest``, ``StartCutover``,
``ChangeServerLifeCycleState`` (``READY_FOR_TEST``, ``READY_FOR_CUTOVER``: MGN has no
"mark as ready for cutover" call of its own), ``FinalizeCutover``, ``DescribeJobs`` (a launch
job's ``participatingServers[].postLaunchActionsStatus``), ``GetLaunchConfiguration``,
``UpdateLaunchConfiguration``, ``InitializeService`` and the replication configuration
templates (``Describe``/``Create``/``UpdateReplicationConfigurationTemplate``).

Only the standard library and botocore are imported: this module may ship to Lambda.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from migration.errors import MigrationError

# MGN's LifeCycleState values the lifecycle reads.
NOT_READY: Final = "NOT_READY"
READY_FOR_TEST: Final = "READY_FOR_TEST"
TESTING: Final = "TESTING"
READY_FOR_CUTOVER: Final = "READY_FOR_CUTOVER"
CUTTING_OVER: Final = "CUTTING_OVER"
CUTOVER: Final = "CUTOVER"
# DataReplicationState values.
CONTINUOUS: Final = "CONTINUOUS"
STALLED: Final = "STALLED"
INITIAL_SYNC: Final = "INITIAL_SYNC"
# LaunchStatus and PostLaunchActionExecutionStatus values.
LAUNCHED: Final = "LAUNCHED"
LAUNCH_FAILED: Final = "FAILED"
SUCCESS: Final = "SUCCESS"
FAILED: Final = "FAILED"
IN_PROGRESS: Final = "IN_PROGRESS"
# The error MGN answers in a region where it was never initialised.
UNINITIALIZED: Final = "UninitializedAccountException"

_DURATION_RE: Final = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


MAX_JOB_IDS = 1000
"""``DescribeJobs`` filters by at most this many job ids."""


class MgnError(MigrationError):
    """MGN answered something the lifecycle cannot use (e.g. two source servers, one host)."""


def duration_seconds(text: str | None) -> float | None:
    """An ISO-8601 duration as MGN writes ``lagDuration`` (``PT1M30S``, ``P0D``) in seconds;
    None for None or a form MGN does not use (years, months, weeks)."""
    if not text:
        return None
    match = _DURATION_RE.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return (
        parts.get("days", 0.0) * 86_400
        + parts.get("hours", 0.0) * 3_600
        + parts.get("minutes", 0.0) * 60
        + parts.get("seconds", 0.0)
    )


@dataclass(frozen=True)
class PostLaunchAction:
    """One post-launch action (an SSM document MGN ran on a launched instance)."""

    name: str
    status: str
    """``IN_PROGRESS``, ``SUCCESS`` or ``FAILED`` (empty when MGN gives none yet)."""
    must_succeed: bool
    reason: str = ""


@dataclass(frozen=True)
class LaunchJob:
    """A test or cutover launch job as it concerns one source server."""

    job_id: str
    initiated_by: str
    """``START_TEST`` or ``START_CUTOVER``."""
    status: str
    """``PENDING``, ``STARTED`` or ``COMPLETED``."""
    launch_status: str
    """This server's ``PENDING``, ``IN_PROGRESS``, ``LAUNCHED``, ``FAILED`` or ``TERMINATED``."""
    instance_id: str = ""
    actions: tuple[PostLaunchAction, ...] = ()

    @classmethod
    def from_api(cls, job: Mapping[str, Any], source_server_id: str) -> LaunchJob:
        """The ``Job`` of ``DescribeJobs`` / ``StartTest`` / ``StartCutover``, for one server."""
        server: Mapping[str, Any] = next(
            (
                p
                for p in job.get("participatingServers", [])
                if p.get("sourceServerID") == source_server_id
            ),
            {},
        )
        statuses = (server.get("postLaunchActionsStatus") or {}).get(
            "postLaunchActionsLaunchStatusList", []
        )
        return cls(
            job_id=str(job["jobID"]),
            initiated_by=str(job.get("initiatedBy", "")),
            status=str(job.get("status", "")),
            launch_status=str(server.get("launchStatus", "")),
            instance_id=str(server.get("launchedEc2InstanceID", "")),
            actions=tuple(
                PostLaunchAction(
                    name=str((s.get("ssmDocument") or {}).get("actionName", "?")),
                    status=str(s.get("executionStatus", "")),
                    must_succeed=bool((s.get("ssmDocument") or {}).get("mustSucceedForCutover")),
                    reason=str(s.get("failureReason", "")),
                )
                for s in statuses
            ),
        )


@dataclass(frozen=True)
class SourceServer:
    """A source server as ``DescribeSourceServers`` describes it, reduced to what the
    lifecycle and its gates read."""

    source_server_id: str
    hostname: str
    fqdn: str
    life_cycle: str
    replication_state: str
    lag_seconds: float | None
    replicated_bytes: int
    total_bytes: int
    backlog_bytes: int = 0
    error: str = ""
    os: str = ""
    last_test_job: str = ""
    last_cutover_job: str = ""
    cutover_finalized: bool = False
    recommended_instance_type: str = ""

    @property
    def progress(self) -> float | None:
        """Initial sync: replicated bytes of all disks over their total (None: no disk yet)."""
        if self.total_bytes <= 0:
            return None
        return min(1.0, self.replicated_bytes / self.total_bytes)

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> SourceServer:
        """A ``SourceServer`` item of ``DescribeSourceServers``."""
        replication = item.get("dataReplicationInfo") or {}
        disks = replication.get("replicatedDisks") or []
        life = item.get("lifeCycle") or {}
        hints = (item.get("sourceProperties") or {}).get("identificationHints") or {}
        error = replication.get("dataReplicationError") or {}
        return cls(
            source_server_id=str(item["sourceServerID"]),
            hostname=str(hints.get("hostname", "")),
            fqdn=str(hints.get("fqdn", "")),
            life_cycle=str(life.get("state", "")),
            replication_state=str(replication.get("dataReplicationState", "")),
            lag_seconds=duration_seconds(replication.get("lagDuration")),
            replicated_bytes=sum(int(d.get("replicatedStorageBytes", 0)) for d in disks),
            total_bytes=sum(int(d.get("totalStorageBytes", 0)) for d in disks),
            backlog_bytes=sum(int(d.get("backloggedStorageBytes", 0)) for d in disks),
            error=" ".join(
                str(part) for part in (error.get("error"), error.get("rawError")) if part
            ),
            os=str(((item.get("sourceProperties") or {}).get("os") or {}).get("fullString", "")),
            last_test_job=str(
                ((life.get("lastTest") or {}).get("initiated") or {}).get("jobID", "")
            ),
            last_cutover_job=str(
                ((life.get("lastCutover") or {}).get("initiated") or {}).get("jobID", "")
            ),
            cutover_finalized=bool((life.get("lastCutover") or {}).get("finalized")),
            recommended_instance_type=str(
                (item.get("sourceProperties") or {}).get("recommendedInstanceType", "")
            ),
        )

    def matches(self, hostname: str) -> bool:
        """Whether MGN identifies this source server as ``hostname``: the same name, or the
        same short name when either side is a short name (MGN's ``hostname`` hint often is)."""
        wanted = hostname.lower().removesuffix(".")
        names = {n.lower().removesuffix(".") for n in (self.hostname, self.fqdn) if n}
        if wanted in names:
            return True
        short = wanted.split(".", 1)[0]
        return any(n.split(".", 1)[0] == short for n in names if "." not in n or "." not in wanted)


class Mgn:
    """The MGN calls of the server lifecycle over an injected boto3 ``mgn`` client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    # -- reads ------------------------------------------------------------------------

    def source_servers(self, ids: Sequence[str] | None = None) -> Iterator[SourceServer]:
        """Source servers not archived (the given ids, else all), page after page."""
        filters: dict[str, Any] = {"isArchived": False}
        if ids:
            filters["sourceServerIDs"] = list(ids)
        for page in self._client.get_paginator("describe_source_servers").paginate(filters=filters):
            for item in page.get("items", []):
                yield SourceServer.from_api(item)

    def source_server(self, source_server_id: str) -> SourceServer | None:
        """One source server by its MGN id, or None."""
        return next(iter(self.source_servers([source_server_id])), None)

    def find(self, hostname: str) -> SourceServer | None:
        """The source server MGN identifies as ``hostname``; None if none; MgnError if
        several (an agent installed twice: archive the stale one in MGN)."""
        return self.find_each([hostname])[hostname]

    def find_each(
        self, hostnames: Iterable[str], among: Sequence[SourceServer] | None = None
    ) -> dict[str, SourceServer | None]:
        """:meth:`find` for several hosts, listing MGN's source servers once (or looking
        ``among`` those already listed)."""
        listed = list(self.source_servers()) if among is None else among
        result: dict[str, SourceServer | None] = {}
        for hostname in hostnames:
            found = [s for s in listed if s.matches(hostname)]
            if len(found) > 1:
                ids = ", ".join(s.source_server_id for s in found)
                raise MgnError(
                    f"{len(found)} MGN source servers identify as {hostname} ({ids}); archive"
                    " the stale one(s) in MGN"
                )
            result[hostname] = found[0] if found else None
        return result

    def launch_job(self, job_id: str, source_server_id: str) -> LaunchJob | None:
        """A launch job for one server (``DescribeJobs`` by id), or None if MGN has none."""
        if not job_id:
            return None
        items = self._client.describe_jobs(filters={"jobIDs": [job_id]}).get("items", [])
        job = next((j for j in items if j.get("jobID") == job_id), None)
        return LaunchJob.from_api(job, source_server_id) if job else None

    def launch_jobs(self, job_ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        """Launch jobs by id (``DescribeJobs`` of up to 1,000 ids per request, page after
        page); those MGN does not have are left out."""
        wanted = sorted(set(job_ids))
        found: dict[str, Mapping[str, Any]] = {}
        paginator = self._client.get_paginator("describe_jobs")
        for start in range(0, len(wanted), MAX_JOB_IDS):
            chunk = wanted[start : start + MAX_JOB_IDS]
            for page in paginator.paginate(filters={"jobIDs": chunk}):
                found.update({j["jobID"]: j for j in page.get("items", []) if j.get("jobID")})
        return found

    def launch_configuration(self, source_server_id: str) -> dict[str, Any]:
        """``GetLaunchConfiguration`` of one server (right-sizing, licensing, boot mode,
        post-launch actions), without the response metadata."""
        response = self._client.get_launch_configuration(sourceServerID=source_server_id)
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def replication_templates(self) -> list[dict[str, Any]]:
        """Every replication configuration template (``servers init`` reads them)."""
        paginator = self._client.get_paginator("describe_replication_configuration_templates")
        return [item for page in paginator.paginate() for item in page.get("items", [])]

    def replication_templates_if_initialized(self) -> list[dict[str, Any]] | None:
        """:meth:`replication_templates`, or None where MGN was never initialised (it
        answers ``UninitializedAccountException``)."""
        try:
            return self.replication_templates()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == UNINITIALIZED:
                return None
            raise

    # -- the lifecycle's calls ----------------------------------------------------------

    def start_test(self, source_server_ids: Iterable[str]) -> str:
        """Launch test instances; returns the job id."""
        return str(self._client.start_test(sourceServerIDs=list(source_server_ids))["job"]["jobID"])

    def start_cutover(self, source_server_ids: Iterable[str]) -> str:
        """Launch cutover instances; returns the job id."""
        return str(
            self._client.start_cutover(sourceServerIDs=list(source_server_ids))["job"]["jobID"]
        )

    def change_life_cycle_state(self, source_server_id: str, state: str) -> SourceServer:
        """``READY_FOR_CUTOVER`` after a validated test (MGN's "mark as ready for cutover"),
        ``READY_FOR_TEST`` to revert a test."""
        return SourceServer.from_api(
            self._client.change_server_life_cycle_state(
                sourceServerID=source_server_id, lifeCycle={"state": state}
            )
        )

    def finalize_cutover(self, source_server_id: str) -> SourceServer:
        """Stop replication for good: MGN deletes its replication resources; the launched
        instance stays."""
        return SourceServer.from_api(self._client.finalize_cutover(sourceServerID=source_server_id))

    def initialize_service(self) -> None:
        """``InitializeService`` (idempotent on MGN's side)."""
        self._client.initialize_service()

    # -- ``servers init``'s writes -----------------------------------------------------------

    def create_replication_template(self, fields: Mapping[str, Any]) -> str:
        """``CreateReplicationConfigurationTemplate``; returns the new template's id."""
        response = self._client.create_replication_configuration_template(**fields)
        return str(response["replicationConfigurationTemplateID"])

    def update_replication_template(self, template_id: str, fields: Mapping[str, Any]) -> None:
        """``UpdateReplicationConfigurationTemplate`` of ``fields`` only (the others stay)."""
        self._client.update_replication_configuration_template(
            replicationConfigurationTemplateID=template_id, **fields
        )

    def update_launch_configuration(self, source_server_id: str, fields: Mapping[str, Any]) -> None:
        """``UpdateLaunchConfiguration`` of ``fields`` only (the others stay)."""
        self._client.update_launch_configuration(sourceServerID=source_server_id, **fields)
