"""fetch_urls: fetch up to ten URLs concurrently with httpx."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tuiqueue.core.context import JobContext, JobFailed
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type

if TYPE_CHECKING:
    import httpx


class FetchFailed(JobFailed):
    """Every URL failed: the job fails, saying how."""


def summary(results: list[dict[str, Any]]) -> tuple[int, str]:
    """(URLs fetched, "3 ok, 1 HTTP 404, 1 error"): a 4xx/5xx answer is not a fetch."""
    ok = sum(1 for r in results if "error" not in r and r["status"] < 400)
    statuses: dict[int, int] = {}
    for r in results:
        if "error" not in r and r["status"] >= 400:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    errors = sum(1 for r in results if "error" in r)
    parts = [f"{ok} ok"] if ok else []
    parts += [f"{n} HTTP {status}" for status, n in sorted(statuses.items())]
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    return ok, ", ".join(parts)


@job_type(
    "fetch_urls",
    description="Fetch 1-10 http(s) URLs concurrently; report status, size and time of each.",
    params=[
        Param(
            "urls",
            "urls",
            min=1,
            max=10,
            required=True,
            max_length=2000,
            help="http:// or https:// URLs, one per line.",
        ),
        Param(
            "timeout", "float", default=10.0, min=0.5, max=120, help="Seconds to wait for each URL."
        ),
    ],
    retry_safe=True,
)
async def fetch_urls(ctx: JobContext, urls: list[str], timeout: float) -> dict[str, Any]:
    """Fetch every URL; some bad URLs are a "partial" outcome, all of them a failed job."""
    import anyio  # (not at the top: importing anyio is ~5 ms of every `tuiqueue submit`)
    import httpx  # here, not at load: every command that loads job types would pay for it

    results: dict[str, dict[str, Any]] = {}
    done = 0
    ctx.progress(0, f"Fetched 0/{len(urls)} URLs")

    async def fetch(client: httpx.AsyncClient, url: str) -> None:
        nonlocal done
        started = time.perf_counter()
        try:
            response = await client.get(url)
            results[url] = {
                "status": response.status_code,
                "size": len(response.content),
                "duration": round(time.perf_counter() - started, 4),
            }
            ctx.log(f"{response.status_code} {url} ({len(response.content)} bytes)")
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            results[url] = {"error": error, "duration": round(time.perf_counter() - started, 4)}
            ctx.log(f"ERROR {url}: {error}")
        done += 1
        ctx.progress(100 * done / len(urls), f"Fetched {done}/{len(urls)} URLs")

    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(fetch, client, url)
    ordered = [{"url": url, **results[url]} for url in urls]
    ok, said = summary(ordered)
    if not ok:
        raise FetchFailed(f"every URL failed: {said}")
    ctx.progress(100, said)
    return {
        "outcome": "completed" if ok == len(urls) else "partial",
        "fetched": ok,
        "failed": len(urls) - ok,
        "results": ordered,
    }
