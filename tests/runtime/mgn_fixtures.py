"""MGN responses built from MGN's service model in botocore, validated against its output
shapes (``migration.local.mgn_shapes.validated``, which the local MGN stand-in also uses: a
misspelt field fails here, before any test uses it), and a stubbed ``mgn`` client.

moto has no MGN: tests put these responses on a botocore ``Stubber``, which also validates
the parameters of every call the runtime makes against the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from migration.local.mgn_shapes import service_model, validated
from migration.local.mgn_world import create_launch_template

MODEL = service_model()
SID = "s-1234567890abcdef0"
SID2 = "s-abcdef01234567890"
TEST_JOB = "mgnjob-0123456789abcdef0"
CUTOVER_JOB = "mgnjob-fedcba9876543210f"
INSTANCE = "i-0123456789abcdef0"
VALIDATION_DOCUMENT = "migration-validation-test"
"""The validation document of the test outputs' ServerMigrationSettings."""
TEMPLATE = "rct-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"
SUBNET2 = "subnet-0fedcba9876543210"
SECURITY_GROUP = "sg-0123456789abcdef0"
LAUNCH_GROUP = "sg-0fedcba9876543210"
"""The stack's launched-instance security group (``launchSecurityGroupId``)."""
ARN_PREFIX = "arn:aws:mgn:us-east-1:123456789012:"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"

__all__ = [
    "ANY",
    "CUTOVER_JOB",
    "INSTANCE",
    "KMS_KEY",
    "SECURITY_GROUP",
    "SID",
    "SID2",
    "SUBNET",
    "SUBNET2",
    "TEMPLATE",
    "TEST_JOB",
    "VALIDATION_DOCUMENT",
    "validated",
]


def source_server(
    sid: str = SID,
    hostname: str = "orders-app-01.corp.example.com",
    *,
    life: str = "READY_FOR_TEST",
    state: str = "CONTINUOUS",
    lag: str | None = "PT5S",
    replicated: int = 100,
    total: int = 100,
    error: str | None = None,
    test_job: str | None = None,
    cutover_job: str | None = None,
    finalized: bool = False,
) -> dict[str, Any]:
    """A ``SourceServer`` item as ``DescribeSourceServers`` returns it."""
    replication: dict[str, Any] = {
        "dataReplicationState": state,
        "replicatedDisks": [
            {
                "deviceName": "/dev/sda",
                "totalStorageBytes": total,
                "replicatedStorageBytes": replicated,
            }
        ],
    }
    if lag is not None:
        replication["lagDuration"] = lag
    if error:
        replication["dataReplicationError"] = {"error": error, "rawError": "agent lost"}
    life_cycle: dict[str, Any] = {"state": life}
    if test_job:
        life_cycle["lastTest"] = {
            "initiated": {"jobID": test_job, "apiCallDateTime": "2026-11-28T12:00:00Z"}
        }
    if cutover_job:
        last: dict[str, Any] = {"initiated": {"jobID": cutover_job}}
        if finalized:
            last["finalized"] = {"apiCallDateTime": "2026-11-28T13:00:00Z"}
        life_cycle["lastCutover"] = last
    return {
        "sourceServerID": sid,
        "arn": f"arn:aws:mgn:us-east-1:123456789012:source-server/{sid}",
        "isArchived": False,
        "dataReplicationInfo": replication,
        "lifeCycle": life_cycle,
        "sourceProperties": {
            "identificationHints": {"hostname": hostname.split(".")[0], "fqdn": hostname},
            "os": {"fullString": "Ubuntu 22.04"},
            "recommendedInstanceType": "m6i.large",
        },
        "replicationType": "AGENT_BASED",
    }


def servers_page(*items: dict[str, Any]) -> dict[str, Any]:
    return validated("DescribeSourceServers", {"items": list(items)})


