"""`tuiqueue preset` and `tuiqueue submit --preset` as a person types them (real processes on
real SQLite files), and the README's "Presets" snippet run as written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env, tq

README = Path(__file__).resolve().parent.parent / "README.md"
README_PRESETS = README.read_text().split("## Presets\n")[1].split("\n## ")[0]
"""The README's Presets section."""

SNIPPET = README_PRESETS.split("```bash\n")[1].split("```")[0]


def test_readme_snippet_runs(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "tuiqueue"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m tuiqueue "$@"\n')
    shim.chmod(0o755)
    env = cli_env({"TUIQUEUE_DB": str(tmp_path / "readme.db")})
    env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", SNIPPET],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    lines = out.stdout.splitlines()
    assert lines[0] == "preset nightly saved: countdown seconds=2 (priority high, queue default)"
    assert "refused with status 2" in out.stdout
    assert "a preset named 'nightly' exists already" in out.stderr
    assert "pass --force to overwrite it" in out.stderr
    assert "preset nightly overwritten: countdown seconds=3" in out.stdout
    assert "nightly  countdown    high      seconds=3" in out.stdout
    assert "status:    completed" in out.stdout
    assert "priority:  high" in out.stdout  # the preset's
    assert 'params:    {"seconds": 1}' in out.stdout  # -p over the preset's 3
    listed = json.loads(out.stdout[out.stdout.index("\n[\n") : out.stdout.rindex("]") + 1])
    assert [(p["name"], p["params"], p["priority"]) for p in listed] == [
        ("nightly", {"seconds": 3}, "high")
    ]
    assert lines[-1] == "preset nightly removed"


def test_save_checks_params_like_submit(db: str) -> None:
    for args, said in [
        (["countdown", "-p", "seconds=99"], "seconds"),
        (["countdown", "-p", "nope=1"], "unknown parameter 'nope'"),
        (["nosuchtype"], "unknown job type 'nosuchtype'"),
        (["countdown", "--queue", "bad queue"], "queue"),
    ]:
        out = tq("--db", db, "preset", "save", "p1", *args)
        assert out.returncode == 2, out
        assert said in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    bad_name = tq("--db", db, "preset", "save", "bad name", "countdown")
    assert bad_name.returncode == 2
    assert "preset name 'bad name': use letters, digits" in bad_name.stderr
    assert json.loads(tq("--db", db, "preset", "list", "--json").stdout) == []
    assert "no presets (save one with" in tq("--db", db, "preset", "list").stdout


def test_list_by_type_show_and_remove(db: str) -> None:
    assert tq("--db", db, "preset", "save", "a", "echo", "-p", "message=hi there").returncode == 0
    assert tq("--db", db, "preset", "save", "b", "countdown", "--queue", "slow").returncode == 0
    listed = tq("--db", db, "preset", "list", "--type", "echo").stdout.splitlines()
    assert (
        len(listed) == 1 and listed[0].startswith("a  echo") and "message='hi there'" in listed[0]
    )
    both = tq("--db", db, "preset", "list").stdout
    assert "queue slow" in both and "(no params: the type's defaults)" in both
    assert "no presets for primes" in tq("--db", db, "preset", "list", "--type", "primes").stdout
    shown = tq("--db", db, "preset", "show", "b").stdout
    assert "queue:     slow" in shown and "tuiqueue submit --preset b" in shown
    data = json.loads(tq("--db", db, "preset", "show", "a", "--json").stdout)
    assert data["params"] == {"message": "hi there"} and data["type"] == "echo"
    for cmd in ("show", "remove"):
        out = tq("--db", db, "preset", cmd, "zzz")
        assert out.returncode == 2
        assert out.stderr.strip() == "Error: no preset named 'zzz' (see `tuiqueue preset list`)"
    assert tq("--db", db, "preset", "remove", "a").stdout == "preset a removed\n"
    assert [p["name"] for p in json.loads(tq("--db", db, "preset", "list", "--json").stdout)] == [
        "b"
    ]


def test_submit_preset_overrides_and_queue(db: str) -> None:
    saved = tq(
        "--db", db, "preset", "save", "p", "echo", "-p", "message=from preset", "--queue", "q1"
    )
    assert saved.returncode == 0, saved.stderr
    out = tq("--db", db, "submit", "--preset", "p", "--json")
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert (job["type"], job["params"]["message"], job["queue"], job["priority"]) == (
        "echo",
        "from preset",
        "q1",
        "normal",
    )
    out = tq(
        "--db", db, "submit", "echo", "--preset", "p", "-p", "message=mine", "--queue", "q2",
        "--priority", "critical", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert (job["params"]["message"], job["queue"], job["priority"]) == ("mine", "q2", "critical")
    for args, said in [
        (["countdown", "--preset", "p"], "preset 'p' makes echo jobs, not countdown"),
        (["--preset", "p", "-p", "nope=1"], "unknown parameter 'nope'"),
        (["--preset", "p", "--from", "-"], "give either --preset or --from FILE"),
        (["--preset", "nope"], "no preset named 'nope'"),
        ([], "missing TYPE (see `tuiqueue types`), or use --preset NAME or --from FILE"),
    ]:
        out = tq("--db", db, "submit", *args, stdin="")
        assert out.returncode == 2, out
        assert said in out.stderr


def test_a_preset_that_no_longer_fits_says_so_at_submit(db: str, tmp_path: Path) -> None:
    """The type's module changed (a range narrowed) or is not loaded: a clear line, no job."""
    mod = tmp_path / "mine.py"
    mod.write_text(
        "from tuiqueue import Param, job_type\n"
        '@job_type("mine", params=[Param("n", "int", default=1, min=1, max=10)])\n'
        "async def mine(ctx, n):\n    return n\n"
    )
    saved = tq("--db", db, "--jobs", str(mod), "preset", "save", "big", "mine", "-p", "n=8")
    assert saved.returncode == 0, saved.stderr
    mod.write_text(mod.read_text().replace("max=10", "max=5"))
    out = tq("--db", db, "--jobs", str(mod), "submit", "--preset", "big")
    assert out.returncode == 2
    assert "preset 'big' no longer fits job type 'mine': n must be between 1 and 5" in out.stderr, (
        out
    )
    assert "save the preset again (with --force) or remove it" in out.stderr
    # an override of the stale value makes it fit again
    ok = tq("--db", db, "--jobs", str(mod), "submit", "--preset", "big", "-p", "n=2", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["params"] == {"n": 2}
    gone = tq("--db", db, "submit", "--preset", "big")
    assert gone.returncode == 2
    assert "preset 'big' makes 'mine' jobs, a job type not loaded here" in gone.stderr
    assert "load its module (--jobs) or remove the preset" in gone.stderr
    assert len(json.loads(tq("--db", db, "list", "--json").stdout)) == 1


def test_control_characters_are_shown_not_run(db: str) -> None:
    out = tq("--db", db, "preset", "save", "esc", "echo", "-p", "message=\x1b[31mred\x07")
    assert out.returncode == 0, out.stderr
    for args in (["list"], ["show", "esc"], ["list", "--json"]):
        shown = tq("--db", db, "preset", *args).stdout
        assert "\x1b" not in shown and "\x07" not in shown
        assert "red" in shown
    assert "\\x1b[31mred\\x07" in out.stdout


def test_preset_commands_do_not_import_the_engine_until_needed() -> None:
    """`preset list` and friends keep the CLI's lazy imports (no engine at import time)."""
    code = (
        "import sys\n"
        "import tuiqueue.cli.preset\n"
        "assert 'tuiqueue.cli.preset' in sys.modules\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'textual']\n"
        "assert 'tuiqueue.engine.engine' not in sys.modules, 'the engine was imported'\n"
        "import tuiqueue.cli\n"
        "assert 'tuiqueue.engine.engine' not in sys.modules, 'tuiqueue.cli imports the engine'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=cli_env())
