"""The region the commands use: ``--region``, then ``AWS_REGION``, then ``AWS_DEFAULT_REGION``.

boto3 reads ``AWS_DEFAULT_REGION`` and the profile but not ``AWS_REGION``; the AWS CLI (and
Lambda, CloudShell, the other SDKs) honour ``AWS_REGION`` first. No real AWS is contacted:
creating clients makes no call, and the command runs against moto's server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from migration.operations import Boto3Clients, InputError, configured_region
from migration.plan import PLAN_ENV_VAR
from tests.cli.conftest import EXAMPLE, MotoStack

MIGRATE = Path(sys.executable).parent / "migrate"


@pytest.fixture
def no_region(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No region anywhere: neither variable, and no profile file that could name one."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return monkeypatch


def test_aws_region_alone_is_enough(no_region: pytest.MonkeyPatch) -> None:
    no_region.setenv("AWS_REGION", "eu-west-1")
    assert Boto3Clients().region == "eu-west-1"
    assert Boto3Clients().client("dynamodb").meta.region_name == "eu-west-1"


def test_aws_region_wins_over_aws_default_region(no_region: pytest.MonkeyPatch) -> None:
    no_region.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert Boto3Clients().region == "us-west-2"
    no_region.setenv("AWS_REGION", "eu-west-1")
    assert Boto3Clients().region == "eu-west-1"


def test_the_region_option_wins_over_both(no_region: pytest.MonkeyPatch) -> None:
    no_region.setenv("AWS_DEFAULT_REGION", "us-west-2")
    no_region.setenv("AWS_REGION", "eu-west-1")
    assert Boto3Clients("ap-southeast-2").region == "ap-southeast-2"
    assert configured_region("ap-southeast-2") == "ap-southeast-2"


def test_an_empty_aws_region_is_not_a_region(no_region: pytest.MonkeyPatch) -> None:
    no_region.setenv("AWS_REGION", "")
    assert configured_region(None) is None
    with pytest.raises(InputError, match="no AWS region configured"):
        Boto3Clients()
    no_region.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert Boto3Clients().region == "us-west-2"


def test_migrate_history_with_only_aws_region(stack: MotoStack, tmp_path: Path) -> None:
    # The reported case: `AWS_REGION=us-east-1 migrate history x` said no region was configured.
    env = stack.env()
    del env["AWS_DEFAULT_REGION"]
    env["AWS_REGION"] = "us-east-1"
    env[PLAN_ENV_VAR] = str(EXAMPLE)
    result = subprocess.run(
        [str(MIGRATE), "history", "orders-api"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no AWS region" not in result.stderr
    assert result.stdout.startswith("app#orders-api: ")
