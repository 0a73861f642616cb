"""Fuzzing parameter validation, the Python API and the CLI with random and hostile values.

Every value is either rejected with a clear one-line error (nothing stored) or stored exactly:
what `show --json` / `engine.get` reads back equals what was accepted, type for type.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, cli_env
from tuiqueue.cli import main
from tuiqueue.core.params import MAX_INT, ValidationError
from tuiqueue.core.registry import REGISTRY, load_job_types
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store

JOBS = str(ROOT / "tests" / "rel_jobs.py")
REDIS_URL = "redis://127.0.0.1:6379/11"
MEGA = "x" * 1_000_000 + "\u00e9\x1b[31m[/]"

settings.register_profile(
    "fuzz",
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FUZZ = settings.get_profile("fuzz")

HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ud83d",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;t\x07",
    "[/]",
    "[bold]x[/bold]",
    "[/oops]",
    "[link=x]",
    "\r\n",
    "a\nb",
    "\u202e",
    "\U0001f600",
    "\ufeff",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "-0.0",
    str(10**100),
    str(-(10**100)),
    str(MAX_INT),
    str(MAX_INT + 1),
    str(-MAX_INT - 1),
    "1_000",
    "0x10",
    " 42 ",
    "\u0663",
    "\u00bd",
    "true",
    "YES",
    "off",
    "[]",
    "[1, 2]",
    '["a", 1]',
    '["\\ud800"]',
    "[" * 5000,
    "{}",
    "null",
    "=",
    "a=b",
    "'",
    '"',
    "\\",
    "%s",
    "{0}",
    "$(rm -rf /)",
    "http://",
    "https://example.com/a b",
    "http://[::1",
    "ftp://x",
    "https://example.com",
    "a" * 10_001,
    MEGA,
]
TEXT = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(st.characters(exclude_categories=()), max_size=40),
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**120), max_value=10**120),
    st.sampled_from(
        [10**100, -(10**100), 10**400, 2**53 + 1, MAX_INT, MAX_INT + 1, -MAX_INT - 1, 2**64, 0, -1]
    ),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 3.0, 100.0]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, st.binary(max_size=8))
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.tuples(TEXT, TEXT),
    st.dictionaries(TEXT, SCALARS, max_size=3),
    st.sampled_from([object(), {"a"}, b"bytes", [[["deep"]]], ["https://example.com"] * 3]),
)
NAMES = ["i", "r", "f", "g", "s", "big", "b", "c", "l", "u"]
PARAM_NAME = st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), TEXT)


@pytest.fixture(autouse=True, scope="module")
def _load_jobs() -> None:
    load_job_types([JOBS])


def schema() -> Any:
    return REGISTRY.get("rel_params").schema


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def assert_clear(message: str) -> None:
    """A person can read it: one line, not empty, no raw control characters."""
    assert message.strip(), "empty error message"
    assert "\n" not in message and "\r" not in message, message[:300]
    assert "\x1b" not in message and "\x00" not in message, message[:300]
    assert "Traceback" not in message


def check_accepted(name: str, value: Any, clean: Any) -> None:
    """What validation accepted is the input itself (or its one documented normal form)."""
    param = schema().get(name)
    assert param is not None
    kind = param.kind
    if kind == "int":
        assert type(clean) is int and not isinstance(value, bool)
        assert clean == value and abs(clean) <= MAX_INT
    elif kind == "float":
        assert type(clean) is float and math.isfinite(clean) and not isinstance(value, bool)
        assert clean == value
    elif kind in ("str", "choice"):
        # Exactly the text given (a store read it back: equal, not the same object).
        assert type(clean) is str and clean == value
        clean.encode("utf-8")
    elif kind == "bool":
        assert clean is value
    else:
        expected = [value] if isinstance(value, str) else list(value)
        assert same(clean, expected)
        for item in clean:
            item.encode("utf-8")
    if param.min is not None and kind in ("int", "float"):
        assert clean >= param.min
    if param.max is not None and kind in ("int", "float"):
        assert clean <= param.max


# -- Schema.validate and Param.parse_text -------------------------------------------------------


@FUZZ
@given(st.dictionaries(PARAM_NAME, VALUES, max_size=4))
def test_validate_rejects_clearly_or_accepts_exactly(raw: dict[str, Any]) -> None:
    try:
        clean = schema().validate(raw, "rel_params")
    except ValidationError as exc:
        assert exc.errors
        for field, message in exc.errors.items():
            assert_clear(message)
            assert field in raw or field in NAMES
        return
    assert set(clean) <= set(raw)
    for name, value in clean.items():
        check_accepted(name, raw[name], value)
    json.dumps(clean, allow_nan=False)  # every store writes params as strict JSON


@FUZZ
@given(st.sampled_from(NAMES), TEXT)
def test_parse_text_every_kind(name: str, text: str) -> None:
    param = schema().get(name)
    assert param is not None
    try:
        param.parse_text(text)
    except ValueError as exc:
        assert_clear(str(exc))
    try:
        clean = schema().parse_texts([(name, text)], "rel_params")
    except ValidationError as exc:
        for message in exc.errors.values():
            assert_clear(message)
        return
    if param.kind == "str":
        assert clean[name] is text  # what was typed, not stripped or re-encoded
    elif param.kind == "int":
        assert type(clean[name]) is int
    elif param.kind == "float":
        assert type(clean[name]) is float and math.isfinite(clean[name])
    json.dumps(clean, allow_nan=False)


# -- engine.submit on every store -------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "redis"])
def portal_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[anyio.from_thread.BlockingPortal, Engine]]:
    """An opened engine (not running jobs) reachable from sync hypothesis tests."""
    url = {"memory": ":memory:", "sqlite": str(tmp_path / "jobs.db"), "redis": REDIS_URL}
    if request.param == "redis":
        redis = pytest.importorskip("redis")
        try:
            redis.Redis.from_url(REDIS_URL).flushdb()
        except redis.exceptions.ConnectionError:
            pytest.skip("no Redis at 127.0.0.1:6379")
    engine = Engine(open_store(url[request.param]), worker_id="fuzz")
    with anyio.from_thread.start_blocking_portal() as portal:
        portal.call(engine.store.open)
        try:
            yield portal, engine
        finally:
            portal.call(engine.store.close)
    if request.param == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()


KWARGS = st.fixed_dictionaries(
    {},
    optional={
        "priority": st.one_of(st.sampled_from(["high", " LOW ", "3", 2, 7, -1]), SCALARS),
        "delay": st.one_of(NUMBERS, SCALARS),
        "max_attempts": st.one_of(NUMBERS, SCALARS),
        "timeout": st.one_of(NUMBERS, SCALARS),
        "after": st.one_of(
            st.lists(NUMBERS, max_size=2), st.just([1]), st.just([True]), st.just((1,)), SCALARS
        ),
    },
)


@FUZZ
@given(
    params=st.one_of(st.just({}), st.dictionaries(PARAM_NAME, VALUES, max_size=3)), kwargs=KWARGS
)
def test_submit_stores_exactly_or_refuses(
    portal_engine: tuple[anyio.from_thread.BlockingPortal, Engine],
    params: dict[str, Any],
    kwargs: dict[str, Any],
) -> None:
    portal, engine = portal_engine
    before = sum(portal.call(engine.store.counts).values())

    async def submit() -> Any:
        return await engine.submit("rel_params", params, **kwargs)

    try:
        job = portal.call(submit)
    except (ValidationError, ValueError, TypeError, LookupError) as exc:
        assert_clear(str(exc))
        assert sum(portal.call(engine.store.counts).values()) == before, "half-written"
        return
    stored = portal.call(engine.get, job.id)
    assert same(stored.params, job.params)
    for name, value in stored.params.items():
        check_accepted(name, params[name], value)
    assert same(stored.timeout, kwargs.get("timeout")) or (
        kwargs.get("timeout") is not None and same(stored.timeout, float(kwargs["timeout"]))
    )
    assert same(stored.max_attempts, kwargs.get("max_attempts") or 1)
    assert same(stored.depends_on, list(kwargs.get("after", [])))


# -- the CLI in this process, on a SQLite file --------------------------------------------------


def count_rows(db: str) -> int:
    if not Path(db).exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def invoke(*args: str, stdin: bytes | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=stdin)


def check_cli_result(result: Any, db: str, before: int) -> dict[str, Any] | None:
    """Exit 0 with JSON, or exit 2 with one clear line and nothing stored; never a crash."""
    assert result.exit_code in (0, 2), (
        result.exit_code,
        result.output[-2000:],
        repr(result.exception),
    )
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        # Our own errors are one line; click's usage errors add its usual "Usage:" hint.
        lines = result.stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("Error: ")]
        assert len(errors) == 1 and errors[0] == lines[-1], result.stderr[-500:]
        assert len(lines) == 1 or lines[0].startswith("Usage: "), result.stderr[-500:]
        assert_clear(errors[0])
        assert count_rows(db) == before, "a refused submit stored something"
        return None
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.fixture
def cli_db(tmp_path: Path, no_env: None) -> str:
    db = str(tmp_path / "cli.db")
    assert invoke("--db", db, "--jobs", JOBS, "queue", "pause").exit_code == 0
    return db


PAIRS = st.lists(st.tuples(PARAM_NAME, TEXT), min_size=1, max_size=3)
FLAGS = st.lists(
    st.one_of(
        st.tuples(st.just("--priority"), st.sampled_from(["high", "HIGH", "urgent", "", "\x00"])),
        st.tuples(
            st.just("--delay"),
            st.sampled_from(["nan", "inf", "-inf", "-1", "1e400", "0", str(10**100), "x", "3600"]),
        ),
        st.tuples(
            st.just("--timeout"),
            st.sampled_from(["nan", "inf", "0", "-5", "1e-300", str(10**100), "30"]),
        ),
        st.tuples(st.just("--retries"), st.sampled_from(["-1", "0", "3", "101", str(10**100)])),
        st.tuples(
            st.just("--after"),
            st.sampled_from(["0", "-1", "999999", str(10**100), str(MAX_INT + 1), "1.5"]),
        ),
    ),
    max_size=2,
)


@settings(FUZZ, max_examples=40)
@given(pairs=st.one_of(st.just([("s", "x")]), PAIRS), flags=FLAGS)
def test_cli_submit_params(
    cli_db: str, pairs: list[tuple[str, str]], flags: list[tuple[str, str]]
) -> None:
    before = count_rows(cli_db)
    args = [a for name, text in pairs for a in ("-p", f"{name}={text}")]
    args += [a for flag in flags for a in flag]
    result = invoke("--db", cli_db, "--jobs", JOBS, "submit", "rel_params", *args, "--json")
    job = check_cli_result(result, cli_db, before)
    if job is None:
        return
    assert count_rows(cli_db) == before + 1
    expected = schema().parse_texts(pairs, "rel_params")
    shown = invoke("--db", cli_db, "show", str(job["id"]), "--json")
    assert shown.exit_code == 0, shown.output
    assert same(json.loads(shown.stdout)["params"], expected)
    typed = dict(pairs)  # the last value given for each name
    for name in ("s", "big"):  # a str parameter keeps exactly what was typed
        if name in typed:
            assert json.loads(shown.stdout)["params"][name] == typed[name]


LINE_VALUES = st.one_of(VALUES.filter(lambda v: _jsonable(v)), st.sampled_from(["NaN"]))
RAW_LINES = st.sampled_from(
    [
        '{"type": "rel_params", "params": {"f": NaN}}',
        '{"type": "rel_params", "params": {"f": Infinity}}',
        '{"type": "rel_params", "params": {"f": -Infinity}}',
        '{"type": "rel_params", "params": {"f": 1e400}}',
        '{"type": "rel_params", "params": {"i": ' + str(10**100) + "}}",
        '{"type": "rel_params", "params": {"i": 1' + "0" * 5000 + "}}",
        '{"type": "rel_params", "params": {"s": "\\ud800"}}',
        '{"type": "rel_params", "params": {"s": "\\u0000\\u001b[31m[/]"}}',
        '{"type": "rel_params", "params": {"l": ["\\udfff"]}}',
        '{"type": "rel_params", "params": {"s": ' + "[" * 100_000 + "]" * 100_000 + "}}",
        '{"type": "rel_params", "after": true}',
        '{"type": "rel_params", "after": "12"}',
        '{"type": "rel_params", "after": {"1": 2}}',
        '{"type": "rel_params", "after": [1.5]}',
        '{"type": "rel_params", "after": ' + str(10**100) + "}",
        '{"type": "rel_params", "priority": NaN}',
        '{"type": "rel_params", "priority": [2]}',
        '{"type": "rel_params", "delay": "5"}',
        '{"type": "rel_params", "delay": Infinity}',
        '{"type": "rel_params", "params": null}',
        '{"type": "rel_params", "params": []}',
        '{"type": "rel_params", "params": "s=1"}',
        '{"type": "\\ud800"}',
        '{"type": "rel_params", "type": "echo"}',
        "[]",
        "null",
        "\x00",
        "\ud800",
        "{",
        '"\\ud800"',
        "\udcff\udcfe",
    ]
)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


@settings(FUZZ, max_examples=40)
@given(
    lines=st.lists(
        st.one_of(
            RAW_LINES,
            st.builds(
                lambda p: json.dumps({"type": "rel_params", "params": p}),
                st.dictionaries(PARAM_NAME, LINE_VALUES, max_size=3),
            ),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_cli_submit_from_json_lines(cli_db: str, lines: list[str]) -> None:
    before = count_rows(cli_db)
    # Bytes, as a real stdin gives them: a lone surrogate becomes invalid UTF-8.
    stdin = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    result = invoke("--db", cli_db, "--jobs", JOBS, "submit", "--from", "-", "--json", stdin=stdin)
    jobs = check_cli_result(result, cli_db, before)
    if jobs is None:
        return
    assert isinstance(jobs, list) and len(jobs) == len(lines)
    assert count_rows(cli_db) == before + len(lines), "all or nothing"
    for line, job in zip(lines, jobs, strict=True):
        sent = json.loads(line)
        stored = json.loads(invoke("--db", cli_db, "show", str(job["id"]), "--json").stdout)
        want = REGISTRY.get(sent["type"]).schema.validate(sent.get("params") or {})
        assert same(stored["params"], want)


# -- a few real processes ---------------------------------------------------------------------


REAL_CASES: list[tuple[list[str], str | None, dict[str, Any] | None]] = [
    (
        ["-p", "s=\x1b[31mred\x1b[0m [bold]x[/] [/oops]"],
        None,
        {"s": "\x1b[31mred\x1b[0m [bold]x[/] [/oops]"},
    ),
    (
        ["-p", f"i={MAX_INT}", "-p", "f=-0.0", "-p", "c=[b]"],
        None,
        {"i": MAX_INT, "f": -0.0, "c": "[b]"},
    ),
    (["-p", f"i={10**100}"], None, None),
    (["-p", "f=nan"], None, None),
    (["-p", "f=-inf"], None, None),
    (["-p", "b=maybe"], None, None),
    (
        ["--from", "-"],
        json.dumps({"type": "rel_params", "params": {"big": MEGA}}) + "\n",
        {"big": MEGA},
    ),
    (["--from", "-"], '{"type": "rel_params", "params": {"s": "a\\u0000b"}}\n', {"s": "a\x00b"}),
    (["--from", "-"], '{"type": "rel_params", "params": {"s": "\\ud800"}}\n', None),
    (["--from", "-"], '{"type": "rel_params", "params": {"f": NaN}}\n', None),
]


def test_cli_real_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "real.db")
    base = [sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", JOBS]
    assert (
        subprocess.run(
            [*base, "queue", "pause"], env=cli_env(), capture_output=True, timeout=60
        ).returncode
        == 0
    )
    for args, stdin, expected in REAL_CASES:
        before = count_rows(db)
        typed = [] if "--from" in args else ["rel_params"]
        out = subprocess.run(
            [*base, "submit", *typed, *args, "--json"],
            input=stdin,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in out.stderr, out.stderr[-2000:]
        if expected is None:
            assert out.returncode == 2, (args, out.returncode, out.stderr[-500:])
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), out.stderr[-500:]
            assert count_rows(db) == before
            continue
        assert out.returncode == 0, (args, out.stderr[-500:])
        new = json.loads(out.stdout)
        job_id = (new[0] if isinstance(new, list) else new)["id"]
        shown = subprocess.run(
            [*base, "show", str(job_id), "--json"],
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert same(json.loads(shown.stdout)["params"], expected)
