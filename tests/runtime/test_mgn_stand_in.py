"""The local MGN stand-in (``migration.local.mgn_stand_in``) driven by a real boto3 ``mgn``
client over HTTP and by the runtime's own classes (``Mgn``, ``ServerLifecycle`` on a moto
tracking table): a server replicating, ready, tested, cut over and finalised; each fault
refused by the runtime's gates with its reason; MGN's errors as botocore raises them; the
routing of boto3 (``AWS_ENDPOINT_URL_MGN``) and of the local controller invocation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from migration.local import invoke
from migration.local.mgn_operations import StandInBug, answer
from migration.local.mgn_stand_in import ENDPOINT_VARIABLE, MgnStandIn
from migration.local.mgn_world import DEFAULT_INSTANCE_TYPE, MgnWorld
from migration.outputs import ServerMigrationSettings
from migration.servers import mgn
from migration.servers.gates import before_cutover, before_test
from migration.servers.lifecycle import Decision, Run, ServerLifecycle, ServerRequestError
from migration.servers.mgn import Mgn, MgnError
from migration.servers.replication import ReplicationSpec
from migration.servers.setup import MgnSetup
from migration.servers.spec import ServerSpec
from migration.tracking import Phase
from tests.runtime.conftest import Aws

HOST = "orders-app-01.corp.example.com"
SPEC = ServerSpec(id="orders-app-01", hostname=HOST, ip="192.168.10.21")
VALIDATE = {
    "actionName": "validate",
    "ssmDocumentName": "migration-validation-test",
    "mustSucceedForCutover": True,
}


@pytest.fixture
def stand_in() -> Iterator[MgnStandIn]:
    with MgnStandIn(post_launch_actions=[VALIDATE]) as started:
        yield started


def continuous(stand_in: MgnStandIn, hostname: str = HOST, ip: str = "192.168.10.21") -> str:
    """A server whose agent was installed and whose initial sync completed."""
    sid = stand_in.add_server(hostname, ip, "linux", initiating_minutes=5, sync_minutes=30)
    stand_in.advance(35)
    return sid


def lifecycle(aws: Aws, stand_in: MgnStandIn) -> ServerLifecycle:
    return ServerLifecycle(aws.tracking(), Mgn(stand_in.client()), actor="tester")


# -- routing ---------------------------------------------------------------------------


def test_boto3_reaches_it_through_the_service_specific_endpoint_variable(
    stand_in: MgnStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the other services' emulator
    monkeypatch.setenv(ENDPOINT_VARIABLE, stand_in.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sid = stand_in.add_server(HOST, "192.168.10.21")
    client = boto3.session.Session(region_name="us-east-1").client("mgn")
    assert client.meta.endpoint_url == stand_in.endpoint_url
    assert [s.source_server_id for s in Mgn(client).source_servers()] == [sid]
    assert stand_in.environment() == {"AWS_ENDPOINT_URL_MGN": stand_in.endpoint_url}


def test_the_local_controller_invocation_routes_mgn_to_it(
    stand_in: MgnStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``invoke_controller_locally(mgn_endpoint_url=...)``: the handler's own client factory
    (through the environment) and a given factory both reach the stand-in for ``mgn``, the
    emulator for the rest."""
    from migration.handlers import controller

    sid = stand_in.add_server(HOST, "192.168.10.21")
    seen: list[tuple[str, str, list[dict[str, Any]]]] = []

    def run(env: Any, client: Any = controller._client, **_: Any) -> dict[str, Any]:
        mgn_client = client("mgn")
        items = mgn_client.describe_source_servers(filters={})["items"]
        seen.append((mgn_client.meta.endpoint_url, client("dynamodb").meta.endpoint_url, items))
        return {}

    monkeypatch.setattr(controller, "run", run)
    monkeypatch.setattr(invoke, "controller_function_arn", lambda *a, **k: "arn:fn:controller")
    monkeypatch.setattr(invoke, "function_environment", lambda *a, **k: {"TABLE_NAME": "t"})
    emulator = "http://127.0.0.1:9"
    outputs: Any = SimpleNamespace(values={}, source="test")  # the function is found above

    def factory(service: str) -> Any:
        return boto3.Session(region_name="us-east-1").client(service, endpoint_url=emulator)

    for given in (None, factory):
        invoke.invoke_controller_locally(
            outputs, endpoint_url=emulator, client=given, mgn_endpoint_url=stand_in.endpoint_url
        )
    assert [(m, d, [i["sourceServerID"] for i in items]) for m, d, items in seen] == [
        (stand_in.endpoint_url, emulator, [sid])
    ] * 2
    assert stand_in.calls == ["DescribeSourceServers"] * 2


