"""The MGN operations the local stand-in answers, over :class:`~migration.local.mgn_world.MgnWorld`.

:func:`answer` takes an operation name and its parsed request, checks the request against the
operation's input shape (``ValidationException``), refuses everything but
``InitializeService`` in an uninitialised account (``UninitializedAccountException``), and
returns the response after checking it against the output shape: an answer MGN could not
give is a bug of the stand-in (:class:`StandInBug`), never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from migration.local.mgn_shapes import MgnApiError, iso_duration, iso_time, problems
from migration.local.mgn_world import CUTOVER, TEST, Job, MgnWorld, Server, stable_id

NOT_EMULATED: Final = "not emulated by the local MGN stand-in"
MAX_PAGE: Final = 1000  # MGN's largest maxResults
_OS_NAMES: Final = {"linux": "Linux (stated by the local MGN stand-in)", "windows": "Windows"}
# Filters of the describe calls the stand-in applies; others are refused, naming them.
_SERVER_FILTERS: Final = frozenset(
    {"sourceServerIDs", "isArchived", "lifeCycleStates", "replicationTypes"}
)
_JOB_FILTERS: Final = frozenset({"jobIDs", "fromDate", "toDate"})


class StandInBug(Exception):
    """The stand-in built an answer that does not match MGN's output shape."""


def _plain(value: Any) -> Any:
    """Datetimes as MGN's ISO-8601 strings, recursively."""
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def source_server_item(world: MgnWorld, server: Server) -> dict[str, Any]:
    """A ``SourceServer`` as ``DescribeSourceServers`` (and the lifecycle calls) return it."""
    disk = {
        "deviceName": "/dev/sda" if server.os != "windows" else "disk0",
        "totalStorageBytes": server.total_bytes,
        "replicatedStorageBytes": server.replicated_bytes,
        "backloggedStorageBytes": 0,
    }
    replication: dict[str, Any] = {
        "dataReplicationState": server.state,
        "replicatedDisks": [disk] if server.state != "DISCONNECTED" else [],
        "dataReplicationInitiation": {"startDateTime": server.added_at},
    }
    if server.state == "CONTINUOUS" or (server.stalled and server.stalled_from == "CONTINUOUS"):
        replication["lagDuration"] = iso_duration(server.lag_seconds)
    if server.stalled:
        error, raw = server.stalled
        replication["dataReplicationError"] = {"error": error, "rawError": raw}
    life: dict[str, Any] = {"state": server.life, "addedToServiceDateTime": server.added_at}
    if server.first_byte_at:
        life["firstByteDateTime"] = server.first_byte_at
    if server.last_test:
        life["lastTest"] = server.last_test
    if server.last_cutover:
        life["lastCutover"] = server.last_cutover
    hints = {"hostname": server.short_name}
    if "." in server.hostname:
        hints["fqdn"] = server.hostname
    item: dict[str, Any] = {
        "sourceServerID": server.sid,
        "arn": world.arn("source-server", server.sid),
        "isArchived": False,
        "dataReplicationInfo": replication,
        "lifeCycle": life,
        "sourceProperties": {
            "lastUpdatedDateTime": server.added_at,
            "identificationHints": hints,
            "os": {"fullString": _OS_NAMES.get(server.os, server.os)},
            "recommendedInstanceType": "t3.medium",
            "networkInterfaces": [{"ips": [server.ip], "isPrimary": True}],
            "disks": [{"deviceName": disk["deviceName"], "bytes": server.total_bytes}],
            "cpus": [{"cores": 2, "modelName": "stated by the local MGN stand-in"}],
            "ramBytes": 4 * 2**30,
        },
        "replicationType": "AGENT_BASED",
    }
    if server.launched_instance:
        item["launchedInstance"] = server.launched_instance
    return _plain(item)


def job_item(world: MgnWorld, job: Job) -> dict[str, Any]:
    """A launch ``Job`` as ``DescribeJobs``, ``StartTest`` and ``StartCutover`` return it."""
    servers = []
    for p in job.participants:
        server: dict[str, Any] = {"sourceServerID": p.sid, "launchStatus": p.launch_status}
        if p.instance_id:
            server["launchedEc2InstanceID"] = p.instance_id
        if p.action_status:
            statuses = [
                {
                    "ssmDocument": action,
                    "ssmDocumentType": "COMMAND",
                    "executionID": stable_id("exec-", job.job_id, p.sid, i),
                    "executionStatus": p.action_status,
                    **({"failureReason": p.failure} if p.failure else {}),
                }
                for i, action in enumerate(p.actions)
            ]
            server["postLaunchActionsStatus"] = {
                "ssmAgentDiscoveryDatetime": p.discovered_at,
                "postLaunchActionsLaunchStatusList": statuses,
            }
        servers.append(server)
    item: dict[str, Any] = {
        "jobID": job.job_id,
        "arn": world.arn("job", job.job_id),
        "type": "LAUNCH",
        "initiatedBy": job.initiated_by,
        "creationDateTime": job.created_at,
        "status": job.status,
        "participatingServers": servers,
    }
    if job.ended_at:
        item["endDateTime"] = job.ended_at
    return _plain(item)


def _page(items: Sequence[dict[str, Any]], request: Mapping[str, Any]) -> dict[str, Any]:
    """One page of ``items`` (``maxResults``, ``nextToken``: the offset, opaque to callers)."""
    token = str(request.get("nextToken") or "0")
    if not token.isdigit() or int(token) > len(items):
        raise MgnApiError("ValidationException", f"invalid nextToken {token!r}")
    first, size = int(token), min(int(request.get("maxResults") or MAX_PAGE), MAX_PAGE)
    page: dict[str, Any] = {"items": list(items[first : first + size])}
    if first + size < len(items):
        page["nextToken"] = str(first + size)
    return page


