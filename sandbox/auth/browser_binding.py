"""The browser an authorization belongs to (RFC 9700 §4.7, §2.1: CSRF and session fixation defences; DESIGN: every
step after `/auth/authorize` is bound to the browser that started it).

The authorize endpoint gives the browser a random value in the signed, HttpOnly session cookie and keeps only its
SHA-256 beside the pending request. Every later step (sign-in resume, pickers, consent) compares the two, so a
pending request's id, seen in a URL, a log or the activity trail, is never enough to see, continue or approve it
from another browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import session

SESSION_KEY = "authz_browser"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def mark() -> str:
    """This browser's binding (made on first use, kept for the browser's session), as stored: its digest."""
    value = session.get(SESSION_KEY)
    if not value:
        value = session[SESSION_KEY] = secrets.token_urlsafe(24)
    return _digest(value)


def holds(stored_digest: str | None) -> bool:
    """Whether this browser is the one whose binding is ``stored_digest``."""
    value = session.get(SESSION_KEY)
    return bool(value and stored_digest) and hmac.compare_digest(_digest(value), stored_digest)
