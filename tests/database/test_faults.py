"""Faults and wrong requests: one clear error, the writer unchanged and taking writes."""

from __future__ import annotations

import dataclasses
import time

import pytest

from migration.database.errors import (
    DatabaseAccessError,
    DatabaseRequestError,
    DatabaseStepError,
)
from migration.database.postgres import PostgresDatabase
from migration.local.database_stand_in import WORKLOAD_TABLE, Workload, audit
from migration.tracking import Phase, db_id
from tests.database.conftest import Story, wait_running


class _OtherSlot:
    """The forward replication, but the drain reads a slot that never advances."""

    def __init__(self, replication: object, slot: str) -> None:
        self._replication = replication
        self.slot = slot

    def __getattr__(self, name: str) -> object:
        return getattr(self._replication, name)


def _phase(story: Story) -> Phase | None:
    head = story.tracking.current(db_id(story.name))
    return head.phase if head else None


def _writes_on_premises(story: Story) -> None:
    """The on-premises database is the writer and takes writes (through the name)."""
    assert story.writer() == "on-premises"
    assert not story.stand_in.source.is_frozen()
    workload = Workload(story.resolve).start()
    try:
        deadline = time.monotonic() + 10
        while len(workload.acknowledged) < 5:
            assert time.monotonic() < deadline, "no write acknowledged on-premises"
            time.sleep(0.01)
    finally:
        workload.stop()
    assert audit(story.stand_in.source, workload.acknowledged).lost == 0


def test_a_drain_that_times_out_unfreezes_the_source_and_goes_back(story: Story) -> None:
    wait_running(story.stand_in.forward)
    story.stand_in.source.query(
        "SELECT pg_create_logical_replication_slot(:s, 'pgoutput')", s=f"stuck_{story.database}"
    )
    stuck = _OtherSlot(story.stand_in.forward, f"stuck_{story.database}")
    site = dataclasses.replace(story.site, forward=stuck, drain_timeout_s=0.5)  # type: ignore[arg-type]
    with pytest.raises(DatabaseStepError, match=r"drain failed: slot stuck_\w+ confirmed") as err:
        story.cutover.cutover(site)
    assert "within 0.5 s; writes were unfrozen" in str(err.value)
    assert _phase(story) is Phase.REPLICATING
    _writes_on_premises(story)
    story.stand_in.source.query("SELECT pg_drop_replication_slot(:s)", s=f"stuck_{story.database}")


def test_a_consistency_mismatch_names_the_table_and_goes_back(story: Story) -> None:
    wait_running(story.stand_in.forward)
    # A row only AWS has (written past the freeze by an administrator's session).
    story.stand_in.target.query(
        f"INSERT INTO public.{WORKLOAD_TABLE} (id, seq, side) VALUES (-1, -1, 'stray')"
    )
    with pytest.raises(DatabaseStepError) as err:
        story.cutover.cutover(story.site)
    assert str(err.value).startswith(
        f"database {story.name}: consistency check failed: public.writes:"
    )
    assert "on on-premises" in str(err.value) and "on AWS" in str(err.value)
    assert _phase(story) is Phase.REPLICATING
    _writes_on_premises(story)
    story.stand_in.target.query(f"DELETE FROM public.{WORKLOAD_TABLE} WHERE id = -1")


def test_cutover_twice_and_failback_never_cut_over_are_refused(story: Story) -> None:
    with pytest.raises(DatabaseRequestError) as err:
        story.cutover.failback(story.site)
    assert str(err.value) == (
        f"database {story.name}: is not tracked yet; a failback needs CUT_OVER;"
        " it was never cut over"
    )
    assert story.tracking.current(db_id(story.name)) is None
    wait_running(story.stand_in.forward)
    story.cutover.cutover(story.site)
    version = story.tracking.current(db_id(story.name)).version  # type: ignore[union-attr]
    with pytest.raises(DatabaseRequestError) as err:
        story.cutover.cutover(story.site)
    assert str(err.value) == (
        f"database {story.name}: is already CUT_OVER: the AWS database is the writer"
    )
    assert story.tracking.current(db_id(story.name)).version == version  # type: ignore[union-attr]
    assert story.writer() == "aws"


def test_an_unreachable_target_leaves_the_source_writing(story: Story) -> None:
    wait_running(story.stand_in.forward)
    credentials = dataclasses.replace(
        story.stand_in.target.credentials, port=1, where="orders target (127.0.0.1:1)"
    )
    site = dataclasses.replace(story.site, target=PostgresDatabase(credentials))
    with pytest.raises(DatabaseAccessError) as err:
        story.cutover.cutover(site)
    assert str(err.value).startswith("orders target (127.0.0.1:1): ")
    assert "\n" not in str(err.value)
    _writes_on_premises(story)


def test_a_wrong_secret_is_refused_without_showing_the_password(story: Story) -> None:
    wait_running(story.stand_in.forward)
    wrong = "not-the-password-0f9c"
    credentials = dataclasses.replace(story.stand_in.source.credentials, password=wrong)
    site = dataclasses.replace(story.site, source=PostgresDatabase(credentials))
    with pytest.raises(DatabaseAccessError) as err:
        story.cutover.cutover(site)
    message = str(err.value)
    assert "password authentication failed" in message and wrong not in message
    assert wrong not in repr(credentials)
    _writes_on_premises(story)


def test_tls_required_by_the_secret_is_refused_by_a_plain_server(story: Story) -> None:
    """The local clusters offer no TLS: ``prefer`` falls back, ``require`` refuses."""
    credentials = story.stand_in.source.credentials
    assert PostgresDatabase(credentials).current_position()  # prefer: plain connection
    strict = PostgresDatabase(dataclasses.replace(credentials, sslmode="require"))
    with pytest.raises(DatabaseAccessError) as err:
        strict.current_position()
    assert str(err.value) == f"{credentials.where}: Server refuses SSL"
