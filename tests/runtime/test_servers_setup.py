"""``migrate servers init``'s logic (migration.servers.setup) against a stubbed ``mgn`` client:
every response validated against MGN's model, every call's parameters checked, and no call
beyond those queued (a write not expected fails the test). MGN's EC2 launch templates are in
moto's EC2 (in-process), each EC2 call the runtime makes recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from migration.outputs import ServerMigrationSettings
from migration.servers.mgn import Mgn, MgnError
from migration.servers.replication import ReplicationSpec
from migration.servers.setup import (
    Call,
    MgnSetup,
    desired_template,
    launch_network,
    launch_network_problem,
)
from migration.servers.spec import ServerSpec
from tests.runtime.mgn_fixtures import (
    KMS_KEY,
    LAUNCH_GROUP,
    PLANNED_INTERFACE,
    SECURITY_GROUP,
    SID,
    SID2,
    SUBNET,
    SUBNET2,
    TEMPLATE,
    StubbedMgn,
    launch_configuration,
    mgn_launch_template,
    planned_launch_template,
    replication_template,
    source_server,
    stubbed_mgn,
    template_versions,
)

NETWORK = ServerMigrationSettings(
    staging_subnet_ids=(SUBNET, SUBNET2),
    replication_security_group_id=SECURITY_GROUP,
    kms_key_arn=KMS_KEY,
    launch_configuration_template_id="lct-0123456789abcdef0",
    validation_document_name="migration-validation-test",
    launch_security_group_id=LAUNCH_GROUP,
)
ORDERS = ServerSpec("orders-app-01", "orders-app-01.corp.example.com", "192.168.10.21")
WEB = ServerSpec(
    "storefront-web-01",
    "storefront-web-01.corp.example.com",
    "192.168.10.31",
    instance_type="m6i.large",
    licensing="byol",
    boot_mode="uefi",
)
WEB_HOST = "storefront-web-01.corp.example.com"
DEFAULTS = ReplicationSpec()


class Ec2:
    """A moto-backed ``ec2`` client for ``servers init`` and the EC2 calls made through it
    (name, parameters); ``moto``: another one for the tests' own set-up and reads."""

    def __init__(self) -> None:
        self.moto = boto3.client("ec2", region_name="us-east-1")
        self.client = boto3.client("ec2", region_name="us-east-1")
        self.calls: list[tuple[str, dict[str, Any]]] = []

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append((model.name, dict(params)))

        self.client.meta.events.register("before-parameter-build.ec2.*", record)

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, params) for name, params in self.calls if not name.startswith("Describe")]


@pytest.fixture
def ec2() -> Iterator[Ec2]:
    with mock_aws():
        yield Ec2()


def run_plan(
    stub: StubbedMgn,
    replication: ReplicationSpec = DEFAULTS,
    servers: tuple[tuple[ServerSpec, str], ...] = (),
    ec2: Ec2 | None = None,
) -> Any:
    return setup(stub, ec2).plan(NETWORK, replication, "test", servers)


def setup(stub: StubbedMgn, ec2: Ec2 | None = None) -> MgnSetup:
    return MgnSetup(Mgn(stub.client), "us-east-1", ec2.client if ec2 else None)


def test_an_uninitialised_region_is_initialised_then_gets_its_template() -> None:
    with stubbed_mgn() as stub:
        stub.uninitialized()
        plan = run_plan(stub, servers=((ORDERS, ""),))
        assert [s.call for s in plan.steps] == [Call.INITIALIZE, Call.CREATE_TEMPLATE]
        assert plan.unregistered == ["orders-app-01"]
        assert plan.lines() == [
            "+ MGN in us-east-1: InitializeService",
            f"+ replication template: stagingAreaSubnetId = {SUBNET}",
            "+ replication template: associateDefaultSecurityGroup = false",
            f'+ replication template: replicationServersSecurityGroupsIDs = ["{SECURITY_GROUP}"]',
            "+ replication template: replicationServerInstanceType = t3.small",
            "+ replication template: useDedicatedReplicationServer = false",
            "+ replication template: defaultLargeStagingDiskType = GP3",
            "+ replication template: ebsEncryption = CUSTOM",
            f"+ replication template: ebsEncryptionKeyArn = {KMS_KEY}",
            "+ replication template: bandwidthThrottling = 0",
            "+ replication template: dataPlaneRouting = PRIVATE_IP",
            "+ replication template: createPublicIP = false",
            "+ replication template: stagingAreaTags.Environment = test",
            "+ replication template: stagingAreaTags.Project = migration-orchestration",
            "+ replication template: useFipsEndpoint = false",
        ]
        stub.expect("initialize_service", {}, {})
        created = replication_template()
        sent = {
            k: v
            for k, v in created.items()
            if k not in ("arn", "replicationConfigurationTemplateID")
        }
        stub.expect("create_replication_configuration_template", created, sent)
        done = MgnSetup(Mgn(stub.client), "us-east-1").apply(plan)
        stub.done()
    assert done == ["MGN in us-east-1: initialised", f"replication template {TEMPLATE}: created"]


