"""A controller over the engine fixtures' moto account, on the fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from migration.controller import ACTOR, Controller, TickReport
from migration.events import RollbackCommand
from migration.gates import Gates
from migration.plan import Plan
from migration.servers.lifecycle import ServerLifecycle
from migration.servers.mgn import Mgn
from migration.servers.watch import ServerWatch
from migration.spec import WaveSpec
from migration.tracking import Head, Phase, app_id, wave_id
from migration.traffic import RateLimiter
from migration.waves import WaveControls
from tests.runtime.engine_fixtures import BUILTIN_ALARM_NAMES, REPLICATION_INSTANCE, GateEnv


@dataclass
class Cutover:
    """The controller, the operator controls and helpers to drive and read a wave."""

    env: GateEnv
    limiter: RateLimiter
    mgn_client: Any = None
    """With a (stubbed) ``mgn`` client, a wave with servers gets the servers gate."""

    @property
    def plan(self) -> Plan:
        return self.env.plan

    def gates_for(self, spec: WaveSpec) -> Gates:
        env = self.env
        return Gates(
            spec,
            dms=env.dms,
            cloudwatch=env.cloudwatch,
            ec2=env.ec2,
            alarm_names=BUILTIN_ALARM_NAMES,
            replication_instance_identifier=REPLICATION_INSTANCE,
            clock=env.aws.time.clock,
            servers=self._server_watch(spec),
        )

    def _server_watch(self, spec: WaveSpec) -> ServerWatch | None:
        if self.mgn_client is None or not spec.servers:
            return None
        lifecycle = ServerLifecycle(self.env.aws.tracking(), Mgn(self.mgn_client), actor=ACTOR)
        return ServerWatch(lifecycle, spec.servers, spec.servers_of)

    def controller(self, **kwargs: Any) -> Controller:
        aws = self.env.aws
        return Controller(
            aws.tracking(),
            aws.shifter(before_change=self.limiter),
            kwargs.pop("gates_for", self.gates_for),
            kwargs.pop("rollbacks", None) or aws.service(),
            clock=aws.time.clock,
            **kwargs,
        )

    def controls(self, actor: str = "alice") -> WaveControls:
        return WaveControls(self.env.aws.tracking(), self.env.aws.service(), actor=actor)

    def start(self, wave: str = "wave-1") -> str:
        return self.controls().start(self.plan.wave_spec(wave))

    def tick(self, minutes: float = 1.0, **kwargs: Any) -> TickReport:
        """Advance the fake clock by ``minutes``, then run one tick."""
        self.env.aws.time.sleep(minutes * 60)
        return self.controller(**kwargs).tick()

    def run(self, ticks: int = 30) -> list[TickReport]:
        """Tick once a minute until the wave is no longer running (or ``ticks`` ran)."""
        reports = []
        for _ in range(ticks):
            reports.append(self.tick())
            if self.wave_phase() not in (Phase.WAVE_RUNNING, Phase.WAVE_PAUSED):
                break
        return reports

    def head(self, app: str) -> Head | None:
        return self.env.aws.tracking().current(app_id(app))

    def phase(self, app: str) -> Phase | None:
        head = self.head(app)
        return head.phase if head else None

    def step(self, app: str) -> int:
        head = self.head(app)
        return int(head.state.get("step", 0)) if head else 0

    def wave_phase(self, wave: str = "wave-1") -> Phase | None:
        head = self.env.aws.tracking().current(wave_id(wave))
        return head.phase if head else None

    def split(self, app: str) -> tuple[int, int]:
        weights = self.env.aws.weights()[app]
        return weights["aws"], weights["on-premises"]

    def rolled_back_items(self, app: str) -> int:
        return sum(
            1
            for entry in self.env.aws.tracking().history(app_id(app))
            if entry.event_type == "TRANSITION" and entry.phase is Phase.ROLLED_BACK
        )

    def operator_rollback(self, *apps: str, key: str = "operator-1") -> Any:
        return self.env.aws.service().handle(
            RollbackCommand(applications=apps, reason="operator", idempotency_key=key)
        )

    def bake(self) -> timedelta:
        return timedelta(minutes=self.plan.application("orders").bake_minutes)


def make_cutover(env: GateEnv, rate: float = 5.0) -> Cutover:
    time = env.aws.time
    return Cutover(env, RateLimiter(rate, monotonic=time.monotonic, sleep=time.sleep))
