"""App registration pages: list, register, edit and remove apps through the browser.

The form is turned into RFC 7591 client metadata and goes through the same ClientRegistry as dynamic
registration and `sandbox apps`, so one implementation decides what is valid. A new confidential app's
secret is shown once, right after registration.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, current_app, redirect, request, session, url_for

from .. import bounded_json
from ..auth import audit, launch_context, signin
from ..auth.admin import is_local_request
from ..auth.authorization import store
from ..auth.clients import SCRATCH, SCRATCH_LIFETIME, Client, ClientRegistry
from ..auth.errors import append_query
from ..auth.pages import login_csrf, page, signed_in_as
from ..auth.registration import DEFAULT_APP_SCOPE, InvalidClientMetadata, RegistrationError
from ..auth.users import UserDirectory
from . import scratch

blueprint = Blueprint("apps", __name__)

# Client type on the form → (token_endpoint_auth_method, grant_types), with the sentence the form shows.
CLIENT_TYPES = {
    "public": ("none", ["authorization_code", "refresh_token"],
               "A browser or mobile app that cannot keep a secret; it proves itself with PKCE alone."),
    "confidential-symmetric": ("client_secret_basic", ["authorization_code", "refresh_token"],
                               "A server-side app that keeps a client secret and sends it with HTTP Basic."),
    "confidential-asymmetric": ("private_key_jwt", ["authorization_code", "refresh_token"],
                                "A server-side app that signs a JWT with its private key (RS384 or ES384)."),
    "backend": ("private_key_jwt", ["client_credentials"],
                "A backend service with no user: client_credentials with a signed JWT, system/ scopes only."),
}
FLASH_SECRET = "new_app_secret"
# Scope checkboxes on the form, by group; they edit the raw scope box, which is what the form submits.
SCOPE_GROUPS = (
    ("Launch context", ("launch", "launch/patient", "launch/encounter")),
    ("Identity", ("openid", "fhirUser", "profile")),
    ("Staying signed in", ("online_access", "offline_access")),
    ("The patient's data", ("patient/*.rs", "patient/*.cruds")),
    ("Data the user may see", ("user/*.rs", "user/*.cruds")),
    ("Backend services", ("system/*.rs", "system/*.cruds")),
)


def _registry() -> ClientRegistry:
    return ClientRegistry(store(), current_app.config["BASE_URL"])


def _signed_in():
    user, _ = signin.current()
    return user


@blueprint.before_request
def require_sign_in():
    """Only clinicians and the administrator register apps: an app may ask for any patient's data."""
    return signed_in_as(lambda user: user.is_clinician, "Only clinicians register apps",
                        "{name} is signed in as a patient or family member. Apps are registered by clinicians and "
                        "the sandbox administrator: sign out, then sign in as one of them.")


def may_change(client: Client) -> bool:
    """The owner of an app, or the administrator, may edit or remove it."""
    user = _signed_in()
    return user.is_admin or client.owner == user.id


def not_yours(client: Client):
    return page("oauth/error.html", 403, title="Not your app",
                message=f"{client.display_name} belongs to another user, so nothing was changed. Only the user who "
                "registered an app, or the sandbox administrator, may edit or remove it.")


def pre_approval(form) -> dict[str, bool]:
    """Skipping consent is the administrator's decision: only their form sets pre_approved. Anyone else's post leaves
    it to the registry: no for a new app, unchanged on an edit unless the edit ends the app's grants."""
    return {"pre_approved": form.get("pre_approved") == "on"} if _signed_in().is_admin else {}


@blueprint.get("/")
def list_apps():
    owners = {user.id: user.display_name for user in UserDirectory(store()).list()}
    return _page("apps/list.html", apps=_registry().list(), owners=owners, active_top="apps")


@blueprint.route("/new", methods=["GET", "POST"])
def register():
    form = request.form if request.method == "POST" else {"client_type": "public", "scope": DEFAULT_APP_SCOPE}
    if request.method == "POST":
        try:
            metadata = {**metadata_from(request.form), **pre_approval(request.form)}
            client = _registry().register(metadata, origin="ui", owner=_signed_in().id)
        except RegistrationError as exc:
            return _form(form, None, exc, 400)
        audit.record(store(), "app.registered", client_id=client.client_id, user_id=_signed_in().id,
                     rule="Registered through the app registration page")
        if client.client_secret:
            session[FLASH_SECRET] = client.client_secret
        return redirect(url_for("apps.show", client_id=client.client_id))
    return _form(form, None, None)


