"""The authorize endpoint (RFC 6749 §4.1.1, RFC 7636, RFC 9700; SMART App Launch 2.2 §Obtain authorization code).

Order of checks: the client and its exact redirect_uri first — until both are good, errors show a page and
never redirect (RFC 6749 §4.1.2.1). After that every error goes back to the app with `error`,
`error_description` and `state`. `aud` must be this FHIR base; PKCE with S256 is required of every client;
unknown scopes are dropped; an EHR launch's `launch` is taken once and authenticates the user. The request
then moves through sign-in, patient and encounter pickers and consent (auth/pages.py) as a pending request
(auth/pending.py) until a code is issued.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ..store import Store
from . import (
    audit,
    browser_binding,
    id_tokens,
    launch_context,
    pending,
    pkce,
    signin,
    simulate,
    smart_config,
    step_mode,
)
from . import authorize_writes as writes
from .clients import Client, ClientRegistry
from .codes import CodeGrant, digest, save_code
from .errors import (
    AccessDenied,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
    append_query,
)
from .scopes import ScopeSet, TooManyScopes, is_known
from .users import User, UserDirectory, patients_of

blueprint = Blueprint("authorize", __name__)

REFRESH_SCOPES = ("offline_access", "online_access")
# The pages of an authorization: never framed by another site (clickjacking), never cached, and never leaking
# their address (which names the pending request) in a Referer (RFC 9700 §4.2.4).
PAGE_HEADERS = {"Content-Security-Policy": "frame-ancestors 'self'", "X-Frame-Options": "SAMEORIGIN",
                "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def store() -> Store:
    return current_app.extensions["store"]


def fhir_base() -> str:
    return current_app.config["BASE_URL"] + "/fhir"


def error_page(title: str, message: str, status: int = 400):
    """An error shown to the person in the browser (no redirect to an unverified URI)."""
    return render_template("oauth/error.html", title=title, message=message), status, PAGE_HEADERS


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize():
    """SMART App Launch 2.2 §authorize-post: the same parameters by GET query or POST form."""
    params = request.values
    client_id = params.get("client_id", "")
    client = ClientRegistry(store(), current_app.config["BASE_URL"]).get(client_id)
    named = launch_context.look_up(store(), params["launch"], client_id) if params.get("launch") else None
    trail = (named and named.trail_id) or audit.new_trail_id()  # an EHR launch's trail, else a new standalone one
    # a launch made to fail here (auth/simulate.py) takes the path a real failure of that kind takes
    simulated = simulate.at_authorize(named.launch if named else None)
    if simulated in simulate.AUTHORIZE_KINDS:
        audit.record(store(), "simulated", audit.FAILURE, client_id=client_id, launch_id=trail,
                     rule=f"Simulated on purpose: {simulate.KINDS[simulated]}", kind=simulated)
    if simulated == "invalid-client":
        client = None
    if client is None:
        if client_id:  # a bare visit to the endpoint starts no trail
            refused(trail, client_id, params, "The client_id is not registered in the sandbox",
                    mismatch=("client_id", "no app with this client_id", client_id))
        return error_page("Unknown app", "The client_id of this request is not registered in the sandbox. "
                          "Register the app first (sandbox apps add, or POST /auth/register), then try again.")
    redirect_uri = params.get("redirect_uri", "")
    if not client.has_redirect_uri(redirect_uri) or simulated == "unregistered-redirect":
        registered = ", ".join(client.redirect_uris) or "none"
        refused(trail, client.client_id, params, "The redirect_uri is not one the app registered: the server shows "
                "an error page instead of redirecting (RFC 6749 §4.1.2.1)",
                mismatch=("redirect_uri", registered, redirect_uri or "(missing)"))
        return error_page("Redirect URI not registered",
                          f"The redirect_uri {redirect_uri or '(missing)'} is not one of the URIs registered for "
                          f"{client.display_name} (registered: {registered}). The sandbox only sends codes to an "
                          "exactly registered URI.")
    state = params.get("state")
    try:
        decided = check_request(client, params)
        if simulated == "invalid-scope":
            raise InvalidScope("The requested scope is invalid, unknown or malformed (simulated)")
        if simulated == "denied-consent":
            raise AccessDenied("The user denied the request (simulated)")
    except OAuthError as error:
        refused(trail, client.client_id, params, error.description, error.error, mismatch_of(client, params, error))
        return redirect(error.redirect_url(redirect_uri, state, issuer()))
    requested = {"client_id": client.client_id, "launch_id": trail, "request": asked_for(params),
                 "address": request.remote_addr,
                 "rule": "Authorization request accepted: client, redirect_uri, aud, state and PKCE challenge are good",
                 "scope_allowed": decided["scope"], "scope_dropped": decided["dropped"]}
    # From here on, one transaction at the end: the launch taken, the pending request or the code, and the events.
    try:
        with writes.one_transaction(store()):
            writes.event(store(), "authorize.requested", **requested)
            return start(client, decided, named, trail)
    except writes.LaunchTaken:
        with writes.one_transaction(store()):
            writes.event(store(), "authorize.requested", **requested)
            return launch_refused(client, decided, trail, "The launch was already used; start a new launch "
                                  "from the EHR")


def asked_for(params: Mapping[str, str]) -> dict[str, Any]:
    """The authorize request as the activity trail shows it: `state` and `nonce` only as sent or not (they are
    the app's own secrets), the PKCE challenge and the launch cut short; other parameters by name only. Lists a
    client sent (unknown scopes, other parameters) keep their first few items, cut short, and their count: one
    request can never write an unbounded row."""
    known = ("response_type", "client_id", "redirect_uri", "scope", "aud", "launch", "code_challenge",
             "code_challenge_method")
    asked: dict[str, Any] = {"method": request.method}
    asked.update(audit.safe_params({k: params[k] for k in known if k in params}))
    if "code_challenge" in asked:
        asked["code_challenge"] = audit.short(params["code_challenge"], 10)
    asked["state"], asked["nonce"] = bool(params.get("state")), bool(params.get("nonce"))
    unknown = [s for s in ScopeSet.first_requested(params.get("scope")) if not is_known(s)]
    asked["unknown_scopes"], asked["unknown_scope_count"] = audit.first_few(unknown), len(unknown)
    other = sorted(set(params) - set(known) - {"state", "nonce"})
    asked["other"], asked["other_count"] = audit.first_few(other), len(other)
    return asked


def refused(trail: str, client_id: str, params: Mapping[str, str], rule: str, error: str | None = None,
            mismatch: tuple[str, str, str] | None = None) -> None:
    """An authorize request refused, with what was registered beside what was received when they differ."""
    audit.record(store(), "authorize.refused", audit.FAILURE, client_id=client_id, launch_id=trail, rule=rule,
                 error=error, request=asked_for(params),
                 mismatch=dict(zip(("field", "registered", "received"), mismatch, strict=True)) if mismatch else None)


def mismatch_of(client: Client, params: Mapping[str, str], error: OAuthError) -> tuple[str, str, str] | None:
    if (params.get("aud") or "").rstrip("/") != fhir_base():
        return "aud", fhir_base(), audit.clipped(params.get("aud") or "(missing)")
    if isinstance(error, InvalidScope):
        return "scope", client.scope, audit.clipped(params.get("scope") or "(missing)")
    return None


def check_request(client: Client, params: Mapping[str, str]) -> dict[str, Any]:
    """Everything checked before anyone is asked anything; returns the request as decided."""
    if params.get("response_type") != "code":
        raise UnsupportedResponseType(f"response_type must be 'code', not {params.get('response_type')!r}")
    if not client.allows_grant("authorization_code"):
        raise UnauthorizedClient(f"{client.display_name} is not registered for the authorization_code grant")
    aud = (params.get("aud") or "").rstrip("/")
    if aud != fhir_base():
        raise InvalidRequest(f"aud must be this FHIR server's base URL, {fhir_base()} (received "
                             f"{params.get('aud') or 'none'})")
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if not challenge:
        raise InvalidRequest("PKCE is required: send code_challenge and code_challenge_method=S256")
    if method != "S256":
        raise InvalidRequest(f"code_challenge_method must be S256 (received {method or 'none'}); "
                             "the plain method is not allowed")
    if not pkce.is_s256_challenge(challenge):
        raise InvalidRequest("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
    if not params.get("state"):
        raise InvalidRequest("state is required (SMART App Launch 2.2 §Obtain authorization code): send an "
                             "unguessable value and check it when the app's redirect_uri is called")
    scope, dropped = granted_scope(client, params.get("scope"), has_launch=bool(params.get("launch")))
    return {"client_id": client.client_id, "redirect_uri": params["redirect_uri"], "state": params.get("state"),
            "scope": str(scope), "code_challenge": challenge, "nonce": params.get("nonce"), "dropped": dropped}


UNKNOWN_SCOPE = "not a scope this server knows"
SYSTEM_ONLY = ("system/ scopes are granted only to backend services, through client_credentials; an authorization "
               "a person approves never grants them")
LAUNCH_WITHOUT_LAUNCH = "launch means nothing without an EHR launch (no launch parameter was sent)"
NO_REFRESH_GRANT = "the app is not registered for the refresh_token grant"
NOT_REGISTERED = "not among the scopes registered for the app"


def granted_scope(client: Client, requested: str | None, has_launch: bool) -> tuple[ScopeSet, list[dict[str, str]]]:
    """SMART App Launch 2.2 §Scopes — unknown scopes are dropped, never an error; what remains is narrowed to
    what the app may be granted. `system/` scopes never come from a person's authorization (SMART Backend
    Services grants them); `launch` means nothing without a launch; refresh scopes need the grant. Returns the
    scopes that may be granted and each dropped or narrowed scope with why, for the consent page and the trail."""
    if not requested or not requested.strip():
        raise InvalidScope("scope is required: ask for the scopes the app needs (e.g. launch/patient openid "
                           "fhirUser patient/*.rs)")
    try:
        asked = ScopeSet.requested(requested)
    except TooManyScopes as error:
        raise InvalidScope(str(error)) from None
    dropped: list[dict[str, str]] = []
    usable: list[str] = []
    for text in asked:
        why = (UNKNOWN_SCOPE if not is_known(text) else
               SYSTEM_ONLY if text.startswith("system/") else
               LAUNCH_WITHOUT_LAUNCH if text == "launch" and not has_launch else
               NO_REFRESH_GRANT if text in REFRESH_SCOPES and not client.allows_grant("refresh_token") else None)
        if why:
            dropped.append({"scope": text, "why": why})
        else:
            usable.append(text)
    granted = ScopeSet(tuple(usable)).restrict_to(client.scopes)
    for text in usable:
        if text not in granted:
            narrowed = ScopeSet((text,)).restrict_to(client.scopes)
            why = f"narrowed to what the app is registered for: {narrowed}" if narrowed else NOT_REGISTERED
            dropped.append({"scope": text, "why": why})
    return granted, dropped


def start(client: Client, decided: dict[str, Any], named: launch_context.Named | None, trail: str):
    """Begin the pending request: an EHR launch brings its user and context, a standalone launch needs the
    person signed in (in this browser). The pending request carries the trail id where an EHR launch carries its
    launch id, so its code, tokens and FHIR requests join the same activity trail."""
    base_context = {"need_patient_banner": True, "smart_style_url": style_url()}
    if named:  # `named` was read before the transaction began; taking the launch checks it again
        launch = named.launch
        if launch is None:
            return launch_refused(client, decided, trail, named.refusal)
        writes.take_launch(launch.id)
        # A launch made with skip_login stands for "no one at the keyboard": nothing is asked of anyone, so
        # missing context stays missing instead of opening a picker (DESIGN: headless launches).
        decided = {**decided, "pickers": not launch.skip_login}
        item = pending.new(decided, user_id=launch.user_id, session_id=launch.session_id, launch_id=launch.id,
                           context={**base_context, **launch.context},
                           skip_consent=launch.skip_consent or client.pre_approved)
    else:
        user, session_id = signin.current()
        item = pending.new(decided, user_id=user.id if user else None, session_id=session_id, launch_id=trail,
                           context=base_context, skip_consent=client.pre_approved)
    return advance(item, client)


def launch_refused(client: Client, decided: dict[str, Any], trail: str, reason: str):
    writes.event(store(), "launch.refused", audit.FAILURE, client_id=client.client_id, launch_id=trail, rule=reason,
                 error=InvalidRequest.error)
    return redirect(InvalidRequest(reason).redirect_url(decided["redirect_uri"], decided["state"], issuer()))


def issuer() -> str:
    """Every authorization response names its issuer (RFC 9207), so a client talking to several servers can tell
    which one answered (the mix-up defence RFC 9700 §4.4 recommends)."""
    return id_tokens.issuer(current_app.config["BASE_URL"])


def style_url() -> str:
    return smart_config.style_url(current_app.config["BASE_URL"])


def step_of(item: pending.Pending) -> str:
    """Where a pending request stands: "login", "patient", "encounter", "consent" or "issue". The pages accept
    a form only for the step the request is at, so no step can be skipped or done again out of order."""
    if item.user_id is None:
        return "login"
    scopes = ScopeSet.parse(item.request["scope"])
    pickers = item.request.get("pickers", True)
    if "launch/patient" in scopes and not item.context.get("patient") and pickers:
        return "patient"
    wants_encounter = "launch/encounter" in scopes and "encounter_chosen" not in item.context
    if wants_encounter and not item.context.get("encounter") and item.context.get("patient") and pickers:
        return "encounter"
    return "issue" if item.skip_consent else "consent"


def patient_facing(item: pending.Pending) -> bool:
    """A standalone launch of a patient-facing app: no `launch` (so the `launch` scope was dropped), launch/patient
    with patient/ scopes and no user/ scopes. Its person signs in at the patient portal."""
    scopes = ScopeSet.parse(item.request["scope"])
    contexts = scopes.contexts()
    return "launch" not in scopes and "launch/patient" in scopes and "patient" in contexts and "user" not in contexts


def advance(item: pending.Pending, client: Client | None = None):
    """The next step of a pending request: sign-in, patient, encounter, consent, then the code. A request is
    stored (bound to this browser) only when a page has to be shown; one that asks nothing of anyone goes
    straight to its code. ``client`` is the request's app when the caller has it at hand."""
    if item.user_id is None:  # only a standalone launch has no user yet; an EHR launch brings its own
        sign_in_page = "portal.login" if patient_facing(item) else "pages.login"
        item = kept(item)
        return redirect(url_for(sign_in_page, next=url_for("pages.resume", request=item.id)))
    user = UserDirectory(store()).get(item.user_id)
    if user is None:
        return deny(item, AccessDenied("The signed-in user no longer exists"))
    if "launch/patient" in ScopeSet.parse(item.request["scope"]) and not item.context.get("patient"):
        visible = patients_of(store(), user)
        if visible is not None:  # not a clinician: their own record (or their linked patient's) is the context
            if not visible:
                return deny(item, AccessDenied(f"{user.display_name} has no patient record to share with the app "
                                               "(launch/patient was asked for)"))
            item = item.with_context(patient=visible[0])
            pending.save(store(), item)
            writes.event(store(), "authorize.context", client_id=item.request["client_id"], user_id=item.user_id,
                         launch_id=item.launch_id, rule=f"{user.display_name} is not a clinician: the patient in "
                         "context is their own record (or their linked patient's), with no picker",
                         context={"patient": visible[0]}, picked="patient")
    step = step_of(item)
    if step in ("patient", "encounter", "consent"):
        page = {"patient": "pages.pick_patient", "encounter": "pages.pick_encounter", "consent": "pages.consent"}
        return redirect(url_for(page[step], request=kept(item).id))
    how = "pre-approved" if _pre_approved(item, client) else "skip_consent"
    why = "the app is registered as pre-approved" if how == "pre-approved" else "the launch was made with skip_consent"
    writes.event(store(), "authorize.approved", client_id=item.request["client_id"], user_id=item.user_id,
                 launch_id=item.launch_id, rule=f"Approved without a consent page: {why}", how=how,
                 scope=item.request["scope"])
    return issue(item, item.request["scope"], user)


