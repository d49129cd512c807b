"""``migrate servers``: status, test, cutover, finalize and agent-command against the stack on
moto's server, MGN on a Stubber with model-validated responses (moto has no MGN); MGN's EC2
launch templates, which ``init`` reads and changes, in moto's EC2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from migration import operations
from migration.tracking import Phase, app_id, server_id
from tests.cli.conftest import EXAMPLE, Cli, FakedClients, Knobs, MotoStack
from tests.runtime.mgn_fixtures import (
    CUTOVER_JOB,
    KMS_KEY,
    LAUNCH_GROUP,
    PLANNED_INTERFACE,
    SECURITY_GROUP,
    SID,
    SID2,
    SUBNET,
    TEMPLATE,
    TEST_JOB,
    StubbedMgn,
    job,
    launch_configuration,
    mgn_launch_template,
    planned_launch_template,
    replication_template,
    source_server,
    stubbed_mgn,
    template_versions,
)

WEB = "storefront-web-01.corp.example.com"
WEB_JOB = "mgnjob-aaaaaaaaaaaaaaaaa"


@pytest.fixture
def mgn(stack: MotoStack, knobs: Knobs, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedMgn]:
    """The commands' clients: the stack's, with the stubbed MGN client."""
    with stubbed_mgn() as stub:

        class WithMgn(FakedClients):
            def client(self, service: str) -> Any:
                return stub.client if service == "mgn" else super().client(service)

        monkeypatch.setattr(operations, "make_clients", lambda region: WithMgn(region, knobs))
        yield stub


def both(**web: Any) -> list[dict[str, Any]]:
    return [source_server(), source_server(SID2, WEB, **web)]


def error_lines(result: Any) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def test_status_shows_phase_lag_and_progress(cli: Cli, mgn: StubbedMgn) -> None:
    web = {"life": "NOT_READY", "state": "INITIAL_SYNC", "lag": None, "replicated": 40}
    mgn.describe(*both(**web))
    result = cli("servers", "status")
    mgn.done()
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert "READY_FOR_TEST / CONTINUOUS  5s" in rows["orders-app-01"]
    assert "test ready" in rows["orders-app-01"]
    assert "40%" in rows["storefront-web-01"]
    assert "test waits" in rows["storefront-web-01"]
    assert "manual" in rows["inventory-app-01"]


def test_test_a_wave_launches_each_server_and_records_it(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack
) -> None:
    mgn.describe(*both())
    mgn.start("start_test", TEST_JOB)
    mgn.start("start_test", WEB_JOB, SID2)
    result = cli("servers", "test", "--wave", "wave-1", "--yes", "--by", "ops")
    mgn.done()
    assert result.exit_code == 0, result.output
    assert f"orders-app-01: TESTING (MGN job {TEST_JOB})" in result.output
    assert f"storefront-web-01: TESTING (MGN job {WEB_JOB})" in result.output
    heads = {i["serverId"]["S"]: i for i in stack.items() if i["timestamp"]["S"] == "CURRENT"}
    assert heads[server_id("orders-app-01")]["migrationPhase"]["S"] == "TESTING"


def test_a_refused_server_refuses_the_wave_and_changes_nothing(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack
) -> None:
    before = stack.snapshot()
    mgn.describe(*both(lag="PT3M"))
    result = cli("servers", "test", "--wave", "wave-1", "--yes")
    mgn.done()  # no StartTest
    assert result.exit_code == 2
    assert error_lines(result) == [
        "error: test refused, nothing changed: server storefront-web-01: replication lag 180s"
        " over the plan's 60s"
    ]
    assert stack.snapshot() == before


def test_finalize_before_the_application_completed_is_refused(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack
) -> None:
    from migration.tracking import TrackingStore

    tracking = TrackingStore(stack.dynamodb, stack.table)
    tracking.transition(
        server_id("orders-app-01"),
        Phase.CUTTING_OVER,
        state={"sourceServerID": SID, "cutoverJobID": CUTOVER_JOB},
    )
    tracking.transition(app_id("orders-api"), Phase.SHIFTING)
    before = stack.snapshot()
    mgn.describe(source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB))
    mgn.jobs(job(CUTOVER_JOB, initiated_by="START_CUTOVER"), job_id=CUTOVER_JOB)
    result = cli("servers", "finalize", "orders-app-01", "--yes")
    mgn.done()
    assert result.exit_code == 2
    assert error_lines(result) == [
        "error: finalize refused, nothing changed: server orders-app-01: finalizing stops its"
        " replication, and not every application using it completed its cutover:"
        " orders-api (SHIFTING)"
    ]
    assert stack.snapshot() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("test", "web-99", "--yes"), "error: unknown server 'web-99': the plan"),
        (
            ("test", "orders-app-01", "--wave", "wave-1"),
            "error: give a SERVER or --wave WAVE, not both",
        ),
        (("cutover",), "error: give a SERVER or --wave WAVE"),
        (("test", "--wave", "wave-9"), "error: unknown wave 'wave-9'"),
        (
            ("test", "--wave", "wave-2", "--yes"),
            "error: wave wave-2 has no server replicated by mgn",
        ),
        (
            ("agent-command", "inventory-app-01"),
            "error: server inventory-app-01 is replication: manual",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack, args: tuple[str, ...], message: str
) -> None:
    before = stack.snapshot()
    result = cli("servers", *args)
    assert result.exit_code == 2, result.output
    assert len(error_lines(result)) == 1 and error_lines(result)[0].startswith(message)
    assert stack.snapshot() == before


def test_a_manual_server_and_a_missing_yes_are_refused(cli: Cli, mgn: StubbedMgn) -> None:
    manual = cli("servers", "test", "inventory-app-01", "--yes")
    assert manual.exit_code == 2
    assert "inventory-app-01 is replication: manual" in error_lines(manual)[0]
    mgn.describe(*both())
    unconfirmed = cli("servers", "test", "orders-app-01")
    assert unconfirmed.exit_code == 2
    assert error_lines(unconfirmed) == [
        "error: not a terminal: pass --yes to confirm the test of orders-app-01"
    ]


def test_a_second_test_of_a_server_is_refused(cli: Cli, mgn: StubbedMgn, stack: MotoStack) -> None:
    mgn.describe(*both())
    mgn.start("start_test", TEST_JOB)
    assert cli("servers", "test", "orders-app-01", "--yes").exit_code == 0
    mgn.describe(source_server(life="TESTING", test_job=TEST_JOB))
    mgn.jobs(job(), job_id=TEST_JOB)
    again = cli("servers", "test", "orders-app-01", "--yes")
    mgn.done()
    assert again.exit_code == 2
    assert error_lines(again) == ["error: server orders-app-01 is already TESTING; nothing to test"]


def test_an_mgn_fault_is_one_line_and_exit_1(cli: Cli, mgn: StubbedMgn) -> None:
    mgn.fail("describe_source_servers", "AccessDeniedException", "not authorized: mgn:Describe")
    result = cli("servers", "test", "orders-app-01", "--yes")
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1 and "AccessDeniedException" in error_lines(result)[0]


def test_agent_command_prints_the_installer_with_temporary_credentials(
    cli: Cli, mgn: StubbedMgn
) -> None:
    linux = cli("servers", "agent-command", "orders-app-01")
    assert linux.exit_code == 0, linux.output
    lines = linux.output.splitlines()
    assert lines[1] == (
        "sudo wget -O ./aws-replication-installer-init https://aws-application-migration-service"
        "-us-east-1.s3.us-east-1.amazonaws.com/latest/linux/aws-replication-installer-init"
    )
    run = lines[-1]
    assert run.startswith("sudo ./aws-replication-installer-init --region us-east-1")
    assert "--aws-session-token" in run and run.endswith("--no-prompt")
    key = run.split("--aws-access-key-id ")[1].split()[0]
    assert key.startswith("ASIA")  # temporary credentials, never a long-lived AKIA key
    assert "arn:aws:iam::123456789012:role/cloudendure-test (900 s, expires" in lines[0]
    windows = cli("servers", "agent-command", "storefront-web-01", "--duration-seconds", "3600")
    assert windows.exit_code == 0, windows.output
    assert "PowerShell as an administrator" in windows.output
    assert ".\\AwsReplicationWindowsInstaller.exe --region 'us-east-1'" in windows.output
    too_long = cli("servers", "agent-command", "orders-app-01", "--duration-seconds", "7200")
    assert too_long.exit_code == 2


def test_agent_command_prints_the_steps_when_the_role_cannot_be_assumed(
    cli: Cli, mgn: StubbedMgn, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole"
        )

    monkeypatch.setattr("migration.servers.agent.assume_agent_role", refuse)
    result = cli("servers", "agent-command", "orders-app-01")
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1 and "AccessDenied" in error_lines(result)[0]
    assert "aws sts assume-role --role-arn arn:aws:iam::123456789012:role/cloudendure-test" in (
        result.output
    )
    assert "--aws-access-key-id '<AccessKeyId>'" in result.output


def test_status_says_a_finalize_waits_for_the_applications(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack
) -> None:
    from migration.tracking import TrackingStore

    TrackingStore(stack.dynamodb, stack.table).transition(
        server_id("orders-app-01"),
        Phase.CUTTING_OVER,
        state={"sourceServerID": SID, "cutoverJobID": CUTOVER_JOB},
    )
    mgn.describe(source_server(life="CUTTING_OVER", cutover_job=CUTOVER_JOB))
    mgn.jobs(job(CUTOVER_JOB, initiated_by="START_CUTOVER"), job_id=CUTOVER_JOB)
    result = cli("servers", "status", "orders-app-01")
    mgn.done()
    assert result.exit_code == 0, result.output
    assert "finalize waits: server orders-app-01: finalizing stops its replication" in (
        result.output
    )
    assert "orders-api (not started)" in result.output


@pytest.mark.parametrize(
    ("halt", "why"),
    [
        ("pause", "wave wave-1 is paused: `migrate resume wave-1` first"),
        (
            "abort",
            "wave wave-1 was aborted: start it again (`migrate cutover --wave wave-1`) first",
        ),
    ],
)
def test_a_paused_or_aborted_wave_stops_its_servers_too(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack, halt: str, why: str
) -> None:
    started = cli("cutover", "--wave", "wave-1", "--yes")
    assert started.exit_code == 0, started.output
    halted = cli(halt, "wave-1", "--reason", "change freeze")
    assert halted.exit_code == 0, halted.output
    before = stack.snapshot()
    mgn.describe(*both())
    result = cli("servers", "test", "--wave", "wave-1", "--yes")
    mgn.done()  # no StartTest
    assert result.exit_code == 2
    assert error_lines(result) == [
        f"error: test refused, nothing changed: server orders-app-01: {why}; "
        f"server storefront-web-01: {why}"
    ]
    assert stack.snapshot() == before


def test_revert_of_a_test_launch_keeps_the_tracked_phase_with_mgn(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack
) -> None:
    mgn.describe(*both())
    mgn.start("start_test", TEST_JOB)
    assert cli("servers", "test", "orders-app-01", "--yes").exit_code == 0
    mgn.describe(source_server(life="TESTING", test_job=TEST_JOB))
    mgn.jobs(job(), job_id=TEST_JOB)
    mgn.life_cycle("READY_FOR_TEST", source_server(test_job=TEST_JOB))
    result = cli("servers", "revert", "orders-app-01", "--yes", "--by", "ops")
    assert result.exit_code == 0, result.output
    assert "orders-app-01: READY_FOR_TEST" in result.output
    # Nothing launched any more: a second revert has nothing to do (exit 2, no MGN write).
    mgn.describe(source_server(test_job=TEST_JOB))
    again = cli("servers", "revert", "orders-app-01", "--yes")
    mgn.done()
    assert again.exit_code == 2
    assert error_lines(again) == [
        "error: server orders-app-01 is READY_FOR_TEST; nothing to revert"
    ]


# -- init ---------------------------------------------------------------------------------

SERVER_SETTINGS = {
    "stagingSubnetIds": [SUBNET, "subnet-0fedcba9876543210"],
    "replicationSecurityGroupId": SECURITY_GROUP,
    "kmsKeyArn": KMS_KEY,
    "launchConfigurationTemplateId": "lct-0123456789abcdef0",
    "validationDocumentName": "migration-validation-test",
    "launchSecurityGroupId": LAUNCH_GROUP,
}
# The example plan's launch settings: orders-app-01 m6i.large, storefront-web-01 right-sized BYOL.
ORDERS_AS_PLANNED = {"targetInstanceTypeRightSizingMethod": "NONE"}
WEB_AS_PLANNED = {"licensing": {"osByol": True}}


@pytest.fixture
def with_mgn_outputs(stack: MotoStack) -> Path:
    """The outputs file of a stack that creates MGN's settings."""
    path = stack.outputs_path.with_name("with-mgn.json")
    data = {**stack.outputs, "ServerMigrationSettings": json.dumps(SERVER_SETTINGS)}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def ec2(stack: MotoStack) -> Any:
    """moto's EC2, where MGN's launch templates are."""
    return boto3.client("ec2", endpoint_url=stack.url, region_name="us-east-1")


