"""The database step function's handler on the real clusters (moto for AWS)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from migration.errors import InvalidEventError
from migration.handlers import database_step
from migration.spec import DatabaseSpec, EndpointSpec, WaveSpec
from migration.tracking import Phase, db_id, wave_id
from tests.database.conftest import SOURCE_ADDRESS, TARGET_ADDRESS, Story, wait_running
from tests.database.test_db_cli import _secrets
from tests.runtime.conftest import TABLE_NAME

SETTINGS = {
    "environmentSuffix": "test",
    "replicationInstanceIdentifier": "instance-test",
    "alarms": {},
}


def _env(story: Story) -> dict[str, str]:
    return {
        "HOSTED_ZONE_ID": story.zone_id.rsplit("/", 1)[-1],
        "TABLE_NAME": TABLE_NAME,
        "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
        "CUTOVER_SETTINGS": json.dumps(SETTINGS),
    }


def _start_wave(story: Story, phase: Phase = Phase.WAVE_RUNNING, freeze: str = "builtin") -> None:
    database = DatabaseSpec(
        name=story.name, cdc_latency_threshold_seconds=30, cutover="before-applications",
        dns_name=story.site.dns_name,
        source=EndpointSpec(SOURCE_ADDRESS, 5432, story.database, f"{story.name}/src"),
        target=EndpointSpec(TARGET_ADDRESS, 5432, story.database, f"{story.name}/tgt"),
        tables=(("public", "%"),), freeze=freeze, drain_timeout_seconds=20,
    )  # fmt: skip
    spec = WaveSpec("wave-1", 5, (), (database,))
    story.tracking.transition(
        wave_id("wave-1"), phase, actor="test", state={"spec": spec.to_json()}
    )


def _run(story: Story, event: Any) -> dict[str, Any]:
    return database_step.run(
        event,
        _env(story),
        client=lambda service: boto3.client(service, region_name="us-east-1"),
        replications=lambda spec, source, target: (story.stand_in.forward, story.stand_in.reverse),
    )


def test_the_step_cuts_the_database_over_from_the_stored_wave(story: Story) -> None:
    _secrets(story)
    _start_wave(story)
    wait_running(story.stand_in.forward)
    event = {"wave": "wave-1", "database": story.name, "run": "cutover"}
    assert _run(story, event) == {"status": "cut_over", "database": story.name, "phase": "CUT_OVER"}
    assert story.writer() == "aws"
    assert story.tracking.history(db_id(story.name))[-1].actor == "database-step"
    again = _run(story, event)  # a duplicate or retried invocation
    assert again["status"] == "refused" and "is already CUT_OVER" in again["reason"]


def test_a_paused_wave_or_a_manual_freeze_is_left_to_the_operator(story: Story) -> None:
    _secrets(story)
    _start_wave(story, Phase.WAVE_PAUSED)
    event = {"wave": "wave-1", "database": story.name, "run": "cutover"}
    assert _run(story, event)["status"] == "skipped"
    _start_wave(story, Phase.WAVE_RUNNING, freeze="manual")
    refused = _run(story, event)
    assert (
        refused["status"] == "refused" and "freeze: manual needs an operator" in refused["reason"]
    )
    assert story.writer() == "on-premises" and story.tracking.current(db_id(story.name)) is None


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "invalid event: event: expected a JSON object"),
        ({"database": "x", "run": "cutover"}, "invalid event: wave: expected a non-empty string"),
        ({"wave": "wave-1", "database": "x", "run": "failback"},
         'invalid event: run: expected "cutover" (failbacks are the operator\'s)'),
        ({"wave": "wave-9", "database": "x", "run": "cutover"},
         "invalid event: wave: wave wave-9 is not tracked (never started)"),
        ({"wave": "wave-1", "database": "nope", "run": "cutover"},
         "invalid event: database: wave wave-1 has no database nope"),
    ],
)  # fmt: skip
def test_a_malformed_event_is_refused_naming_the_field(
    story: Story, event: Any, message: str
) -> None:
    _start_wave(story)
    with pytest.raises(InvalidEventError) as err:
        _run(story, event)
    assert str(err.value) == message
