"""`tuiqueue rerun ID -p ...`: edit-and-rerun from the command line, linked both ways."""

from __future__ import annotations

import json

from tests.conftest import tq


def show_json(db: str, job_id: str) -> dict[str, object]:
    """`tuiqueue show ID --json`."""
    out = tq("--db", db, "show", job_id, "--json")
    assert out.returncode == 0, out.stderr
    data: dict[str, object] = json.loads(out.stdout)
    return data


def test_rerun_with_changed_params_priority_and_queue_is_linked_both_ways(db: str) -> None:
    first = tq("--db", db, "submit", "echo", "-p", "message=hi", "-p", "delay=3", "--queue", "q1")
    assert first.returncode == 0, first.stderr
    old = first.stdout.strip()
    out = tq("--db", db, "rerun", old, "-p", "message=bye", "--priority", "high", "--queue", "q2")
    assert out.returncode == 0, out.stderr
    new = out.stdout.strip()
    again = show_json(db, new)
    # The changed param is changed, the other one is the old job's own (not the default).
    assert again["params"] == {"message": "bye", "delay": 3}
    assert again["priority"] == "high" and again["queue"] == "q2"
    assert again["rerun_of"] == int(old) and again["reruns"] == []
    assert show_json(db, old)["reruns"] == [int(new)]
    # A plain rerun keeps everything; the original now lists both.
    plain = tq("--db", db, "rerun", old, "--json")
    assert plain.returncode == 0, plain.stderr
    made = json.loads(plain.stdout)
    assert made["params"] == {"message": "hi", "delay": 3} and made["queue"] == "q1"
    assert show_json(db, old)["reruns"] == [int(new), made["id"]]
    text = tq("--db", db, "show", old).stdout
    assert f"rerun as:  {new}, {made['id']}" in text
    assert f"rerun of:  {old}" in tq("--db", db, "show", new).stdout


def test_rerun_refuses_bad_params_clearly_and_queues_nothing(db: str) -> None:
    old = tq("--db", db, "submit", "echo", "-p", "message=hi").stdout.strip()
    unknown = tq("--db", db, "rerun", old, "-p", "colour=red")
    assert unknown.returncode == 2
    assert "unknown parameter 'colour' (echo takes message, delay)" in unknown.stderr
    invalid = tq("--db", db, "rerun", old, "-p", "delay=99")
    assert invalid.returncode == 2 and "delay" in invalid.stderr, invalid.stderr
    malformed = tq("--db", db, "rerun", old, "-p", "delay")
    assert malformed.returncode == 2 and "NAME=VALUE" in malformed.stderr
    bad_queue = tq("--db", db, "rerun", old, "--queue", "no spaces")
    assert bad_queue.returncode == 2, bad_queue.stderr
    missing = tq("--db", db, "rerun", "999")
    assert missing.returncode == 2 and "999" in missing.stderr
    listed = json.loads(tq("--db", db, "list", "--json").stdout)
    assert [j["id"] for j in listed] == [int(old)]
    assert show_json(db, old)["reruns"] == []