@pytest.fixture
def templates(ec2: Any) -> dict[str, str]:
    """The EC2 launch template of each server, its network already as init sets it:
    orders-app-01's with its planned type (m6i.large), storefront-web-01's (right-sized)
    with MGN's t3.medium."""
    return {
        SID: planned_launch_template(ec2, SID, "m6i.large"),
        SID2: planned_launch_template(ec2, SID2, hostname="storefront-web-01"),
    }


def registered(
    mgn: StubbedMgn, templates: dict[str, str], orders: dict[str, Any], web: dict[str, Any]
) -> None:
    """Both servers registered with MGN, with these launch configuration fields."""
    mgn.describe(*both())
    mgn.launch(launch_configuration(ec2LaunchTemplateID=templates[SID], **orders))
    mgn.launch(launch_configuration(SID2, ec2LaunchTemplateID=templates[SID2], **web))


def test_init_initialises_mgn_and_a_rerun_changes_nothing(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path, templates: dict[str, str]
) -> None:
    mgn.uninitialized()
    mgn.expect("initialize_service", {}, {})
    created = replication_template()
    mgn.expect(
        "create_replication_configuration_template",
        created,
        {
            k: v
            for k, v in created.items()
            if k not in ("arn", "replicationConfigurationTemplateID")
        },
    )
    first = cli("servers", "init", "--yes", outputs=with_mgn_outputs)
    mgn.done()
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "+ MGN in us-east-1: InitializeService"
    assert f"+ replication template: ebsEncryptionKeyArn = {KMS_KEY}" in lines
    assert "+ replication template: dataPlaneRouting = PRIVATE_IP" in lines
    assert lines[-3:] == [
        "not registered yet: orders-app-01, storefront-web-01: run init again after installing"
        " the agent (migrate servers agent-command SERVER)",
        "MGN in us-east-1: initialised",
        f"replication template {TEMPLATE}: created",
    ]
    mgn.templates(created)
    registered(mgn, templates, ORDERS_AS_PLANNED, WEB_AS_PLANNED)
    again = cli("servers", "init", "--yes", outputs=with_mgn_outputs)
    mgn.done()  # reads only: the Stubber refuses any write not queued
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == ["MGN in us-east-1: nothing to change"]