# -- the world as the runtime reads it -------------------------------------------------------


def test_ids_are_mgn_shaped_and_the_same_for_the_same_world() -> None:
    worlds = [MgnWorld(post_launch_actions=[VALIDATE]) for _ in range(2)]
    ids = []
    for world in worlds:
        sid = world.add_server(HOST, "192.168.10.21")
        again = world.add_server(HOST, "192.168.10.21")  # the agent installed twice
        world.advance(60)
        job = world.start_launch("START_TEST", [sid])
        world.advance(1)
        ids.append((sid, again, job.job_id, job.participants[0].instance_id))
    assert ids[0] == ids[1]
    sid, again, job_id, instance = ids[0]
    assert sid != again
    assert re.fullmatch(r"s-[0-9a-f]{17}", sid) and re.fullmatch(r"mgnjob-[0-9a-f]{17}", job_id)
    assert re.fullmatch(r"i-[0-9a-f]{17}", instance)


def test_replication_progresses_on_advance_as_mgn_reports_it(stand_in: MgnStandIn) -> None:
    service = Mgn(stand_in.client())
    sid = stand_in.add_server(HOST, "192.168.10.21", disk_bytes=1000, sync_minutes=20)
    seen = []
    for minutes in (0, 5, 10, 10):
        stand_in.advance(minutes)
        server = service.source_server(sid)
        assert server is not None
        seen.append(
            (server.life_cycle, server.replication_state, server.progress, server.lag_seconds)
        )
    assert seen == [
        ("NOT_READY", "INITIATING", 0.0, None),
        ("NOT_READY", "INITIAL_SYNC", 0.0, None),
        ("NOT_READY", "INITIAL_SYNC", 0.5, None),
        ("READY_FOR_TEST", "CONTINUOUS", 1.0, 5.0),
    ]
    found = service.find("orders-app-01")  # MGN's hostname hint is the short name
    assert found is not None and found.source_server_id == sid
    assert found.fqdn == HOST and found.total_bytes == 1000


def test_describe_source_servers_pages_and_two_agents_on_one_host_are_named(
    stand_in: MgnStandIn,
) -> None:
    first = stand_in.add_server(HOST, "192.168.10.21")
    stand_in.add_server("web-01.corp.example.com", "192.168.10.31")
    second = stand_in.add_server(HOST, "192.168.10.21")
    client = stand_in.client()
    pages = list(
        client.get_paginator("describe_source_servers").paginate(
            filters={}, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["items"]) for p in pages] == [2, 1]
    assert "nextToken" in pages[0] and "nextToken" not in pages[1]
    with pytest.raises(
        MgnError, match=f"2 MGN source servers identify as {HOST} .*{first}.*{second}"
    ):
        Mgn(client).find(HOST)


