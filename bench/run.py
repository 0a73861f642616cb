"""The benchmark suite: tuiqueue against its peers and the limits, as ratios from one run.

    python bench/run.py [--quick] [--json PATH] [--only SCENARIO]

Every measurement runs in its own subprocess (no shared imports, caches or Redis state),
and the table prints ratios measured side by side. It never asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MEASURE_TIMEOUT = 120.0


@dataclass
class Row:
    """One line of the table (the JSON shape the README documents)."""

    scenario: str
    unit: str
    tuiqueue: float | None
    peer: str | None = None
    peer_value: float | None = None
    limit_value: float | None = None
    ratio_vs_peer: float | None = None
    ratio_vs_limit: float | None = None
    target: str = ""
    note: str = ""


@dataclass
class Size:
    """How big each scenario is (full or --quick)."""

    n: int
    sqlite_n: int
    store_small: int
    store_large: int
    rss_total: int
    rss_warmup: int
    progress_seconds: float
    progress_running: int
    ui_small: int
    ui_large: int
    nap_seconds: float
    cli_rounds: int
    server_samples: int
    server_n: int
    sse_subscribers: int
    ws_clients: int
    beats: int


FULL = Size(
    n=5_000,
    sqlite_n=20_000,
    store_small=100,
    store_large=100_000,
    rss_total=100_000,
    rss_warmup=20_000,
    progress_seconds=6.0,
    progress_running=500,
    ui_small=100,
    ui_large=100_000,
    nap_seconds=1.0,
    cli_rounds=9,
    server_samples=300,
    server_n=2_000,
    sse_subscribers=200,
    ws_clients=50,
    beats=10,
)
QUICK = Size(
    n=300,
    sqlite_n=300,
    store_small=100,
    store_large=2_000,
    rss_total=3_000,
    rss_warmup=1_000,
    progress_seconds=2.0,
    progress_running=50,
    ui_small=20,
    ui_large=500,
    nap_seconds=0.2,
    cli_rounds=3,
    server_samples=30,
    server_n=80,
    sse_subscribers=20,
    ws_clients=10,
    beats=3,
)


def measure(
    module: str, func: str, timeout: float = MEASURE_TIMEOUT, **kwargs: Any
) -> dict[str, Any]:
    """Run bench/<module>.py:<func>(**kwargs) in a fresh interpreter; its dict of numbers."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import importlib; "
        "m = importlib.import_module(sys.argv[2]); "
        "out = getattr(m, sys.argv[3])(**json.loads(sys.argv[4])); "
        "print('RESULT ' + json.dumps(out))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(HERE), module, func, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    raise RuntimeError(f"{module}.{func} failed: " + " | ".join(tail))


def best(module: str, func: str, key: str, repeat: int, **kwargs: Any) -> dict[str, Any]:
    """The run with the highest `key` out of `repeat` (shared machines only ever slow us down)."""
    runs = [measure(module, func, **kwargs) for _ in range(repeat)]
    return max(runs, key=lambda r: float(r[key]))


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def redis_available() -> str | None:
    """Why the Redis rows cannot run, or None when they can."""
    try:
        import tuiqueue.store.redis  # noqa: F401
    except ImportError:
        return "not measured: no RedisStore yet"
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/13").ping()
    except Exception as exc:
        return f"not measured: no Redis at 127.0.0.1:6379 ({type(exc).__name__})"
    return None


# -- scenarios ------------------------------------------------------------------------------


def throughput_rows(
    store: str,
    peers: list[tuple[str, str, str, dict[str, Any]]],
    limit: tuple[str, str] | None,
    size: Size,
    repeat: int,
    targets: dict[str, str],
    n: int | None = None,
    concurrency: int | None = None,
) -> list[Row]:
    """Submitted and completed jobs/s of tuiqueue on `store` vs each peer and the limit
    (tuiqueue at `concurrency`, or the engine's default)."""
    n = n or size.n
    extra = {} if concurrency is None else {"concurrency": concurrency}
    ours = best("tq", "throughput", "completed", repeat, n=n, store=store, **extra)
    at = "" if concurrency is None else f", concurrency {concurrency}"
    lim = None
    if limit:  # "func" of peers.py, or "module:func"
        module, _, func = limit[1].rpartition(":")
        lim = best(module or "peers", func, "completed", repeat, n=n)
    rows = []
    for label, module, func, kwargs in peers:
        theirs = best(module, func, "completed", repeat, n=n, **kwargs)
        for key in ("completed", "submitted"):
            limit_value = lim[key] if lim else None
            rows.append(
                Row(
                    f"{store}: {key}{at}",
                    "jobs/s",
                    ours[key],
                    label,
                    theirs[key],
                    limit_value,
                    ratio(ours[key], theirs[key]),
                    ratio(ours[key], limit_value),
                    targets.get(f"{label}:{key}", ""),
                )
            )
    return rows