def test_init_updates_the_launch_configuration_that_differs_only(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path, templates: dict[str, str]
) -> None:
    mgn.templates(replication_template())
    registered(mgn, templates, {}, WEB_AS_PLANNED)  # orders-app-01 still right-sized
    mgn.expect(
        "update_launch_configuration",
        launch_configuration(ec2LaunchTemplateID=templates[SID], **ORDERS_AS_PLANNED),
        {"sourceServerID": SID, **ORDERS_AS_PLANNED},
    )
    result = cli("servers", "init", "--yes", outputs=with_mgn_outputs)
    mgn.done()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"~ launch configuration orders-app-01 ({SID}): targetInstanceTypeRightSizingMethod"
        " BASIC -> NONE",
        f"launch configuration orders-app-01 ({SID}): 1 field updated",
    ]


def test_init_without_the_stack_output_is_one_line_and_exit_2(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack
) -> None:
    result = cli("servers", "init", "--yes")
    mgn.done()  # no MGN call at all
    assert result.exit_code == 2
    assert error_lines(result) == [
        f"error: {stack.outputs_path}: missing output ServerMigrationSettings; deploy the stack"
        " version that creates MGN's settings, then write the outputs again"
    ]


def test_init_without_yes_and_no_terminal_changes_nothing(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path, templates: dict[str, str]
) -> None:
    mgn.templates(replication_template(bandwidthThrottling=50))
    registered(mgn, templates, ORDERS_AS_PLANNED, WEB_AS_PLANNED)
    result = cli("servers", "init", outputs=with_mgn_outputs)
    mgn.done()  # no UpdateReplicationConfigurationTemplate
    assert result.exit_code == 2
    assert f"~ replication template {TEMPLATE}: bandwidthThrottling 50 -> 0" in result.output
    assert error_lines(result) == ["error: not a terminal: pass --yes to apply these MGN settings"]