def test_a_server_is_tested_cut_over_and_finalised_through_the_lifecycle(
    aws: Aws, stand_in: MgnStandIn
) -> None:
    sid = stand_in.add_server(HOST, "192.168.10.21")
    service = lifecycle(aws, stand_in)
    stand_in.advance(10)
    assert service.record_observed(service.view(SPEC)).phase is Phase.REPLICATING  # type: ignore[union-attr]
    stand_in.advance(30)
    assert service.record_observed(service.view(SPEC)).phase is Phase.READY_FOR_TEST  # type: ignore[union-attr]

    head = service.run(Run.TEST, service.view(SPEC))
    test_job = head.state["testJobID"]
    assert head.phase is Phase.TESTING and head.state["sourceServerID"] == sid
    decision, gate = service.check(Run.CUTOVER, service.view(SPEC))
    assert (decision, gate.wait) == (Decision.REFUSED, True)
    assert gate.detail == f"server orders-app-01: test launch {test_job} is PENDING"
    stand_in.advance(1)
    decision, gate = service.check(Run.CUTOVER, service.view(SPEC))
    assert gate.detail.endswith("post-launch validation not finished (validate)")
    stand_in.advance(1)
    assert service.check(Run.CUTOVER, service.view(SPEC))[0] is Decision.GO

    head = service.run(Run.CUTOVER, service.view(SPEC))
    assert head.phase is Phase.CUTTING_OVER
    stand_in.advance(2)
    view = service.view(SPEC)
    assert view.job is not None and view.job.launch_status == mgn.LAUNCHED
    assert [(a.name, a.status) for a in view.job.actions] == [("validate", "SUCCESS")]
    head = service.run(Run.FINALIZE, view)
    assert head.phase is Phase.CUT_OVER
    server = Mgn(stand_in.client()).source_server(sid)
    assert server is not None
    assert (server.life_cycle, server.replication_state, server.cutover_finalized) == (
        "CUTOVER",
        "DISCONNECTED",
        True,
    )
    assert stand_in.calls.count("StartTest") == 1
    assert [c for c in stand_in.calls if c not in ("DescribeSourceServers", "DescribeJobs")] == [
        "StartTest",
        "ChangeServerLifeCycleState",
        "StartCutover",
        "FinalizeCutover",
    ]


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        (
            lambda s: s.stall(HOST, "UNSTABLE_NETWORK", "agent lost its connection"),
            "server orders-app-01: replication stalled (UNSTABLE_NETWORK agent lost its"
            " connection)",
        ),
        (
            lambda s: s.set_lag(HOST, 180),
            "server orders-app-01: replication lag 180s over the plan's 60s",
        ),
    ],
    ids=["stalled", "lagging"],
)
def test_a_replication_fault_refuses_the_test_launch_with_its_reason(
    aws: Aws, stand_in: MgnStandIn, fault: Any, why: str
) -> None:
    continuous(stand_in)
    fault(stand_in)
    service = lifecycle(aws, stand_in)
    view = service.view(SPEC)
    assert before_test(view).detail == why
    with pytest.raises(ServerRequestError, match=re.escape(why)):
        service.run(Run.TEST, view)
    assert "StartTest" not in stand_in.calls
    assert aws.tracking().current("server#orders-app-01") is None  # nothing written
    stand_in.clear_faults(HOST)
    assert before_test(service.view(SPEC)).ok


def test_a_stalled_continuous_server_falls_behind(stand_in: MgnStandIn) -> None:
    sid = continuous(stand_in)
    stand_in.stall(sid)
    stand_in.advance(2)
    server = Mgn(stand_in.client()).source_server(sid)
    assert server is not None and (server.replication_state, server.lag_seconds) == (
        mgn.STALLED,
        125.0,
    )


def test_a_failed_post_launch_validation_refuses_the_cutover(
    aws: Aws, stand_in: MgnStandIn
) -> None:
    continuous(stand_in)
    service = lifecycle(aws, stand_in)
    job = service.run(Run.TEST, service.view(SPEC)).state["testJobID"]
    stand_in.fail_post_launch(HOST, "port 443 closed")
    stand_in.advance(2)
    view = service.view(SPEC)
    assert before_cutover(view).detail == (
        f"server orders-app-01: test launch {job}: post-launch validation failed"
        " (validate: port 443 closed)"
    )
    with pytest.raises(ServerRequestError, match="port 443 closed"):
        service.run(Run.CUTOVER, view)
    assert (
        "StartCutover" not in stand_in.calls and "ChangeServerLifeCycleState" not in stand_in.calls
    )


def test_without_post_launch_actions_no_validation_ran(aws: Aws) -> None:
    with MgnStandIn() as bare:
        continuous(bare)
        service = lifecycle(aws, bare)
        service.run(Run.TEST, service.view(SPEC))
        bare.advance(2)
        assert before_cutover(service.view(SPEC)).detail.endswith(
            "no post-launch validation ran (the launch settings need the validation action,"
            " mustSucceedForCutover)"
        )


# -- MGN's errors, as botocore raises them ------------------------------------------------


def error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_errors_come_in_mgn_format(stand_in: MgnStandIn) -> None:
    client = stand_in.client()
    sid = stand_in.add_server(HOST, "192.168.10.21")
    code, status, message = error(lambda: client.start_test(sourceServerIDs=[sid]))
    assert (code, status) == ("ConflictException", 409)
    assert message == f"START_TEST needs lifecycle READY_FOR_TEST or TESTING: {sid} is NOT_READY"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.finalize_cutover(sourceServerID="s-00000000000000000")
    code, status, message = error(lambda: client.finalize_cutover(sourceServerID=sid))
    assert (code, status) == ("ConflictException", 409)
    code, status, message = error(
        lambda: client.describe_source_servers(
            filters={"applicationIDs": ["app-0123456789abcdef0"]}
        )
    )
    assert (code, status) == ("ValidationException", 400)
    assert message == "DescribeSourceServers: applicationIDs not emulated by the local MGN stand-in"