SQLITE_BATCH = 64
"""The limit's claim and finish batch; tuiqueue is measured at the same concurrency (its
ticks record and claim up to `concurrency` jobs in one transaction)."""


def scenario_sqlite(size: Size, repeat: int) -> list[Row]:
    """SQLite store vs huey's SqliteHuey, with batched raw sqlite3 as the limit, tuiqueue at
    the limit's batch; then tuiqueue at its default concurrency (8) against the same limit,
    and against raw sqlite3 at one transaction per step per job."""
    rows = throughput_rows(
        "sqlite",
        [
            ("huey SqliteHuey (NORMAL)", "peers", "huey_sqlite", {"synchronous": "normal"}),
            ("huey SqliteHuey (default)", "peers", "huey_sqlite", {}),
        ],
        ("raw sqlite3, batches of 64", "raw_sqlite_batched"),
        size,
        repeat,
        {"huey SqliteHuey (NORMAL):completed": ">= 2x peer, >= 0.3x limit"},
        n=size.sqlite_n,
        concurrency=SQLITE_BATCH,
    )
    limit = rows[0].limit_value
    floor = best("sqlite_floor", "schema_floor", "completed", repeat, n=size.sqlite_n)
    share = ratio(floor["completed"], limit)
    rows.append(
        Row(
            f"sqlite: completed, concurrency {SQLITE_BATCH}, vs its own schema's floor",
            "jobs/s",
            rows[0].tuiqueue,
            "the store's claim and finish statements by hand, on tuiqueue's schema",
            floor["completed"],
            limit,
            ratio(rows[0].tuiqueue, floor["completed"]),
            rows[0].ratio_vs_limit,
            note=(
                f"26 columns, 6 indexes, a feed row a write: the schema alone allows "
                f"{share:.2f}x the limit"
                if share is not None
                else ""
            ),
        )
    )
    default = best("tq", "throughput", "completed", repeat, n=size.sqlite_n, store="sqlite")
    per_job = best("peers", "raw_sqlite", "completed", repeat, n=size.sqlite_n)
    ours = default["completed"]
    rows.append(
        Row(
            "sqlite: completed, default concurrency (8)",
            "jobs/s",
            ours,
            "raw sqlite3, 3 transactions a job",
            per_job["completed"],
            limit,
            ratio(ours, per_job["completed"]),
            ratio(ours, limit),
            note="batches of 8: a transaction's fixed cost is shared by 8 jobs, not 64",
        )
    )
    return rows


def scenario_memory(size: Size, repeat: int) -> list[Row]:
    """Memory store vs MemoryHuey and a bare asyncio.Queue pipeline."""
    return throughput_rows(
        "memory",
        [("huey MemoryHuey", "peers", "huey_memory", {})],
        ("bare asyncio", "bare_asyncio"),
        size,
        repeat,
        {"huey MemoryHuey:completed": ">= 2x peer, >= 0.25x limit"},
    )


def scenario_redis(size: Size, repeat: int) -> list[Row]:
    """Redis store vs saq and arq on the same local Redis (db 13)."""
    why = redis_available()
    if why:
        return [Row("redis: completed", "jobs/s", None, "saq / arq", note=why)]
    return throughput_rows(
        "redis",
        [("saq", "peers", "saq_redis", {}), ("arq", "peers", "arq_redis", {})],
        None,
        size,
        1,  # saq and arq are slow enough that one run each keeps this under a minute
        {"saq:completed": ">= 3x peer", "arq:completed": ">= 5x peer"},
    )


