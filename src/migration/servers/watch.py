"""The servers gate as the cutover controller and ``migrate`` check it: each planned server
looked up in MGN at most once per tick (or command), the pre-test phase MGN shows recorded
on ``server#<id>``, and each application's ``servers`` gate computed from those views.

The controller builds one :class:`ServerWatch` per wave and tick (through its gates): the
first application that reaches its gates makes it read every server of the wave at once
(one listing of MGN's source servers and one ``DescribeJobs``, whatever the number of
servers: no call per server, under MGN's API rate); after the wave's steps,
:meth:`ServerWatch.observe` reads them if no gate did, so that every server's tracked phase
follows MGN each tick, paused wave or not (recording an observed phase is not a step:
nothing is launched, nothing moves).

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
        """The server's view. The first one asked for reads every server of the wave at
        once (one listing of MGN's source servers, one ``DescribeJobs``), recording each
        newer phase MGN shows; the others come from that read."""
        if not self._views:
            for view in self._lifecycle.views(self._servers):
                self._views[view.spec.id] = self._record(view)
        if spec.id not in self._views:  # not one of the wave's servers (a SpecError before)
            self._views[spec.id] = self._record(self._lifecycle.view(spec))
        return self._views[spec.id]

    def _record(self, view: ServerView) -> ServerView:
        try:
            head = self._lifecycle.record_observed(view)
        except (ConcurrentUpdateError, InvalidTransitionError):
            # An operator's run claimed the server meanwhile: its phase is theirs to record.
            head = None
        if head is None:
            return view
        self.recorded.append(f"{view.label}: {head.phase}")
        return replace(view, head=head)

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
        """Read the wave's servers if no gate did in this tick (recording what MGN shows);
        the notes: phases recorded, or why the servers could not be read."""
        problems: list[str] = []
        mgn_servers = [spec for spec in self._servers if spec.is_mgn]
        if mgn_servers and not self._views:
            try:
                self.view(mgn_servers[0])
            except READ_ERRORS as exc:
                ids = ", ".join(spec.id for spec in mgn_servers)
                problems.append(f"servers {ids}: not read: {_error_text(exc)}")
        return [*self.recorded, *problems]
