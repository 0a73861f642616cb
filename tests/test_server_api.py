"""The REST API on a real server: every endpoint, bad input, auth and read-only."""

from __future__ import annotations

import pytest

from tests.conftest import until
from tests.server_support import client, serving

pytestmark = pytest.mark.anyio


async def test_every_endpoint_needs_the_token(db: str) -> None:
    async with serving(db) as base:
        for token in (None, "wrong"):
            async with client(base, token) as c:
                for path in ("/api/jobs", "/api/stats", "/api/openapi.json", "/api/jobs/1"):
                    r = await c.get(path)
                    assert r.status_code == 401, path
                    assert r.json()["code"] == 401
                r = await c.post("/api/jobs", json={"type": "echo"})
                assert r.status_code == 401
        async with client(base) as c:
            assert (await c.get("/api/stats")).status_code == 200
            r = await c.get("/api/stats", headers={"Authorization": b"Bearer \xc3\xa9t\xc3\xa9"})
            assert r.status_code == 401 and r.json()["code"] == 401
            r = await c.get(
                "/api/stats", headers={"Authorization": ""}, params={"token": "test-token"}
            )
            assert r.status_code == 200


async def test_submit_get_list_and_logs(db: str) -> None:
    async with serving(db) as base, client(base) as c:
        r = await c.post("/api/jobs", json={"type": "echo", "params": {"message": "hi"}})
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["type"] == "echo" and job["params"]["message"] == "hi"
        r = await c.post("/api/jobs", json={"job_type": "echo", "priority": "high", "queue": "q1"})
        assert r.status_code == 201, r.text
        second = r.json()

        async def done() -> bool:
            got = (await c.get(f"/api/jobs/{job['id']}")).json()
            return bool(got["status"] == "completed")

        await until(done, what="the echo job completed")
        listed = (await c.get("/api/jobs")).json()
        assert [j["id"] for j in listed["jobs"]] == [second["id"], job["id"]]
        page = (await c.get("/api/jobs", params={"limit": 1})).json()
        assert [j["id"] for j in page["jobs"]] == [second["id"]]
        rest = (await c.get("/api/jobs", params={"limit": 1, "before": page["next_before"]})).json()
        assert [j["id"] for j in rest["jobs"]] == [job["id"]]
        only = (await c.get("/api/jobs", params={"queue": "q1"})).json()
        assert [j["id"] for j in only["jobs"]] == [second["id"]]
        only = (await c.get("/api/jobs", params={"status": "completed", "type": "echo"})).json()
        assert job["id"] in [j["id"] for j in only["jobs"]]
        logs = await c.get(f"/api/jobs/{job['id']}/logs", params={"tail": 5})
        assert logs.status_code == 200 and isinstance(logs.json()["logs"], str)
        types = (await c.get("/api/job-types")).json()
        assert "countdown" in [t["name"] for t in types]
        stats = (await c.get("/api/stats")).json()
        assert stats["total"] == 2
        workers = (await c.get("/api/workers")).json()
        assert len(workers) == 1 and workers[0]["alive"]
        spec = (await c.get("/api/openapi.json")).json()
        assert "/api/jobs/{id}/logs" in spec["paths"]


