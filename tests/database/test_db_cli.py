"""``migrate db`` on the real clusters: credentials from Secrets Manager (moto), the name in
Route 53 (moto), the tracking table (moto), the replication stand-in behind the CLI's seam."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from migration import operations
from migration.cli import create_app
from migration.local.postgres_clusters import ADMIN
from migration.tracking import Phase, app_id, db_id, wave_id
from tests.database.conftest import SOURCE_ADDRESS, TARGET_ADDRESS, Story, wait_running
from tests.runtime.conftest import TABLE_NAME

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "migration-plan.yaml"


class _Clients:
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1")


def _plan(story: Story, tmp_path: Path, **database: Any) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    wave = data["waves"][0]
    db = wave["databases"][0]
    for app in wave["applications"]:
        app["databases"] = [story.name]
    db.update(
        name=story.name,
        dns_name=story.site.dns_name,
        tables=[{"schema": "public", "table": "%"}],
        drain_timeout_seconds=20,
        **{"cutover": "manual", **database},
    )
    db["source"].update(host=SOURCE_ADDRESS, database=story.database, secret=f"{story.name}/src")
    db["target"].update(host=TARGET_ADDRESS, database=story.database, secret=f"{story.name}/tgt")
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _secrets(story: Story, *, source_password: str | None = None) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    for suffix, cluster, password in (
        ("src", story.onprem, source_password or story.onprem.admin_password),
        ("tgt", story.aws, story.aws.admin_password),
    ):
        # The plan's host is what the name resolves to; the secret says how to connect.
        secrets.create_secret(
            Name=f"{story.name}/{suffix}",
            SecretString=json.dumps(
                {"username": ADMIN, "password": password, "host": "127.0.0.1", "port": cluster.port}
            ),
        )


def _outputs(story: Story, tmp_path: Path) -> Path:
    settings = {
        "environmentSuffix": "test",
        "replicationInstanceIdentifier": "instance-test",
        "alarms": {},
    }
    values = {
        "VpcId": "vpc-1", "DmsReplicationInstanceArn": "arn:aws:dms:us-east-1:1:rep:x",
        "CloudEndureRoleArn": "arn:aws:iam::1:role/x", "VpnConnectionId": "vpn-1",
        "PrivateHostedZoneId": story.zone_id.rsplit("/", 1)[-1],
        "MigrationTrackingTableName": TABLE_NAME, "SnsTopicArn": "arn:aws:sns:us-east-1:1:t",
        "SsmDocumentName": "doc", "RollbackLambdaArn": "arn:aws:lambda:us-east-1:1:function:f",
        "DashboardName": "d", "CutoverSettings": json.dumps(settings),
    }  # fmt: skip
    path = tmp_path / "flat-outputs.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


@pytest.fixture
def migrate(story: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    plan, outputs = _plan(story, tmp_path), _outputs(story, tmp_path)
    monkeypatch.setattr(operations, "make_clients", lambda region: _Clients())
    monkeypatch.setattr(
        operations,
        "make_replications",
        lambda runtime, db, source, target: (story.stand_in.forward, story.stand_in.reverse),
    )
    monkeypatch.setattr("migration.cli.cutover_cmd.stdin_is_interactive", lambda: False)

    def run(*args: str) -> Any:
        extra = ["--plan", str(plan), "--outputs", str(outputs)]
        return CliRunner().invoke(create_app(plain=True), [*args, *extra])

    return run


def test_db_cutover_status_and_failback(story: Story, migrate: Any) -> None:
    _secrets(story)
    wait_running(story.stand_in.forward)
    result = migrate("db", "cutover", story.name, "--yes", "--by", "tester")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Cutover of {story.name} ({story.site.dns_name}):"
    assert any("writes frozen on on-premises" in line for line in lines)
    assert any(f"drained: migration_{story.name.replace('-', '_')}_forward" in x for x in lines)
    assert lines[-1] == f"{story.name}: CUT_OVER; the AWS database is the writer"
    status = migrate("db", "status", story.name)
    assert status.exit_code == 0, status.output
    row = status.output.splitlines()[2].split()
    assert row[:3] == [story.name, "CUT_OVER", "AWS"]
    again = migrate("db", "cutover", story.name, "--yes")
    assert again.exit_code == 2
    assert again.output == (
        f"error: database {story.name}: is already CUT_OVER: the AWS database is the writer\n"
    )
    wait_running(story.stand_in.reverse)
    back = migrate("db", "failback", story.name, "--yes")
    assert back.exit_code == 0, back.output
    assert "applications with traffic on AWS follow the name" in back.output
    head = story.tracking.current(db_id(story.name))
    assert head is not None and head.phase is Phase.FAILED_BACK
    assert story.tracking.history(db_id(story.name))[0].actor == "tester"


def test_db_bad_requests_exit_2_and_change_nothing(story: Story, migrate: Any) -> None:
    _secrets(story)
    unknown = migrate("db", "cutover", "nope", "--yes")
    assert unknown.exit_code == 2
    assert unknown.output.startswith("error: unknown database 'nope': the plan ")
    assert unknown.output.rstrip().endswith(f"has {story.name}, inventory-db")
    never = migrate("db", "failback", story.name, "--yes")
    assert (never.exit_code, never.output) == (
        2,
        f"error: database {story.name}: is not tracked yet; a failback needs CUT_OVER;"
        " it was never cut over\n",
    )
    unconfirmed = migrate("db", "cutover", story.name)
    assert unconfirmed.exit_code == 2
    assert "pass --yes to confirm the cutover" in unconfirmed.output
    mysql = migrate("db", "cutover", "inventory-db", "--yes")
    assert (
        mysql.exit_code == 2
        and "engine mysql: the database cutover supports postgres" in mysql.output
    )
    assert story.tracking.current(db_id(story.name)) is None
    assert not story.stand_in.source.is_frozen()


def test_db_wrong_secret_is_one_line_without_the_password(story: Story, migrate: Any) -> None:
    _secrets(story, source_password="wrong-password-7c1e")
    wait_running(story.stand_in.forward)
    result = migrate("db", "cutover", story.name, "--yes")
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "password authentication failed" in error[0]
    assert "wrong-password-7c1e" not in result.output
    assert not story.stand_in.source.is_frozen()


def test_db_cutover_follows_the_plan_order_and_the_wave_controls(
    story: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _secrets(story)
    outputs = _outputs(story, tmp_path)
    plan = _plan(story, tmp_path, cutover="after-applications")
    monkeypatch.setattr(operations, "make_clients", lambda region: _Clients())
    monkeypatch.setattr(
        operations,
        "make_replications",
        lambda runtime, db, source, target: (story.stand_in.forward, story.stand_in.reverse),
    )

    def migrate(*args: str) -> Any:
        extra = ["--plan", str(plan), "--outputs", str(outputs)]
        return CliRunner().invoke(create_app(plain=True), [*args, *extra])

    early = migrate("db", "cutover", story.name, "--yes")
    assert (early.exit_code, early.output) == (
        2,
        f"error: database {story.name}: the plan cuts {story.name} over after its"
        " applications; not complete yet: orders-api (not started), storefront (not started)\n",
    )
    for app in ("orders-api", "storefront"):
        story.tracking.transition(app_id(app), Phase.CUTOVER_COMPLETE, actor="test")
    story.tracking.transition(wave_id("wave-1"), Phase.WAVE_PAUSED, actor="test")
    paused = migrate("db", "cutover", story.name, "--yes")
    assert (paused.exit_code, paused.output) == (
        2,
        f"error: database {story.name}: wave wave-1 is paused: migrate resume wave-1 first\n",
    )
    story.tracking.transition(wave_id("wave-1"), Phase.WAVE_COMPLETE, actor="test")
    wait_running(story.stand_in.forward)
    done = migrate("db", "cutover", story.name, "--yes")
    assert done.exit_code == 0, done.output
    assert story.writer() == "aws"
