"""Integration fixtures: the deployed stack that ``cfn-outputs/flat-outputs.json`` describes.

By default the session deploys the synthesized app to moto's server on 127.0.0.1 first
(migration.local) and reads the outputs file that deployment writes. With
``MIGRATION_USE_REAL_AWS=1`` (and AWS_PROFILE or credentials) the same tests run against the
account whose outputs file ``make deploy`` wrote (``$MIGRATION_OUTPUTS`` to use another file).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from migration.outputs import DEFAULT_OUTPUTS_PATH, StackOutputs, load_outputs
from tests.conftest import ROOT

REAL_AWS = os.environ.get("MIGRATION_USE_REAL_AWS") == "1"


@dataclass
class Target:
    """What the tests talk to: outputs, a client factory, and how to run the rollback function."""

    outputs: StackOutputs
    client: Callable[[str], Any]
    local: bool
    region: str
    endpoint_url: str | None = None

    def invoke_rollback(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run the deployed function: in-process locally, ``lambda:Invoke`` in an account."""
        if self.local:
            from migration.local import invoke_rollback_locally

            assert self.endpoint_url is not None
            return invoke_rollback_locally(
                self.outputs, event, endpoint_url=self.endpoint_url, region=self.region
            )
        response = self.client("lambda").invoke(
            FunctionName=self.outputs.rollback_function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise AssertionError(f"rollback function failed: {payload}")
        assert isinstance(payload, dict)
        return payload


def tap_plan() -> Path:
    """The plan the app synthesizes by default (the example)."""
    import tap

    return Path(tap.DEFAULT_PLAN)


def _synthesize(outdir: Path) -> Path:
    import aws_cdk as cdk

    import tap

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = tap.build_app(cdk.App(context=context, outdir=str(outdir)))
    app.synth()
    suffix = context.get("environmentSuffix", "dev")
    return outdir / f"TapStack{suffix}.template.json"


# Package scope: one deployment for every integration test, stopped after the last of them so
# that the emulator's moto configuration (AWS managed IAM policies, re-created on every reset)
# does not slow down the mock_aws tests that run later in the same process.
@pytest.fixture(scope="package")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if REAL_AWS:
        path = Path(os.environ.get("MIGRATION_OUTPUTS", str(ROOT / DEFAULT_OUTPUTS_PATH)))
        session = boto3.Session()
        region = session.region_name or "us-east-1"
        clients: dict[str, Any] = {}

        def real_client(service: str) -> Any:
            return clients.setdefault(service, session.client(service))

        yield Target(load_outputs(path), real_client, local=False, region=region)
        return

    from migration.local import Emulator, deploy_local

    work = tmp_path_factory.mktemp("local-deploy")
    template = _synthesize(work / "cdk.out")
    with Emulator() as emulator:
        outputs_path = work / "cfn-outputs" / "flat-outputs.json"
        deploy_local(
            template,
            endpoint_url=emulator.endpoint_url,
            stack_name=template.name.removesuffix(".template.json"),
            region=emulator.region,
            outputs_path=outputs_path,
        )
        # What an operator does after the deploy: register the plan (record pairs, names).
        from migration.plan import load_plan
        from migration.registration import apply_plan

        apply_plan(
            load_plan(tap_plan()),
            load_outputs(outputs_path),
            emulator.client,
            applied_by="integration-tests",
        )
        yield Target(
            load_outputs(outputs_path),
            emulator.client,
            local=True,
            region=emulator.region,
            endpoint_url=emulator.endpoint_url,
        )


@pytest.fixture
def outputs(target: Target) -> StackOutputs:
    return target.outputs


def _table_keys(target: Target) -> set[tuple[str, str]]:
    dynamodb = target.client("dynamodb")
    keys: set[tuple[str, str]] = set()
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=target.outputs.table_name,
        ProjectionExpression="serverId, #ts",
        ExpressionAttributeNames={"#ts": "timestamp"},
    ):
        keys |= {(i["serverId"]["S"], i["timestamp"]["S"]) for i in page["Items"]}
    return keys


@pytest.fixture
def clean_table(target: Target) -> Iterator[None]:
    """Delete every tracking-table item a test added (the handler's ledger and history too)."""
    before = _table_keys(target)
    yield
    dynamodb = target.client("dynamodb")
    for server, timestamp in _table_keys(target) - before:
        dynamodb.delete_item(
            TableName=target.outputs.table_name,
            Key={"serverId": {"S": server}, "timestamp": {"S": timestamp}},
        )