def job(
    job_id: str = TEST_JOB,
    sid: str = SID,
    *,
    initiated_by: str = "START_TEST",
    launch: str = "LAUNCHED",
    actions: tuple[tuple[str, str, bool, str], ...] = (("validate", "SUCCESS", True, ""),),
) -> dict[str, Any]:
    """A launch ``Job`` (actions: name, executionStatus, mustSucceedForCutover, failureReason)."""
    statuses = [
        {
            "ssmDocument": {
                "actionName": name,
                "ssmDocumentName": "migration-validation",
                "mustSucceedForCutover": must,
            },
            "ssmDocumentType": "COMMAND",
            "executionID": "exec-1",
            "executionStatus": status,
            **({"failureReason": reason} if reason else {}),
        }
        for name, status, must, reason in actions
    ]
    return {
        "jobID": job_id,
        "type": "LAUNCH",
        "initiatedBy": initiated_by,
        "status": "COMPLETED" if launch in ("LAUNCHED", "FAILED") else "STARTED",
        "participatingServers": [
            {
                "sourceServerID": sid,
                "launchStatus": launch,
                "launchedEc2InstanceID": INSTANCE,
                "postLaunchActionsStatus": {"postLaunchActionsLaunchStatusList": statuses},
            }
        ],
    }


def jobs_page(*jobs: dict[str, Any]) -> dict[str, Any]:
    return validated("DescribeJobs", {"items": list(jobs)})


def replication_template(template_id: str = TEMPLATE, **fields: Any) -> dict[str, Any]:
    """A ``ReplicationConfigurationTemplate`` item of
    ``DescribeReplicationConfigurationTemplates``: as ``servers init`` sets it with the
    plan's defaults and the stack of tests/cli (suffix ``test``), ``fields`` changed (a
    field given as None is left out, as MGN does with one never set)."""
    template: dict[str, Any] = {
        "replicationConfigurationTemplateID": template_id,
        "arn": f"{ARN_PREFIX}replication-configuration-template/{template_id}",
        "stagingAreaSubnetId": SUBNET,
        "associateDefaultSecurityGroup": False,
        "replicationServersSecurityGroupsIDs": [SECURITY_GROUP],
        "replicationServerInstanceType": "t3.small",
        "useDedicatedReplicationServer": False,
        "defaultLargeStagingDiskType": "GP3",
        "ebsEncryption": "CUSTOM",
        "ebsEncryptionKeyArn": KMS_KEY,
        "bandwidthThrottling": 0,
        "dataPlaneRouting": "PRIVATE_IP",
        "createPublicIP": False,
        "stagingAreaTags": {"Environment": "test", "Project": "migration-orchestration"},
        "useFipsEndpoint": False,
    }
    template.update(fields)
    template = {k: v for k, v in template.items() if v is not None}
    validated("DescribeReplicationConfigurationTemplates", {"items": [template]})
    return template


def mgn_launch_template(
    ec2: Any, sid: str = SID, instance_type: str = "t3.medium", hostname: str = "orders-app-01"
) -> str:
    """The EC2 launch template MGN makes for a new source server, in moto's EC2 (``ec2``: a
    moto-backed boto3 client), as the local MGN stand-in makes it; returns its id, for
    :func:`launch_configuration`'s ``ec2LaunchTemplateID``."""
    return create_launch_template(ec2, sid, hostname, instance_type)


PLANNED_INTERFACE: dict[str, Any] = {
    "DeviceIndex": 0,
    "SubnetId": SUBNET,
    "Groups": [LAUNCH_GROUP],
    "AssociatePublicIpAddress": False,
    "DeleteOnTermination": True,
}
"""Network interface 0 as ``servers init`` sets it for a server without its own subnet or
groups: the first staging subnet, the stack's launch group, no public address."""


def planned_launch_template(
    ec2: Any, sid: str = SID, instance_type: str = "t3.medium", hostname: str = "orders-app-01"
) -> str:
    """MGN's launch template of a server whose network ``servers init`` already set (for
    the tests about something else); its id."""
    created = ec2.create_launch_template(
        LaunchTemplateName=f"mgn-{sid}",
        LaunchTemplateData={
            "InstanceType": instance_type,
            "NetworkInterfaces": [PLANNED_INTERFACE],
        },
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "Name", "Value": hostname}]}
        ],
    )
    return str(created["LaunchTemplate"]["LaunchTemplateId"])


def template_versions(ec2: Any, template_id: str) -> tuple[int, dict[int, str | None]]:
    """A launch template's default version number and each version's instance type."""
    (template,) = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"]
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)
    types = {
        int(v["VersionNumber"]): v["LaunchTemplateData"].get("InstanceType")
        for v in versions["LaunchTemplateVersions"]
    }
    return int(template["DefaultVersionNumber"]), types