def scenario_postgres(size: Size, repeat: int) -> list[Row]:
    """PostgreSQL store vs pgqueuer and the same lifecycle by hand (asyncpg, SKIP LOCKED)."""
    sys.path.insert(0, str(HERE))
    from pg import available

    why = available()
    if why:
        return [Row("postgres: completed", "jobs/s", None, "pgqueuer", note=why)]
    return throughput_rows(
        "postgres",
        [("pgqueuer", "pg", "pgqueuer_pg", {})],
        ("hand-written asyncpg", "pg:raw_pg"),
        size,
        1,  # each run creates and drops a database of its own
        {"pgqueuer:completed": ">= 1x peer, >= 0.25x limit"},
    )


def scenario_submit_latency(size: Size, repeat: int) -> list[Row]:
    """One submit with a small vs a large store (SQLite): the ratio should stay near 1."""
    small = measure("tq", "submit_latency", size=size.store_small)
    large = measure("tq", "submit_latency", size=size.store_large)
    label = f"same, {size.store_small:,} jobs in store"
    return [
        Row(
            f"submit latency {q}, {size.store_large:,} jobs in store",
            "ms",
            large[key],
            label,
            small[key],
            None,
            ratio(large[key], small[key]),
            None,
            "<= 1.5x peer" if q == "p50" else "",
        )
        for q, key in (("p50", "p50_ms"), ("p99", "p99_ms"))
    ]


def scenario_memory_growth(size: Size, repeat: int) -> list[Row]:
    """Engine RSS after many jobs (SQLite store) and growth after warm-up."""
    out = measure("tq", "memory_growth", total=size.rss_total, warmup=size.rss_warmup)
    return [
        Row(f"engine RSS after {size.rss_total:,} jobs", "MiB", out["rss_mib"]),
        Row(
            f"RSS growth, jobs {size.rss_warmup:,}..{size.rss_total:,}",
            "MiB",
            out["growth_mib"],
            None,
            None,
            10.0,
            None,
            ratio(out["growth_mib"], 10.0),
            "<= 10 MiB",
        ),
    ]


def dashboard_available() -> str | None:
    """Why the dashboard rows cannot run, or None when they can."""
    try:
        from tuiqueue.ui.app import make_app  # noqa: F401
    except ImportError as exc:
        return f"not measured: no tuiqueue.ui.app.make_app ({exc})"
    return None


def scenario_dashboard(size: Size, repeat: int) -> list[Row]:
    """First paint and key-press latency with a small vs a large store."""
    why = dashboard_available()
    if why:
        return [Row("dashboard first paint", "ms", None, note=why)]
    small = measure("ui", "paint_and_keys", jobs=size.ui_small)
    large = measure("ui", "paint_and_keys", jobs=size.ui_large)
    label = f"same, {size.ui_small:,} jobs"
    return [
        Row(
            f"dashboard {what}, {size.ui_large:,} jobs",
            "ms",
            large[key],
            label,
            small[key],
            None,
            ratio(large[key], small[key]),
            None,
            "" if key == "key_idle_p50_ms" else "<= 1.5x peer",
        )
        for what, key in (
            ("first paint", "first_paint_ms"),
            ("key press to cursor moved, p50", "key_p50_ms"),
            ("key press to Pilot idle, p50", "key_idle_p50_ms"),
        )
    ]


def scenario_progress(size: Size, repeat: int) -> list[Row]:
    """Many running jobs reporting progress 20x/s: headless vs with the dashboard attached."""
    kw = {"seconds": size.progress_seconds, "running": size.progress_running}
    headless = measure("tq", "progress_headless", **kw)
    rows = [
        Row(
            f"{size.progress_running} jobs x 20 progress/s: loop lag p95, headless",
            "ms",
            headless["lag_p95_ms"],
        )
    ]
    why = dashboard_available()
    if why:
        rows.append(
            Row(
                "same, dashboard attached: jobs/s",
                "jobs/s",
                None,
                "headless",
                headless["jobs_per_s"],
                note=why,
            )
        )
        return rows
    try:
        ui = measure("ui", "progress_with_dashboard", timeout=50.0, **kw)
    except subprocess.TimeoutExpired:
        rows.append(
            Row(
                f"{size.progress_running} jobs x 20 progress/s: jobs/s, dashboard",
                "jobs/s",
                None,
                "headless",
                headless["jobs_per_s"],
                None,
                None,
                None,
                ">= 0.8x peer",
                "not measured: the dashboard fell behind (50 s limit)",
            )
        )
        return rows
    rows += [
        Row(
            f"{size.progress_running} jobs x 20 progress/s: loop lag p95, dashboard",
            "ms",
            ui["lag_p95_ms"],
            "headless",
            headless["lag_p95_ms"],
            None,
            ratio(ui["lag_p95_ms"], headless["lag_p95_ms"]),
        ),
        Row(
            f"{size.progress_running} jobs x 20 progress/s: jobs/s, dashboard",
            "jobs/s",
            ui["jobs_per_s"],
            "headless",
            headless["jobs_per_s"],
            None,
            ratio(ui["jobs_per_s"], headless["jobs_per_s"]),
            None,
            ">= 0.8x peer",
        ),
    ]
    return rows


