"""Sign-in sessions of sandbox users (the `sessions` table) and the browser's hold on one.

A session starts at the sign-in page (or with a headless launch for its user) and lasts SESSION_LIFETIME;
signing out ends it, and with it every online_access refresh token issued in it (SMART App Launch 2.2
§online_access). The browser keeps only the session id, in Flask's signed session cookie.
"""

from __future__ import annotations

import secrets
import time

from flask import current_app, session

from ..store import Store
from . import audit
from .users import User, UserDirectory

COOKIE_KEY = "sandbox_session"
CSRF_KEY = "csrf"  # the session's CSRF value for the sign-in, sign-out and app pages' forms (auth/pages.py)


def start(store: Store, user_id: str, lifetime: int) -> str:
    session_id = secrets.token_urlsafe(24)
    now = int(time.time())
    with store.transaction() as conn:
        conn.execute("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                     (session_id, user_id, now, now + lifetime))
    return session_id


def user_of(store: Store, session_id: str | None) -> User | None:
    """The user of an active session: not ended, not expired; else None."""
    if not session_id:
        return None
    row = store.conn.execute("SELECT user_id FROM sessions WHERE id = ? AND ended_at IS NULL AND expires_at > ?",
                             (session_id, int(time.time()))).fetchone()
    return UserDirectory(store).get(row[0]) if row else None


def end(store: Store, session_id: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                     (int(time.time()), session_id))


# -- the browser's session -------------------------------------------------------------------------------


def sign_in(user: User) -> str:
    """Start a session for ``user`` and remember it in this browser. Switching user ends the previous
    session first, as signing out would (its online_access tokens end with it)."""
    store = current_app.extensions["store"]
    signed_in, current_session = current()
    if signed_in is not None and signed_in.id == user.id:
        return current_session  # already this user: keep the session (and its online_access tokens)
    if session.get(COOKIE_KEY):
        sign_out()
    session_id = start(store, user.id, current_app.config["SESSION_LIFETIME"])
    session[COOKIE_KEY] = session_id
    session[CSRF_KEY] = secrets.token_urlsafe(18)  # renewed: a value seen before sign-in forges no signed-in form
    audit.record(store, "signin", user_id=user.id, rule="Signed in at the sandbox sign-in page")
    return session_id


def sign_out() -> None:
    store = current_app.extensions["store"]
    session_id = session.pop(COOKIE_KEY, None)
    if session_id:
        user = user_of(store, session_id)
        end(store, session_id)
        audit.record(store, "signout", user_id=user.id if user else None,
                     rule="Signed out: the session and its online_access tokens end")


def current() -> tuple[User, str] | tuple[None, None]:
    """The signed-in user of this browser and their session id."""
    session_id = session.get(COOKIE_KEY)
    user = user_of(current_app.extensions["store"], session_id)
    return (user, session_id) if user else (None, None)