@blueprint.route("/try", methods=["GET", "POST"])
def try_app():
    """Paste a launch URL, get a scratch app registered and ready to launch (see apps/scratch.py)."""
    if not (is_local_request() or _signed_in().is_admin):
        return page("oauth/error.html", 403, title="Scratch apps are made on this machine only",
                    message="Pasting a launch URL registers an app without review, so it is open to the browser on "
                    "the sandbox's own machine (and to the administrator). Use Register app instead.")
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            client = scratch.register(_registry(), form.get("launch_uri", ""), form.get("redirect_uri"),
                                      form.get("confidential") == "on", owner=_signed_in().id,
                                      client_id=form.get("client_id"))
        except RegistrationError as exc:
            field = {"redirect_uris": "redirect_uri", "client_id": "client_id"}.get(exc.field, "launch_uri")
            if "already registered" in exc.description:
                field = "client_id"
            return _page("apps/try.html", 400, form=form, error=exc.description, error_field=field,
                         active_top="register")
        audit.record(store(), "app.registered", client_id=client.client_id, user_id=_signed_in().id,
                     rule="A scratch app was registered from a pasted launch URL")
        if client.client_secret:
            session[FLASH_SECRET] = client.client_secret
        return redirect(url_for("apps.show", client_id=client.client_id))
    return _page("apps/try.html", form=form, error=None, error_field=None, active_top="register")


@blueprint.post("/<client_id>/keep")
def keep(client_id: str):
    client = _registry().get(client_id)
    if client is None or not may_change(client):
        return not_yours(client) if client else redirect(url_for("apps.list_apps"))
    _registry().keep(client_id)
    return redirect(url_for("apps.show", client_id=client_id, saved=1))


@blueprint.post("/<client_id>/launch-url")
def make_launch_url(client_id: str):
    """The launch-URL builder: a launch for the signed-in clinician and a story patient, as the URL an app that
    starts itself is given (iss and launch), to paste into it."""
    client = _registry().get(client_id)
    user, session_id = signin.current()
    if client is None or not client.launch_uri or not user.is_clinician:
        return redirect(url_for("apps.show", client_id=client_id))
    patient = request.form.get("patient", "")
    if not store().exists("Patient", patient):
        return redirect(url_for("apps.show", client_id=client_id))
    made = launch_context.create(store(), client.client_id, user.id, session_id, {"patient": patient},
                                 current_app.config["LAUNCH_LIFETIME"])
    url = launch_context.app_url(client.launch_uri, current_app.config["BASE_URL"], made.secret)
    return _form(form_of(client), client, None, test_launch=test_launch(client), built_launch_url=url,
                 built_for=patient, lifetime=current_app.config["LAUNCH_LIFETIME"])


@blueprint.route("/<client_id>", methods=["GET", "POST"])
def show(client_id: str):
    client = _registry().get(client_id)
    if client is None:
        return page("oauth/error.html", 404, title="Unknown app",
                    message=f"No app has client_id {client_id}. It may have been removed.")
    if request.method == "POST":
        if not may_change(client):
            return not_yours(client)
        try:
            metadata = {**metadata_from(request.form), **pre_approval(request.form)}
            client = _registry().update(client_id, metadata, by=_signed_in().id)
        except RegistrationError as exc:
            return _form(request.form, client, exc, 400)
        return redirect(url_for("apps.show", client_id=client_id, saved=1))
    secret = session.pop(FLASH_SECRET, None)
    return _form(form_of(client), client, None, secret=secret, saved=bool(request.args.get("saved")),
                 test_launch=test_launch(client))


def scratch_until(client: Client) -> str | None:
    """When a scratch app will be removed, in words, or None for a kept app."""
    if client.origin != SCRATCH:
        return None
    return time.strftime("%d-%b-%Y %H:%M", time.localtime(client.created_at + SCRATCH_LIFETIME))


