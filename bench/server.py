"""Start and stop the real production server (`python -m sandbox.cli serve`) as a subprocess on loopback."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 15


class BenchError(RuntimeError):
    """Something went wrong that makes the figures meaningless: a failed start, a non-200 answer."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class SandboxServer:
    """`sandbox serve` (gunicorn, ``workers`` processes) on ``db``, as a context manager.

    The database is expected to be seeded already, so the server starts without seeding. Its output
    (startup lines and the access log) goes to ``log_path``. ``open_read`` serves FHIR reads and searches
    without a token too (SANDBOX_OPEN_READ), the open path the cost of access checks is measured against;
    requests that present a token go through the token's checks either way.
    """

    def __init__(self, db: Path, log_path: Path, workers: int = 2, anchor_date: str | None = None,
                 open_read: bool = False):
        self.db = Path(db)
        self.log_path = Path(log_path)
        self.workers = workers
        self.anchor_date = anchor_date
        self.open_read = open_read
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        env = {**os.environ, "SANDBOX_DB": str(self.db), "SANDBOX_PORT": str(self.port), "SANDBOX_HOST": HOST,
               "SANDBOX_BASE_URL": self.base_url, "SANDBOX_WORKERS": str(self.workers),
               "SANDBOX_OPEN_READ": "true" if self.open_read else "false"}
        if self.anchor_date:
            env["SANDBOX_ANCHOR_DATE"] = self.anchor_date
        with open(self.log_path, "ab") as log:
            # A session of its own, so stopping it can reach the gunicorn workers too.
            self.process = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "serve"], env=env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"sandbox serve exited with {self.process.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise BenchError(f"sandbox serve did not answer /healthz within {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL to the server's own process group if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children of the master); empty without /proc."""
        if self.process is None:
            return []
        master = self.process.pid
        try:
            return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
        except (OSError, ValueError):
            return []

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used so far by the gunicorn master and its workers; None without /proc."""
        if self.process is None:
            return None
        master = self.process.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            return sum(_process_cpu(int(pid)) for pid in [master, *children])
        except (OSError, ValueError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _process_cpu(pid: int) -> float:
    """utime + stime of one process, from /proc/<pid>/stat (fields 14 and 15), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ", the third field of stat comes first
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
