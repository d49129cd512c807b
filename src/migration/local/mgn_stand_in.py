"""A local stand-in for AWS Application Migration Service (MGN), which moto does not have.

A real HTTP endpoint on 127.0.0.1 (a free port) speaking MGN's rest-json protocol, so boto3
``mgn`` clients work unchanged: give them ``endpoint_url=stand_in.endpoint_url``, or set
``AWS_ENDPOINT_URL_MGN`` (boto3's service-specific endpoint; it wins over
``AWS_ENDPOINT_URL``, which keeps the other services on the emulator).

It answers only the calls the runtime makes (``migration.servers.mgn``) and those of
``migrate servers init``: see :data:`migration.local.mgn_operations.OPERATIONS`; any other
operation is an ``UnknownOperationException`` naming it. Every answer is checked against
MGN's output shape; errors come in MGN's format (``x-amzn-ErrorType`` header, ``message`` and
``code`` in the body, the model's HTTP status), so botocore raises the ``ClientError`` MGN
would cause. What the stand-in *states* rather than observes (replication, launches,
post-launch results) is described in :mod:`migration.local.mgn_world` and
docs/local-deployment.md ("The local MGN stand-in").

    with MgnStandIn(post_launch_actions=[{"actionName": "validate", ...}]) as mgn:
        sid = mgn.add_server("web-01.corp.example.com", "192.168.10.21", "linux")
        mgn.advance(60)          # the demo's compressed minutes
        client = mgn.client()    # or AWS_ENDPOINT_URL_MGN=mgn.endpoint_url
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

import boto3

from migration.local.emulator import DUMMY_CREDENTIALS
from migration.local.mgn_operations import StandInBug, answer
from migration.local.mgn_shapes import ENDPOINT_VARIABLE, MgnApiError, service_model
from migration.local.mgn_world import START, MgnWorld

__all__ = ["ENDPOINT_VARIABLE", "LABEL", "MgnStandIn"]
LABEL: Final = (
    "MGN: local stand-in (replication progress, launched instances and post-launch results"
    " are stated by the demo, not observed)"
)
"""How the demo labels what comes from the stand-in."""


def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    """(HTTP method, path pattern, operation) of every MGN operation, to name what is asked."""
    routes = []
    model = service_model()
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(path))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        routes.append((http["method"], re.compile(f"^{pattern}$"), name))
    return routes


class MgnStandIn:
    """``with MgnStandIn(...) as mgn:`` serves MGN on 127.0.0.1; ``stop()`` always runs.

    ``post_launch_actions``: the SSM documents every launch runs (MGN ``SsmDocument``s:
    ``actionName``, ``ssmDocumentName``, ``mustSucceedForCutover``, ...), as the launch
    configuration template gives them; ``initialized=False``: an account where
    ``InitializeService`` was never called; ``ec2``: the emulator's boto3 ``ec2`` client, in
    which :meth:`add_server` creates the server's EC2 launch template as MGN does (without
    it the launch configuration's ``ec2LaunchTemplateID`` names nothing). ``calls`` lists
    the operations answered.
    """

    def __init__(
        self,
        *,
        post_launch_actions: Sequence[Mapping[str, Any]] = (),
        region: str = "us-east-1",
        account: str = "123456789012",
        initialized: bool = True,
        start: datetime = START,
        launch_minutes: float = 1.0,
        post_launch_minutes: float = 1.0,
        host: str = "127.0.0.1",
        ec2: Any | None = None,
    ) -> None:
        self.world = MgnWorld(
            post_launch_actions=post_launch_actions,
            region=region,
            account=account,
            initialized=initialized,
            start=start,
            launch_minutes=launch_minutes,
            post_launch_minutes=post_launch_minutes,
            ec2=ec2,
        )
        self.region = region
        self.calls: list[str] = []
        self.endpoint_url = ""
        self._host = host
        self._lock = threading.Lock()
        self._routes = _routes()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the server -----------------------------------------------------------------------

    def start(self) -> MgnStandIn:
        server = ThreadingHTTPServer((self._host, 0), _handler_class(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll at most
            name="mgn-stand-in",
            daemon=True,
        )
        self._thread.start()
        host, port = server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> MgnStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def client(self) -> Any:
        """A boto3 ``mgn`` client of this stand-in (dummy credentials)."""
        session = boto3.Session(region_name=self.region, **DUMMY_CREDENTIALS)
        return session.client("mgn", endpoint_url=self.endpoint_url)

    def environment(self) -> dict[str, str]:
        """The variable that routes every boto3 ``mgn`` client of a process here."""
        return {ENDPOINT_VARIABLE: self.endpoint_url}

    def operation(self, method: str, path: str) -> str:
        """The MGN operation of a request (``METHOD /path`` if MGN has none)."""
        for want, pattern, name in self._routes:
            if want == method and pattern.match(path):
                return name
        return f"{method} {path}"

    def handle(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Answer one call (serialised: one call at a time changes the world)."""
        with self._lock:
            self.calls.append(operation)
            return answer(self.world, operation, request)

    # -- what the demo and tests state (see migration.local.mgn_world) --------------------

    def add_server(self, hostname: str, ip: str, os: str = "linux", **options: Any) -> str:
        """The replication agent was installed on ``hostname``; returns the source server
        id (``s-`` + 17 hex, the same for the same world) and, given an ``ec2`` client,
        creates its EC2 launch template there. ``options``: ``disk_bytes``,
        ``sync_minutes``, ``initiating_minutes``."""
        with self._lock:
            return self.world.add_server(hostname, ip, os, **options)

    def advance(self, minutes: float) -> None:
        """Move the stand-in's clock: replication and launches progress."""
        with self._lock:
            self.world.advance(minutes)

    def stall(self, server: str, error: str = "UNSTABLE_NETWORK", raw: str = "") -> None:
        """Replication of ``server`` (id or hostname) ``STALLED`` with this error."""
        with self._lock:
            self.world.stall(server, error, raw)

    def set_lag(self, server: str, seconds: float) -> None:
        """The replication lag ``server`` reports while continuous."""
        with self._lock:
            self.world.set_lag(server, seconds)

    def fail_post_launch(self, server: str, message: str) -> None:
        """Post-launch actions of ``server`` finishing from now on end ``FAILED``."""
        with self._lock:
            self.world.fail_post_launch(server, message)

    def clear_faults(self, server: str) -> None:
        """Undo the faults of ``server``."""
        with self._lock:
            self.world.clear_faults(server)


def _handler_class(stand_in: MgnStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = urllib.parse.urlsplit(self.path).path
            operation = stand_in.operation(self.command, path)
            try:
                request = json.loads(raw or b"{}")
                if not isinstance(request, dict):
                    raise MgnApiError("ValidationException", "the request body is not an object")
                response = stand_in.handle(operation, request)
            except json.JSONDecodeError as error:
                self._error(MgnApiError("ValidationException", f"invalid JSON body: {error}"))
            except MgnApiError as error:
                self._error(error)
            except StandInBug as error:
                self._error(MgnApiError("InternalServerException", str(error), 500))
            else:
                status = int(service_model().operation_model(operation).http["responseCode"])
                self._send(status, response, {})

        def _error(self, error: MgnApiError) -> None:
            self._send(error.status, error.body(), {"x-amzn-ErrorType": error.code})

        def _send(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
            data = json.dumps(body).encode() if status != 204 else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", f"mgn-stand-in-{len(stand_in.calls)}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: one line per request otherwise."""

    return Handler
