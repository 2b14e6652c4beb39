"""A confidential server-side SMART app, served at /samples/summary/ on the sandbox's own origin.

It does what a real server-side app does, over real HTTP: discovers the endpoints from
``.well-known/smart-configuration``, sends the browser to authorize with PKCE and ``state`` kept in a signed cookie
of its own, exchanges the code at the token endpoint authenticating with its client secret (HTTP Basic,
client_secret_basic) from the server, then reads the patient's record with the access token and renders a summary.
Tokens never reach the browser. Registered as ``sample-summary`` in seed_data/apps.json; being served by the
sandbox, it reads its own secret from the registration instead of a configuration file.

It talks only to this sandbox: an ``iss`` naming another server is refused, so the app cannot be used to make
the sandbox fetch arbitrary URLs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from flask import Blueprint, current_app, make_response, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..auth.clients import ClientRegistry

CLIENT_ID = "sample-summary"
SCOPE = ("openid fhirUser launch launch/patient patient/Patient.rs patient/Condition.rs "
         "patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Observation.rs")
COOKIE = "sample_summary"
COOKIE_PATH = "/samples/summary/"
PENDING_SECONDS = 600  # how long a started launch may take to come back
TIMEOUT_SECONDS = 10

blueprint = Blueprint("sample_summary", __name__)


class AppError(Exception):
    """Something the app could not do, said as the app would say it to its user."""

    def __init__(self, message: str, detail: str = "", status: int = 400):
        super().__init__(message)
        self.message, self.detail, self.status = message, detail, status


@blueprint.errorhandler(AppError)
def _app_error(error: AppError):
    return render_template("samples/summary.html", error=error), error.status


def _fhir_base() -> str:
    return current_app.config["BASE_URL"] + "/fhir"


def _pending_cookies() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="sample-summary-pending")


def _tls_context() -> ssl.SSLContext | None:
    """Trust the sandbox's own certificate when it serves https with one (e.g. self-signed)."""
    cert = current_app.config.get("TLS_CERT")
    return ssl.create_default_context(cafile=cert) if cert else None


def _http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One JSON request to the sandbox; an HTTP error answers with the server's own words."""
    call = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(call, timeout=TIMEOUT_SECONDS, context=_tls_context()) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as failed:
        body = failed.read().decode("utf-8", "replace")
        raise AppError(f"The server answered {failed.code} to {urllib.parse.urlsplit(url).path}",
                       _explain(body), status=502) from None
    except (urllib.error.URLError, TimeoutError, ValueError) as failed:
        raise AppError(f"The app could not reach {url}", f"{failed}. Check that SANDBOX_BASE_URL is an address this "
                       "server can reach itself.", status=502) from None