def test_init_dry_run_and_a_declined_prompt_change_nothing(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path, ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migration.cli import cutover_cmd

    # orders-app-01's launch template still has MGN's t3.medium, not the planned m6i.large.
    small = {
        SID: planned_launch_template(ec2, SID),
        SID2: planned_launch_template(ec2, SID2, hostname="storefront-web-01"),
    }
    mgn.templates(replication_template(createPublicIP=True))
    registered(mgn, small, ORDERS_AS_PLANNED, WEB_AS_PLANNED)
    dry = cli("servers", "init", "--dry-run", outputs=with_mgn_outputs)
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        f"~ replication template {TEMPLATE}: createPublicIP true -> false",
        f"~ launch template orders-app-01 ({small[SID]}): InstanceType t3.medium -> m6i.large",
        "dry run: nothing was changed",
    ]
    monkeypatch.setattr(cutover_cmd, "stdin_is_interactive", lambda: True)
    mgn.templates(replication_template(createPublicIP=True))
    registered(mgn, small, ORDERS_AS_PLANNED, WEB_AS_PLANNED)
    declined = cli("servers", "init", input="n\n", outputs=with_mgn_outputs)
    mgn.done()  # neither run wrote anything to MGN
    assert declined.exit_code == 1
    assert "aborted: nothing was changed" in declined.output
    assert template_versions(ec2, small[SID]) == (1, {1: "t3.medium"})  # nor to EC2


