"""``migrate rollback``: send applications back to 100 % on-premises, now.

Runs the rollback function's own service in-process (same wiring as the Lambda: DNS first,
then one ROLLED_BACK tracking item per application, then one SNS summary), or with
``--via-lambda`` invokes the deployed function synchronously.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from migration.errors import UnknownApplicationError
from migration.events import MAX_REASON_LENGTH, RollbackCommand
from migration.operations import Runtime

from . import common, output


def _target(
    runtime: Runtime, apps: list[str], wave: str | None, everything: bool
) -> tuple[tuple[str, ...] | None, str]:
    """(applications or None for all, description)."""
    if everything:
        return None, "every application in the hosted zone"
    if wave is not None:
        names = tuple(a.name for a in common.wave_or_fail(runtime, wave).applications)
        if not names:
            common.fail(f"wave {wave!r} has no applications to roll back")
        return names, f"wave {wave} ({', '.join(names)})"
    names = tuple(dict.fromkeys(common.application_or_fail(runtime, a).name for a in apps))
    return names, ", ".join(names)


def recovery_text(seconds: object) -> str:
    """``42.5 s`` from the alarm (or the request) to Route 53 INSYNC; ``-`` when unknown."""
    return f"{float(seconds):g} s" if isinstance(seconds, int | float) else "-"


def _print_result(summary: Mapping[str, Any]) -> None:
    rolled = summary.get("rolledBack") or []
    status = summary.get("status", "?")
    output.info(f"rollback {summary.get('eventKey')}: {status}")
    output.info(f"reason: {summary.get('reason')}")
    if rolled:
        rows = [
            [
                str(item["application"]),
                f"aws={item['previousWeights']['aws']} "
                f"on-premises={item['previousWeights']['onPremises']}",
                "aws=0 on-premises=100",
                str(item.get("changeId") or "applied by an earlier attempt"),
                recovery_text(item.get("recoverySeconds")),
            ]
            for item in rolled
        ]
        output.table(
            ("APPLICATION", "PREVIOUS WEIGHTS", "NOW", "ROUTE 53 CHANGE", "RECOVERY"),
            rows,
            title=f"rolled back {len(rolled)} application(s) to 100% on-premises:",
        )
    else:
        output.info("nothing was on AWS: no weight changed")
    if summary.get("alreadyRolledBack"):
        output.info("already rolled back: " + ", ".join(summary["alreadyRolledBack"]))
    if summary.get("alreadyOnPremises"):
        output.info("already on-premises: " + ", ".join(summary["alreadyOnPremises"]))
    if summary.get("unknownApplications"):
        output.info(
            "NOT rolled back (no record pair in the zone): "
            + ", ".join(summary["unknownApplications"]),
            style="red",
        )
    if summary.get("inSync") is False:
        output.info("Route 53 had not reported INSYNC yet")
    if summary.get("notificationId"):
        output.info(f"operators notified (SNS message {summary['notificationId']})")


def _via_lambda(runtime: Runtime, command: RollbackCommand) -> dict[str, Any]:
    payload = {
        "applications": list(command.applications) if command.applications else "all",
        "reason": command.reason,
        "idempotencyKey": command.idempotency_key,
    }
    response = runtime.clients.client("lambda").invoke(
        FunctionName=runtime.outputs.rollback_function_arn,
        InvocationType="RequestResponse",
        Payload=json.dumps(payload).encode(),
    )
    body = response["Payload"].read()
    data = json.loads(body) if body else {}
    if response.get("FunctionError"):
        message = data.get("errorMessage", body.decode(errors="replace"))
        kind = data.get("errorType", "error")
        if kind == UnknownApplicationError.__name__:
            common.fail(message)
        common.fail(f"the rollback function failed: {kind}: {message}", common.EXIT_FAILED)
    if not isinstance(data, dict):
        common.fail(f"unexpected response of the rollback function: {body!r}", common.EXIT_FAILED)
    return data


def rollback(
    app: Annotated[
        list[str] | None,
        typer.Option("--app", metavar="A", help="Application to roll back (repeatable)."),
    ] = None,
    wave: Annotated[
        str | None,
        typer.Option("--wave", metavar="W", help="Roll back every application of wave W."),
    ] = None,
    everything: Annotated[
        bool,
        typer.Option("--all", help="Roll back every application of the hosted zone."),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="TEXT",
            help="Why (required; recorded in the history and the SNS message).",
        ),
    ] = None,
    via_lambda: Annotated[
        bool,
        typer.Option("--via-lambda", help="Invoke the deployed rollback function instead."),
    ] = False,
    outputs: common.OutputsOption = None,
    stack: common.StackOption = None,
    plan: common.PlanOption = None,
    region: common.RegionOption = None,
) -> None:
    """Roll applications back to aws=0 / on-premises=100 right away (no prompt).

    Exactly one of --app, --wave or --all. Applications already on-premises are left
    alone; each one moved gets a ROLLED_BACK history item and the operators one SNS message.
    """
    given = (("--app", bool(app)), ("--wave", wave is not None), ("--all", everything))
    chosen = [flag for flag, present in given if present]
    if len(chosen) > 1:
        common.fail(f"{' and '.join(chosen)} are mutually exclusive: give exactly one")
    if not chosen:
        common.fail("say what to roll back: --app A, --wave W or --all")
    if reason is None:
        common.fail("--reason is required: say why you roll back")
    if not reason.strip():
        common.fail("--reason must not be empty: say why you roll back")
    if len(reason.strip()) > MAX_REASON_LENGTH:
        common.fail(f"--reason is longer than {MAX_REASON_LENGTH} characters")
    runtime = common.open_or_fail(plan, outputs, stack, region)
    applications, described = _target(runtime, app or [], wave, everything)
    command = RollbackCommand(
        applications=applications,
        reason=reason.strip(),
        idempotency_key=f"migrate:{uuid.uuid4()}",
    )
    output.info(f"rolling back {described} to aws=0 / on-premises=100")
    with common.aws_errors():
        if via_lambda:
            summary = _via_lambda(runtime, command)
        else:
            try:
                summary = runtime.rollback_service().handle(command).to_dict()
            except UnknownApplicationError as exc:
                common.fail(str(exc))  # raised before anything changed
    _print_result(summary)
