"""The SQLite store's row statements: the hand-built JSON of id and token lists (the finish's
json_each input), a claim's folded columns, and the finish's token check by batch."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tuiqueue.core.job import NewJob
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.status import Status
from tuiqueue.store.sqlite import SqliteStore
from tuiqueue.store.sqlite_finish import batch_of
from tuiqueue.store.sqlite_rows import CLAIMED_REST, json_ids, json_tokens

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    "tokens",
    [
        [],
        ["1a2b3c4d5e1.17.1"],
        ["1a2b3c4d5e1.17.1", "ffff.2.3"],
        ['a"b'],
        ["back\\slash"],
        ["tab\there", "new\nline", "\x1b[31m"],
        ["é", "日本"],
        ["", "x"],
    ],
)
def test_tokens_are_a_json_array_sqlite_reads_back(tokens: list[str]) -> None:
    text = json_tokens(tokens)
    assert json.loads(text) == tokens
    got = sqlite3.connect(":memory:").execute("SELECT value FROM json_each(?)", (text,))
    assert [row[0] for row in got] == tokens


def test_ids_are_a_json_array() -> None:
    assert json_ids([]) == "[]"
    assert json.loads(json_ids([3, 1, 2])) == [3, 1, 2]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    yield store
    await store.close()


def _set(store: SqliteStore, job_id: int, column: str, value: Any) -> None:
    """Write one column of a row from another connection (as another process would)."""
    with sqlite3.connect(store.path) as other:
        other.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (value, job_id))


FOLDED = {
    "progress": 12.5,
    "message": "so far",
    "result": '{"a": 1}',
    "error": "boom",
    "traceback": "Traceback ...",
    "finished_at": NOW - 5,
    "run_at": NOW - 3,
    "rerun_of": 1,
    "depends_on": "[1]",
    "log_count": 3,
}


def test_every_folded_column_has_a_value_here() -> None:
    assert sorted(FOLDED) == sorted(CLAIMED_REST.replace(" ", "").split(",")[1:])


@pytest.mark.anyio
@pytest.mark.parametrize("column", sorted(FOLDED))
async def test_a_claim_reads_back_a_folded_column_that_is_not_its_default(
    store: SqliteStore, column: str
) -> None:
    """A pending row with one of the columns a claim folds into its `fresh` flag away from
    its default is claimed with that value (read back by id), as the store then holds it;
    the fresh rows of the same claim are built from the defaults, equally exact."""
    first, odd, last = await store.add([NewJob("echo", {}) for _ in range(3)], NOW)
    _set(store, odd.id, column, FOLDED[column])
    claimed = await store.claim("w1", 5, NOW)
    assert [j.id for j in claimed] == [first.id, odd.id, last.id]
    assert claimed == [await store.get(j.id) for j in claimed]
    held = await store.get(odd.id)
    assert held is not None
    value = FOLDED[column]
    expected = json.loads(value) if column in ("result", "depends_on") else value
    assert getattr(held, column) == expected == getattr(claimed[1], column)


@pytest.mark.parametrize(
    ("token", "job_id", "parts"),
    [
        ("1a2b3c.17.1", 17, ("1a2b3c.", ".1")),
        ("1a2b3c.17.12", 17, ("1a2b3c.", ".12")),
        ("b.17.x.y", 17, ("b.", ".x.y")),  # (still exact: b. + 17 + .x.y is the token)
        ("1a2b3c.18.1", 17, None),  # another job's
        ("1a2b3c.17", 17, None),  # no attempt: b. || id || '' would not be the token
        ("17", 17, None),
        ("", 17, None),
        ("a.b.17.1", 17, None),  # a batch with a dot: checked by the list
    ],
)
def test_batch_of(token: str, job_id: int, parts: tuple[str, str] | None) -> None:
    assert batch_of(token, job_id) == parts
    if parts is not None:
        assert parts[0] + str(job_id) + parts[1] == token


@pytest.mark.anyio
async def test_a_finish_records_the_runs_of_two_claims_and_no_stale_or_foreign_one(
    store: SqliteStore,
) -> None:
    """One finish of outcomes from two claims (two batches), a stale attempt, a token of
    another job and a token in no batch form: each current run is recorded, nothing else."""
    a, b, c, d, e = await store.add([NewJob("echo", {}, max_attempts=3) for _ in range(5)], NOW)
    [one] = await store.claim("w1", 1, NOW)
    two = await store.claim("w1", 4, NOW)
    assert one.id == a.id and [j.id for j in two] == [b.id, c.id, d.id, e.id]
    assert one.token and two[0].token and one.token.split(".")[0] != two[0].token.split(".")[0]
    # c: retried, then claimed again (attempt 2): its first attempt's token is stale
    c_token = two[1].token or ""
    await store.finish([Outcome(c.id, c_token, Status.PENDING, error="again")], NOW)
    [c2] = await store.claim("w1", 1, NOW)
    assert c2.attempts == 2
    # d: its row's token in no batch form, the outcome's the same (checked by the list)
    _set(store, d.id, "token", "not-a-batch-token")
    done = Status.COMPLETED
    outcomes = [
        Outcome(a.id, one.token, done),
        Outcome(b.id, two[0].token or "", done),
        Outcome(c.id, c_token, done),  # stale
        Outcome(d.id, "not-a-batch-token", done),
        Outcome(e.id, (two[3].token or "").replace(f".{e.id}.", f".{a.id}."), done),  # a's
    ]
    recorded = {job.id for job in await store.finish(outcomes, NOW + 1)}
    assert recorded == {a.id, b.id, d.id}
    for job_id, status in ((c.id, Status.RUNNING), (e.id, Status.RUNNING)):
        held = await store.get(job_id)
        assert held is not None and held.status is status
    held_c = await store.get(c.id)
    assert held_c is not None and held_c.token == c2.token and held_c.attempts == 2
    ids, _ = await store.finish_ids_and_claim(
        [Outcome(c.id, c2.token or "", done), Outcome(e.id, two[3].token or "", done)],
        "w1",
        0,
        NOW + 2,
    )
    assert ids == {c.id, e.id}


@pytest.mark.anyio
async def test_a_finish_of_ids_says_which_of_one_batch_it_recorded(store: SqliteStore) -> None:
    """finish_ids_and_claim of one batch's outcomes, one of them stale (its job retried and
    claimed again meanwhile) and one given twice: the ids it recorded, exactly."""
    a, b, c = await store.add([NewJob("echo", {}, max_attempts=3) for _ in range(3)], NOW)
    first = await store.claim("w1", 3, NOW)
    tokens = {j.id: j.token or "" for j in first}
    await store.finish([Outcome(b.id, tokens[b.id], Status.PENDING, error="again")], NOW)
    [b2] = await store.claim("w1", 1, NOW)
    done = Status.COMPLETED
    ids, claimed = await store.finish_ids_and_claim(
        [Outcome(i, tokens[i], done) for i in (a.id, b.id, c.id)], "w1", 0, NOW + 1
    )
    assert (ids, claimed) == ({a.id, c.id}, [])
    held = await store.get(b.id)
    assert held is not None and held.status is Status.RUNNING and held.token == b2.token
    ids, _ = await store.finish_ids_and_claim(
        [Outcome(b.id, b2.token or "", done)] * 2, "w1", 0, NOW + 2
    )
    assert ids == {b.id}
    ids, _ = await store.finish_ids_and_claim(
        [Outcome(b.id, b2.token or "", done)], "w1", 0, NOW + 3
    )
    assert ids == set()  # (recorded already: its token is spent)
