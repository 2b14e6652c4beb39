"""Bulk Data export against paging: the same data read twice in one run under the same system/*.rs token.

- paging: every type the export holds, read with ``GET /fhir/[type]?_count=1000`` and its ``next`` links, as a
  client without Bulk Data would;
- export: ``GET /fhir/$export`` kicked off, polled, and every NDJSON file downloaded, timed from the kick-off to
  the last byte.

Both report resources per second; the export's figure divided by paging's is the ratio the target is set on. The
worker that ran the export is named by its job row (``bulk_jobs.lease_owner``), and its peak resident memory
(``VmHWM``) is read from /proc before and after, to show that streaming keeps it flat.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

from .server import BenchError

POLL_SECONDS = 0.05
PAGE = 1000


class _Http:
    """One keep-alive connection with the bench's token; answers (status, headers, body)."""

    def __init__(self, address: tuple[str, int], token: str):
        self.conn = http.client.HTTPConnection(*address, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}

    def get(self, target: str, **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        parts = urlsplit(target)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.conn.request("GET", path, headers={**self.headers, **headers})
        response = self.conn.getresponse()
        return response.status, response.headers, response.read()

    def close(self) -> None:
        self.conn.close()


def run_export(http: _Http) -> tuple[dict[str, int], float, int, str]:
    """Kick off a system export, poll, download: (resources by type, seconds, bytes, status URL)."""
    start = time.perf_counter()
    status, headers, body = http.get("/fhir/$export", Prefer="respond-async")
    if status != 202:
        raise BenchError(f"$export answered {status}: {body[:300]!r}")
    status_url = headers["Content-Location"]
    while (answer := http.get(status_url, Accept="application/json"))[0] == 202:
        time.sleep(POLL_SECONDS)
    if answer[0] != 200:
        raise BenchError(f"the export's status answered {answer[0]}: {answer[2][:300]!r}")
    counts, size = {}, 0
    for item in json.loads(answer[2])["output"]:
        status, _, data = http.get(item["url"], Accept="application/fhir+ndjson")
        lines = data.count(b"\n")
        if status != 200 or lines != item["count"]:
            raise BenchError(f"{item['url']} answered {status} with {lines} lines for {item['count']} resources")
        counts[item["type"]] = lines
        size += len(data)
    return counts, time.perf_counter() - start, size, status_url


def run_paging(http: _Http, types: list[str]) -> tuple[dict[str, int], float, int]:
    """Every resource of the types through searchset pages of _count=1000: (resources by type, seconds, bytes)."""
    start, counts, size = time.perf_counter(), {}, 0
    for rtype in types:
        target, found = f"/fhir/{rtype}?_count={PAGE}", 0
        while target:
            status, _, body = http.get(target)
            if status != 200:
                raise BenchError(f"GET {target} answered {status}: {body[:300]!r}")
            page = json.loads(body)
            found += len(page.get("entry", []))
            size += len(body)
            target = next((link["url"] for link in page.get("link", []) if link["relation"] == "next"), None)
        counts[rtype] = found
    return counts, time.perf_counter() - start, size


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _runner_pid(db: Path, status_url: str) -> int | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT lease_owner FROM bulk_jobs WHERE id = ?", (status_url.rsplit("/", 1)[1],)).fetchone()
    return int(row[0].split(":")[1]) if row and row[0] else None


def measure(address: tuple[str, int], db: Path, token: str, worker_pids: list[int]) -> dict:
    """Export (its types are what paging reads) with the workers' peak memory read around it, then paging, then
    the export again: the faster export of the two counts, so a cold first run does not count against it."""
    http = _Http(address, token)
    try:
        before = {pid: peak_rss_mb(pid) for pid in worker_pids}
        exports = [run_export(http)]
        runner = _runner_pid(db, exports[0][3])
        after = peak_rss_mb(runner) if runner else None
        counts = exports[0][0]
        paged, paging_seconds, paging_bytes = run_paging(http, sorted(counts))
        exports.append(run_export(http))
    finally:
        http.close()
    if paged != counts:
        raise BenchError(f"paging found {paged}, the export {counts}")
    best = min(exports, key=lambda run: run[1])
    resources = sum(counts.values())
    export_rate, paging_rate = resources / best[1], resources / paging_seconds
    return {
        "resources": resources, "by_type": counts,
        "export_seconds": best[1], "export_resources_per_s": export_rate, "export_mb": best[2] / 1e6,
        "paging_seconds": paging_seconds, "paging_resources_per_s": paging_rate, "paging_mb": paging_bytes / 1e6,
        "ratio": export_rate / paging_rate,
        "runner_pid": runner, "runner_peak_rss_mb_before": before.get(runner), "runner_peak_rss_mb_after": after,
    }
