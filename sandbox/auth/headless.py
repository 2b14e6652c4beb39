"""Headless EHR launches for app developers' own CI: `POST /api/launches` (a sandbox convenience, not a standard).

JSON `{"client_id", "patient", "encounter", "user", "fhirContext", "intent", "skip_login", "skip_consent"}` (and
optionally `need_patient_banner`, `tenant`) → 201 `{"launch", "iss", "launch_url"}`. The launch is what a
clinician's Launch button would make: bound to the app and to a user (a FHIR reference, default the first seeded
clinician) with a fresh session of theirs; an encounter alone brings its patient, and a patient user launches
with their own record. An authorize request carrying it with both skip flags set comes straight back with a
code. Open to loopback callers; anyone else needs the admin token.
"""

from __future__ import annotations

import difflib
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from ..store import Store
from . import launch_context, signin, simulate
from .admin import require_local_or_admin
from .clients import ClientRegistry
from .smart_config import style_url
from .users import UserDirectory, patients_of

blueprint = Blueprint("api", __name__)


class LaunchRequestError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@blueprint.post("/launches")
@require_local_or_admin
def create_launch():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("Send a JSON object with Content-Type: application/json, e.g. "
                      '{"client_id": "demo-app", "patient": "story-diabetes"}')
    store: Store = current_app.extensions["store"]
    base_url = current_app.config["BASE_URL"]
    try:
        launch, launch_url = make_launch(store, base_url, body, current_app.config)
    except LaunchRequestError as exc:
        return _error(str(exc), exc.status)
    return jsonify({"launch": launch.secret, "iss": f"{base_url}/fhir", "launch_url": launch_url,
                    "activity_url": f"{base_url}/activity/{launch.id}"}), 201, \
        {"Cache-Control": "no-store"}


LAUNCH_KEYS = frozenset({"client_id", "patient", "encounter", "user", "fhirContext", "intent", "tenant",
                         "need_patient_banner", "skip_login", "skip_consent", "simulate",
                         "pause"})


def make_launch(store: Store, base_url: str, body: dict[str, Any],
                settings) -> tuple[launch_context.Launch, str | None]:
    """Validate a launch request against the registry and the FHIR data, and save the launch."""
    unknown = sorted(set(body) - LAUNCH_KEYS)
    if unknown:  # a misspelt key (skip_concent) would otherwise launch without what the caller asked for
        close = {key: difflib.get_close_matches(key, LAUNCH_KEYS, n=1) for key in unknown}
        named = ", ".join(f"{key!r}" + (f" (did you mean {close[key][0]!r}?)" if close[key] else "") for key in unknown)
        raise LaunchRequestError(f"Unknown key{'s' if len(unknown) > 1 else ''} {named}; a launch takes "
                                 f"{', '.join(sorted(LAUNCH_KEYS))}")
    client = ClientRegistry(store, base_url).get(str(body.get("client_id") or ""))
    if client is None:
        raise LaunchRequestError(f"client_id {body.get('client_id')!r} is not a registered app", 404)
    patient, encounter = body.get("patient"), body.get("encounter")
    for name in ("patient", "encounter", "intent", "user", "tenant"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise LaunchRequestError(f"{name} must be a string" + (" (a resource id)" if name in ("patient",
                                                                                                "encounter") else ""))
    for name in ("skip_login", "skip_consent", "need_patient_banner", "pause"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise LaunchRequestError(f"{name} must be true or false (a JSON boolean), not {body[name]!r}")
    try:
        simulation = simulate.parse(body.get("simulate"))
    except simulate.SimulationError as exc:
        raise LaunchRequestError(str(exc)) from None
    if patient and not store.exists("Patient", patient):
        raise LaunchRequestError(f"Patient/{patient} does not exist", 404)
    if encounter:
        if not store.exists("Encounter", encounter):
            raise LaunchRequestError(f"Encounter/{encounter} does not exist", 404)
        subject = (store.read("Encounter", encounter).resource.get("subject") or {}).get("reference") or ""
        if patient and subject != f"Patient/{patient}":
            raise LaunchRequestError(f"Encounter/{encounter} belongs to {subject or 'no patient'}, "
                                     f"not Patient/{patient}")
        if not patient and subject.startswith("Patient/"):
            patient = subject.split("/", 1)[1]  # the encounter's patient is in context too
    directory = UserDirectory(store)
    reference = body.get("user")
    user = directory.by_fhir_user(reference) if reference else directory.first_clinician()
    if user is None:
        raise LaunchRequestError(f"No sandbox user stands for {reference!r}" if reference else
                                 "There is no clinician user; seed the database first", 404)
    visible = patients_of(store, user)
    if visible is not None:  # a patient or family member launches with their own (linked) record
        if patient and patient not in visible:
            raise LaunchRequestError(f"{user.fhir_user} may not see Patient/{patient}; a {user.kind.replace('-', ' ')}"
                                     " user launches with their own (linked) patient record", 403)
        patient = patient or (visible[0] if visible else None)
    context = {"patient": patient, "encounter": encounter, "fhirContext": _fhir_context(body.get("fhirContext")),
               "intent": body.get("intent"), "need_patient_banner": body.get("need_patient_banner", True) is not False,
               "smart_style_url": style_url(base_url), "tenant": body.get("tenant"), "simulate": simulation,
               "pause": body.get("pause") is True or None}
    context = simulate.shape_context(context)
    session_id = signin.start(store, user.id, settings["SESSION_LIFETIME"])
    launch = launch_context.create(store, client.client_id, user.id, session_id, context, settings["LAUNCH_LIFETIME"],
                                   skip_login=bool(body.get("skip_login")), skip_consent=bool(body.get("skip_consent")))
    launch_url = None
    if client.launch_uri:
        launch_url = launch_context.app_url(client.launch_uri, base_url, launch.secret)
    return launch, launch_url


def _fhir_context(value: Any) -> list[dict[str, Any]] | None:
    """SMART 2.2 fhirContext: a list of objects; plain "Type/id" strings are taken as references."""
    if value in (None, [], ""):
        return None
    if not isinstance(value, list):
        raise LaunchRequestError('fhirContext must be a list, e.g. [{"reference": "DiagnosticReport/123"}]')
    items = []
    for item in value:
        if isinstance(item, str):
            item = {"reference": item}
        if not isinstance(item, dict) or not item:
            raise LaunchRequestError("each fhirContext entry must be an object such as {\"reference\": \"Type/id\"}")
        items.append(item)
    return items


def _error(message: str, status: int = 400):
    return jsonify({"error": "invalid_request", "error_description": message}), status, {"Cache-Control": "no-store"}
