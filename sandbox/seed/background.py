"""Generate and prepare the synthetic data in other processes while this one writes to SQLite.

Generating, serializing and indexing resources is pure Python work that needs no database; writing
needs the one connection. With N = producer_count() generating processes, each builds every N-th batch of
the same seed plan (seed/__init__.py: SeedPlan), and this process takes them back in plan order, so the
stored data and its row order are those of a sequential run. Two producers keep two cores busy: together
they do about three times the writer's work.
"""

from __future__ import annotations

import datetime as dt
import gc
import marshal
import multiprocessing
import os
import queue
import traceback
from collections.abc import Iterator

from ..store.resources import Prepared, Stored, now_instant, prepare
from . import SeedPlan
from .groups import GroupCollector, group_facts

QUEUE_DEPTH = 4  # batches in flight per producer: enough to keep every process busy, little memory
POLL_S = 1.0
GC_THRESHOLDS = (50_000, 50, 100)  # while seeding (Python's default: 700, 10, 10)


def producer_count() -> int:
    return max(1, min(2, os.cpu_count() or 1))


class GenerationFailed(RuntimeError):
    """A generating process failed; the message carries its traceback."""


def prepared_batches(seed: int, patients: int, anchor_date: dt.date) -> Iterator[list[Prepared]]:
    """The batches of ``generate_batches``, each resource already prepared for storing."""
    # fork where there is one: the children only generate (they never touch the parent's SQLite connection),
    # and it works whatever the parent's __main__ is (spawn cannot re-import a script read from stdin).
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    shares = producer_count()
    channels = [ctx.Queue(maxsize=QUEUE_DEPTH) for _ in range(shares)]
    workers = [ctx.Process(target=_produce, args=(channels[share], share, shares, seed, patients, anchor_date),
                           daemon=True) for share in range(shares)]
    for worker in workers:
        worker.start()
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)  # the writer makes millions of short-lived tuples too; restored at the end
    try:
        plan = SeedPlan(seed, patients, anchor_date)
        collector = GroupCollector(plan.tables)
        position = 0
        while True:
            share = position % shares
            kind, payload = _receive(channels[share], workers[share])
            if kind == "error":
                raise GenerationFailed(payload)
            if kind == "done":  # the plan is used up; the Groups are made here from the facts gathered
                moment = now_instant()
                yield [prepare(resource, 1, moment) for resource in plan.groups(collector)]
                return
            packed, facts = payload
            if facts is not None:
                collector.add(facts)
            yield _unpack(packed)
            position += 1
    finally:
        gc.set_threshold(*thresholds)
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()


# A batch crosses between the processes as marshal bytes of plain tuples: its millions of small strings and
# tuples load in half the time pickle takes, which is time the writing process spends on nothing else.
def _pack(batch: list[Prepared]) -> bytes:
    return marshal.dumps([(s.type, s.id, s.version, s.last_updated, s.json, item.index)
                          for item in batch for s in (item.stored,)])


def _unpack(packed: bytes) -> list[Prepared]:
    return [Prepared(Stored(*fields), index) for *fields, index in marshal.loads(packed)]


def _receive(channel, worker) -> tuple[str, object]:
    while True:
        try:
            return channel.get(timeout=POLL_S)
        except queue.Empty:
            if not worker.is_alive():
                raise GenerationFailed(f"a generating process stopped (exit code {worker.exitcode})") from None


def _produce(channel, share: int, shares: int, seed: int, patients: int, anchor_date: dt.date) -> None:
    """Build, prepare and send every ``shares``-th batch of the plan starting at ``share``, then "done"."""
    try:
        plan = SeedPlan(seed, patients, anchor_date)
        # The code tables stay for the whole run and every batch is garbage by the next one: the collector need
        # not walk the tables again and again (gc.freeze), nor run every 700 allocations — 15–20% of the work.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        for position in range(share, plan.size, shares):
            batch = plan.build(position)
            facts = group_facts(batch, plan.is_story(position), plan.tables) if position else None
            moment = now_instant()
            channel.put(("batch", (_pack([prepare(resource, 1, moment) for resource in batch]), facts)))
        channel.put(("done", None))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        channel.put(("error", traceback.format_exc()))