@pytest.mark.parametrize(
    ("method", "params", "operation"),
    [
        ("delete_source_server", {"sourceServerID": "s-00000000000000000"}, "DeleteSourceServer"),
        (
            "list_tags_for_resource",
            {"resourceArn": "arn:aws:mgn:us-east-1:123456789012:source-server/s-1"},
            "ListTagsForResource",
        ),
    ],
)
def test_an_operation_it_does_not_answer_is_named(
    stand_in: MgnStandIn, method: str, params: dict[str, Any], operation: str
) -> None:
    code, status, message = error(lambda: getattr(stand_in.client(), method)(**params))
    assert (code, status) == ("UnknownOperationException", 400)
    assert message.startswith(f"{operation} is not emulated by the local MGN stand-in (it answers")


def test_an_uninitialised_account_answers_only_initialize_service() -> None:
    with MgnStandIn(initialized=False) as fresh:
        client = fresh.client()
        with pytest.raises(client.exceptions.UninitializedAccountException):
            client.describe_source_servers(filters={})
        Mgn(client).initialize_service()
        assert list(Mgn(client).source_servers()) == []


def test_every_answer_is_checked_against_the_output_shape() -> None:
    world = MgnWorld()
    world.add_server(HOST, "192.168.10.21")
    world.stall(HOST, "NOT_AN_MGN_ERROR")  # a value MGN's enum does not have
    with pytest.raises(StandInBug, match="NOT_AN_MGN_ERROR"):
        answer(world, "DescribeSourceServers", {})


# -- what ``migrate servers init`` sends: stored as sent -------------------------------------


def test_init_calls_store_what_is_sent(stand_in: MgnStandIn) -> None:
    client = stand_in.client()
    sid = stand_in.add_server(HOST, "192.168.10.21")
    template = {
        "stagingAreaSubnetId": "subnet-0123456789abcdef0",
        "associateDefaultSecurityGroup": True,
        "replicationServersSecurityGroupsIDs": [],
        "replicationServerInstanceType": "t3.small",
        "useDedicatedReplicationServer": False,
        "defaultLargeStagingDiskType": "GP3",
        "ebsEncryption": "CUSTOM",
        "ebsEncryptionKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "bandwidthThrottling": 0,
        "dataPlaneRouting": "PRIVATE_IP",
        "createPublicIP": False,
        "stagingAreaTags": {"project": "migration"},
    }
    created = client.create_replication_configuration_template(**template)
    tid = created["replicationConfigurationTemplateID"]
    assert re.fullmatch(r"rct-[0-9a-f]{17}", tid)
    client.update_replication_configuration_template(
        replicationConfigurationTemplateID=tid, bandwidthThrottling=100
    )
    (stored,) = Mgn(client).replication_templates()
    assert stored["bandwidthThrottling"] == 100 and stored["ebsEncryption"] == "CUSTOM"
    client.update_launch_configuration(sourceServerID=sid, **SPEC.launch_settings())
    configuration = Mgn(client).launch_configuration(sid)
    assert {k: configuration[k] for k in SPEC.launch_settings()} == SPEC.launch_settings()
    assert configuration["postLaunchActions"]["ssmDocuments"] == [VALIDATE]


# -- MGN's EC2 launch template, in the emulator's EC2 ---------------------------------------


def test_without_an_ec2_client_the_launch_template_id_is_made_up(stand_in: MgnStandIn) -> None:
    sid = stand_in.add_server(HOST, "192.168.10.21")
    template = Mgn(stand_in.client()).launch_configuration(sid)["ec2LaunchTemplateID"]
    assert re.fullmatch(r"lt-[0-9a-f]{17}", template)
    world = MgnWorld()
    again = world.add_server(HOST, "192.168.10.21")
    assert world.servers[again].launch_configuration["ec2LaunchTemplateID"] == template


def test_each_server_gets_its_launch_template_in_the_emulators_ec2() -> None:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        with MgnStandIn(post_launch_actions=[VALIDATE], ec2=ec2) as stand_in:
            sid = stand_in.add_server(HOST, "192.168.10.21")
            other = stand_in.add_server("storefront-web-01.corp.example.com", "192.168.10.31")
            service = Mgn(stand_in.client())
            ids = [service.launch_configuration(s)["ec2LaunchTemplateID"] for s in (sid, other)]
        found = ec2.describe_launch_templates(LaunchTemplateIds=ids)["LaunchTemplates"]
        (version,) = ec2.describe_launch_template_versions(
            LaunchTemplateId=ids[0], Versions=["$Default"]
        )["LaunchTemplateVersions"]
    by_id = {t["LaunchTemplateId"]: t for t in found}
    assert [by_id[i]["LaunchTemplateName"] for i in ids] == [f"mgn-{sid}", f"mgn-{other}"]
    assert {"Key": "MgnSourceServerID", "Value": sid} in by_id[ids[0]]["Tags"]
    assert {"Key": "CreatedBy", "Value": "local MGN stand-in"} in by_id[ids[0]]["Tags"]
    assert version["VersionNumber"] == 1
    assert version["LaunchTemplateData"]["InstanceType"] == DEFAULT_INSTANCE_TYPE == "t3.medium"


