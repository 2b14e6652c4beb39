"""Load over loopback: several client processes for throughput, one sequential client for latency.

Every client keeps one keep-alive ``http.client.HTTPConnection`` and checks that every answer is 200.
Loops are bounded by a fixed duration (throughput) or a fixed request count (latency). A throughput client
cycles through a list of GETs — plain paths, or ``Request``s carrying their own headers such as a bearer
token — or asks a *workload* for each request (POSTs whose bodies depend on earlier answers, such as
rotating refresh tokens; see bench/tokens.py).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from .server import BenchError

ACCEPT = {"Accept": "application/fhir+json"}
RESULT_TIMEOUT_S = 120


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200  # the answer expected (302 for an authorize request that redirects back with a code)


class Workload(Protocol):
    """What one throughput client sends: the next request, and the answer to the last one."""

    def next_request(self) -> Request: ...

    def answered(self, body: bytes) -> None: ...


# A workload for client ``index`` of ``clients``, made in that client's own process.
WorkloadFactory = Callable[[int, int], Workload]

# What to GET: a path, or a Request with headers of its own (a bearer token).
Target = str | Request


def as_request(target: Target) -> Request:
    return Request("GET", target) if isinstance(target, str) else target


def bearer(token: str) -> dict[str, str]:
    """The header that presents an access token (RFC 6750 §2.1)."""
    return {"Authorization": f"Bearer {token}"}


class PathCycle:
    """GET each path in turn, each client starting at its own place in the list."""

    def __init__(self, paths: Sequence[Target], index: int, clients: int):
        self.requests = [as_request(p) for p in paths]
        self.position = index * len(self.requests) // clients

    def next_request(self) -> Request:
        request = self.requests[self.position % len(self.requests)]
        self.position += 1
        return request

    def answered(self, body: bytes) -> None:
        pass


class Client:
    """One keep-alive connection that reconnects once when the server closed it while idle.

    ``headers`` go with every request (a request's own headers win): e.g. the bearer token of a client
    that only reads FHIR data.
    """

    def __init__(self, address: tuple[str, int], headers: dict[str, str] | None = None):
        self.address = address
        self.conn = http.client.HTTPConnection(*address, timeout=30)
        self.headers = {**ACCEPT, **(headers or {})}
        self.reconnects = 0

    def get(self, target: Target) -> bytes:
        return self.send(as_request(target))

    def send(self, request: Request) -> bytes:
        try:
            return self._send(request)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()
            self.reconnects += 1
            return self._send(request)

    def _send(self, request: Request) -> bytes:
        self.conn.request(request.method, request.path, body=request.body, headers={**self.headers, **request.headers})
        response = self.conn.getresponse()
        body = response.read()
        if response.status != request.status:
            raise BenchError(f"{request.method} {request.path} answered {response.status}: "
                             f"{body[:400].decode(errors='replace')}")
        return body

    def close(self) -> None:
        self.conn.close()


# -- throughput ----------------------------------------------------------------------------------


@dataclass
class Throughput:
    requests: int
    seconds: float
    requests_per_s: float
    clients: int
    client_cpu_share: float  # the clients' CPU time over (wall time × cores): what the load generator costs
    server_cpu_share: float | None  # the same for the server's processes (None without /proc)
    idle_cpu_share: float | None  # idle CPU of the whole machine meanwhile (None without /proc)
    server_cpu_us_per_request: float | None  # the server's own cost of one request, load generator excluded
    reconnects: int
    p50_ms: float = 0.0  # latency of the measured requests, every client's together
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def throughput(address: tuple[str, int], paths: Sequence[str], clients: int, warmup_s: float,
               duration_s: float, server_cpu: Callable[[], float | None] = lambda: None,
               reconnect_every: int = 0, workload: WorkloadFactory | None = None) -> Throughput:
    """Requests per second of ``clients`` processes cycling through ``paths`` (or sending what ``workload``
    asks for) for ``duration_s``.

    Each client warms up for ``warmup_s`` first; all start measuring together at a barrier.
    ``server_cpu`` returns the server's CPU seconds so far, to tell its cost from the clients'.
    """
    factory = workload or functools.partial(PathCycle, list(paths))
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    results = ctx.Queue()
    settings = (clients, address, factory, warmup_s, duration_s, reconnect_every, barrier, results)
    processes = [ctx.Process(target=_client_loop, args=(i, *settings), daemon=True) for i in range(clients)]
    for process in processes:
        process.start()
    try:
        # A broken barrier means a client failed before measuring: its error is in the queue.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=warmup_s + RESULT_TIMEOUT_S)
        cpu_before, server_before = _machine_cpu(), server_cpu()
        reports = [results.get(timeout=duration_s + RESULT_TIMEOUT_S) for _ in processes]
        cpu_after, server_after = _machine_cpu(), server_cpu()
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise BenchError("load client failed: " + "; ".join(errors))
    wall = max(r["seconds"] for r in reports)
    samples = sorted(s for r in reports for s in r["samples"])
    cores = os.cpu_count() or 1
    requests = sum(r["requests"] for r in reports)
    idle = server_share = server_us = None
    if cpu_before and cpu_after:
        idle = (cpu_after[0] - cpu_before[0]) / max(cpu_after[1] - cpu_before[1], 1)
    if server_before is not None and server_after is not None:
        server_share = (server_after - server_before) / (wall * cores)
        server_us = (server_after - server_before) / requests * 1e6
    return Throughput(
        requests=requests,
        seconds=wall,
        requests_per_s=sum(r["requests"] / r["seconds"] for r in reports),
        clients=clients,
        client_cpu_share=sum(r["cpu_seconds"] for r in reports) / (wall * cores),
        server_cpu_share=server_share,
        idle_cpu_share=idle,
        server_cpu_us_per_request=server_us,
        reconnects=sum(r["reconnects"] for r in reports),
        p50_ms=percentile(samples, 50) * 1000,
        p95_ms=percentile(samples, 95) * 1000,
        p99_ms=percentile(samples, 99) * 1000,
        max_ms=samples[-1] * 1000,
    )


def _client_loop(index, clients, address, workload_factory, warmup_s, duration_s, reconnect_every, barrier,
                 results) -> None:
    """One client process: warm up, wait at the barrier, then request for ``duration_s`` seconds."""
    client = None
    try:
        workload = workload_factory(index, clients)
        client = Client(address)
        sent = 0
        warm_until = time.perf_counter() + warmup_s
        while time.perf_counter() < warm_until:
            workload.answered(client.send(workload.next_request()))
            sent += 1
            if reconnect_every and sent % reconnect_every == 0:
                client.close()
        barrier.wait(timeout=RESULT_TIMEOUT_S)
        cpu_start = os.times()
        start = time.perf_counter()
        deadline = start + duration_s
        count = 0
        now = start
        samples = []
        while now < deadline:
            request = workload.next_request()
            sent_at = time.perf_counter()
            body = client.send(request)
            samples.append(time.perf_counter() - sent_at)  # the answer's wait only, not the workload's own work
            workload.answered(body)
            count += 1
            if reconnect_every and count % reconnect_every == 0:
                client.close()  # the next request connects anew, to whichever worker accepts first
            now = time.perf_counter()
        cpu_end = os.times()
        cpu = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
        results.put({"requests": count, "seconds": now - start, "cpu_seconds": cpu, "reconnects": client.reconnects,
                     "samples": samples})
    except BaseException as exc:  # reported to the parent, which raises
        barrier.abort()
        results.put({"error": f"client {index}: {type(exc).__name__}: {exc}"})
    finally:
        if client:
            client.close()


def _machine_cpu() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs from /proc/stat, or None where there is no /proc."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return idle, sum(fields[:8])


# -- latency ------------------------------------------------------------------------------------


@dataclass
class Latency:
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    mean_bytes: float

    def as_dict(self) -> dict:
        return asdict(self)


def latency(address: tuple[str, int], paths: Sequence[Target], requests: int, warmup: int) -> Latency:
    """Latency of ``requests`` sequential requests over ``paths`` (in turn), after ``warmup`` untimed ones."""
    return interleaved_latency(address, {"": paths}, requests, warmup)[""]


def interleaved_latency(address: tuple[str, int], variants: dict[str, Sequence[Target]], requests: int,
                        warmup: int) -> dict[str, Latency]:
    """Latency of several variants of a query, taken in turn request by request on one connection, so that
    every variant meets the same moments of machine noise: ``requests`` timed requests per variant, each
    cycling through its own ``paths``, after ``warmup`` untimed rounds.

    Step ``k`` sends the ``k``-th path of every variant; when the variants ask for the same data (the same
    patient, under different tokens), the first of them finds it less often in the caches, so the order
    of the variants rotates from step to step and each goes first equally often."""
    keys = list(variants)
    samples: dict[str, list[float]] = {key: [] for key in keys}
    sizes = dict.fromkeys(keys, 0)
    client = Client(address)
    try:
        for k in range(warmup):
            for key in keys:
                client.get(variants[key][k % len(variants[key])])
        for k in range(requests):
            for key in keys[k % len(keys):] + keys[:k % len(keys)]:
                target = variants[key][k % len(variants[key])]
                start = time.perf_counter()
                body = client.get(target)
                samples[key].append(time.perf_counter() - start)
                sizes[key] += len(body)
    finally:
        client.close()
    return {key: _latency(samples[key], sizes[key]) for key in keys}


def _latency(samples: list[float], size: int) -> Latency:
    samples.sort()
    return Latency(
        requests=len(samples),
        p50_ms=percentile(samples, 50) * 1000,
        p95_ms=percentile(samples, 95) * 1000,
        p99_ms=percentile(samples, 99) * 1000,
        mean_ms=sum(samples) / len(samples) * 1000,
        max_ms=samples[-1] * 1000,
        mean_bytes=size / len(samples),
    )


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