def test_launch(client: Client) -> dict[str, Any] | None:
    """What the app page offers to try the app: EHR launches (for a clinician) into the story patients'
    charts, and a standalone launch for apps allowed launch/patient."""
    if not client.allows_grant("authorization_code"):
        return None  # a backend service has no one to launch it
    standalone = None
    if client.launch_uri and "launch/patient" in client.scopes:
        standalone = append_query(client.launch_uri, {"iss": _fhir_base()})
    patients = [{"id": u.fhir_resource[1], "name": u.display_name} for u in UserDirectory(store()).list("patient")]
    return {"clinician": _signed_in().is_clinician, "patients": patients, "standalone_url": standalone}


def _fhir_base() -> str:
    return current_app.config["BASE_URL"] + "/fhir"


@blueprint.post("/<client_id>/remove")
def remove(client_id: str):
    client = _registry().get(client_id)
    if client is not None and not may_change(client):
        return not_yours(client)
    if _registry().remove(client_id):
        audit.record(store(), "app.removed", client_id=client_id, user_id=_signed_in().id,
                     rule="Removed through the app registration page; its tokens were revoked")
    return redirect(url_for("apps.list_apps"))


# Metadata field at fault → the form control to point the person at.
FORM_FIELDS = {"token_endpoint_auth_method": "type-public", "grant_types": "type-public",
               "response_types": "type-public", "launch_mode": "mode-embedded", "client_type": "type-public",
               "client_uri": "launch_uri"}


def _form(form, client: Client | None, error: RegistrationError | None, status: int = 200, **extra):
    field = FORM_FIELDS.get(error.field, error.field) if error is not None and error.field else None
    return _page("apps/form.html", status, form=form, client=client, error=error.description if error else None,
                 error_field=field, client_types=CLIENT_TYPES, scope_groups=SCOPE_GROUPS, fhir_base=_fhir_base(),
                 scratch_until=scratch_until(client) if client else None,
                 active_top="register" if client is None else "apps", **extra)


def _page(template: str, status: int = 200, **values):
    """A registration page: in the EHR's frame for a clinician, in the plain one for anyone else."""
    user = _signed_in()
    return page(template, status, user=user, clinician=user.is_clinician, admin=user.is_admin, csrf=login_csrf(),
                may_change=may_change, **values)


def metadata_from(form) -> dict[str, Any]:
    """RFC 7591 client metadata from the form's fields."""
    kind = form.get("client_type", "public")
    if kind not in CLIENT_TYPES:
        raise InvalidClientMetadata("Choose a client type", "client_type")
    method, grants, _ = CLIENT_TYPES[kind]
    metadata: dict[str, Any] = {
        "client_name": form.get("client_name", "").strip() or None,
        "description": form.get("description", "").strip() or None,
        "token_endpoint_auth_method": method,
        "grant_types": grants,
        "scope": " ".join(form.get("scope", "").split()) or None,
        "launch_uri": form.get("launch_uri", "").strip() or None,
        "logo_uri": form.get("logo_uri", "").strip() or None,
        "launch_mode": form.get("launch_mode", "embedded"),
        "launch_intent": form.get("launch_intent", "").strip() or None,
    }
    if kind != "backend":
        metadata["redirect_uris"] = [line.strip() for line in form.get("redirect_uris", "").splitlines()
                                     if line.strip()]
    if method == "private_key_jwt":
        jwks_text = form.get("jwks", "").strip()
        if jwks_text:
            try:
                metadata["jwks"] = bounded_json.loads(jwks_text)
            except ValueError as exc:
                raise InvalidClientMetadata(f"The pasted JWK Set is not JSON: {exc}", "jwks") from None
        else:
            metadata["jwks_uri"] = form.get("jwks_uri", "").strip() or None
    return {k: v for k, v in metadata.items() if v is not None}


def form_of(client: Client) -> dict[str, str]:
    kind = client.client_type if client.client_type in CLIENT_TYPES else "public"
    return {"client_type": kind, "client_name": client.client_name or "", "description": client.description or "",
            "redirect_uris": "\n".join(client.redirect_uris), "scope": client.scope,
            "launch_uri": client.launch_uri or "", "logo_uri": client.logo_uri or "",
            "jwks_uri": client.jwks_uri or "", "jwks": json.dumps(client.jwks, indent=2) if client.jwks else "",
            "pre_approved": "on" if client.pre_approved else "", "launch_mode": client.launch_mode,
            "launch_intent": client.launch_intent or ""}