def _filters(request: Mapping[str, Any], known: frozenset[str], operation: str) -> dict[str, Any]:
    filters = dict(request.get("filters") or {})
    extra = sorted(set(filters) - known) + (["accountID"] if "accountID" in request else [])
    if extra:
        raise MgnApiError("ValidationException", f"{operation}: {', '.join(extra)} {NOT_EMULATED}")
    return filters


def describe_source_servers(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
    filters = _filters(request, _SERVER_FILTERS, "DescribeSourceServers")
    ids = filters.get("sourceServerIDs")
    states = filters.get("lifeCycleStates")
    types = filters.get("replicationTypes")
    found = [
        source_server_item(world, s)
        for s in world.servers.values()
        if (not ids or s.sid in ids)
        and (not states or s.life in states)
        and (not types or "AGENT_BASED" in types)
        and filters.get("isArchived") in (None, False)
    ]
    return _page(found, request)


def describe_jobs(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
    filters = _filters(request, _JOB_FILTERS, "DescribeJobs")
    ids = filters.get("jobIDs")
    since, until = filters.get("fromDate"), filters.get("toDate")
    found = [
        item
        for job in world.jobs.values()
        for item in [job_item(world, job)]
        if (not ids or job.job_id in ids)
        and (not since or item["creationDateTime"] >= since)
        and (not until or item["creationDateTime"] <= until)
    ]
    return _page(found, request)


def _launch(initiated_by: str) -> Callable[[MgnWorld, Mapping[str, Any]], dict[str, Any]]:
    def start(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
        job = world.start_launch(initiated_by, request.get("sourceServerIDs") or [])
        return {"job": job_item(world, job)}

    return start


def change_server_life_cycle_state(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
    state = str((request.get("lifeCycle") or {}).get("state", ""))
    server = world.change_life_cycle_state(str(request["sourceServerID"]), state)
    return source_server_item(world, server)


def finalize_cutover(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
    return source_server_item(world, world.finalize_cutover(str(request["sourceServerID"])))


def get_launch_configuration(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
    sid = str(request["sourceServerID"])
    if sid not in world.servers:
        raise MgnApiError("ResourceNotFoundException", f"source server {sid} not found")
    return dict(world.servers[sid].launch_configuration)


def update_launch_configuration(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
    """Stores what is sent (the members given replace the stored ones)."""
    configuration = get_launch_configuration(world, request)
    configuration.update({k: v for k, v in request.items() if k != "accountID"})
    world.servers[str(request["sourceServerID"])].launch_configuration = configuration
    return dict(configuration)


def describe_replication_configuration_templates(
    world: MgnWorld, request: Mapping[str, Any]
) -> dict[str, Any]:
    ids = request.get("replicationConfigurationTemplateIDs")
    found = [t for tid, t in world.templates.items() if not ids or tid in ids]
    return _page(found, request)


def create_replication_configuration_template(
    world: MgnWorld, request: Mapping[str, Any]
) -> dict[str, Any]:
    """Stores what is sent, under a new template id."""
    template_id = stable_id("rct-", "template", len(world.templates))
    world.templates[template_id] = {
        **request,
        "replicationConfigurationTemplateID": template_id,
        "arn": world.arn("replication-configuration-template", template_id),
    }
    return dict(world.templates[template_id])


def update_replication_configuration_template(
    world: MgnWorld, request: Mapping[str, Any]
) -> dict[str, Any]:
    """Stores what is sent (the members given replace the stored ones)."""
    template_id = str(request["replicationConfigurationTemplateID"])
    if template_id not in world.templates:
        raise MgnApiError(
            "ResourceNotFoundException", f"replication configuration template {template_id}"
        )
    world.templates[template_id].update({k: v for k, v in request.items() if k != "arn"})
    return dict(world.templates[template_id])


def initialize_service(world: MgnWorld, request: Mapping[str, Any]) -> dict[str, Any]:
    world.initialized = True
    return {}


OPERATIONS: Final[dict[str, Callable[[MgnWorld, Mapping[str, Any]], dict[str, Any]]]] = {
    "DescribeSourceServers": describe_source_servers,
    "DescribeJobs": describe_jobs,
    "StartTest": _launch(TEST),
    "StartCutover": _launch(CUTOVER),
    "ChangeServerLifeCycleState": change_server_life_cycle_state,
    "FinalizeCutover": finalize_cutover,
    "GetLaunchConfiguration": get_launch_configuration,
    "UpdateLaunchConfiguration": update_launch_configuration,
    "DescribeReplicationConfigurationTemplates": describe_replication_configuration_templates,
    "CreateReplicationConfigurationTemplate": create_replication_configuration_template,
    "UpdateReplicationConfigurationTemplate": update_replication_configuration_template,
    "InitializeService": initialize_service,
}


def answer(world: MgnWorld, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """MGN's answer to ``operation`` with ``request``; raises :class:`MgnApiError` as MGN
    would, and for an operation the stand-in does not answer (``UnknownOperationException``
    naming it)."""
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise MgnApiError(
            "UnknownOperationException",
            f"{operation} is {NOT_EMULATED} (it answers {', '.join(sorted(OPERATIONS))})",
        )
    bad = problems(operation, request, output=False)
    if bad:
        raise MgnApiError("ValidationException", f"{operation}: {'; '.join(bad)}")
    if not world.initialized and operation != "InitializeService":
        raise MgnApiError(
            "UninitializedAccountException",
            "Account not initialized for Application Migration Service: call InitializeService",
        )
    response = handler(world, request)
    bad = problems(operation, response)
    if bad:
        raise StandInBug(f"{operation} response: {'; '.join(bad)}")
    return response
