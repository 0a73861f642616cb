"""The click-free fast path (cli/fast.py) says exactly what click says: a corpus of command
lines runs both ways, in real processes on two SQLite files built alike, and their stdout,
stderr and exit status must be the same bytes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tuiqueue.cli import fast
from tuiqueue.core.status import Status

LAUNCH = """
import atexit, os, sys
mode = sys.argv.pop(1)
sys.argv[0] = "tuiqueue"  # (the same program name for click's messages both ways)
report = os.environ["TQ_REPORT"]
atexit.register(lambda: open(report, "w").write(str("click" in sys.modules)))
if mode == "fast":
    from tuiqueue.cli import run
    run()
else:
    from tuiqueue.cli.group import main
    main()
"""

FAST, CLICK = True, False
"""What each line of the corpus expects of the fast path: it runs the command (click never
imported), or it hands it to click."""

CORPUS: list[tuple[list[str], bool]] = [
    (["submit", "echo", "-p", "message=hi"], FAST),
    (["submit", "echo", "--param", "message=two", "--priority", "high", "--queue", "q1"], FAST),
    (["submit", "--json", "echo", "--param=message=three"], FAST),
    (["submit", "echo", "-p", "message=a b=c", "-p", "delay=1", "--queue=q1"], FAST),
    (["submit", "echo", "-p", " message =\x1b[31mred\u2028"], FAST),
    (["list"], FAST),
    (["list", "--json"], FAST),
    (["list", "--status", "pending", "--limit", "2"], FAST),
    (["list", "--type", "echo", "--queue", "q1", "--limit=0003"], FAST),
    (["list", "--status=pending", "--status", "cancelled", "--type=nope"], FAST),
    (["show", "1"], FAST),
    (["show", "--json", "2"], FAST),
    (["show", "5"], FAST),
    (["stats"], FAST),
    (["stats", "--json"], FAST),
    (["cancel", "1"], FAST),
    (["cancel", "2", "3"], FAST),
    (["cancel", "4", "99"], FAST),  # 4 is cancelled, then 99 is unknown: said here
    (["list", "--status", "cancelled"], FAST),
    (["show", "4"], FAST),
    # Bad input and other forms: click says what is wrong, both ways.
    (["show", "99"], CLICK),
    (["cancel", "1"], CLICK),
    (["cancel", "99", "5"], CLICK),
    (["submit", "echo", "-p", "nonsense"], CLICK),
    (["submit", "echo", "-p", "=x"], CLICK),
    (["submit", "echo", "-p", "delay=abc"], CLICK),
    (["submit", "echo", "-p", "bogus=1"], CLICK),
    (["submit", "nope"], CLICK),
    (["submit", "echo", "--priority", "urgent"], CLICK),
    (["submit", "echo", "--priority", "HIGH", "-p", "message=loud"], CLICK),
    (["submit"], CLICK),
    (["submit", "echo", "extra"], CLICK),
    (["submit", "echo", "-pmessage=short"], CLICK),
    (["submit", "echo", "--after", "1"], CLICK),
    (["submit", "echo", "-p"], CLICK),
    (["list", "--status", "bogus"], CLICK),
    (["list", "--limit", "0"], CLICK),
    (["list", "--limit", "100001"], CLICK),
    (["list", "--limit", "x"], CLICK),
    (["list", "--queue", "no spaces!"], CLICK),
    (["list", "--jsonx"], CLICK),
    (["list", "extra"], CLICK),
    (["show", "abc"], CLICK),
    (["show", "-1"], CLICK),
    (["show", "+1"], CLICK),
    (["show"], CLICK),
    (["show", "1", "2"], CLICK),
    (["show", "1", "--help"], CLICK),
    (["cancel"], CLICK),
    (["cancel", "--json", "1"], CLICK),
    (["stats", "extra"], CLICK),
    (["stats", "--json=1"], CLICK),
    (["--read-only", "list"], CLICK),
    (["--jobs", "nonexistent_module_xyz", "submit", "echo"], CLICK),
    (["--help"], CLICK),
    (["bogus"], CLICK),
    (["--db"], CLICK),
    (["--db", "redis://:secret@127.0.0.1:1/0", "stats"], CLICK),
    (["--db", "mysql://u:pw@host/db", "list"], CLICK),
    (["--", "list"], CLICK),
    # The store's own failures are said as click says them, without trying twice.
    (["--db", "bad.db", "list"], FAST),
    (["--db", "bad.db", "show", "1"], FAST),
    (["--db", "bad.db", "stats", "--json"], FAST),
    (["--db", "bad.db", "cancel", "1", "2"], FAST),
    (["--db", "bad.db", "submit", "echo", "-p", "message=hi"], FAST),
    (["--db", "bad.db", "submit", "echo", "-p", "nonsense"], CLICK),
]
"""Each is run after `--db jobs.db` (relative: the same text in both folders), in order:
the two files go through the same changes."""

_AGO = re.compile(r"\d+(\.\d+)?s ago")
_STAMP = re.compile(r'("(created_at|started_at|finished_at|updated_at)": )\d+\.\d+')


def _same_times(text: str) -> str:
    """Output with its times masked (the two files' jobs were made moments apart)."""
    return _STAMP.sub(r"\1T", _AGO.sub("N ago", text))


def _run(folder: Path, mode: str, argv: list[str], env: dict[str, str]) -> tuple[object, ...]:
    report = folder / "click-imported"
    out = subprocess.run(
        [sys.executable, str(folder.parent / "launch.py"), mode, *argv],
        cwd=folder,
        capture_output=True,
        env={**env, "TQ_REPORT": str(report)},
        timeout=60,
    )
    stdout, stderr = (_same_times(s.decode("utf-8", "replace")) for s in (out.stdout, out.stderr))
    return out.returncode, stdout, stderr, report.read_text() == "True"


def test_the_fast_path_and_click_say_the_same(tmp_path: Path) -> None:
    (tmp_path / "launch.py").write_text(LAUNCH)
    fast_dir, click_dir = tmp_path / "fast", tmp_path / "click"
    fast_dir.mkdir()
    click_dir.mkdir()
    for folder in (fast_dir, click_dir):
        (folder / "bad.db").write_text("not a database")
    env = cli_env()
    for argv, expected in CORPUS:
        full = argv if argv[:1] == ["--db"] else ["--db", "jobs.db", *argv]
        *by_fast, clicked = _run(fast_dir, "fast", full, env)
        *by_click, _ = _run(click_dir, "click", full, env)
        assert by_fast == by_click, argv
        assert clicked is not expected, (argv, "fast path taken" if not clicked else "click ran")
    # The default database ($TUIQUEUE_DB, else in the user data folder), as click finds it.
    for argv, extra in (
        (["list"], {"TUIQUEUE_DB": "jobs.db"}),
        (["stats", "--json"], {"TUIQUEUE_DB": "jobs.db"}),
        (["--db", "", "show", "2"], {"TUIQUEUE_DB": "jobs.db"}),
        (["submit", "echo", "-p", "message=home"], {}),
        (["list", "--json"], {}),
        (["cancel", "1"], {}),
    ):
        outputs = []
        for folder, mode in ((fast_dir, "fast"), (click_dir, "click")):
            data = {"XDG_DATA_HOME": str(folder / "data")}
            *said, clicked = _run(folder, mode, argv, {**env, **data, **extra})
            outputs.append(said)
            if mode == "fast":
                assert not clicked, argv
        assert outputs[0] == outputs[1], argv
    assert (fast_dir / "data" / "tuiqueue" / "tuiqueue.db").is_file()


def test_what_the_fast_path_reads_and_what_it_leaves_to_click() -> None:
    plan = fast.parse(["--db", "a.db", "--db=b.db", "submit", "echo", "-p", "x=1", "--json"])
    assert plan == fast.Plan("b.db", "submit", {"params": ["x=1"], "as_json": True}, ["echo"])
    assert fast.parse(["list", "--status", "waiting"]) is not None
    for argv in (
        [],
        ["--db", "a.db"],  # the dashboard
        ["--db"],
        ["--db", "-x", "list"],
        ["--dbx", "a", "list"],
        ["list", "--queue", "a", "--queue", "b"],  # (click: the last one)
        ["list", "--queue", "-a"],
        ["show", "1_0"],
        ["show", "٣"],  # (a digit, not an ASCII one)
        ["show", "9" * 19],
        ["submit", "echo", "--priority", "High"],
        ["submit", "", "-p", "x=1"],
        ["cancel", "--force", "1"],
    ):
        assert fast.parse(argv) is None, argv


def test_the_fast_path_knows_every_status() -> None:
    assert {s.value for s in Status} == fast.STATUSES


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_stream_click_would_rewrap_goes_to_click(db: str, encoding: str) -> None:
    """click.echo writes to a non-UTF-8 stdout its own way: then click runs the command."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('click' in sys.modules))\n"
        "from tuiqueue.cli import run\n"
        "run()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "--db", db, "stats"],
        capture_output=True,
        text=True,
        env=cli_env({"PYTHONIOENCODING": encoding}),
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "True"


PLUGIN = """
from tuiqueue.core.registry import job_type

LOG = open({log!r}, "w")
LOG.write("loaded")  # (buffered: a normal exit flushes it; os._exit would drop it)


@job_type("plug", description="A plugin's type.")
def plug(ctx):
    return None
"""


@pytest.mark.parametrize("how", ["entry point", "TUIQUEUE_JOBS"])
def test_a_short_command_exits_at_once_only_when_only_tuiqueue_ran(
    tmp_path: Path, how: str
) -> None:
    """The fast path skips the interpreter's teardown (fast.exit_now), yet atexit handlers
    run, and a plugin's unflushed file is flushed as at any exit."""
    db, log, mark = tmp_path / "jobs.db", tmp_path / "plugin.log", tmp_path / "atexit"
    site = tmp_path / "site"
    site.mkdir()
    (site / "tq_plug.py").write_text(PLUGIN.format(log=str(log)))
    if how == "entry point":  # (an installed distribution, as importlib.metadata finds one)
        info = site / "tq_plug-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tq-plug\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text("[tuiqueue.job_types]\nplug = tq_plug\n")
        extra = {"PYTHONPATH": f"{cli_env()['PYTHONPATH']}{os.pathsep}{site}"}
    else:
        extra = {"TUIQUEUE_JOBS": str(site / "tq_plug.py")}
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
        "from tuiqueue.cli import run\n"
        "run()\n"
    )
    for argv, printed in (
        (["submit", "plug"], "1\n"),
        (["submit", "echo", "-p", "message=hi"], "2\n"),
        (["stats", "--json"], None),
    ):
        mark.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
        out = subprocess.run(
            [sys.executable, "-c", code, "--db", str(db), *argv],
            capture_output=True,
            text=True,
            env=cli_env(extra),
            check=False,
        )
        assert out.returncode == 0 and out.stderr == "", (argv, out.stderr)
        assert printed is None or out.stdout == printed, argv
        assert mark.read_text() == "ran", argv
        if argv[0] == "submit":
            assert log.read_text() == "loaded", argv
    assert fast.parse(["submit", "plug"]) is not None