async def test_bad_input_is_a_json_error(db: str) -> None:
    async with serving(db) as base, client(base) as c:
        cases = [
            ({"type": "nope"}, 422),
            ({"params": {}}, 422),
            ({"type": "echo", "bogus": 1}, 422),
            ({"type": "echo", "priority": "urgent"}, 422),
            ({"type": "echo", "delay": -1}, 422),
            ({"type": "echo", "after": ["x"]}, 422),
            ({"type": "echo", "queue": "bad name!"}, 422),
            ({"type": "countdown", "params": {"seconds": "many"}}, 422),
        ]
        for spec, code in cases:
            r = await c.post("/api/jobs", json=spec)
            assert r.status_code == code, (spec, r.text)
            assert r.json()["code"] == code and r.json()["error"]
        r = await c.post("/api/jobs", json={"type": "countdown", "params": {"seconds": "many"}})
        assert "seconds" in r.json()["errors"]
        r = await c.post("/api/jobs", content=b"{not json")
        assert r.status_code == 400 and r.json()["code"] == 400
        r = await c.post("/api/jobs", json=[1, 2])
        assert r.status_code == 400
        r = await c.post("/api/jobs", content=b"x" * (2 * 1024 * 1024))
        assert r.status_code == 413 and r.json()["code"] == 413
        for params in ({"limit": "0"}, {"limit": "x"}, {"status": "nope"}, {"before": "-1"}):
            r = await c.get("/api/jobs", params=params)
            assert r.status_code == 400, params
        assert (await c.get("/api/jobs", params={"queue": "bad name!"})).status_code == 422
        assert (await c.get("/api/jobs/abc")).status_code == 400
        assert (await c.get("/api/nothing")).json()["code"] == 404
        assert (await c.get("/api/jobs/1/logs", params={"tail": "0"})).status_code == 404


async def test_unknown_ids_and_illegal_transitions(db: str) -> None:
    async with serving(db, worker=False) as base, client(base) as c:
        for path in ("/api/jobs/999", "/api/jobs/999/logs"):
            r = await c.get(path)
            assert r.status_code == 404 and r.json() == {"error": "no job with id 999", "code": 404}

        for action in ("cancel", "pause", "resume", "rerun"):
            assert (await c.post(f"/api/jobs/999/{action}")).status_code == 404
        assert (await c.delete("/api/jobs/999")).status_code == 404
        job = (await c.post("/api/jobs", json={"type": "echo"})).json()
        assert (await c.post(f"/api/jobs/{job['id']}/pause")).json()["status"] == "paused"
        assert (await c.post(f"/api/jobs/{job['id']}/resume")).json()["status"] == "pending"
        assert (await c.delete(f"/api/jobs/{job['id']}")).json()["status"] == "cancelled"
        for action in ("pause", "resume"):
            r = await c.post(f"/api/jobs/{job['id']}/{action}")
            assert r.status_code == 400 and r.json()["code"] == 400, r.text
        rerun = await c.post(f"/api/jobs/{job['id']}/rerun")
        assert rerun.status_code == 201 and rerun.json()["rerun_of"] == job["id"]
        # Both ends of the link: the original lists its reruns.
        again = (await c.get(f"/api/jobs/{job['id']}")).json()
        assert again["reruns"] == [rerun.json()["id"]]
        assert (await c.get(f"/api/jobs/{rerun.json()['id']}")).json()["reruns"] == []
        assert (await c.post("/api/jobs/1/explode")).status_code in (404, 405)


async def test_read_only_answers_403_to_every_change(db: str) -> None:
    async with serving(db) as base, client(base) as c:
        job = (await c.post("/api/jobs", json={"type": "echo"})).json()
    async with serving(db, read_only=True) as base, client(base) as c:
        assert (await c.get(f"/api/jobs/{job['id']}")).status_code == 200
        assert (await c.post("/api/jobs", json={"type": "echo"})).status_code == 403
        for action in ("cancel", "pause", "resume", "rerun"):
            r = await c.post(f"/api/jobs/{job['id']}/{action}")
            assert r.status_code == 403 and r.json()["code"] == 403
        assert (await c.delete(f"/api/jobs/{job['id']}")).status_code == 403


async def test_no_worker_serves_but_runs_nothing(db: str) -> None:
    async with serving(db, worker=False) as base, client(base) as c:
        job = (await c.post("/api/jobs", json={"type": "echo", "params": {"delay": 1}})).json()
        assert (await c.get("/api/workers")).json() == []
        stats = (await c.get("/api/stats")).json()
        assert stats["worker"]["alive"] == 0 and stats["counts"]["pending"] == 1
        assert (await c.get(f"/api/jobs/{job['id']}")).json()["status"] == "pending"
