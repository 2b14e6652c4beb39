"""The background thread that runs bulk exports, one per worker process (DESIGN.md: long work runs as jobs stored
in the database and claimed by a background thread of any worker, so it survives a worker's restart).

It claims the oldest waiting job — or a running one whose lease ran out because its worker died — runs it, and
publishes the manifest. Between jobs it removes the files of exports past their retention time. The production
server starts it in every worker; a kick-off or status request starts it too when it is not running (after an
idle spell it stops, and an app made by tests never keeps one).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from ..store import Store
from . import files, jobs
from .export import Stopped, run_export

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
SWEEP_SECONDS = 30
IDLE_SECONDS = 300  # a runner with nothing to do for this long stops; the next bulk request starts it again

_running: dict[tuple[int, str], threading.Thread] = {}
_lock = threading.Lock()


class Runner:
    def __init__(self, store: Store, config: dict):
        self.store = store
        self.base = config["BASE_URL"] + "/fhir"
        self.retention = float(config["BULK_RETENTION"])
        self.lease = float(config["BULK_LEASE"])
        self.batch = max(1, int(config["BULK_BATCH_SIZE"]))
        self.pause = max(0, int(config["BULK_BATCH_PAUSE"])) / 1000

    def loop(self) -> None:
        last_sweep, idle_since = 0.0, time.monotonic()
        while Path(self.store.path).exists():
            try:
                if time.monotonic() - last_sweep > SWEEP_SECONDS:
                    self.sweep()
                    last_sweep = time.monotonic()
                if self.run_next():
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > IDLE_SECONDS:
                    return
                else:
                    time.sleep(POLL_SECONDS)
            except Exception:  # the thread must outlive any one failure; the job itself is marked failed
                log.exception("Bulk export runner")
                time.sleep(POLL_SECONDS)

    def run_next(self) -> bool:
        """Claim and run one job; False when there was none."""
        owner = jobs.worker_name()
        job = jobs.claim(self.store, owner, self.lease)
        if job is None:
            return False
        if job.attempts > jobs.MAX_ATTEMPTS:
            jobs.fail(self.store, job, f"The export was interrupted {job.attempts - 1} times (its worker stopped) "
                      "and was given up; start a new one", self.retention, owner)
            files.remove(self.store.path, job.id)
            return True
        self.run(job, owner)
        return True

    def run(self, job: jobs.Job, owner: str) -> None:
        def renew(progress: str) -> bool:
            return jobs.renew(self.store, job, owner, self.lease, progress[:99])

        try:
            manifest = run_export(self.store, job, self.base, self.batch, self.pause, renew)
        except Stopped:
            if jobs.get(self.store, job.id) is None:  # cancelled: its files go with it
                files.remove(self.store.path, job.id)
            return
        except Exception as exc:
            log.exception("Bulk export %s failed", job.id)
            jobs.fail(self.store, job, f"The export failed: {type(exc).__name__}: {exc}", self.retention, owner)
            files.remove(self.store.path, job.id)
            return
        if not jobs.complete(self.store, job, owner, manifest, self.retention) and jobs.get(self.store, job.id) is None:
            files.remove(self.store.path, job.id)  # cancelled in the last moment

    def sweep(self) -> None:
        """Remove exports past their retention time, and folders whose job is gone."""
        for jid in jobs.expired(self.store):
            jobs.delete(self.store, jid)
            files.remove(self.store.path, jid)
        known = jobs.all_ids(self.store)
        for jid in files.leftover_jobs(self.store.path):
            if jid not in known:
                files.remove(self.store.path, jid)


def ensure_running(store: Store, config: dict) -> None:
    """Start this process's runner thread unless it is running (threads do not survive a fork: keyed by pid)."""
    key = (os.getpid(), store.path)
    with _lock:
        thread = _running.get(key)
        if thread is not None and thread.is_alive():
            return
        runner = Runner(store, config)
        thread = threading.Thread(target=runner.loop, name="bulk-export", daemon=True)
        _running[key] = thread
        thread.start()
