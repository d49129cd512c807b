"""The consistency check's digest: chunked by key (composite keys too), server-side."""

from __future__ import annotations

import dataclasses

from migration.database.postgres import PostgresDatabase
from tests.database.conftest import Story


def _both(story: Story, sql: str) -> None:
    for db in (story.stand_in.source, story.stand_in.target):
        db.query(sql)


def test_chunked_digests_match_equal_tables_and_catch_one_changed_value(story: Story) -> None:
    # New tables reach a subscription only after a refresh: each side gets its own rows.
    _both(story, "CREATE TABLE public.lines (o int, l text, qty int, PRIMARY KEY (o, l))")
    _both(story, "CREATE TABLE public.notes (body text)")
    rows = "SELECT o, 'line-' || l, o * l FROM generate_series(1, 7) o, generate_series(1, 3) l"
    story.stand_in.source.query(f"INSERT INTO public.lines {rows}")
    story.stand_in.target.query(f"INSERT INTO public.lines {rows}")
    _both(story, "INSERT INTO public.notes VALUES ('a'), ('b')")
    small = [
        PostgresDatabase(dataclasses.replace(db.credentials), chunk_rows=4)
        for db in (story.stand_in.source, story.stand_in.target)
    ]
    source, target = (db.digest("public", "lines") for db in small)
    assert (source.rows, target.rows) == (21, 21)
    assert source.checksum == target.checksum and source.checksum is not None
    whole = story.stand_in.source.digest("public", "lines")  # one chunk of 20,000
    assert whole.rows == 21 and whole.checksum != source.checksum  # chunking is part of it
    story.stand_in.target.query(
        "UPDATE public.lines SET qty = qty + 1 WHERE o = 5 AND l = 'line-2'"
    )
    changed = small[1].digest("public", "lines")
    assert changed.rows == 21 and changed.checksum != source.checksum
    notes = small[0].digest("public", "notes")
    assert (notes.rows, notes.checksum) == (2, None)  # no primary key: count only