def test_the_create_sends_every_required_member() -> None:
    from tests.runtime.mgn_fixtures import MODEL

    shape = MODEL.operation_model("CreateReplicationConfigurationTemplate").input_shape
    template = desired_template(NETWORK, ReplicationSpec(), "test")
    assert set(shape.required_members) <= set(template)
    assert template["stagingAreaSubnetId"] == SUBNET  # the first of the stack's subnets


def test_a_differing_template_is_updated_with_the_changed_fields_only() -> None:
    current = replication_template(
        bandwidthThrottling=50,
        dataPlaneRouting="PUBLIC_IP",
        createPublicIP=True,
        ebsEncryption="DEFAULT",
        ebsEncryptionKeyArn=None,
        stagingAreaTags={"owner": "infra"},
        replicationServersSecurityGroupsIDs=["sg-0aaaaaaaaaaaaaaaa"],
    )
    replication = ReplicationSpec(bandwidth_throttling_mbps=100, staging_disk_type="ST1")
    with stubbed_mgn() as stub:
        stub.templates(current)
        plan = run_plan(stub, replication)
        assert plan.lines() == [
            f"~ replication template {TEMPLATE}: replicationServersSecurityGroupsIDs"
            f' ["sg-0aaaaaaaaaaaaaaaa"] -> ["{SECURITY_GROUP}"]',
            f"~ replication template {TEMPLATE}: defaultLargeStagingDiskType GP3 -> ST1",
            f"~ replication template {TEMPLATE}: ebsEncryption DEFAULT -> CUSTOM",
            f"~ replication template {TEMPLATE}: ebsEncryptionKeyArn (unset) -> {KMS_KEY}",
            f"~ replication template {TEMPLATE}: bandwidthThrottling 50 -> 100",
            f"~ replication template {TEMPLATE}: dataPlaneRouting PUBLIC_IP -> PRIVATE_IP",
            f"~ replication template {TEMPLATE}: createPublicIP true -> false",
            f"~ replication template {TEMPLATE}: stagingAreaTags.Environment (unset) -> test",
            f"~ replication template {TEMPLATE}: stagingAreaTags.Project (unset) ->"
            " migration-orchestration",
        ]
        stub.expect(
            "update_replication_configuration_template",
            replication_template(),
            {
                "replicationConfigurationTemplateID": TEMPLATE,
                "replicationServersSecurityGroupsIDs": [SECURITY_GROUP],
                "defaultLargeStagingDiskType": "ST1",
                "ebsEncryption": "CUSTOM",
                "ebsEncryptionKeyArn": KMS_KEY,
                "bandwidthThrottling": 100,
                "dataPlaneRouting": "PRIVATE_IP",
                "createPublicIP": False,
                # The tags added by hand stay: a map is replaced whole, so it is merged.
                "stagingAreaTags": {
                    "owner": "infra",
                    "Environment": "test",
                    "Project": "migration-orchestration",
                },
            },
        )
        done = MgnSetup(Mgn(stub.client), "us-east-1").apply(plan)
        stub.done()
    assert done == [f"replication template {TEMPLATE}: 9 fields updated"]


def test_a_template_as_wanted_is_nothing_to_change_and_no_write(ec2: Ec2) -> None:
    tagged = replication_template(
        stagingAreaTags={"Environment": "test", "Project": "migration-orchestration", "x": "y"},
        replicationServersSecurityGroupsIDs=[SECURITY_GROUP],
    )
    with stubbed_mgn() as stub:
        stub.templates(tagged)
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=planned_launch_template(ec2.moto)))
        plan = run_plan(stub, servers=((ORDERS, ""),), ec2=ec2)
        assert plan.empty and plan.lines() == []
        assert setup(stub, ec2).apply(plan) == []
        stub.done()  # the Stubber refuses any call not queued: no write was made
    assert ec2.writes() == []


