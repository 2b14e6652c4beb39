"""Authorization requests in progress (the `pending_authorizations` table).

The authorize endpoint validates a request once, stores what it decided under a random id, and the sign-in,
picker and consent pages carry that id; each step adds to it (the user, the chosen patient or encounter)
until a code is issued. Each pending request belongs to the browser that started it (auth/browser_binding.py),
has its own CSRF token for the pages' forms, and lives ten minutes: long enough for a person, short enough not
to linger. A request that asks nothing of anyone (an EHR launch with skip_login and skip_consent, a pre-approved
app with its context complete) goes straight to its code and is never stored.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

from ..store import Store

LIFETIME = 600


@dataclass(frozen=True)
class Pending:
    id: str
    request: dict[str, Any]  # client_id, redirect_uri, state, scope (as granted), code_challenge, nonce
    user_id: str | None = None
    session_id: str | None = None
    launch_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    skip_consent: bool = False
    csrf: str = ""
    browser: str | None = None  # digest of the starting browser's binding value
    stored: bool = True  # False while only the authorize request that made it knows it

    def with_context(self, **values: Any) -> Pending:
        return replace(self, context={**self.context, **values})


def new(request: dict[str, Any], *, user_id: str | None, session_id: str | None, launch_id: str | None,
        context: dict[str, Any], skip_consent: bool) -> Pending:
    """A pending request, not stored yet: ``keep`` stores it once a page has to be shown."""
    return Pending(secrets.token_urlsafe(18), request, user_id, session_id, launch_id, context, skip_consent,
                   secrets.token_urlsafe(18), None, stored=False)


def keep(store: Store, pending: Pending, browser: str) -> Pending:
    """Store a new pending request, bound to the browser that started it (``browser``, its binding's digest)."""
    if pending.stored:
        return pending
    with store.transaction() as conn:
        insert(conn, pending, browser)
    return replace(pending, browser=browser, stored=True)


def insert(conn, pending: Pending, browser: str, now: int | None = None) -> None:
    """Store a new pending request inside the caller's transaction."""
    now = int(time.time()) if now is None else now
    conn.execute(
        "INSERT INTO pending_authorizations (id, request, user_id, session_id, launch_id, context, skip_consent, "
        "csrf, browser, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (pending.id, json.dumps(pending.request), pending.user_id, pending.session_id, pending.launch_id,
         json.dumps(pending.context), int(pending.skip_consent), pending.csrf, browser, now, now + LIFETIME))


def create(store: Store, request: dict[str, Any], *, user_id: str | None, session_id: str | None,
           launch_id: str | None, context: dict[str, Any], skip_consent: bool, browser: str) -> Pending:
    return keep(store, new(request, user_id=user_id, session_id=session_id, launch_id=launch_id, context=context,
                           skip_consent=skip_consent), browser)


def get(store: Store, pending_id: str | None) -> Pending | None:
    if not pending_id:
        return None
    row = store.conn.execute(
        "SELECT request, user_id, session_id, launch_id, context, skip_consent, csrf, browser "
        "FROM pending_authorizations WHERE id = ? AND expires_at > ?", (pending_id, int(time.time()))).fetchone()
    if row is None:
        return None
    request, user_id, session_id, launch_id, context, skip_consent, csrf, browser = row
    return Pending(pending_id, json.loads(request), user_id, session_id, launch_id, json.loads(context),
                   bool(skip_consent), csrf, browser)


def of_launch(store: Store, launch_id: str) -> Pending | None:
    """The newest unexpired pending request of a launch (or standalone trail): where its person is asked now."""
    row = store.conn.execute("SELECT id FROM pending_authorizations WHERE launch_id = ? AND expires_at > ? "
                             "ORDER BY created_at DESC LIMIT 1", (launch_id, int(time.time()))).fetchone()
    return get(store, row[0]) if row else None


def save(store: Store, pending: Pending) -> None:
    """Store what a step added (the user, the context); a request not stored yet keeps it until ``keep``."""
    if not pending.stored:
        return
    with store.transaction() as conn:
        conn.execute("UPDATE pending_authorizations SET user_id = ?, session_id = ?, context = ? WHERE id = ?",
                     (pending.user_id, pending.session_id, json.dumps(pending.context), pending.id))


def finish(store: Store, pending: Pending) -> None:
    if not pending.stored:
        return
    with store.transaction() as conn:
        remove(conn, pending)


def remove(conn, pending: Pending) -> None:
    """Forget a finished pending request, inside the caller's transaction (a request never stored has nothing)."""
    if pending.stored:
        conn.execute("DELETE FROM pending_authorizations WHERE id = ?", (pending.id,))
