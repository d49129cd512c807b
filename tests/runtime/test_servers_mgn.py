"""The MGN wrapper against a Stubber fed with responses validated by MGN's service model."""

from __future__ import annotations

import pytest

from migration.servers.mgn import LaunchJob, Mgn, MgnError, SourceServer, duration_seconds
from tests.runtime.mgn_fixtures import (
    CUTOVER_JOB,
    INSTANCE,
    SID,
    SID2,
    TEST_JOB,
    job,
    source_server,
    stubbed_mgn,
    validated,
)


def test_a_misspelt_field_fails_the_model_validation() -> None:
    item = source_server()
    item["dataReplicationInfo"]["lag"] = "PT5S"  # MGN calls it lagDuration
    with pytest.raises(AssertionError, match="Unknown parameter"):
        validated("DescribeSourceServers", {"items": [item]})
    with pytest.raises(AssertionError, match="Invalid value"):
        validated("DescribeSourceServers", {"items": [source_server(life="TESTED")]})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT5S", 5.0), ("PT1M30S", 90.0), ("P0D", 0.0), ("PT0.5S", 0.5), ("P1DT1H", 90_000.0)],
)
def test_lag_durations_are_read_as_seconds(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", [None, "", "P", "PT", "P1Y", "5 seconds"])
def test_unusable_durations_are_none(text: str | None) -> None:
    assert duration_seconds(text) is None


def test_a_source_server_is_read_with_its_progress_lag_and_jobs() -> None:
    server = SourceServer.from_api(
        source_server(life="NOT_READY", state="INITIAL_SYNC", lag=None, replicated=25, total=100)
    )
    assert (server.life_cycle, server.replication_state, server.lag_seconds) == (
        "NOT_READY",
        "INITIAL_SYNC",
        None,
    )
    assert server.progress == 0.25
    tested = SourceServer.from_api(source_server(life="TESTING", test_job=TEST_JOB))
    assert (tested.last_test_job, tested.lag_seconds, tested.os) == (TEST_JOB, 5.0, "Ubuntu 22.04")
    finalized = SourceServer.from_api(
        source_server(life="CUTOVER", cutover_job=CUTOVER_JOB, finalized=True)
    )
    assert finalized.cutover_finalized and finalized.last_cutover_job == CUTOVER_JOB


def test_find_matches_the_plan_hostname_on_mgns_hints() -> None:
    with stubbed_mgn() as stub:
        stub.describe(source_server(SID2, "other.corp.example.com"), source_server())
        found = Mgn(stub.client).find("orders-app-01.corp.example.com")
        stub.done()
    assert found is not None and found.source_server_id == SID
    assert SourceServer.from_api(source_server()).matches("ORDERS-APP-01")
    assert not SourceServer.from_api(source_server()).matches("orders-app-02.corp.example.com")


def test_two_source_servers_for_one_host_is_an_error_naming_both() -> None:
    with stubbed_mgn() as stub:
        stub.describe(source_server(SID), source_server(SID2))
        with pytest.raises(MgnError, match=f"{SID}, {SID2}"):
            Mgn(stub.client).find("orders-app-01.corp.example.com")


def test_the_lifecycle_calls_send_mgns_parameters() -> None:
    with stubbed_mgn() as stub:
        service = Mgn(stub.client)
        stub.describe(source_server(), ids=[SID])
        assert service.source_server(SID) is not None
        stub.start("start_test", TEST_JOB)
        assert service.start_test([SID]) == TEST_JOB
        stub.life_cycle("READY_FOR_CUTOVER", source_server(life="READY_FOR_CUTOVER"))
        assert service.change_life_cycle_state(SID, "READY_FOR_CUTOVER").life_cycle == (
            "READY_FOR_CUTOVER"
        )
        stub.start("start_cutover", CUTOVER_JOB)
        assert service.start_cutover([SID]) == CUTOVER_JOB
        stub.finalize(source_server(life="CUTOVER", state="DISCONNECTED", lag=None))
        assert service.finalize_cutover(SID).life_cycle == "CUTOVER"
        stub.expect("initialize_service", {}, {})
        service.initialize_service()
        stub.expect(
            "get_launch_configuration",
            {
                "sourceServerID": SID,
                "targetInstanceTypeRightSizingMethod": "BASIC",
                "licensing": {"osByol": True},
                "bootMode": "USE_SOURCE",
            },
            {"sourceServerID": SID},
        )
        assert service.launch_configuration(SID)["licensing"] == {"osByol": True}
        stub.expect(
            "describe_replication_configuration_templates",
            {"items": [{"replicationConfigurationTemplateID": "rct-0123456789abcdef0"}]},
            {},
        )
        assert len(service.replication_templates()) == 1
        stub.done()


def test_a_launch_job_is_read_for_one_server_with_its_post_launch_actions() -> None:
    failing = job(actions=(("validate", "FAILED", True, "port 443 closed"),))
    with stubbed_mgn() as stub:
        stub.jobs(failing, job_id=TEST_JOB)
        found = Mgn(stub.client).launch_job(TEST_JOB, SID)
        stub.done()
    assert found == LaunchJob(
        job_id=TEST_JOB,
        initiated_by="START_TEST",
        status="COMPLETED",
        launch_status="LAUNCHED",
        instance_id=INSTANCE,
        actions=found.actions if found else (),
    )
    assert found is not None
    assert [(a.name, a.status, a.must_succeed, a.reason) for a in found.actions] == [
        ("validate", "FAILED", True, "port 443 closed")
    ]
    with stubbed_mgn() as stub:
        stub.jobs(job_id=TEST_JOB)
        assert Mgn(stub.client).launch_job(TEST_JOB, SID) is None
    assert Mgn(object()).launch_job("", SID) is None
