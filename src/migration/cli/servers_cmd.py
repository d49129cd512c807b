"""``migrate servers``: the planned servers moved by AWS Application Migration Service (MGN).

``status`` shows each server's tracked phase, what MGN says (lifecycle, replication state,
lag, initial-sync progress) and what its next step waits for; ``test``, ``cutover``,
``finalize`` and ``revert`` drive MGN's lifecycle for one server or a wave, each behind its
gates (refused: one ``error:`` line, exit 2, nothing changed; AWS faults exit 1); a paused or
aborted wave refuses them for its servers; ``agent-command`` prints the replication agent's
installer command with short-lived credentials; ``init`` sets up what MGN offers only
through its API (service, replication template, launch settings, the instance type in
MGN's EC2 launch templates), showing the diff first.
Design: docs/server-migration.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError

from migration.errors import OutputsError
from migration.gates import GateResult
from migration.operations import Runtime
from migration.servers import agent
from migration.servers.gates import ServerView
from migration.servers.lifecycle import Decision, Run, ServerLifecycle, ServerRequestError
from migration.servers.mgn import Mgn
from migration.servers.replication import ReplicationSpec
from migration.servers.setup import MgnSetup, launch_network_problem
from migration.servers.spec import ServerSpec
from migration.tracking import Phase, server_id, wave_id

from . import common, cutover_cmd, output, wave_cmd

app = typer.Typer(
    help=(
        "Servers moved by AWS Application Migration Service: init, status, test, cutover, finalize,"
        " revert."
    ),
    no_args_is_help=True,
)

ServerArgument = Annotated[
    str | None, typer.Argument(metavar="[SERVER]", help="One server of the plan (its id).")
]
WaveOption = Annotated[
    str | None, typer.Option("--wave", metavar="WAVE", help="Every MGN server of this wave.")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

_ACTIONS = {
    Run.TEST: "launch a test instance (MGN StartTest)",
    Run.CUTOVER: "mark ready for cutover if tested, launch the cutover instance (StartCutover)",
    Run.FINALIZE: "finalize the cutover: MGN stops replicating it for good (FinalizeCutover)",
    Run.REVERT: (
        "revert the launch: back to READY_FOR_TEST after a test, READY_FOR_CUTOVER after a"
        " cutover launch (replication goes on; launched instances stay until terminated)"
    ),
}


def _server_or_fail(runtime: Runtime, name: str) -> ServerSpec:
    try:
        return runtime.plan.server_spec(name)
    except KeyError:
        known = ", ".join(s.id for s in runtime.plan.servers) or "none"
        common.fail(f"unknown server {name!r}: the plan {runtime.plan_path} has {known}")


def _targets(runtime: Runtime, server: str | None, wave: str | None) -> list[ServerSpec]:
    """One server, or the MGN servers of a wave; bad input exits 2."""
    if server and wave:
        common.fail("give a SERVER or --wave WAVE, not both")
    if server:
        return [_server_or_fail(runtime, server)]
    if wave:
        chosen = common.wave_or_fail(runtime, wave)
        specs = [runtime.plan.server_spec(s.id) for s in chosen.servers]
        mgn_specs = [s for s in specs if s.is_mgn]
        if not mgn_specs:
            common.fail(f"wave {wave} has no server replicated by mgn")
        return mgn_specs
    common.fail("give a SERVER or --wave WAVE")


def _lifecycle(runtime: Runtime, by: str | None = None) -> ServerLifecycle:
    return ServerLifecycle(
        runtime.tracking(),
        Mgn(runtime.clients.client("mgn")),
        actor=wave_cmd.actor(by),
        progress=output.info,
    )


def _users(runtime: Runtime, spec: ServerSpec) -> list[str]:
    return [a.name for a in runtime.plan.applications_using(spec.id)]


def _waves(runtime: Runtime, spec: ServerSpec) -> dict[str, Phase | None]:
    """The tracked phase of the server's wave and of its applications' waves (a paused or
    aborted one stops the server's runs)."""
    plan, tracking = runtime.plan, runtime.tracking()
    names = {plan.wave_of(spec.id).name, *(plan.wave_of(a).name for a in _users(runtime, spec))}
    heads = {name: tracking.current(wave_id(name)) for name in sorted(names)}
    return {name: head.phase if head else None for name, head in heads.items()}


@app.command("status")
def status(
    server: ServerArgument = None,
    wave: WaveOption = None,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Each planned server: tracked phase, MGN lifecycle and replication, lag, initial-sync
    progress, and what its next step waits for."""
    runtime = common.open_or_fail(plan, outputs, stack, region)
    if server or wave:
        specs = _targets(runtime, server, wave)
    else:
        specs = [runtime.plan.server_spec(s.id) for s in runtime.plan.servers]
    rows = []
    with common.aws_errors():
        service = _lifecycle(runtime)
        for view in service.views(specs):
            rows.append(_status_row(runtime, service, view))
    output.table(("SERVER", "WAVE", "PHASE", "MGN", "LAG", "SYNCED", "SOURCE SERVER", "NEXT"), rows)


def _status_row(runtime: Runtime, service: ServerLifecycle, view: ServerView) -> list[str]:
    spec, found = view.spec, view.server
    wave = runtime.plan.wave_of(spec.id).name
    phase = str(view.phase) if view.phase else "-"
    if not spec.is_mgn:
        return [spec.id, wave, phase, "manual", "-", "-", "-", "moved by hand; not gated"]
    if found is None:
        return [
            spec.id,
            wave,
            phase,
            "not registered",
            "-",
            "-",
            "-",
            _next(service, view, _users(runtime, spec)),
        ]
    lag = "-" if found.lag_seconds is None else f"{found.lag_seconds:g}s"
    synced = "-" if found.progress is None else f"{found.progress:.0%}"
    mgn_state = f"{found.life_cycle or '?'} / {found.replication_state or '?'}"
    return [
        spec.id,
        wave,
        phase,
        mgn_state,
        lag,
        synced,
        found.source_server_id,
        _next(service, view, _users(runtime, spec)),
    ]


def _next(service: ServerLifecycle, view: ServerView, users: Sequence[str]) -> str:
    """The server's next run and its gate, in a few words (``users``: the applications
    listing the server, which a finalize waits for)."""
    for run in (Run.TEST, Run.CUTOVER, Run.FINALIZE):
        decision, gate = service.check(run, view, users)
        if decision is Decision.DONE:
            continue
        verdict = "ready" if gate.ok else ("waits" if gate.wait else "blocked")
        return f"{run} {verdict}: {gate.detail}"
    return "done (finalised)"


def _drive(
    run: Run,
    server: str | None,
    wave: str | None,
    yes: bool,
    by: str | None,
    runtime: Runtime,
) -> None:
    """Check every target, refuse the lot if one is blocked, then carry ``run`` out."""
    specs = _targets(runtime, server, wave)
    with common.aws_errors():
        service = _lifecycle(runtime, by)
        views = service.views(specs)
        waves = {view.spec.id: _waves(runtime, view.spec) for view in views}
        checks = [service.check(run, v, _users(runtime, v.spec), waves[v.spec.id]) for v in views]
    todo, skipped = _plan_or_fail(run, views, checks, single=server is not None)
    if not yes and not cutover_cmd.stdin_is_interactive():
        common.fail(f"not a terminal: pass --yes to confirm the {run} of {_names(todo)}")
    output.info(f"{run.capitalize()} of {_names(todo)}: {_ACTIONS[run]}", style="bold")
    for note in skipped:
        output.info(f"  skipped: {note}")
    if not yes and not typer.confirm(f"{run.capitalize()} now?", default=False):
        output.info("aborted: nothing was changed")
        raise typer.Exit(common.EXIT_FAILED)
    with common.aws_errors():
        for view in todo:
            try:
                head = service.run(run, view, _users(runtime, view.spec), waves[view.spec.id])
            except ServerRequestError as exc:
                common.fail(str(exc))
            job = head.state.get("cutoverJobID" if run is not Run.TEST else "testJobID", "")
            suffix = f" (MGN job {job})" if job and run in (Run.TEST, Run.CUTOVER) else ""
            output.info(f"{view.spec.id}: {head.phase}{suffix}")


def _plan_or_fail(
    run: Run,
    views: Sequence[ServerView],
    checks: Sequence[tuple[Decision, GateResult]],
    *,
    single: bool,
) -> tuple[list[ServerView], list[str]]:
    """The servers to act on and the notes of those skipped; refused: exit 2."""
    refused = [gate.detail for decision, gate in checks if decision is Decision.REFUSED]
    done = [gate.detail for decision, gate in checks if decision is Decision.DONE]
    if refused:
        common.fail(f"{run} refused, nothing changed: {'; '.join(refused)}")
    if single and done:
        common.fail(f"{done[0]}; nothing to {run}")
    todo = [
        v for v, (d, _) in zip(views, checks, strict=True) if d in (Decision.GO, Decision.RESUME)
    ]
    if not todo:
        common.fail(f"nothing to {run}: {'; '.join(done)}")
    return todo, done


def _names(views: Sequence[ServerView]) -> str:
    return ", ".join(v.spec.id for v in views)


def _add_run_command(run: Run, help_text: str) -> None:
    """``migrate servers <run> [SERVER | --wave W]``: the same options for every run, each
    command carried out by :func:`_drive` (one definition instead of four copies)."""

    def command(
        server: ServerArgument = None,
        wave: WaveOption = None,
        yes: YesOption = False,
        by: wave_cmd.ByOption = None,
        outputs: common.OutputsOption = None,
        stack: common.StackOption = None,
        plan: common.PlanOption = None,
        region: common.RegionOption = None,
    ) -> None:
        _drive(run, server, wave, yes, by, common.open_or_fail(plan, outputs, stack, region))

    command.__doc__ = help_text
    command.__name__ = str(run)
    app.command(str(run))(command)


_add_run_command(
    Run.TEST, "Launch test instances: replication continuous with its lag under the plan's limit."
)
_add_run_command(
    Run.CUTOVER, "Launch cutover instances: the test launch validated, replication healthy."
)
_add_run_command(
    Run.FINALIZE,
    """Finalize cutovers (replication stops): only once every application using the server
    completed its cutover and the cutover launch validated.""",
)
_add_run_command(
    Run.REVERT,
    """Revert a test or cutover launch (MGN's revert), keeping the tracked phase in step:
    refused after finalize, and for a cutover launch while an application using the server
    may send it traffic.""",
)


@app.command("agent-command")
def agent_command(
    server: Annotated[str, typer.Argument(metavar="SERVER", help="One server of the plan.")],
    duration: Annotated[
        int,
        typer.Option(
            "--duration-seconds",
            min=agent.MIN_DURATION_SECONDS,
            max=agent.MAX_DURATION_SECONDS,
            help="Lifetime of the temporary credentials.",
        ),
    ] = agent.MIN_DURATION_SECONDS,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """The replication agent's installer command for SERVER's OS, with short-lived
    credentials of the agent-installation role (or the steps to get them)."""
    runtime = common.open_or_fail(plan, outputs, stack, region)
    spec = _server_or_fail(runtime, server)
    if not spec.is_mgn:
        common.fail(f"server {spec.id} is replication: manual; it needs no MGN agent")
    role = runtime.outputs["CloudEndureRoleArn"]
    sts = runtime.clients.client("sts")
    where = str(sts.meta.region_name)
    try:
        credentials = agent.assume_agent_role(sts, role, spec.id, duration)
    except (ClientError, BotoCoreError) as exc:
        output.errors([f"cannot assume the agent-installation role {role}: {exc}"])
        output.info(f"To install the agent on {spec.id} ({spec.os}):")
        for line in agent.manual_steps(role, spec.id, duration):
            output.info(line)
        for line in agent.installer_commands(spec.os, where):
            output.info(f"  {line}")
        raise typer.Exit(common.EXIT_FAILED) from None
    expires = (
        f", expires {credentials.expiration:%Y-%m-%d %H:%M:%SZ}" if credentials.expiration else ""
    )
    shell = "PowerShell as an administrator" if spec.os == "windows" else "a shell, as a sudoer"
    output.info(
        f"# {spec.id} ({spec.hostname}, {spec.os}): run in {shell}; temporary credentials of"
        f" {role} ({duration} s{expires})"
    )
    for line in agent.installer_commands(spec.os, where, credentials):
        output.info(line)


@app.command("init")
def init(
    yes: YesOption = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Set MGN up in the region: initialise the service, the replication template (staging
    subnet, security group and key of the stack, replication over the VPN, the plan's
    server_replication), each registered server's launch settings and, in MGN's EC2 launch
    template, its network (the project VPC: the plan's or the first private subnet, the
    stack's launch security group and the plan's) and the instance type the plan fixes.
    Shows the diff and asks first; a rerun changes nothing."""
    runtime = common.open_or_fail(plan, outputs, stack, region)
    try:
        network = runtime.outputs.server_migration_settings()
    except OutputsError as exc:
        common.fail(str(exc))
    specs = [runtime.plan.server_spec(s.id) for s in runtime.plan.servers]
    problem = launch_network_problem(network, [s for s in specs if s.is_mgn])
    if problem is not None:
        common.fail(problem)
    client = runtime.clients.client("mgn")
    setup = MgnSetup(Mgn(client), str(client.meta.region_name), runtime.clients.client("ec2"))
    with common.aws_errors():
        tracking = runtime.tracking()
        heads = {spec.id: tracking.current(server_id(spec.id)) for spec in specs if spec.is_mgn}
        recorded = [
            (spec, str(head.state.get("sourceServerID", "")) if head else "")
            for spec, head in ((s, heads[s.id]) for s in specs if s.is_mgn)
        ]
        changes = setup.plan(
            network,
            _replication(runtime),
            runtime.outputs.settings.environment_suffix,
            recorded,
        )
    for line in changes.lines():
        output.info(line)
    if changes.unregistered:
        output.info(
            f"not registered yet: {', '.join(changes.unregistered)}: run init again after"
            " installing the agent (migrate servers agent-command SERVER)"
        )
    if changes.empty:
        output.info(f"MGN in {changes.region}: nothing to change")
        return
    if dry_run:
        output.info("dry run: nothing was changed")
        return
    if not yes and not cutover_cmd.stdin_is_interactive():
        common.fail("not a terminal: pass --yes to apply these MGN settings")
    if not yes and not typer.confirm("Apply these changes?", default=False):
        output.info("aborted: nothing was changed")
        raise typer.Exit(common.EXIT_FAILED)
    with common.aws_errors():
        for line in setup.apply(changes):
            output.info(line)


def _replication(runtime: Runtime) -> ReplicationSpec:
    """The plan's ``server_replication`` block (its defaults when the plan has none)."""
    return runtime.plan.server_replication.spec()