def test_launch_settings_are_updated_only_where_they_differ(ec2: Ec2) -> None:
    web_template = planned_launch_template(ec2.moto, SID2, "m6i.large")  # its type as planned
    orders_template = planned_launch_template(ec2.moto)
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server(), source_server(SID2, WEB_HOST))
        # orders-app-01: right-size, as MGN's default
        stub.launch(launch_configuration(ec2LaunchTemplateID=orders_template))
        stub.launch(
            launch_configuration(
                SID2, licensing={"osByol": False}, ec2LaunchTemplateID=web_template
            )
        )
        # WEB found by its recorded id, ORDERS by hostname.
        plan = run_plan(stub, servers=((ORDERS, ""), (WEB, SID2)), ec2=ec2)
        assert plan.lines() == [
            f"~ launch configuration storefront-web-01 ({SID2}):"
            " targetInstanceTypeRightSizingMethod BASIC -> NONE",
            f"~ launch configuration storefront-web-01 ({SID2}): licensing.osByol false -> true",
            f"~ launch configuration storefront-web-01 ({SID2}): bootMode USE_SOURCE -> UEFI",
        ]
        stub.expect(
            "update_launch_configuration",
            launch_configuration(
                SID2,
                targetInstanceTypeRightSizingMethod="NONE",
                licensing={"osByol": True},
                bootMode="UEFI",
                ec2LaunchTemplateID=web_template,
            ),
            {
                "sourceServerID": SID2,
                "targetInstanceTypeRightSizingMethod": "NONE",
                "licensing": {"osByol": True},
                "bootMode": "UEFI",
            },
        )
        done = setup(stub, ec2).apply(plan)
        stub.done()
    assert done == [f"launch configuration storefront-web-01 ({SID2}): 3 fields updated"]
    assert ec2.writes() == []  # the template already has the planned type


def test_servers_without_the_agent_are_listed_not_looked_up_further(ec2: Ec2) -> None:
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server(SID2, WEB_HOST))
        stub.launch(
            launch_configuration(
                SID2,
                targetInstanceTypeRightSizingMethod="NONE",
                licensing={"osByol": True},
                bootMode="UEFI",
                ec2LaunchTemplateID=planned_launch_template(ec2.moto, SID2, "m6i.large"),
            )
        )
        plan = run_plan(stub, servers=((ORDERS, ""), (WEB, "")), ec2=ec2)
        stub.done()
    assert plan.empty
    assert plan.unregistered == ["orders-app-01"]


def test_two_templates_or_two_sources_for_one_host_are_errors() -> None:
    with stubbed_mgn() as stub:
        stub.templates(replication_template(), replication_template("rct-abcdefabcdefabcde"))
        with pytest.raises(MgnError, match="2 replication configuration templates in us-east-1"):
            run_plan(stub)
        stub.templates(replication_template())
        stub.describe(source_server(), source_server(SID2))
        with pytest.raises(MgnError, match="2 MGN source servers identify as orders-app-01"):
            run_plan(stub, servers=((ORDERS, ""),))
        stub.done()


def test_another_mgn_fault_is_raised() -> None:
    from botocore.exceptions import ClientError

    with stubbed_mgn() as stub:
        stub.fail("describe_replication_configuration_templates", "AccessDeniedException")
        with pytest.raises(ClientError, match="AccessDeniedException"):
            run_plan(stub)


# -- the instance type and the network, in the EC2 launch template MGN manages ----------------

ORDERS_FIXED = ServerSpec(
    "orders-app-01", "orders-app-01.corp.example.com", "192.168.10.21", instance_type="m6i.large"
)
NOT_RIGHT_SIZED = {"targetInstanceTypeRightSizingMethod": "NONE"}


def default_data(ec2: Any, template: str) -> dict[str, Any]:
    """The LaunchTemplateData of a template's default version."""
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=template, Versions=["$Default"]
    )
    return dict(versions["LaunchTemplateVersions"][0]["LaunchTemplateData"])


def mgn_default_interface(ec2: Any, template: str) -> dict[str, Any]:
    """Network interface 0 of MGN's template as made: the default VPC, its default group."""
    (interface,) = default_data(ec2, template)["NetworkInterfaces"]
    return dict(interface)