def test_init_sets_the_planned_type_and_the_network_in_mgns_launch_templates(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path, ec2: Any
) -> None:
    """MGN's templates launch in the default VPC. orders-app-01 is planned m6i.large:
    right-sizing off, then one new default version of its launch template with that type and
    the project network; storefront-web-01 is right-sized: the network only. A rerun changes
    nothing."""
    mgns = {
        SID: mgn_launch_template(ec2, SID),
        SID2: mgn_launch_template(ec2, SID2, hostname="storefront-web-01"),
    }
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=mgns[SID])
    (default_vpc,) = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"][
        "NetworkInterfaces"
    ]
    mgn.templates(replication_template())
    registered(mgn, mgns, {}, WEB_AS_PLANNED)  # orders-app-01 right-sized, MGN's default
    mgn.expect(
        "update_launch_configuration",
        launch_configuration(ec2LaunchTemplateID=mgns[SID], **ORDERS_AS_PLANNED),
        {"sourceServerID": SID, **ORDERS_AS_PLANNED},
    )
    result = cli("servers", "init", "--yes", outputs=with_mgn_outputs)
    mgn.done()
    assert result.exit_code == 0, result.output

    def network(server: str, template: str) -> list[str]:
        return [
            f"~ launch template {server} ({template}): NetworkInterfaces[0].SubnetId"
            f" {default_vpc['SubnetId']} -> {SUBNET}",
            f"~ launch template {server} ({template}): NetworkInterfaces[0].Groups"
            f' ["{default_vpc["Groups"][0]}"] -> ["{LAUNCH_GROUP}"]',
            f"~ launch template {server} ({template}): NetworkInterfaces[0]"
            ".AssociatePublicIpAddress (unset) -> false",
        ]

    assert result.output.splitlines() == [
        f"~ launch configuration orders-app-01 ({SID}): targetInstanceTypeRightSizingMethod"
        " BASIC -> NONE",
        f"~ launch template orders-app-01 ({mgns[SID]}): InstanceType t3.medium -> m6i.large",
        *network("orders-app-01", mgns[SID]),
        *network("storefront-web-01", mgns[SID2]),
        f"launch configuration orders-app-01 ({SID}): 1 field updated",
        f"launch template orders-app-01 ({mgns[SID]}): InstanceType m6i.large,"
        f" NetworkInterfaces[0] {SUBNET} ({LAUNCH_GROUP}) in version 2 (from 1), now the default",
        f"launch template storefront-web-01 ({mgns[SID2]}): NetworkInterfaces[0] {SUBNET}"
        f" ({LAUNCH_GROUP}) in version 2 (from 1), now the default",
    ]
    assert template_versions(ec2, mgns[SID]) == (2, {1: "t3.medium", 2: "m6i.large"})
    for template in mgns.values():
        versions = ec2.describe_launch_template_versions(
            LaunchTemplateId=template, Versions=["$Default"]
        )
        data = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        assert data["NetworkInterfaces"] == [PLANNED_INTERFACE]
    mgn.templates(replication_template())
    registered(mgn, mgns, ORDERS_AS_PLANNED, WEB_AS_PLANNED)
    again = cli("servers", "init", "--yes", outputs=with_mgn_outputs)
    mgn.done()
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == ["MGN in us-east-1: nothing to change"]
    assert template_versions(ec2, mgns[SID]) == (2, {1: "t3.medium", 2: "m6i.large"})


