"""The demo's server scene: the wave's servers move with MGN next to their applications' traffic.

The local MGN stand-in (:mod:`migration.local.mgn_stand_in`, labelled on screen) plays AWS
Application Migration Service; everything else is the production code: ``migrate servers
agent-command`` (temporary credentials from the deployed role, through STS), ``servers
init``, ``status``, ``test``, ``cutover``, ``finalize``, the phases in the tracking table and
the deployed controller's ``servers`` gate. The story:

1. (cutover night) agents installed, ``servers init``, initial sync shown twice, a test
   launch validated by the deployed validation document;
2. (the watched cutover) the controller holds each application at its first step, naming its
   servers; once it did, the operator launches the servers for cutover (``servers cutover``)
   and, their validation done, the controller moves the traffic;
3. (after the rollback of the first attempt) the servers stay launched, and ``servers
   finalize`` is refused: an application using them did not complete;
4. (after the second attempt) ``servers finalize`` ends replication.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from migration.local.mgn_stand_in import LABEL, MgnStandIn
from migration.outputs import StackOutputs
from migration.plan import Plan, Wave
from migration.servers.spec import ServerSpec
from migration.tracking import Phase, TrackingStore, app_id, server_id

Say = Callable[[str], None]
Migrate = Callable[[Sequence[str]], int]
SERVERS_WAIT = "waits for its servers"
INITIAL_SYNC_MINUTES = 30
"""Simulated minutes the stand-in's initial sync of each server takes."""


def post_launch_actions(template: Mapping[str, Any], outputs: StackOutputs) -> list[dict[str, Any]]:
    """The post-launch SSM actions of the deployed ``AWS::MGN::LaunchConfigurationTemplate``,
    in MGN's API shape (the validation document by the name it was deployed under)."""
    actions = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::MGN::LaunchConfigurationTemplate":
            continue
        post = resource.get("Properties", {}).get("PostLaunchActions", {})
        for document in post.get("SsmDocuments", []):
            name = document["SsmDocumentName"]
            actions.append(
                {
                    "actionName": document["ActionName"],
                    "ssmDocumentName": name
                    if isinstance(name, str)
                    else outputs["SsmDocumentName"],
                    "mustSucceedForCutover": bool(document.get("MustSucceedForCutover", True)),
                }
            )
    return actions


@dataclass
class ServerScene:
    """The MGN servers of the demo's wave and what the story did with them."""

    plan: Plan
    wave: Wave
    stand_in: MgnStandIn
    tracking: TrackingStore
    common: list[str]
    migrate: Migrate
    say: Say
    codes: dict[str, int] = field(default_factory=dict)
    launched_during_wait: bool = False

    @property
    def servers(self) -> tuple[ServerSpec, ...]:
        return tuple(s for s in self.plan.wave_spec(self.wave.name).servers if s.is_mgn)

    def _servers(self, *args: str) -> int:
        return self.migrate(["servers", *args, *self.common])

    # -- 1. cutover night: replication and a validated test -------------------------------

    def start(self) -> None:
        say, wave = self.say, self.wave.name
        say(f"   {LABEL}")
        first = self.servers[0]
        self.codes["agent"] = self._servers("agent-command", first.id)
        for spec in self.servers:
            sid = self.stand_in.add_server(spec.hostname, spec.ip, spec.os)
            say(f"   agent installed on {spec.hostname}: MGN source server {sid} (stand-in)")
        self.codes["init"] = self._servers("init", "--yes")
        self.stand_in.advance(INITIAL_SYNC_MINUTES / 2)
        say(f"   ({INITIAL_SYNC_MINUTES // 2} simulated minutes of initial sync)")
        self._servers("status", "--wave", wave)
        self.stand_in.advance(INITIAL_SYNC_MINUTES)
        say("   (initial sync done: continuous replication)")
        self.codes["test"] = self._servers("test", "--wave", wave, "--yes")
        self.stand_in.advance(2)
        say("   (2 simulated minutes: test instances launched, post-launch validation ran)")
        self._servers("status", "--wave", wave)

    # -- 2. the watched cutover: each compressed minute -----------------------------------

    def minute(self) -> None:
        """MGN's clock moves on; the first time the controller held an application for its
        servers, the operator launches them for cutover."""
        self.stand_in.advance(1)
        if self.launched_during_wait or not self._held_for_servers():
            return
        self.launched_during_wait = True
        self.say("   !! the controller holds the applications for their servers: the operator")
        self.say("      launches them for cutover")
        self.codes["cutover"] = self._servers("cutover", "--wave", self.wave.name, "--yes")

    def _held_for_servers(self) -> bool:
        for app in self.wave.applications:
            head = self.tracking.current(app_id(app.name))
            if head is not None and SERVERS_WAIT in str(head.state.get("waiting", "")):
                return True
        return False

    # -- 3 and 4. after each attempt ------------------------------------------------------

    def after_rollback(self) -> None:
        self.say("   a rollback moves traffic, not servers: they stay launched and replicating")
        self._servers("status", "--wave", self.wave.name)
        self.codes["early_finalize"] = self._servers("finalize", "--wave", self.wave.name, "--yes")

    def finalize(self) -> None:
        self.codes["finalize"] = self._servers("finalize", "--wave", self.wave.name, "--yes")
        self._servers("status", "--wave", self.wave.name)

    # -- the check --------------------------------------------------------------------------

    def check(self) -> list[str]:
        """What the scene promises; the problems (empty: it all held)."""
        problems = [
            f"migrate servers {name} exited {self.codes.get(name)}, expected {want}"
            for name, want in (
                ("agent", 0),
                ("init", 0),
                ("test", 0),
                ("cutover", 0),
                ("early_finalize", 2),
                ("finalize", 0),
            )
            if self.codes.get(name) != want
        ]
        if not self.launched_during_wait:
            problems.append("the controller never held an application for its servers")
        for spec in self.servers:
            head = self.tracking.current(server_id(spec.id))
            if head is None or head.phase is not Phase.CUT_OVER:
                problems.append(
                    f"server {spec.id}: {head.phase if head else None}, expected CUT_OVER"
                )
        for operation in ("StartTest", "StartCutover", "FinalizeCutover"):
            count = self.stand_in.calls.count(operation)
            if count != len(self.servers):
                problems.append(f"{count} {operation} calls for {len(self.servers)} servers")
        return problems
