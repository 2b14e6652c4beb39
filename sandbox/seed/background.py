"""Generate and prepare the synthetic data in a second process while the first one writes to SQLite.

Generating, serializing and indexing resources is pure Python work that needs no database; writing
needs the one connection. On a machine with two or more cores the two halves overlap, which roughly
halves the time `make run` takes to seed.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import queue
import traceback
from collections.abc import Iterator

from ..store.resources import Prepared, now_instant, prepare
from . import generate_batches

QUEUE_DEPTH = 8  # batches in flight: enough to keep both processes busy, little memory
POLL_S = 1.0


class GenerationFailed(RuntimeError):
    """The generating process failed; the message carries its traceback."""


def prepared_batches(seed: int, patients: int, anchor_date: dt.date) -> Iterator[list[Prepared]]:
    """The batches of ``generate_batches``, each resource already prepared for storing."""
    # fork where there is one: the child only generates (it never touches the parent's SQLite connection),
    # and it works whatever the parent's __main__ is (spawn cannot re-import a script read from stdin).
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    channel = ctx.Queue(maxsize=QUEUE_DEPTH)
    worker = ctx.Process(target=_produce, args=(channel, seed, patients, anchor_date), daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, payload = channel.get(timeout=POLL_S)
            except queue.Empty:
                if not worker.is_alive():
                    raise GenerationFailed(f"the generating process stopped (exit code {worker.exitcode})") from None
                continue
            if kind == "done":
                return
            if kind == "error":
                raise GenerationFailed(payload)
            yield payload
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()


def _produce(channel, seed: int, patients: int, anchor_date: dt.date) -> None:
    try:
        for batch in generate_batches(seed, patients, anchor_date):
            moment = now_instant()
            channel.put(("batch", [prepare(resource, 1, moment) for resource in batch]))
        channel.put(("done", None))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        channel.put(("error", traceback.format_exc()))
