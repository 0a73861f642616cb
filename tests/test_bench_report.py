"""bench/run.py's report: the 'holds' column reads each row's target right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def load_bench() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "bench" / "run.py"
    spec = importlib.util.spec_from_file_location("bench_run", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


bench = load_bench()


@pytest.mark.parametrize(
    ("target", "vs_peer", "vs_limit", "value", "expected"),
    [
        (">= 2x peer, >= 0.25x limit", 2.47, 0.34, 1.0, "yes"),
        (">= 2x peer, >= 0.25x limit", 2.47, 0.24, 1.0, "**no**"),  # every part must hold
        (">= 2x peer, >= 0.25x limit", 1.99, 0.34, 1.0, "**no**"),
        ("<= 1.5x peer", 1.5, None, 1.0, "yes"),
        ("<= 1.5x peer", 1.51, None, 1.0, "**no**"),
        ("<= 10 MiB", None, None, 2.15, "yes"),
        ("<= 10 MiB", None, None, 10.5, "**no**"),
        (">= 5x peer", None, None, 1.0, ""),  # not measured: no verdict
        ("", 3.0, None, 1.0, ""),  # no target
    ],
)
def test_holds(
    target: str, vs_peer: float | None, vs_limit: float | None, value: float, expected: str
) -> None:
    row = bench.Row(
        "row", "unit", value, ratio_vs_peer=vs_peer, ratio_vs_limit=vs_limit, target=target
    )
    assert bench.holds(row) == expected


def test_table_has_the_holds_column() -> None:
    rows = [
        bench.Row(
            "memory: completed",
            "jobs/s",
            250_000.0,
            "huey MemoryHuey",
            100_000.0,
            700_000.0,
            2.5,
            0.357,
            ">= 2x peer, >= 0.25x limit",
        )
    ]
    lines = bench.table(rows).splitlines()
    assert lines[0].endswith("| target | holds |")
    assert lines[2].endswith("| >= 2x peer, >= 0.25x limit | yes |")