def test_servers_init_sets_a_planned_type_and_the_network_in_the_stand_ins_template() -> None:
    """``migrate servers init``'s logic against the stand-in and the emulator's EC2 together:
    right-sizing off in MGN; the type and the project network (the stand-in's template is
    in the default VPC, as MGN's) in one new default version of the template; a rerun
    changes nothing."""
    spec = ServerSpec(
        id="orders-app-01", hostname=HOST, ip="192.168.10.21", instance_type="m6i.large"
    )
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(VpcId=vpc, GroupName="launch", Description="launch")
        network = ServerMigrationSettings(
            staging_subnet_ids=(subnet,),
            replication_security_group_id="sg-0123456789abcdef0",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            launch_configuration_template_id="lct-0123456789abcdef0",
            validation_document_name="migration-validation-test",
            launch_security_group_id=group["GroupId"],
        )
        with MgnStandIn(ec2=ec2) as stand_in:
            sid = stand_in.add_server(HOST, "192.168.10.21")
            setup = MgnSetup(Mgn(stand_in.client()), "us-east-1", ec2)
            plan = setup.plan(network, ReplicationSpec(), "test", [(spec, sid)])
            template = Mgn(stand_in.client()).launch_configuration(sid)["ec2LaunchTemplateID"]
            (mgns,) = ec2.describe_launch_template_versions(
                LaunchTemplateId=template, Versions=["$Default"]
            )["LaunchTemplateVersions"][0]["LaunchTemplateData"]["NetworkInterfaces"]
            default_vpc = ec2.describe_subnets(SubnetIds=[mgns["SubnetId"]])["Subnets"][0]
            lines = [line for line in plan.lines() if "replication template" not in line]
            done = setup.apply(plan)
            again = setup.plan(network, ReplicationSpec(), "test", [(spec, sid)])
            configuration = Mgn(stand_in.client()).launch_configuration(sid)
        (version,) = ec2.describe_launch_template_versions(
            LaunchTemplateId=template, Versions=["$Default"]
        )["LaunchTemplateVersions"]
    assert default_vpc["DefaultForAz"] and default_vpc["VpcId"] != vpc
    # The stand-in registered the server with no post-launch action (as MGN does for a
    # server registered before the stack's launch configuration template): init adds it.
    assert lines == [
        f"~ launch configuration orders-app-01 ({sid}): targetInstanceTypeRightSizingMethod"
        " BASIC -> NONE",
        f"~ launch configuration orders-app-01 ({sid}): postLaunchActions.ssmDocuments [] ->"
        ' [{"actionName": "post-migration-validation", "ssmDocumentName":'
        ' "migration-validation-test", "mustSucceedForCutover": true, "timeoutSeconds": 600}]',
        f"~ launch template orders-app-01 ({template}): InstanceType t3.medium -> m6i.large",
        f"~ launch template orders-app-01 ({template}): NetworkInterfaces[0].SubnetId"
        f" {mgns['SubnetId']} -> {subnet}",
        f"~ launch template orders-app-01 ({template}): NetworkInterfaces[0].Groups"
        f' ["{mgns["Groups"][0]}"] -> ["{group["GroupId"]}"]',
        f"~ launch template orders-app-01 ({template}): NetworkInterfaces[0]"
        ".AssociatePublicIpAddress (unset) -> false",
    ]
    assert configuration["postLaunchActions"]["ssmDocuments"][0]["mustSucceedForCutover"]
    assert done[-1] == (
        f"launch template orders-app-01 ({template}): InstanceType m6i.large,"
        f" NetworkInterfaces[0] {subnet} ({group['GroupId']}) in version 2 (from 1), now the"
        " default"
    )
    assert again.empty
    assert configuration["targetInstanceTypeRightSizingMethod"] == "NONE"
    data = version["LaunchTemplateData"]
    assert (version["VersionNumber"], data["InstanceType"]) == (2, "m6i.large")
    assert data["NetworkInterfaces"][0]["SubnetId"] == subnet