def test_init_a_planned_subnet_outside_the_stacks_is_one_line_exit_2_nothing_written(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path, tmp_path: Path
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["waves"][0]["servers"][0]["subnet"] = "subnet-0aaaaaaaaaaaaaaaa"
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = cli("servers", "init", "--yes", outputs=with_mgn_outputs, plan=plan)
    mgn.done()  # no MGN call at all
    assert result.exit_code == 2
    assert error_lines(result) == [
        "error: subnet of orders-app-01 (subnet-0aaaaaaaaaaaaaaaa) is not one of the stack's"
        f" private subnets ({SUBNET}, subnet-0fedcba9876543210): launched instances must be"
        " in the project VPC"
    ]


def test_init_with_outputs_of_a_stack_without_the_launch_group_is_exit_2(
    cli: Cli, mgn: StubbedMgn, stack: MotoStack
) -> None:
    older = {k: v for k, v in SERVER_SETTINGS.items() if k != "launchSecurityGroupId"}
    path = stack.outputs_path.with_name("older.json")
    data = {**stack.outputs, "ServerMigrationSettings": json.dumps(older)}
    path.write_text(json.dumps(data), encoding="utf-8")
    result = cli("servers", "init", "--yes", outputs=path)
    mgn.done()  # no MGN call at all
    assert result.exit_code == 2
    assert error_lines(result) == [
        "error: the stack output ServerMigrationSettings has no launchSecurityGroupId (the"
        " launched instances' security group): deploy the current stack, then write the"
        " outputs again"
    ]


def test_init_an_ec2_fault_is_one_line_and_exit_1(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path
) -> None:
    """A launch template MGN names and EC2 does not know (deleted by hand): EC2's error."""
    mgn.templates(replication_template())
    mgn.describe(*both())
    mgn.launch(launch_configuration(ec2LaunchTemplateID="lt-0123456789abcdef0"))
    result = cli("servers", "init", "--yes", outputs=with_mgn_outputs)
    mgn.done()  # the plan stopped there: nothing written
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1, result.output
    assert "lt-0123456789abcdef0" in error_lines(result)[0], result.output


def test_init_an_mgn_fault_is_one_line_and_exit_1(
    cli: Cli, mgn: StubbedMgn, with_mgn_outputs: Path
) -> None:
    mgn.fail(
        "describe_replication_configuration_templates",
        "AccessDeniedException",
        "not authorized: mgn:DescribeReplicationConfigurationTemplates",
    )
    result = cli("servers", "init", "--yes", outputs=with_mgn_outputs)
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1 and "AccessDeniedException" in error_lines(result)[0]
