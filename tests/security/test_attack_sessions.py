"""Attacks on the browser session over real HTTP against the running sandbox: a session cookie that names a real,
live session but is signed with a key other than the sandbox's, and a genuine cookie altered by one character. The
session signer is made once per secret key (edges.CookieSessions); neither cookie may get past it."""

from __future__ import annotations

import sqlite3

import requests
from authorize_support import signed_in
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from sandbox.auth.signin import COOKIE_KEY


def signer(key: str):
    """Flask's session cookie serializer under ``key``."""
    app = Flask(__name__)
    app.secret_key = key
    return SecureCookieSessionInterface().get_signing_serializer(app)


def cookie_signed_with(key: str, session_id: str) -> str:
    """A session cookie as Flask writes it, naming ``session_id``, signed with ``key``."""
    return signer(key).dumps({COOKIE_KEY: session_id})


def ehr_answer(live, name: str, value: str) -> requests.Response:
    return requests.get(f"{live}/ehr/", cookies={name: value}, allow_redirects=False, timeout=10)


def test_a_cookie_naming_a_live_session_needs_the_sandboxs_own_signature(live_server):
    browser = signed_in(live_server, "lori.mcdonald")
    name, genuine = next(iter(browser.cookies.items()))
    with sqlite3.connect(live_server.db) as conn:
        key = conn.execute("SELECT value FROM secrets WHERE name = 'flask_secret_key'").fetchone()[0]
    session_id = signer(key).loads(genuine)[COOKIE_KEY]  # the live session this browser holds
    assert ehr_answer(live_server, name, genuine).status_code == 200
    assert ehr_answer(live_server, name, cookie_signed_with(key, session_id)).status_code == 200  # the real key
    altered = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    for forged in (cookie_signed_with("a guessed key", session_id), cookie_signed_with(key + "x", session_id),
                   altered):
        answer = ehr_answer(live_server, name, forged)
        assert answer.status_code == 302 and "/auth/login" in answer.headers["Location"], forged
    assert ehr_answer(live_server, name, genuine).status_code == 200  # the refusals changed nothing