def test_a_fixed_type_and_the_network_go_into_one_new_default_version(ec2: Ec2) -> None:
    template = mgn_launch_template(ec2.moto)  # t3.medium in the default VPC, as MGN made it
    mgn = mgn_default_interface(ec2.moto, template)
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=template))  # right-sizing BASIC
        plan = run_plan(stub, servers=((ORDERS_FIXED, SID),), ec2=ec2)
        assert [s.call for s in plan.steps] == [Call.UPDATE_LAUNCH, Call.UPDATE_LAUNCH_TEMPLATE]
        target = f"~ launch template orders-app-01 ({template})"
        assert plan.lines() == [
            f"~ launch configuration orders-app-01 ({SID}): targetInstanceTypeRightSizingMethod"
            " BASIC -> NONE",
            f"{target}: InstanceType t3.medium -> m6i.large",
            f"{target}: NetworkInterfaces[0].SubnetId {mgn['SubnetId']} -> {SUBNET}",
            f'{target}: NetworkInterfaces[0].Groups ["{mgn["Groups"][0]}"] -> ["{LAUNCH_GROUP}"]',
            f"{target}: NetworkInterfaces[0].AssociatePublicIpAddress (unset) -> false",
        ]
        assert ec2.writes() == []  # planning (a dry run) writes nothing
        stub.expect(
            "update_launch_configuration",
            launch_configuration(ec2LaunchTemplateID=template, **NOT_RIGHT_SIZED),
            {"sourceServerID": SID, **NOT_RIGHT_SIZED},
        )
        done = setup(stub, ec2).apply(plan)
        stub.done()
    assert done == [
        f"launch configuration orders-app-01 ({SID}): 1 field updated",
        f"launch template orders-app-01 ({template}): InstanceType m6i.large,"
        f" NetworkInterfaces[0] {SUBNET} ({LAUNCH_GROUP}) in version 2 (from 1), now the default",
    ]
    assert ec2.writes() == [
        (
            "CreateLaunchTemplateVersion",
            {
                "LaunchTemplateId": template,
                "SourceVersion": "1",  # the rest of MGN's template is inherited
                "VersionDescription": (
                    "migrate servers init: instance type and network from the migration plan"
                ),
                # One version for both; the interface complete (EC2 replaces the list whole).
                "LaunchTemplateData": {
                    "InstanceType": "m6i.large",
                    "NetworkInterfaces": [PLANNED_INTERFACE],
                },
            },
        ),
        ("ModifyLaunchTemplate", {"LaunchTemplateId": template, "DefaultVersion": "2"}),
    ]
    assert template_versions(ec2.moto, template) == (2, {1: "t3.medium", 2: "m6i.large"})
    assert default_data(ec2.moto, template)["NetworkInterfaces"] == [PLANNED_INTERFACE]


def test_a_rerun_finds_the_type_and_network_set_and_writes_nothing(ec2: Ec2) -> None:
    template = mgn_launch_template(ec2.moto)
    configuration = launch_configuration(ec2LaunchTemplateID=template, **NOT_RIGHT_SIZED)
    with stubbed_mgn() as stub:
        for _ in range(2):
            stub.templates(replication_template())
            stub.describe(source_server())
            stub.launch(configuration)
        setup(stub, ec2).apply(run_plan(stub, servers=((ORDERS_FIXED, SID),), ec2=ec2))
        writes = [name for name, _ in ec2.writes()]
        again = run_plan(stub, servers=((ORDERS_FIXED, SID),), ec2=ec2)
        assert again.empty and again.lines() == []
        assert setup(stub, ec2).apply(again) == []
        stub.done()
    assert writes == ["CreateLaunchTemplateVersion", "ModifyLaunchTemplate"]
    assert len(ec2.writes()) == 2  # none by the rerun
    assert template_versions(ec2.moto, template) == (2, {1: "t3.medium", 2: "m6i.large"})


