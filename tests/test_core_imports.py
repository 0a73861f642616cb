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
