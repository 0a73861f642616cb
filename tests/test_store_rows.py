"""The SQLite store's hand-built JSON of id and token lists (the finish's json_each input)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tuiqueue.store.sqlite_rows import json_ids, json_tokens


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