def kept(item: pending.Pending) -> pending.Pending:
    """The pending request stored, bound to this browser, before a page that continues it is shown."""
    if item.stored:
        return item
    browser = browser_binding.mark()
    writes.later(store(), lambda conn: pending.insert(conn, item, browser))
    return replace(item, browser=browser, stored=True)


def _pre_approved(item: pending.Pending, client: Client | None = None) -> bool:
    client = client or ClientRegistry(store(), current_app.config["BASE_URL"]).get(item.request["client_id"])
    return bool(client and client.pre_approved)


def user_scopes_reach(user_id: str | None, scope: str, user: User | None = None) -> tuple[str, ...] | None:
    """SMART App Launch 2.2 §Scopes: `user/` scopes reach what the user may see. For a patient or family member
    that is their own (or the linked) record, whatever the scope says: the patients it is confined to, or None
    when no user/ scope is granted or the user is a clinician (every patient). ``user`` when already looked up."""
    if "user" not in ScopeSet.parse(scope).contexts():
        return None
    return patients_of(store(), user or UserDirectory(store()).get(user_id))


def issue(item: pending.Pending, scope: str, user: User | None = None):
    """Issue the code and send the browser back to the app (RFC 6749 §4.1.2): the code, the end of the pending
    request and the event in one transaction (joining the authorize request's, when there is one)."""
    context = {k: v for k, v in item.context.items() if k != "encounter_chosen" and v is not None}
    if item.launch_id:
        context["launch_id"] = item.launch_id  # the tokens' requests join this activity trail
    # a launch made to fail at the token endpoint gets a code its own checks will refuse (auth/simulate.py)
    paused = step_mode.wanted(context) and bool(item.launch_id) and step_mode.hold(
        store(), item.launch_id, step_mode.CODE, item.request["client_id"])
    lifetime = current_app.config["CODE_LIFETIME"]
    if paused:  # the class may take a while to look at this step
        lifetime = max(lifetime, step_mode.PAUSED_CODE_LIFETIME)
    challenge, lifetime, spent = simulate.shape_code(context, item.request["code_challenge"], lifetime)
    grant = CodeGrant(item.request["client_id"], item.request["redirect_uri"], challenge,
                      scope, item.user_id, item.session_id, item.launch_id, context, item.request.get("nonce"))
    reach = user_scopes_reach(grant.user_id, scope, user)
    code = secrets.token_urlsafe(32)

    def write(conn) -> None:
        save_code(conn, code, grant, lifetime)
        if spent:
            conn.execute("UPDATE codes SET used_at = ? WHERE code_hash = ?", (int(time.time()), digest(code)))
        pending.remove(conn, item)

    with writes.one_transaction(store()):
        writes.later(store(), write)
        if simulate.kind_of(context) in simulate.CODE_SHAPES:
            writes.event(store(), "simulated", audit.FAILURE, client_id=grant.client_id, user_id=grant.user_id,
                         launch_id=grant.launch_id,
                         rule=f"Simulated on purpose: {simulate.describe(context['simulate'])}")
        writes.event(store(), "code.issued", client_id=grant.client_id, user_id=grant.user_id,
                     launch_id=grant.launch_id, rule="Authorization approved: a single-use code bound to client, "
                     "redirect_uri, PKCE challenge, scope and context", scope=scope, context=context,
                     code=audit.short(code), redirect_uri=grant.redirect_uri,
                     state=item.request.get("state") is not None, expires_in=lifetime,
                     scope_dropped=item.request.get("dropped") or None,
                     user_scopes_reach=[f"Patient/{p}" for p in reach] if reach is not None else None)
    params = {"code": code}
    if item.request.get("state") is not None:
        params["state"] = item.request["state"]
    params["iss"] = issuer()
    back = append_query(item.request["redirect_uri"], params)
    if paused:
        return render_template("oauth/paused.html", back=back, launch_id=item.launch_id,
                               app=ClientRegistry(store()).get(grant.client_id)), 200, PAGE_HEADERS
    return redirect(back)


def deny(item: pending.Pending, error: OAuthError):
    with writes.one_transaction(store()):
        writes.later(store(), lambda conn: pending.remove(conn, item))
        writes.event(store(), "authorize.denied", audit.FAILURE, client_id=item.request["client_id"],
                     user_id=item.user_id, launch_id=item.launch_id, rule=error.description, error=error.error)
    return redirect(error.redirect_url(item.request["redirect_uri"], item.request.get("state"), issuer()))