def _explain(body: str) -> str:
    """The error and description of an OAuth error, or the diagnostics of an OperationOutcome."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:300]
    if "error" in answer:
        return f"{answer['error']}: {answer.get('error_description', '')}".strip(": ")
    issues = answer.get("issue") or []
    return "; ".join(issue.get("diagnostics", issue.get("code", "")) for issue in issues) or body[:300]


def _redirect_uri() -> str:
    return current_app.config["BASE_URL"] + COOKIE_PATH + "callback"


def _start(launch: str | None):
    iss = request.args.get("iss") or _fhir_base()
    if iss.rstrip("/") != _fhir_base():
        raise AppError("This sample app only talks to the sandbox that serves it",
                       f"It was launched with iss={iss}, but it serves {_fhir_base()}.")
    config = _http(f"{iss}/.well-known/smart-configuration")
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(24)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": _redirect_uri(), "scope": SCOPE,
             "state": state, "aud": iss, "code_challenge": challenge, "code_challenge_method": "S256"}
    if launch:
        query["launch"] = launch
    response = make_response(redirect(f"{config['authorization_endpoint']}?{urllib.parse.urlencode(query)}"))
    pending = {"state": state, "verifier": verifier, "token_endpoint": config["token_endpoint"]}
    response.set_cookie(COOKIE, _pending_cookies().dumps(pending), max_age=PENDING_SECONDS, path=COOKIE_PATH,
                        httponly=True, samesite="Lax", secure=request.is_secure)
    return response


@blueprint.get("/")
def standalone():
    """A standalone launch: the user signs in and picks a patient at the authorization server."""
    return _start(None)


@blueprint.get("/launch")
def ehr_launch():
    """An EHR launch: the EHR opened this URL with ``iss`` and ``launch``."""
    launch = request.args.get("launch")
    if not launch:
        raise AppError("This launch URL needs iss and launch", "Open the app from a chart, or start it standalone "
                       f"at {COOKIE_PATH}.")
    return _start(launch)


def _pending() -> dict[str, str]:
    try:
        return _pending_cookies().loads(request.cookies.get(COOKIE, ""), max_age=PENDING_SECONDS)
    except BadSignature:
        raise AppError("This sign-in was not started here, or it took too long",
                       "Launch the app again from the chart or the portal.") from None


def _exchange(pending: dict[str, str], code: str) -> dict[str, Any]:
    registered = ClientRegistry(current_app.extensions["store"]).get(CLIENT_ID)
    if registered is None:
        raise AppError(f"The app {CLIENT_ID} is not registered", "Run `sandbox seed` (or `make seed`) to register "
                       "the bundled apps again.", status=503)
    secret = registered.client_secret or ""
    basic = base64.b64encode(f"{urllib.parse.quote(CLIENT_ID)}:{urllib.parse.quote(secret)}".encode()).decode()
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": _redirect_uri(),
                                   "code_verifier": pending["verifier"]}).encode()
    return _http(pending["token_endpoint"], data=form, headers={
        "Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})


def _read(token: str, path: str) -> dict[str, Any]:
    return _http(f"{_fhir_base()}/{path}", headers={"Authorization": f"Bearer {token}"})


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", []) if entry.get("search", {}).get("mode") != "outcome"]


def _summary(token: str, patient: str) -> dict[str, Any]:
    """The record, read as five FHIR searches with the app's own token."""
    quoted = urllib.parse.quote(patient)
    return {
        "patient": _read(token, f"Patient/{quoted}"),
        "conditions": _entries(_read(token, f"Condition?patient={quoted}&clinical-status=active&_count=50")),
        "medications": _entries(_read(token, f"MedicationRequest?patient={quoted}&status=active&_count=50")),
        "allergies": _entries(_read(token, f"AllergyIntolerance?patient={quoted}&_count=50")),
        "vitals": _entries(_read(token, f"Observation?patient={quoted}&category=vital-signs&_sort=-date&_count=8")),
    }


@blueprint.get("/callback")
def callback():
    """The redirect URI: check state, exchange the code on the server, read and show the record."""
    if "error" in request.args:
        raise AppError("The authorization server did not authorize this app",
                       f"{request.args['error']}: {request.args.get('error_description', '')}".strip(": "))
    pending = _pending()
    if not secrets.compare_digest(request.args.get("state", ""), pending["state"]):
        raise AppError("The state returned does not match the one this app sent",
                       "The response may belong to another sign-in; launch the app again.")
    code = request.args.get("code")
    if not code:
        raise AppError("The authorization server returned neither a code nor an error")
    tokens = _exchange(pending, code)
    patient = tokens.get("patient")
    if not patient:
        raise AppError("The token response names no patient", "This app needs launch/patient to be granted.")
    granted = {
        "scope": tokens.get("scope", ""), "patient": patient, "encounter": tokens.get("encounter"),
        "expires_in": tokens.get("expires_in"), "id_token": "id_token" in tokens,
        "need_patient_banner": tokens.get("need_patient_banner"),
    }
    response = make_response(render_template("samples/summary.html", granted=granted,
                                             **_summary(tokens["access_token"], patient)))
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
