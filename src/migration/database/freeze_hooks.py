"""Freezing writes by a declared hook instead of the built-in statements.

The plan's ``freeze`` says who stops the writes of one database side: ``lambda:<function>``
(invoked synchronously), ``ssm:<Automation document>`` (run and waited for) or ``manual``
(the operator confirms, within ``freeze_timeout_seconds``). Each hook answers three actions,
``freeze``, ``unfreeze`` and ``status``; the drain proof, the consistency check and the
positions still come from the database itself (:class:`HookedSide`).

Contracts:

* Lambda: payload ``{"action": "freeze"|"unfreeze"|"status", "database": <plan name>,
  "side": "on-premises"|"aws"}``; answer a JSON object, ``{"frozen": true|false}`` for
  ``status`` (and optionally ``{"sessionsEnded": n}`` for ``freeze``). A function error fails
  the step.
* SSM Automation: parameters ``Action``, ``Database``, ``Side`` (strings); the execution must
  end in ``Success``; for ``status`` an output named ``Frozen`` with value ``true`` or
  ``false``.
* manual: the operator is asked to do it and confirm; no answer in time fails the step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from migration.database.errors import DatabaseStepError
from migration.database.postgres import TableDigest

Confirm = Callable[[str, float], bool]
"""Ask the operator ``question``; True when confirmed within ``timeout_s`` seconds."""

SSM_DONE = frozenset({"Success"})
SSM_FAILED = frozenset({"Failed", "TimedOut", "Cancelled", "CompletedWithFailure", "Rejected"})


class LambdaFreeze:
    """``freeze: lambda:<function>``."""

    def __init__(self, lambda_client: Any, function: str, *, database: str, side: str) -> None:
        self._client = lambda_client
        self.function = function
        self.database = database
        self.side = side

    def _call(self, action: str) -> dict[str, Any]:
        step = f"freeze hook lambda:{self.function} ({action}, {self.side})"
        payload = {"action": action, "database": self.database, "side": self.side}
        response = self._client.invoke(
            FunctionName=self.function,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise DatabaseStepError(self.database, step, f"function error: {body[:300]!r}")
        try:
            answer = json.loads(body or b"{}")
        except json.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise DatabaseStepError(self.database, step, "the function must answer a JSON object")
        return answer

    def freeze(self) -> int:
        return int(self._call("freeze").get("sessionsEnded", 0))

    def unfreeze(self) -> None:
        self._call("unfreeze")

    def is_frozen(self) -> bool:
        frozen = self._call("status").get("frozen")
        if not isinstance(frozen, bool):
            raise DatabaseStepError(
                self.database,
                f"freeze hook lambda:{self.function} (status, {self.side})",
                'the function must answer {"frozen": true} or {"frozen": false}',
            )
        return frozen


class SsmAutomationFreeze:
    """``freeze: ssm:<Automation document>``."""

    def __init__(
        self,
        ssm: Any,
        document: str,
        *,
        database: str,
        side: str,
        timeout_s: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        poll_s: float = 2.0,
    ) -> None:
        self._ssm = ssm
        self.document = document
        self.database = database
        self.side = side
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._poll_s = poll_s

    def _run(self, action: str) -> dict[str, list[str]]:
        step = f"freeze hook ssm:{self.document} ({action}, {self.side})"
        execution = self._ssm.start_automation_execution(
            DocumentName=self.document,
            Parameters={"Action": [action], "Database": [self.database], "Side": [self.side]},
        )["AutomationExecutionId"]
        deadline = self._monotonic() + self._timeout_s
        while True:
            details = self._ssm.get_automation_execution(AutomationExecutionId=execution)
            status = details["AutomationExecution"]["AutomationExecutionStatus"]
            if status in SSM_DONE:
                return dict(details["AutomationExecution"].get("Outputs", {}))
            if status in SSM_FAILED:
                reason = details["AutomationExecution"].get("FailureMessage", status)
                raise DatabaseStepError(self.database, step, f"execution {execution}: {reason}")
            if self._monotonic() >= deadline:
                self._ssm.stop_automation_execution(AutomationExecutionId=execution)
                raise DatabaseStepError(
                    self.database,
                    step,
                    f"execution {execution} still {status} after {self._timeout_s:g} s; stopped",
                )
            self._sleep(self._poll_s)

    def freeze(self) -> int:
        self._run("freeze")
        return 0

    def unfreeze(self) -> None:
        self._run("unfreeze")

    def is_frozen(self) -> bool:
        values = self._run("status").get("Frozen", [])
        if values not in (["true"], ["false"]):
            raise DatabaseStepError(
                self.database,
                f"freeze hook ssm:{self.document} (status, {self.side})",
                "the execution must output Frozen = true or false",
            )
        return values == ["true"]


class ManualFreeze:
    """``freeze: manual``: the operator stops and opens the writes and confirms."""

    def __init__(self, confirm: Confirm, *, database: str, side: str, timeout_s: float) -> None:
        self._confirm = confirm
        self.database = database
        self.side = side
        self._timeout_s = timeout_s

    def _ask(self, action: str, question: str) -> bool:
        return self._confirm(question, self._timeout_s)

    def freeze(self) -> int:
        question = (
            f"Stop every application write to {self.database} on {self.side} now"
            " (sessions ended, writes refused). Done?"
        )
        if not self._ask("freeze", question):
            raise DatabaseStepError(
                self.database,
                f"manual freeze ({self.side})",
                f"not confirmed within {self._timeout_s:g} s",
            )
        return 0

    def unfreeze(self) -> None:
        # Opening writes again is never a risk to the data: ask, but go on either way.
        self._ask("unfreeze", f"Allow application writes to {self.database} on {self.side}.")

    def is_frozen(self) -> bool:
        return self._ask(
            "status", f"Is {self.database} on {self.side} closed to application writes?"
        )


class HookedSide:
    """A database side whose writes a hook freezes; everything else is the database's."""

    def __init__(self, database: Any, freezer: Any) -> None:
        self._database = database
        self._freezer = freezer

    @property
    def where(self) -> str:
        return str(self._database.where)

    def is_frozen(self) -> bool:
        return bool(self._freezer.is_frozen())

    def freeze(self) -> int:
        return int(self._freezer.freeze())

    def unfreeze(self) -> None:
        self._freezer.unfreeze()

    def current_position(self) -> str:
        return str(self._database.current_position())

    def slot_position(self, slot: str) -> str | None:
        return self._database.slot_position(slot)  # type: ignore[no-any-return]

    def tables(self, selections: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return self._database.tables(selections)  # type: ignore[no-any-return]

    def digest(self, schema: str, table: str) -> TableDigest:
        return self._database.digest(schema, table)  # type: ignore[no-any-return]

    def sequences(self, schemas: Sequence[str]) -> dict[str, int]:
        return self._database.sequences(schemas)  # type: ignore[no-any-return]

    def advance_sequences(self, values: dict[str, int]) -> None:
        self._database.advance_sequences(values)
