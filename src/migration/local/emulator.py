"""moto's server on 127.0.0.1 (a free port) as a context manager, with client factories."""

from __future__ import annotations

import copy
import json
import urllib.request
from types import TracebackType
from typing import Any

import boto3

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# Lambda functions are stored but never run in a container: the local target runs the handler
# in-process instead (migration.local.invoke).
# IAM: AWS managed policies exist (roles attach them through ManagedPolicyArns).
MOTO_CONFIG: dict[str, Any] = {
    "lambda": {"use_docker": False},
    "iam": {"load_aws_managed_policies": True},
}


class Emulator:
    """``with Emulator() as emu:`` starts moto's ThreadedMotoServer; ``stop()`` always runs."""

    def __init__(self, region: str = "us-east-1", host: str = "127.0.0.1") -> None:
        self.region = region
        self._host = host
        self._server: Any = None
        self._saved_config: Any = {}
        self.endpoint_url = ""

    def start(self) -> Emulator:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        from migration.local import dynamodb_fidelity, route53_fidelity

        # Route 53 DELETE must match the current record set, as in AWS: the cutover
        # controller's conditional moves depend on it (see the module; idempotent).
        route53_fidelity.install()
        # The rollback writes DynamoDB from several threads: requests must be atomic.
        dynamodb_fidelity.install()
        # The server shares this process's moto configuration: restored by stop().
        self._saved_config = copy.deepcopy(default_user_config)
        server = ThreadedMotoServer(ip_address=self._host, port=0, verbose=False)
        server.start()
        self._server = server
        try:
            host, port = server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
            # Backends created earlier in this process (other moto users) were built without
            # this configuration (e.g. no AWS managed IAM policies): start from fresh ones.
            self.reset()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            from moto.core.config import default_user_config

            for key in list(default_user_config):
                del default_user_config[key]  # type: ignore[misc]
            default_user_config.update(self._saved_config)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _post(self, path: str, body: Any = None) -> None:
        if not self.endpoint_url:
            raise RuntimeError("the emulator is not running")
        data = json.dumps(body if body is not None else {}).encode()
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def configure(self) -> None:
        """Apply MOTO_CONFIG: its config API takes only batch/lambda/stepfunctions, so the server
        (in this process) also gets the rest through moto's in-process configuration."""
        from moto.core.config import default_user_config

        self._post("/moto-api/config", MOTO_CONFIG)
        default_user_config.update(copy.deepcopy(MOTO_CONFIG))  # type: ignore[typeddict-item]

    def reset(self) -> None:
        """Forget every resource (delete_stack cannot remove the VPC in moto)."""
        # Configuration first: backends read it when they are re-created by the reset.
        self.configure()
        self._post("/moto-api/reset")

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=self.region, **DUMMY_CREDENTIALS)

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)
