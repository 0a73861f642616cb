"""The headless core and the non-dashboard CLI never import textual (they start fast)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import cli_env


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        env=cli_env(),
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "import tuiqueue.core",
        "import tuiqueue",
        "from tuiqueue import Engine, job_type, Param, JobContext, open_store",
        "import tuiqueue.jobs, tuiqueue.store.sqlite, tuiqueue.store.memory",
        "import tuiqueue.cli",
    ],
)
def test_no_textual_on_import(code: str) -> None:
    assert not {m for m in _modules_after(code) if m.split(".")[0] == "textual"}


@pytest.mark.parametrize("args", [["types"], ["--db", ":memory:", "stats", "--json"]])
def test_cli_subcommands_do_not_import_textual(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from tuiqueue.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'textual'], 'textual imported'\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=cli_env(), capture_output=True, text=True
    )


def _cli_modules(args: list[str]) -> set[str]:
    """The modules a real `python -m tuiqueue ARGS` process imported (printed at exit)."""
    code = (
        "import atexit, sys, runpy\n"
        "atexit.register(lambda: print('\\n'.join(sys.modules), file=sys.stderr))\n"
        f"sys.argv = ['tuiqueue', *{args!r}]\n"
        "runpy.run_module('tuiqueue', run_name='__main__')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True
    )
    return set(out.stderr.split())


HEAVY = {"textual", "httpx", "rich", "asyncio", "tuiqueue.engine.engine", "tuiqueue.ui"}
"""What the short commands on SQLite never import (no dashboard, no engine, no event loop)."""


def test_short_commands_on_sqlite_import_no_event_loop_nor_engine(db: str) -> None:
    submitted = _cli_modules(["--db", db, "submit", "echo", "-p", "message=hi"])
    assert not {m for m in submitted for h in HEAVY if m == h or m.startswith(h + ".")}
    # Registering the job types imports none of what only running them needs (anyio and its
    # inspect, subprocess), and the core's records are no dataclasses (core/plain.py).
    assert not {"anyio", "inspect", "dataclasses", "subprocess"} & submitted
    # Their common forms run without click (cli/fast.py), nor the group's other commands.
    assert not {m for m in submitted if m == "click" or m.startswith("click.")}
    assert not {"tuiqueue.cli.group", "tuiqueue.cli.support"} & submitted
    for args in (["list"], ["show", "1"], ["stats", "--json"], ["cancel", "1"]):
        modules = _cli_modules(["--db", db, *args])
        heavy = {m for m in modules for h in {*HEAVY, "anyio"} if m == h or m.startswith(h + ".")}
        assert not heavy, (args, sorted(heavy)[:5])
        assert not {m for m in modules if m.startswith("tuiqueue.jobs")}, args
        # Only submit checks params against the job types (and their errors are told
        # apart only once their modules are loaded: cli/support.py, _loaded).
        assert not {"tuiqueue.core.registry", "tuiqueue.core.params"} & modules, args
        # Nor logging: its loggers are made on first use (core/logs.py).
        assert "logging" not in modules, args
        # Nor click (cli/fast.py), nor what only the engine or a URL needs.
        assert not {m for m in modules if m == "click" or m.startswith("click.")}, args
        assert not {"tuiqueue.cli.group", "uuid", "platform"} & modules, args
        assert not {"dataclasses", "inspect"} & modules, args


def test_a_lazy_logger_logs_as_logging_does_and_prints_nothing_unasked() -> None:
    """A module's lazy logger reaches the handlers the application configured; with none,
    tuiqueue's NullHandler keeps its warnings off stderr, as before."""
    code = (
        "from tuiqueue.store import sqlite_conn\n"
        "import sys\n"
        "assert 'logging' not in sys.modules\n"
        "sqlite_conn.log.warning('quiet by default')\n"
        "import logging\n"
        "assert sqlite_conn.log.name == 'tuiqueue.store.sqlite_conn'\n"
        "logging.basicConfig(stream=sys.stdout, format='%(name)s %(levelname)s %(message)s')\n"
        "sqlite_conn.log.warning('seen once configured')\n"
        "sqlite_conn.log.debug('below the level')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True
    )
    assert out.stderr == ""
    assert out.stdout == "tuiqueue.store.sqlite_conn WARNING seen once configured\n"


def test_every_command_is_in_the_lazy_map() -> None:
    from tuiqueue.cli.group import COMMANDS, load_all_commands, main

    load_all_commands()
    assert set(main.commands) == set(COMMANDS)
    for name, module in COMMANDS.items():
        assert main.commands[name].callback is not None
        assert main.commands[name].callback.__module__ == f"tuiqueue.cli.{module}", name


def test_the_dashboard_imports_only_the_screens_its_first_frame_shows() -> None:
    modules = _modules_after("import tuiqueue.ui.app")
    later = {
        "tuiqueue.ui.screens.detail",
        "tuiqueue.ui.screens.help",
        "tuiqueue.ui.screens.workers",
        "tuiqueue.ui.screens.schedules",
        "tuiqueue.ui.screens.schedule_add",
        "tuiqueue.ui.screens.confirm",  # the dialogs: imported when first asked
        "tuiqueue.ui.screens.preset_name",
        "tuiqueue.engine.isolation",  # with the first job that runs in a child process
        "zoneinfo",  # with the first cron schedule's zone
        "tomllib",  # when there is a config file to read
        "textual.widgets._text_area",  # list parameters' boxes: imported with such a form
    }
    assert not modules & later, sorted(modules & later)