def launch_configuration(sid: str = SID, **fields: Any) -> dict[str, Any]:
    """A ``GetLaunchConfiguration`` response: MGN's defaults for a new source server
    (right-sizing BASIC, licence included, boot mode from the source), ``fields`` changed
    (``ec2LaunchTemplateID``: one :func:`mgn_launch_template` made in moto's EC2, where
    ``servers init`` reads or changes the instance type)."""
    config: dict[str, Any] = {
        "sourceServerID": sid,
        "name": "orders-app-01",
        "ec2LaunchTemplateID": "lt-0123456789abcdef0",
        "launchDisposition": "STARTED",
        "targetInstanceTypeRightSizingMethod": "BASIC",
        "copyPrivateIp": False,
        "copyTags": True,
        "licensing": {"osByol": False},
        "bootMode": "USE_SOURCE",
        # What the stack's launch configuration template gives a server registered after it.
        "postLaunchActions": {
            "deployment": "TEST_AND_CUTOVER",
            "ssmDocuments": [
                {
                    "actionName": "post-migration-validation",
                    "ssmDocumentName": VALIDATION_DOCUMENT,
                    "mustSucceedForCutover": True,
                    "timeoutSeconds": 600,
                }
            ],
        },
    }
    config.update(fields)
    config = {k: v for k, v in config.items() if v is not None}  # None: a member left out
    return validated("GetLaunchConfiguration", config)


class StubbedMgn:
    """A real boto3 ``mgn`` client with a Stubber: ``expect`` queues a validated response
    and the exact parameters the runtime must send."""

    def __init__(self) -> None:
        self.client = boto3.client("mgn", region_name="us-east-1")
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def expect(self, method: str, response: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        operation = self.client.meta.method_to_api_mapping[method]
        self.stubber.add_response(method, validated(operation, response), dict(params))

    def fail(self, method: str, code: str, message: str = "refused") -> None:
        self.stubber.add_client_error(method, service_error_code=code, service_message=message)

    def describe(self, *items: dict[str, Any], ids: list[str] | None = None) -> None:
        filters: dict[str, Any] = {"isArchived": False}
        if ids:
            filters["sourceServerIDs"] = ids
        self.expect("describe_source_servers", {"items": list(items)}, {"filters": filters})

    def jobs(
        self, *found: dict[str, Any], job_id: str = "", job_ids: list[str] | None = None
    ) -> None:
        """One ``DescribeJobs`` of ``job_id`` (or of ``job_ids``, sorted, in one request)."""
        ids = sorted(job_ids) if job_ids else [job_id]
        self.expect("describe_jobs", {"items": list(found)}, {"filters": {"jobIDs": ids}})

    def start(self, method: str, job_id: str, sid: str = SID) -> None:
        self.expect(
            method,
            {"job": {"jobID": job_id, "type": "LAUNCH", "status": "PENDING"}},
            {"sourceServerIDs": [sid]},
        )

    def life_cycle(self, state: str, item: dict[str, Any]) -> None:
        self.expect(
            "change_server_life_cycle_state",
            item,
            {"sourceServerID": item["sourceServerID"], "lifeCycle": {"state": state}},
        )

    def finalize(self, item: dict[str, Any]) -> None:
        self.expect("finalize_cutover", item, {"sourceServerID": item["sourceServerID"]})

    def uninitialized(self) -> None:
        """MGN's answer in a region where it was never initialised."""
        self.fail(
            "describe_replication_configuration_templates",
            "UninitializedAccountException",
            "Account not initialized",
        )

    def templates(self, *items: dict[str, Any]) -> None:
        self.expect("describe_replication_configuration_templates", {"items": list(items)}, {})

    def launch(self, config: dict[str, Any]) -> None:
        self.expect(
            "get_launch_configuration", config, {"sourceServerID": config["sourceServerID"]}
        )

    def done(self) -> None:
        """Every queued call was made (and no other: the Stubber refuses unexpected ones)."""
        self.stubber.assert_no_pending_responses()


@contextmanager
def stubbed_mgn() -> Iterator[StubbedMgn]:
    stub = StubbedMgn()
    try:
        yield stub
    finally:
        stub.stubber.deactivate()
