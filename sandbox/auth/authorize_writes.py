"""The writes of one authorize step, gathered while it decides and made in one transaction at its end.

An authorize request reads and checks first (the client, the launch, the user, the context) and only then
writes: the launch it takes, its pending request or its code, and its audit events, all in one transaction, so
that the turn to write (store/db.py) holds no other work and a failure leaves nothing half done. A launch taken
by another request meanwhile makes the whole step void (``LaunchTaken``). Outside such a step (the pages that
continue a pending request), each write is made at once.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import g

from ..store import Store
from . import audit, launch_context

Step = Callable[[sqlite3.Connection], None]


class LaunchTaken(Exception):
    """The launch this step took was used by another request before the step could write."""


@dataclass
class Writes:
    launch_id: str | None = None  # the launch to take, once
    steps: list[Step] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)


def _current() -> Writes | None:
    return g.get("authorize_writes")


@contextlib.contextmanager
def one_transaction(store: Store) -> Iterator[Writes]:
    """Gather the writes of the block and make them in one transaction when it ends (joining the step's writes
    when one is gathering already). Raises LaunchTaken, with nothing written, when the launch was taken
    meanwhile; an exception in the block writes nothing."""
    outer = _current()
    if outer is not None:
        yield outer
        return
    writes = g.authorize_writes = Writes()
    try:
        yield writes
    finally:
        g.authorize_writes = None
    now = int(time.time())
    with store.transaction() as conn:
        if writes.launch_id is not None and not launch_context.spend(conn, writes.launch_id, now):
            raise LaunchTaken(writes.launch_id)
        for step in writes.steps:
            step(conn)
        audit.write(conn, *writes.events)


def take_launch(launch_id: str) -> None:
    """Take the launch when the step's writes are made (it must still be unused then)."""
    _current().launch_id = launch_id


def later(store: Store, step: Step) -> None:
    """Run ``step`` with the step's writes, or now in a transaction of its own."""
    writes = _current()
    if writes is not None:
        writes.steps.append(step)
        return
    with store.transaction() as conn:
        step(conn)


def event(store: Store, name: str, outcome: str = audit.SUCCESS, **fields: Any) -> None:
    """Record an audit event with the step's writes, or now."""
    writes = _current()
    if writes is not None:
        writes.events.append(audit.event_row(name, outcome, **fields))
        return
    audit.record(store, name, outcome, **fields)
