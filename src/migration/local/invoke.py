"""Run the deployed rollback function's handler in-process against the emulator.

moto stores Lambda functions but (without Docker) runs no code; locally the real handler runs
in this process with the deployed function's environment variables, its AWS clients pointed at
the emulator.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from migration.local.emulator import DUMMY_CREDENTIALS
from migration.outputs import StackOutputs

_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class LocalContext:
    """The parts of the Lambda context object the handler reads."""

    function_name: str
    aws_request_id: str


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def function_environment(function_arn: str, *, endpoint_url: str, region: str) -> dict[str, str]:
    """The deployed function's environment variables (GetFunctionConfiguration)."""
    client = boto3.Session(region_name=region, **DUMMY_CREDENTIALS).client(
        "lambda", endpoint_url=endpoint_url
    )
    configuration = client.get_function_configuration(FunctionName=function_arn)
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def invoke_rollback_locally(
    outputs: StackOutputs,
    event: Any,
    *,
    endpoint_url: str,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """Run ``migration.handlers.rollback.handler`` as the deployed function would, locally."""
    from migration.handlers import rollback

    variables = function_environment(
        outputs.rollback_function_arn, endpoint_url=endpoint_url, region=region
    )
    environment = {
        **variables,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
    }
    context = LocalContext(outputs.rollback_function_arn.rsplit(":", 1)[-1], str(uuid.uuid4()))
    with _environment(environment):
        rollback.reset_clients()
        try:
            return rollback.handler(event, context)
        finally:
            rollback.reset_clients()
