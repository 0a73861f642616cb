"""Job.copy is hand-written for speed: it must still copy every field."""

from __future__ import annotations

import dataclasses

from tuiqueue.core.job import Job


def test_copy_keeps_every_field_and_detaches_containers() -> None:
    values = {f.name: f"v{i}" for i, f in enumerate(dataclasses.fields(Job))}
    values["params"], values["depends_on"] = {"a": 1}, [1]
    job = Job(**values)  # type: ignore[arg-type]
    snap = job.copy()
    assert dataclasses.astuple(snap) == dataclasses.astuple(job)
    assert snap.params is not job.params and snap.depends_on is not job.depends_on
