"""What every request meets before any room of the sandbox sees it: the one public host, a bounded body, and the
headers every response carries.

- Host (DNS rebinding): BASE_URL names the sandbox's one host. A browser reading under another host name is sent
  there; any other request (every method but GET, HEAD, OPTIONS, FHIR's POST _search included) under another
  host is refused with 421 Misdirected Request (RFC 9110 §15.5.20) instead of served, so a page on a rebound
  name cannot use the loopback trust of the admin endpoints, a signed-in session, or open reads. No proxy header
  (Host rewriting by X-Forwarded-Host, Forwarded) is honoured: the Host the server receives is the one judged.
- Body: at most MAX_BODY_BYTES (Content-Length or, for chunked bodies, as read); more answers 413. JSON nested
  deeper than bounded_json.MAX_DEPTH levels is malformed JSON (400), never an internal error.
- Headers: `X-Content-Type-Options: nosniff` on every response; the session cookie HttpOnly, SameSite=Lax, and
  Secure when BASE_URL is https.

Refusals speak the surface's language: an OperationOutcome under /fhir, RFC 6749 error JSON for the OAuth and
admin endpoints, a page that says what to do elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, redirect, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import RequestEntityTooLarge

from . import bounded_json

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
JSON_SURFACES = ("/auth/token", "/auth/register", "/auth/introspect", "/auth/revoke", "/api/")


def refusal(status: int, error: str, message: str):
    """A refused request in the shape of the surface it was sent to."""
    if request.path == "/fhir" or request.path.startswith("/fhir/"):
        from .fhir.formats import fhir_response
        from .fhir.outcome import HTTP_ISSUE_CODES, operation_outcome

        return fhir_response(operation_outcome(message, HTTP_ISSUE_CODES.get(status, "processing")), status)
    if request.path.startswith(JSON_SURFACES):
        return {"error": error, "error_description": message}, status, {"Cache-Control": "no-store"}
    return render_template("oauth/error.html", title="Request refused", message=message), status


class BoundedJSON(DefaultJSONProvider):
    """request.get_json for every view: JSON nested deeper than bounded_json.MAX_DEPTH reads as invalid JSON (a
    ValueError, which each endpoint already answers with its own 400), never as a RecursionError (a 500)."""

    def loads(self, s, **kwargs):
        return bounded_json.loads(s, **kwargs)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per secret key: Flask makes a new one
    for every request (a few percent of a small request's CPU), sessions or not. It holds only the keys and
    settings, so threads can share it."""

    _made: tuple[tuple, object] | None = None

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._made
        if made is None or made[0] != keys:
            made = self._made = (keys, super().get_signing_serializer(app))
        return made[1]


def install(app: Flask) -> None:
    base = urlsplit(app.config["BASE_URL"])
    app.session_interface = CookieSessions()
    bounded = BoundedJSON(app)
    bounded.sort_keys = app.json.sort_keys
    app.json = bounded
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=base.scheme == "https")

    @app.before_request
    def one_host():
        if request.host == base.netloc:
            return None
        if request.method in SAFE_METHODS:
            return redirect(app.config["BASE_URL"] + request.full_path.rstrip("?"), code=308)
        return refusal(421, "invalid_request",
                       f"This sandbox answers as {base.netloc}; a request that changes something must be sent there, "
                       f"not to {request.host or 'no host'} (the Host header must name the sandbox's base URL).")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error):
        return refusal(413, "invalid_request",
                       f"The request body is larger than this sandbox accepts ({app.config['MAX_BODY_BYTES']} bytes; "
                       "the SANDBOX_MAX_BODY_BYTES setting). Send less at once, e.g. one patient's bundle.")

    @app.after_request
    def nosniff(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