def test_a_right_sized_server_gets_the_network_and_leaves_the_type_to_mgn(ec2: Ec2) -> None:
    template = mgn_launch_template(ec2.moto)
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=template))
        plan = run_plan(stub, servers=((ORDERS, SID),), ec2=ec2)
        (step,) = plan.steps
        assert [c.name for c in step.changes] == [
            "NetworkInterfaces[0].SubnetId",
            "NetworkInterfaces[0].Groups",
            "NetworkInterfaces[0].AssociatePublicIpAddress",
        ]
        done = setup(stub, ec2).apply(plan)
        stub.done()
    assert done == [
        f"launch template orders-app-01 ({template}): NetworkInterfaces[0] {SUBNET}"
        f" ({LAUNCH_GROUP}) in version 2 (from 1), now the default"
    ]
    (create, _modify) = ec2.writes()
    assert create[1]["LaunchTemplateData"] == {"NetworkInterfaces": [PLANNED_INTERFACE]}


def test_the_planned_subnet_and_security_groups_are_used(ec2: Ec2) -> None:
    template = mgn_launch_template(ec2.moto)
    own = ServerSpec(
        "orders-app-01",
        "orders-app-01.corp.example.com",
        "192.168.10.21",
        subnet=SUBNET2,
        security_groups=("sg-00000001", "sg-00000002"),
    )
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=template))
        plan = run_plan(stub, servers=((own, SID),), ec2=ec2)
        setup(stub, ec2).apply(plan)
        stub.done()
    assert default_data(ec2.moto, template)["NetworkInterfaces"] == [
        {
            **PLANNED_INTERFACE,
            "SubnetId": SUBNET2,
            "Groups": [LAUNCH_GROUP, "sg-00000001", "sg-00000002"],
        }
    ]


def test_a_type_set_meanwhile_is_not_set_again(ec2: Ec2) -> None:
    """The default version is read again when applying (MGN makes versions of its own)."""
    template = planned_launch_template(ec2.moto)  # the network as planned, t3.medium
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=template, **NOT_RIGHT_SIZED))
        plan = run_plan(stub, servers=((ORDERS_FIXED, SID),), ec2=ec2)
        ec2.moto.create_launch_template_version(
            LaunchTemplateId=template,
            LaunchTemplateData={
                "InstanceType": "m6i.large",
                "NetworkInterfaces": [PLANNED_INTERFACE],
            },
        )
        ec2.moto.modify_launch_template(LaunchTemplateId=template, DefaultVersion="2")
        done = setup(stub, ec2).apply(plan)
        stub.done()
    assert done == [f"launch template orders-app-01 ({template}): InstanceType already m6i.large"]
    assert ec2.writes() == []
    assert template_versions(ec2.moto, template) == (2, {1: "t3.medium", 2: "m6i.large"})


def test_a_network_set_meanwhile_is_not_set_again(ec2: Ec2) -> None:
    template = mgn_launch_template(ec2.moto)
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=template, **NOT_RIGHT_SIZED))
        plan = run_plan(stub, servers=((ORDERS_FIXED, SID),), ec2=ec2)
        ec2.moto.create_launch_template_version(
            LaunchTemplateId=template,
            LaunchTemplateData={"NetworkInterfaces": [PLANNED_INTERFACE]},
        )
        ec2.moto.modify_launch_template(LaunchTemplateId=template, DefaultVersion="2")
        done = setup(stub, ec2).apply(plan)
        stub.done()
    assert done == [
        f"launch template orders-app-01 ({template}): InstanceType m6i.large in version 3"
        " (from 2), now the default"
    ]
    (create, _modify) = ec2.writes()
    assert create[1]["LaunchTemplateData"] == {"InstanceType": "m6i.large"}
    assert create[1]["SourceVersion"] == "2"


def test_instance_level_security_groups_are_refused(ec2: Ec2) -> None:
    created = ec2.moto.create_launch_template(
        LaunchTemplateName="mgn-console-edited",
        LaunchTemplateData={"InstanceType": "t3.medium", "SecurityGroupIds": [SECURITY_GROUP]},
    )
    template = created["LaunchTemplate"]["LaunchTemplateId"]
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=template))
        with pytest.raises(MgnError) as caught:
            run_plan(stub, servers=((ORDERS, SID),), ec2=ec2)
        stub.done()
    assert str(caught.value) == (
        f"launch template orders-app-01 ({template}): its default version 1 sets"
        " SecurityGroupIds, which EC2 refuses beside a network interface's groups: make a"
        " version without them the default, then run init again"
    )
    assert ec2.writes() == []


