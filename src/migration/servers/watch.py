"""The servers gate as the cutover controller and ``migrate`` check it: each planned server
looked up in MGN at most once per tick (or command), the pre-test phase MGN shows recorded
on ``server#<id>``, and each application's ``servers`` gate computed from those views.

The controller builds one :class:`ServerWatch` per wave and tick (through its gates): the
gate of an application reads only its own servers, when the application reaches its gates;
after the wave's steps, :meth:`ServerWatch.observe` looks at the wave's remaining servers so
that every server's tracked phase follows MGN each tick, paused wave or not (recording an
observed phase is not a step: nothing is launched, nothing moves).

A failure to read MGN never fails the tick or rolls anything back: the application's gate
says "not yet" (``wait``) with the error, and ``observe`` returns it as a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from migration.errors import ConcurrentUpdateError, InvalidTransitionError, MigrationError
from migration.gates import SERVERS_GATE, GateResult
from migration.servers.gates import ServerView, application_gate
from migration.servers.lifecycle import ServerLifecycle
from migration.servers.spec import ServerSpec

READ_ERRORS = (MigrationError, ClientError, BotoCoreError)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, BotoCoreError) else str(exc)


class ServerWatch:
    """The servers of one wave (or plan) as MGN and the tracking store show them."""

    def __init__(
        self,
        lifecycle: ServerLifecycle,
        servers: Sequence[ServerSpec],
        servers_of: Callable[[Any], Sequence[ServerSpec]],
    ) -> None:
        self._lifecycle = lifecycle
        self._servers = tuple(servers)
        self._servers_of = servers_of
        self._views: dict[str, ServerView] = {}
        self.recorded: list[str] = []
        """``server <id>: <phase>`` for each observed phase recorded by this watch."""

    def view(self, spec: ServerSpec) -> ServerView:
        """The server's view, read once; a newer phase MGN shows is recorded on the way."""
        if spec.id in self._views:
            return self._views[spec.id]
        view = self._lifecycle.view(spec)
        try:
            head = self._lifecycle.record_observed(view)
        except (ConcurrentUpdateError, InvalidTransitionError):
            # An operator's run claimed the server meanwhile: its phase is theirs to record.
            head = None
        if head is not None:
            view = replace(view, head=head)
            self.recorded.append(f"{view.label}: {head.phase}")
        self._views[spec.id] = view
        return view

    def gate(self, app: Any) -> GateResult:
        """The application's ``servers`` gate (see ``migration.servers.gates``)."""
        try:
            views = [self.view(spec) for spec in self._servers_of(app)]
        except READ_ERRORS as exc:
            return GateResult(
                SERVERS_GATE,
                False,
                f"{app.name}: its servers could not be read: {_error_text(exc)}",
                True,
            )
        return application_gate(app.name, views)

    def observe(self) -> list[str]:
        """Look at every MGN server not viewed yet (recording what MGN shows); the notes:
        phases recorded and servers that could not be read."""
        problems: list[str] = []
        for spec in self._servers:
            if not spec.is_mgn or spec.id in self._views:
                continue
            try:
                self.view(spec)
            except READ_ERRORS as exc:
                problems.append(f"server {spec.id}: not read: {_error_text(exc)}")
        return [*self.recorded, *problems]
