"""Writers of one SQLite file, three ways: SQLite's own busy handler (BEGIN IMMEDIATE with a busy timeout: a writer
that finds the file locked sleeps and retries, with pauses growing to 100 ms); the sandbox's queue (a lock among
threads, then an flock among processes, then BEGIN IMMEDIATE: a waiting writer wakes as soon as the one before is
done; store/db.py); and an flock of each thread's own, with no lock among threads. Each writer makes small
transactions like a token request's (three inserts and a commit) as fast as it can; the figures are the time from
wanting to write to having committed.

    .venv/bin/python bench/writers.py [--processes 4] [--threads 4] [--seconds 3]
"""

from __future__ import annotations

import argparse
import fcntl
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import percentile  # noqa: E402
from sandbox.store import db  # noqa: E402

ROW = ("2026-12-04T07:00:00.000Z", "token.issued", "success", "client", "user", "trail", "a rule",
       '{"detail": "' + "x" * 300 + '"}')


_thread_fd = threading.local()


def one_write(conn: sqlite3.Connection, path: str, how: str) -> None:
    def body() -> None:
        conn.executemany("INSERT INTO events (at, event, outcome, client_id, user_id, launch_id, rule, detail) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [ROW] * 3)

    if how == "queue":
        with db.write_transaction(conn, path):
            body()
        return
    if how == "thread-flock":
        fd = getattr(_thread_fd, "fd", None)
        if fd is None:
            fd = _thread_fd.fd = os.open(path + "-thread-writer", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            body()
            conn.execute("COMMIT")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        body()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def writer_process(path: str, how: str, threads: int, seconds: float, start_at: float, results) -> None:
    samples: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        conn = db.connect(path)
        mine = []
        while time.time() < start_at:
            time.sleep(0.001)
        until = start_at + seconds
        while (now := time.perf_counter()) and time.time() < until:
            one_write(conn, path, how)
            mine.append(time.perf_counter() - now)
        conn.close()
        with lock:
            samples.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(samples)


def measure(how: str, processes: int, threads: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="sandbox-writers-") as tmp:
        path = os.path.join(tmp, "writers.sqlite")
        conn = db.connect(path)
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT, event TEXT, outcome TEXT, client_id TEXT, "
                     "user_id TEXT, launch_id TEXT, rule TEXT, detail TEXT)")
        conn.execute("CREATE INDEX events_at ON events (at)")
        conn.close()
        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        start_at = time.time() + 0.5
        procs = [ctx.Process(target=writer_process, args=(path, how, threads, seconds, start_at, results))
                 for _ in range(processes)]
        for proc in procs:
            proc.start()
        samples = sorted(s for _ in procs for s in results.get(timeout=seconds + 120))
        for proc in procs:
            proc.join()
    return {"transactions_per_s": len(samples) / seconds, "p50_ms": percentile(samples, 50) * 1000,
            "p99_ms": percentile(samples, 99) * 1000, "max_ms": samples[-1] * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(f"{args.processes} processes × {args.threads} threads writing for {args.seconds:g} s each way")
    print(f"{'writers':<42} {'txn/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, how in (("SQLite busy handler (sleep and retry)", "busy"), ("queue: thread lock + flock", "queue"),
                       ("an flock per thread", "thread-flock")):
        m = measure(how, args.processes, args.threads, args.seconds)
        print(f"{label:<42} {m['transactions_per_s']:8,.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['max_ms']:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