def test_submit_with_a_job_file_goes_to_click(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A --jobs file runs each time it is loaded: click alone loads it (once)."""
    argv = ["--db", db, "submit", "echo", "-p", "message=hi"]
    assert fast.prepare(argv) is not None
    monkeypatch.setenv("TUIQUEUE_JOBS", "mine.jobs")
    assert fast.prepare(argv) is not None
    monkeypatch.setenv("TUIQUEUE_JOBS", "mine.jobs,./my_jobs.py")
    assert fast.prepare(argv) is None
    assert fast.prepare(["--db", db, "list"]) is not None


def test_the_dashboards_plain_launch_is_read_without_click() -> None:
    """`tuiqueue [--db PATH] [--worker | --no-worker] [--read-only]` opens the dashboard
    without click; any other form (a repeated option, a dashboard option click would
    refuse, one this path does not know) is click's."""
    assert fast.parse_dashboard([]) == fast.Plan(None, "", {}, [])
    assert fast.parse_dashboard(["--db", "a.db", "--no-worker"]) == fast.Plan(
        "a.db", "", {"worker": False}, []
    )
    assert fast.parse_dashboard(["--read-only", "--db=b.db"]) == fast.Plan(
        "b.db", "", {"read_only": True}, []
    )
    assert fast.parse_dashboard(["--worker"]) == fast.Plan(None, "", {"worker": True}, [])
    for argv in (
        ["--db"],
        ["--db", "-x"],
        ["--db", "a.db", "--db", "b.db"],
        ["--worker", "--no-worker"],
        ["--read-only", "--read-only"],
        ["--read-only", "--worker"],  # (click refuses it)
        ["-c", "4"],
        ["--concurrency", "4"],
        ["--notify", "all"],
        ["--jobs", "mod"],
        ["--on-finish", "true"],
        ["--version"],
        ["-h"],
        ["--", "--db", "a.db"],
        ["list"],
    ):
        assert fast.parse_dashboard(argv) is None, argv
    assert fast.prepare(["--db", "a.db", "--read-only"]) is not None


DASHBOARD_REFUSED = [
    ["--db", "bad.db"],
    ["--db", "bad.db", "--read-only"],
    ["--db", "redis://:secret@127.0.0.1:1/0", "--no-worker"],
    ["--db", "mysql://u:pw@host/db"],
]
"""Dashboard launches that fail before the app starts: said here as click says them."""


def test_a_dashboard_that_cannot_start_says_what_click_says(tmp_path: Path) -> None:
    (tmp_path / "launch.py").write_text(LAUNCH)
    env = cli_env({"TUIQUEUE_JOBS": ""})
    outputs: dict[str, list[tuple[object, ...]]] = {}
    for mode in ("fast", "click"):
        folder = tmp_path / mode
        folder.mkdir()
        (folder / "bad.db").write_text("not a database")
        outputs[mode] = [tuple(_run(folder, mode, argv, env)[:3]) for argv in DASHBOARD_REFUSED]
    assert outputs["fast"] == outputs["click"]
    for (code, out, err), argv in zip(outputs["fast"], DASHBOARD_REFUSED, strict=True):
        assert code == 2 and out == "" and err.startswith("Error: "), (argv, err)
        assert "secret" not in err and "\n" == err[-1] and err.count("\n") == 1, err