def scenario_cli(size: Size, repeat: int) -> list[Row]:
    """Wall time of the short commands, each against `python -c pass` of the same run; the
    limit is the floor of any Python command on a SQLite file (cli.FLOOR: no click, as the
    commands' fast path), in the same run; the click and store floors are informative."""
    out = measure("cli", "commands", timeout=300.0, rounds=size.cli_rounds)
    base, floor = out["pass_ms"], out["floor_ms"]
    rows = [
        Row(
            f"cli: tuiqueue {name}, wall, median",
            "ms",
            out[f"{name}_ms"],
            "python -c pass",
            base,
            floor,
            ratio(out[f"{name}_ms"], base),
            ratio(out[f"{name}_ms"], floor),
            "<= 4x peer",
        )
        for name in ("submit", "list", "show", "stats", "cancel")
    ]
    informative = (
        (
            "cli: floor, a minimal script reading 50 SQLite rows, wall, median",
            floor,
            "import json, sqlite3 and one SELECT, no click: no command on the file is faster",
        ),
        (
            "cli: click floor, a minimal click command reading 50 SQLite rows, wall, median",
            out.get("click_floor_ms"),
            "the floor with click: what the commands could not beat through click",
        ),
        (
            "cli: store floor, import the SQLite store and print 50 jobs, wall, median",
            out.get("store_floor_ms"),
            "the store's import chain, open, one query, print (no command line)",
        ),
    )
    for scenario, value, note in informative:
        if value is not None:
            rows.append(
                Row(
                    scenario,
                    "ms",
                    value,
                    "python -c pass",
                    base,
                    None,
                    ratio(value, base),
                    note=note,
                )
            )
    return rows


def scenario_def_jobs(size: Size, repeat: int) -> list[Row]:
    """80 plain `def` jobs sleeping a second at concurrency 80 vs the same async jobs."""
    out = measure("tq", "naps", n=80, concurrency=80, seconds=size.nap_seconds)
    return [
        Row(
            f"80 def jobs of {size.nap_seconds:g} s, concurrency 80",
            "s",
            out["def_s"],
            "same, async jobs",
            out["async_s"],
            None,
            ratio(out["def_s"], out["async_s"]),
            None,
            "<= 1.3x peer",
        )
    ]


def scenario_cold_start(size: Size, repeat: int) -> list[Row]:
    """The dashboard as a process on a pty: command start to the first frame with a job row,
    against a minimal Textual app (Header, Static, Footer) started the same way."""
    why = dashboard_available()
    if why:
        return [Row("dashboard cold start", "ms", None, note=why)]
    out = measure("coldstart", "first_frame", timeout=300.0, rounds=size.cli_rounds)
    return [
        Row(
            "dashboard cold start: command to first frame, median",
            "ms",
            out["dashboard_ms"],
            "minimal Textual app",
            out["minimal_ms"],
            None,
            ratio(out["dashboard_ms"], out["minimal_ms"]),
            None,
            "<= 1.5x peer",
        )
    ]