def test_launch_network_problems_are_found_before_any_call() -> None:
    assert launch_network_problem(NETWORK, [ORDERS]) is None
    older = replace(NETWORK, launch_security_group_id=None)
    assert launch_network_problem(older, [ORDERS]) == (
        "the stack output ServerMigrationSettings has no launchSecurityGroupId (the launched"
        " instances' security group): deploy the current stack, then write the outputs again"
    )
    with pytest.raises(MgnError, match="has no launchSecurityGroupId"):
        launch_network(ORDERS, older)
    elsewhere = replace(ORDERS, subnet="subnet-0aaaaaaaaaaaaaaaa")
    assert launch_network_problem(NETWORK, [elsewhere, replace(WEB, subnet=SUBNET2)]) == (
        "subnet of orders-app-01 (subnet-0aaaaaaaaaaaaaaaa) is not one of the stack's private"
        f" subnets ({SUBNET}, {SUBNET2}): launched instances must be in the project VPC"
    )


def test_without_an_ec2_client_or_a_template_is_an_error(ec2: Ec2) -> None:
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(**NOT_RIGHT_SIZED))
        with pytest.raises(MgnError, match=r"instance type and network .* no ec2 client"):
            run_plan(stub, servers=((ORDERS_FIXED, SID),))
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(launch_configuration(ec2LaunchTemplateID=None, **NOT_RIGHT_SIZED))
        with pytest.raises(MgnError, match="names no EC2 launch template"):
            run_plan(stub, servers=((ORDERS_FIXED, SID),), ec2=ec2)
        stub.done()


def test_a_server_registered_without_the_validation_action_gets_it(ec2: Ec2) -> None:
    """A server registered before the stack's launch configuration template (or changed in
    the console): the validation document is made a post-launch action that must succeed for
    cutover, on test and cutover launches; its other actions are kept."""
    other = {"actionName": "install-agent", "ssmDocumentName": "AWS-RunShellScript"}
    weak = {
        "actionName": "validate",
        "ssmDocumentName": "migration-validation-test",
        "mustSucceedForCutover": False,
    }
    wanted_actions = {
        "deployment": "TEST_AND_CUTOVER",
        "ssmDocuments": [other, {**weak, "mustSucceedForCutover": True}],
    }
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        current = {"deployment": "TEST_ONLY", "ssmDocuments": [other, weak]}
        stub.launch(
            launch_configuration(
                postLaunchActions=current, ec2LaunchTemplateID=planned_launch_template(ec2.moto)
            )
        )
        plan = run_plan(stub, servers=((ORDERS, SID),), ec2=ec2)
        assert [line.split("): ", 1)[1] for line in plan.lines()] == [
            "postLaunchActions.deployment TEST_ONLY -> TEST_AND_CUTOVER",
            "postLaunchActions.ssmDocuments"
            ' [{"actionName": "install-agent", "ssmDocumentName": "AWS-RunShellScript"},'
            ' {"actionName": "validate", "ssmDocumentName": "migration-validation-test",'
            ' "mustSucceedForCutover": false}] ->'
            ' [{"actionName": "install-agent", "ssmDocumentName": "AWS-RunShellScript"},'
            ' {"actionName": "validate", "ssmDocumentName": "migration-validation-test",'
            ' "mustSucceedForCutover": true}]',
        ]
        stub.expect(
            "update_launch_configuration",
            launch_configuration(postLaunchActions=wanted_actions),  # (its template not read)
            {"sourceServerID": SID, "postLaunchActions": wanted_actions},
        )
        done = setup(stub, ec2).apply(plan)
        stub.done()
    assert done == [f"launch configuration orders-app-01 ({SID}): 2 fields updated"]


def test_a_server_without_any_post_launch_action_gets_the_validation(ec2: Ec2) -> None:
    with stubbed_mgn() as stub:
        stub.templates(replication_template())
        stub.describe(source_server())
        stub.launch(
            launch_configuration(
                postLaunchActions=None, ec2LaunchTemplateID=planned_launch_template(ec2.moto)
            )
        )
        plan = run_plan(stub, servers=((ORDERS, SID),), ec2=ec2)
        stub.done()
    (step,) = plan.steps
    assert step.fields == {
        "postLaunchActions": {
            "deployment": "TEST_AND_CUTOVER",
            "ssmDocuments": [
                {
                    "actionName": "post-migration-validation",
                    "ssmDocumentName": "migration-validation-test",
                    "mustSucceedForCutover": True,
                    "timeoutSeconds": 600,
                }
            ],
        }
    }
