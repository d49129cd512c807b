"""Run the deployed functions' handlers in-process against the emulator.

moto stores Lambda functions but (without Docker) runs no code; locally the real handler runs
in this process with the deployed function's environment variables, its AWS clients pointed at
the emulator: the rollback function on an event, the cutover controller for one tick.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from migration.local.emulator import DUMMY_CREDENTIALS
from migration.local.mgn_shapes import ENDPOINT_VARIABLE as MGN_ENDPOINT_VARIABLE
from migration.outputs import StackOutputs
from migration.tracking import utc_now

CONTROLLER_HANDLER = "migration.handlers.controller.handler"
# Optional output (stacks deployed before the controller existed do not have it).
CONTROLLER_OUTPUT = "CutoverControllerArn"

_ENV_LOCK = threading.RLock()  # re-entered: a controller tick runs the database step here


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


class LocalInvokeError(Exception):
    """The function to run locally cannot be found (the message says what was looked for)."""


def _lambda_client(endpoint_url: str, region: str) -> Any:
    return boto3.Session(region_name=region, **DUMMY_CREDENTIALS).client(
        "lambda", endpoint_url=endpoint_url
    )


def function_environment(function_arn: str, *, endpoint_url: str, region: str) -> dict[str, str]:
    """The deployed function's environment variables (GetFunctionConfiguration)."""
    configuration = _lambda_client(endpoint_url, region).get_function_configuration(
        FunctionName=function_arn
    )
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def controller_function_arn(outputs: StackOutputs, *, endpoint_url: str, region: str) -> str:
    """The cutover controller function: the ``CutoverControllerArn`` output, else the one
    function whose handler is ``migration.handlers.controller.handler``."""
    arn = outputs.values.get(CONTROLLER_OUTPUT)
    if arn:
        return arn
    found = [
        function["FunctionArn"]
        for page in _lambda_client(endpoint_url, region).get_paginator("list_functions").paginate()
        for function in page["Functions"]
        if function.get("Handler") == CONTROLLER_HANDLER
    ]
    if len(found) != 1:
        raise LocalInvokeError(
            f"{outputs.source} has no {CONTROLLER_OUTPUT} output and {len(found)} deployed "
            f"functions have the handler {CONTROLLER_HANDLER} (expected exactly one)"
        )
    return found[0]


def _emulator_environment(
    variables: Mapping[str, str], endpoint_url: str, region: str
) -> dict[str, str]:
    return {
        **variables,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
    }


def _with_mgn(
    factory: Callable[[str], Any], mgn_endpoint_url: str, region: str
) -> Callable[[str], Any]:
    """``factory`` with its ``mgn`` clients going to the local MGN stand-in."""
    session = boto3.Session(region_name=region, **DUMMY_CREDENTIALS)

    def client(service: str) -> Any:
        if service == "mgn":
            return session.client("mgn", endpoint_url=mgn_endpoint_url)
        return factory(service)

    return client


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
    environment = _emulator_environment(variables, endpoint_url, region)
    context = LocalContext(outputs.rollback_function_arn.rsplit(":", 1)[-1], str(uuid.uuid4()))
    with _environment(environment):
        rollback.reset_clients()
        try:
            return rollback.handler(event, context)
        finally:
            rollback.reset_clients()


def invoke_controller_locally(
    outputs: StackOutputs,
    *,
    endpoint_url: str,
    region: str = "us-east-1",
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    client: Callable[[str], Any] | None = None,
    mgn_endpoint_url: str | None = None,
) -> dict[str, Any]:
    """One tick of the deployed cutover controller, as its scheduled invocation would run it.

    Runs ``migration.handlers.controller.run`` with the deployed function's own environment
    (GetFunctionConfiguration) plus the emulator's endpoint and credentials, exactly as
    :func:`invoke_rollback_locally` does, and the given clocks (the demo compresses time).
    ``client`` replaces the handler's boto3 client factory for the gates and Route 53 (e.g.
    to wrap ``dms``/``ec2`` with :mod:`migration.local.signals`, for the two signals moto
    cannot emulate); its rollbacks always use the handler's own clients.
    ``mgn_endpoint_url`` (the local MGN stand-in's, :mod:`migration.local.mgn_stand_in`)
    routes the handler's ``mgn`` clients there: ``AWS_ENDPOINT_URL_MGN`` in its environment,
    and ``client("mgn")`` of a given factory. Returns the tick's summary; a tick with errors
    raises ``ControllerTickError`` as the function would.
    """
    from migration.handlers import controller, rollback

    arn = controller_function_arn(outputs, endpoint_url=endpoint_url, region=region)
    variables = function_environment(arn, endpoint_url=endpoint_url, region=region)
    environment = _emulator_environment(variables, endpoint_url, region)
    if mgn_endpoint_url:
        environment[MGN_ENDPOINT_VARIABLE] = mgn_endpoint_url
        if client is not None:
            client = _with_mgn(client, mgn_endpoint_url, region)
    options: dict[str, Any] = {"clock": clock, "monotonic": monotonic, "sleep": sleep}
    if client is not None:
        options["client"] = client
    with _environment(environment):
        rollback.reset_clients()
        try:
            return controller.run(environment, **options)
        finally:
            rollback.reset_clients()


DATABASE_STEP_OUTPUT = "DatabaseStepFunctionArn"


def invoke_database_step_locally(
    outputs: StackOutputs,
    event: Any,
    *,
    endpoint_url: str,
    region: str = "us-east-1",
    replications: Any = None,
) -> dict[str, Any]:
    """Run ``migration.handlers.database_step.run`` as the deployed step function would,
    locally, with its own environment; ``replications`` replaces the two DMS tasks (which
    cannot run offline) with the local stand-in."""
    from migration.handlers import database_step

    arn = outputs.values.get(DATABASE_STEP_OUTPUT)
    if not arn:
        raise LocalInvokeError(f"{outputs.source} has no {DATABASE_STEP_OUTPUT} output")
    variables = function_environment(arn, endpoint_url=endpoint_url, region=region)
    environment = _emulator_environment(variables, endpoint_url, region)
    session = boto3.Session(region_name=region, **DUMMY_CREDENTIALS)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)

    with _environment(environment):
        return database_step.run(event, environment, client=client, replications=replications)


class LocalLambda:
    """A Lambda client whose invocations of the database step function run its handler here
    (moto stores functions but runs no code without Docker); other calls go to ``inner``."""

    def __init__(
        self, inner: Any, step_function: str, run_step: Callable[[Any], dict[str, Any]]
    ) -> None:
        self._inner = inner
        self._names = {step_function, step_function.rsplit(":", 1)[-1]}
        self._run_step = run_step
        self.results: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("FunctionName") not in self._names:
            return dict(self._inner.invoke(**kwargs))
        import json

        self.results.append(self._run_step(json.loads(kwargs.get("Payload") or b"{}")))
        return {"StatusCode": 202}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