def scenario_server(size: Size, repeat: int) -> list[Row]:
    """`tuiqueue serve` (a real process): REST submits against the same through the Python
    API; the ratios are the HTTP overhead."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return [Row("server: REST submit p50", "ms", None, note="not measured: no aiohttp")]
    out = measure(
        "server", "rest_submit", timeout=300.0, samples=size.server_samples, n=size.server_n
    )
    rows = [
        Row(
            "server: REST submit p50",
            "ms",
            out["http_p50_ms"],
            "Python API engine.submit",
            out["api_p50_ms"],
            None,
            ratio(out["http_p50_ms"], out["api_p50_ms"]),
        ),
        Row(
            f"server: REST submits, {size.server_n:,} from 8 clients",
            "jobs/s",
            out["http_jobs_per_s"],
            "Python API, 8 tasks",
            out["api_jobs_per_s"],
            None,
            ratio(out["http_jobs_per_s"], out["api_jobs_per_s"]),
        ),
    ]
    fan = measure(
        "server", "sse_fanout", timeout=300.0, subscribers=size.sse_subscribers, beats=size.beats
    )
    rows.append(
        Row(
            f"server: SSE, {size.sse_subscribers} subscribers of one job: progress to the "
            "last one, p95",
            "ms",
            fan["last_p95_ms"],
            note=f"p50 {fan['last_p50_ms']:.1f} ms over {fan['events']} progress events",
        )
    )
    ws = measure("server", "ws_broadcast", timeout=300.0, clients=size.ws_clients, beats=size.beats)
    rows.append(
        Row(
            f"server: WebSocket, {size.ws_clients} clients: progress to the last one, p95",
            "ms",
            ws["last_p95_ms"],
            note=f"p50 {ws['last_p50_ms']:.1f} ms over {ws['events']} progress events",
        )
    )
    return rows


SCENARIOS: dict[str, Callable[[Size, int], list[Row]]] = {
    "sqlite": scenario_sqlite,
    "memory": scenario_memory,
    "redis": scenario_redis,
    "postgres": scenario_postgres,
    "submit_latency": scenario_submit_latency,
    "dashboard": scenario_dashboard,
    "progress": scenario_progress,
    "memory_growth": scenario_memory_growth,
    "cli": scenario_cli,
    "def_jobs": scenario_def_jobs,
    "cold_start": scenario_cold_start,
    "server": scenario_server,
}


# -- output ---------------------------------------------------------------------------------


def fmt(value: float | None, ratio_: bool = False) -> str:
    """A number for the table."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if ratio_:
        return f"{value:.2f}x"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


_GOAL = re.compile(r"(>=|<=)\s*([\d.]+)\s*(x peer|x limit|MiB)")


def holds(row: Row) -> str:
    """Whether the row meets its target ("yes"/"no"), "" without one or without a number."""
    verdicts = []
    for op, number, what in _GOAL.findall(row.target):
        value = {"x peer": row.ratio_vs_peer, "x limit": row.ratio_vs_limit, "MiB": row.tuiqueue}[
            what
        ]
        if value is None:
            return ""
        verdicts.append(value >= float(number) if op == ">=" else value <= float(number))
    return "" if not verdicts else "yes" if all(verdicts) else "**no**"


def table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    head = [
        "scenario",
        "unit",
        "tuiqueue",
        "peer",
        "peer value",
        "limit",
        "vs peer",
        "vs limit",
        "target",
        "holds",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r.scenario,
            r.unit,
            fmt(r.tuiqueue),
            r.peer or "",
            fmt(r.peer_value),
            fmt(r.limit_value),
            fmt(r.ratio_vs_peer, True),
            fmt(r.ratio_vs_limit, True),
            r.target or r.note,
            holds(r),
        ]
        if r.note and r.target:
            cells[-2] += f" ({r.note})"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    """CPU model, cores and Python version, for the README."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run for CI")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON here")
    parser.add_argument(
        "--only",
        metavar="SCENARIO",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this scenario (repeatable)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per throughput measurement, best kept (default 2, quick 1)",
    )
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    repeat = args.repeat or (1 if args.quick else 2)
    rows: list[Row] = []
    for name in args.only or list(SCENARIOS):
        started = time.perf_counter()
        try:
            new = SCENARIOS[name](size, repeat)
        except Exception as exc:  # a broken peer must not hide the other rows
            new = [Row(name, "", None, note=f"failed: {str(exc)[-160:]}")]
        rows += new
        print(f"# {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Machine: {machine()}; load average at the end {load}"
        f"{' (quick run)' if args.quick else ''}\n"
    )
    print(table(rows))
    if args.json:
        keys = (
            "scenario",
            "unit",
            "tuiqueue",
            "peer",
            "peer_value",
            "limit_value",
            "ratio_vs_peer",
            "ratio_vs_limit",
        )
        data = [{k: asdict(r)[k] for k in keys} for r in rows]
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
