"""The pages a person sees during authorization: sign-in, patient picker, encounter picker and consent.

Each form carries a CSRF token (the sign-in page's lives in the signed session cookie, the others belong
to their pending request), and every page forbids framing by other sites (`frame-ancestors 'self'`).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from .. import formatting as fmt
from ..patients import encounter_of, search_criteria
from ..store import FhirError
from ..store.query import parse_search
from ..store.search import search
from . import audit, browser_binding, pending, ratelimit, signin, step_mode
from .authorization import PAGE_HEADERS, advance, deny, error_page, issue, step_of, store, user_scopes_reach
from .clients import ClientRegistry
from .consent_categories import CATEGORIES, narrow, offers_categories
from .consent_text import IDENTITY, describe, describe_resource_scope, type_words
from .errors import AccessDenied, TooManyRequests
from .scopes import ScopeSet
from .users import UserDirectory, patients_of

blueprint = Blueprint("pages", __name__)

SAMPLE_CLINICIANS = 6
PICKER_PAGE = 25


def page(template: str, status: int = 200, **values):
    return render_template(template, **values), status, PAGE_HEADERS


def login_csrf() -> str:
    token = session.get(signin.CSRF_KEY)
    if not token:
        token = session[signin.CSRF_KEY] = secrets.token_urlsafe(18)
    return token


def csrf_ok(expected: str) -> bool:
    return hmac.compare_digest(request.form.get("csrf", ""), expected or "")


def bad_csrf():
    return error_page("This form has expired", "The page's security token did not match, so nothing was done. "
                      "Go back, reload the page and try again.")


def signed_in_as(allowed, title: str, refusal: str):
    """A before_request guard of a page for some users only: anyone not signed in goes to the sign-in page, a user
    ``allowed`` refuses gets a 403 page saying ``refusal`` (which may name them as ``{name}``), and a POST needs the
    sign-in's CSRF token. None lets the request through."""
    user, _ = signin.current()
    if user is None:
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    if not allowed(user):
        return page("oauth/error.html", 403, title=title, message=refusal.format(name=user.display_name))
    if request.method == "POST" and not csrf_ok(login_csrf()):
        return bad_csrf()
    return None


def safe_next(target: str | None) -> str:
    """Only paths on this site: never an absolute URL or a protocol-relative //host (open redirects). Browsers
    read a backslash as a slash (``/\\evil.example``) and drop tabs and newlines, so those are refused too."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("index")
    if "\\" in target or any(ord(c) < 0x21 or c == "\x7f" for c in target):
        return url_for("index")
    return target


# -- sign-in -------------------------------------------------------------------------------------------------


def check_sign_in(directory: UserDirectory):
    """The posted sign-in form, checked the same way on every sign-in page: CSRF, rate limits per user name and per
    address, and the password of a user given one. Returns (user, None) when they match (the caller signs the
    user in), (None, a refusal page) for a bad form or too many attempts, and (None, None) for a wrong name or
    password, which counts towards the rate limits and is audited."""
    if not csrf_ok(login_csrf()):
        return None, bad_csrf()
    username = request.form.get("username", "").strip()
    keys = ratelimit.keys("login", request.remote_addr)
    try:
        ratelimit.check(store(), current_app.config, *keys)
    except TooManyRequests as exc:
        body, status, headers = page("oauth/error.html", 429, title="Too many attempts", message=exc.description)
        return None, (body, status, {**headers, "Retry-After": str(exc.retry_after)})
    user = directory.by_username(username)
    if user is not None and user.password_matches(request.form.get("password", ""),
                                                  current_app.config["SIGN_IN_PASSWORD"]):
        return user, None
    ratelimit.note_failure(store(), current_app.config, *keys)
    audit.record(store(), "signin.refused", audit.FAILURE, rule=f"Unknown user or wrong password for {username!r}")
    return None, None


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    directory = UserDirectory(store())
    next_url = safe_next(request.values.get("next"))
    error = None
    if request.method == "POST":
        user, refused = check_sign_in(directory)
        if refused:
            return refused
        if user is not None:
            signin.sign_in(user)
            return redirect(next_url)
        error = "That user name and password did not match a sandbox user. Pick a user below or check the spelling."
    staff = directory.list("clinician")
    clinicians = [u for u in staff if not u.is_admin][:SAMPLE_CLINICIANS]
    people = directory.list("patient") + directory.list("related-person")
    signed_in, _ = signin.current()
    return page("oauth/login.html", 401 if error else 200, csrf=login_csrf(), next_url=next_url, error=error,
                passwords=bool(current_app.config["SIGN_IN_PASSWORD"]),
                clinicians=clinicians, admins=[u for u in staff if u.is_admin], people=people, signed_in=signed_in,
                asking=asking_app(next_url))


@blueprint.post("/logout")
def logout():
    if not csrf_ok(login_csrf()):
        return bad_csrf()
    signin.sign_out()
    return redirect(safe_next(request.form.get("next")))


def asking_app(next_url: str):
    """The app whose authorization request waits for this sign-in, if any (to say whom the person signs in for)."""
    parts = urlsplit(next_url)
    if parts.path != url_for("pages.resume"):
        return None
    item = pending.get(store(), (parse_qs(parts.query).get("request") or [None])[0])
    return client_of(item) if item and browser_binding.holds(item.browser) else None


# -- the steps of a pending authorization ---------------------------------------------------------------------


def current_item():
    """The pending request a page works on, when this browser started it (auth/browser_binding.py); else a page
    that says to start again, and the attempt goes to the activity trail."""
    item = pending.get(store(), request.values.get("request"))
    if item is None:
        return None, error_page("This authorization has expired",
                                "The sign-in or consent step took too long or was already finished. Go back to the "
                                "app and start again.")
    if not browser_binding.holds(item.browser):
        audit.record(store(), "authorize.refused", audit.FAILURE, client_id=item.request["client_id"],
                     launch_id=item.launch_id, rule="A step of this authorization was tried from a browser that did "
                     "not start it: the request id alone opens nothing (RFC 9700 §4.7)", error="access_denied",
                     step=request.path)
        return None, error_page("This authorization belongs to another browser",
                                "This sign-in or consent step was started in another browser (or the browser's "
                                "cookies were cleared), so nothing was done. Go back to the app and start the "
                                "launch again in this browser.", 403)
    if item.user_id is None:
        user, session_id = signin.current()
        if user is not None:
            item = replace(item, user_id=user.id, session_id=session_id)
            pending.save(store(), item)
            audit.record(store(), "authorize.signed_in", client_id=item.request["client_id"], user_id=user.id,
                         launch_id=item.launch_id, rule=f"{user.display_name} signed in; the request continues "
                         "as them", fhir_user=user.fhir_user)
    return item, None


def out_of_step(item: pending.Pending, step: str):
    """None when the request stands at ``step``; else the redirect to the step it is at. Pages are reachable by
    URL, so this keeps anyone from skipping a picker or consent, or changing a choice made (or given by an EHR
    launch) earlier. Only clinicians pick patients: others get their own record (authorization.advance)."""
    if step_of(item) != step:
        return advance(item)
    if step == "patient" and patients_of(store(), UserDirectory(store()).get(item.user_id)) is not None:
        return advance(item)
    return None


@blueprint.get("/authorize/paused/<launch_id>/<point>")
def pause_state(launch_id: str, point: str):
    """Whether the presenter continued a launch in step mode at ``point`` (the paused page asks every second)."""
    if point not in step_mode.POINTS:
        return {"error": "unknown point"}, 404
    return {"released": step_mode.released(store(), launch_id, point)}, 200, {"Cache-Control": "no-store"}


@blueprint.get("/authorize/resume")
def resume():
    item, problem = current_item()
    return problem or advance(item)


@blueprint.route("/authorize/patient", methods=["GET", "POST"])
def pick_patient():
    item, problem = current_item()
    if problem:
        return problem
    if request.method == "POST":
        if not csrf_ok(item.csrf):
            return bad_csrf()
        if "deny" in request.form:
            return deny(item, AccessDenied("The user cancelled at the patient picker"))
        if elsewhere := out_of_step(item, "patient"):
            return elsewhere
        patient_id = request.form.get("patient", "")
        if not store().exists("Patient", patient_id):
            return error_page("Unknown patient", "That patient is not in the sandbox. Go back and pick another.")
        # a patient picked here is one no EHR banner shows (the launch had none): the app must show who it is
        item = item.with_context(patient=patient_id, need_patient_banner=True)
        pending.save(store(), item)
        audit.record(store(), "authorize.context", client_id=item.request["client_id"], user_id=item.user_id,
                     launch_id=item.launch_id, rule="The user picked the patient at the patient picker",
                     context={"patient": patient_id}, picked="patient")
        return advance(item)
    if elsewhere := out_of_step(item, "patient"):
        return elsewhere
    text = request.args.get("q", "").strip()[:100]
    try:
        query = parse_search("Patient", [*search_criteria(text), ("_sort", "family,given"),
                                         ("_count", str(PICKER_PAGE))])
        found = search(store(), query)
        patients, total = [patient_row(s.resource) for s in found.matches], found.total or 0
    except FhirError:
        patients, total = [], 0
    return page("oauth/pick_patient.html", item=item, client=client_of(item), q=text, total=total, patients=patients)


@blueprint.route("/authorize/encounter", methods=["GET", "POST"])
def pick_encounter():
    item, problem = current_item()
    if problem:
        return problem
    patient_id = item.context.get("patient")
    if request.method == "POST":
        if not csrf_ok(item.csrf):
            return bad_csrf()
        if "deny" in request.form:
            return deny(item, AccessDenied("The user cancelled at the encounter picker"))
        if elsewhere := out_of_step(item, "encounter"):
            return elsewhere
        encounter_id = request.form.get("encounter", "")
        if encounter_id and encounter_of(store(), patient_id, encounter_id) is None:
            return error_page("Unknown encounter", "That encounter does not belong to the selected patient.")
        item = item.with_context(encounter=encounter_id or None, encounter_chosen=True)
        pending.save(store(), item)
        audit.record(store(), "authorize.context", client_id=item.request["client_id"], user_id=item.user_id,
                     launch_id=item.launch_id, rule="The user picked an encounter at the encounter picker" if
                     encounter_id else "The user chose to go on without an encounter",
                     context={"encounter": encounter_id or None}, picked="encounter")
        return advance(item)
    if elsewhere := out_of_step(item, "encounter"):
        return elsewhere
    query = parse_search("Encounter", [("patient", patient_id), ("_sort", "-date"), ("_count", "20")])
    encounters = [encounter_row(s.resource) for s in search(store(), query).matches]
    return page("oauth/pick_encounter.html", item=item, client=client_of(item), encounters=encounters,
                patient=patient_row(store().read("Patient", patient_id).resource))


@blueprint.route("/authorize/consent", methods=["GET", "POST"])
def consent():
    item, problem = current_item()
    if problem:
        return problem
    client = client_of(item)
    scopes = ScopeSet.parse(item.request["scope"])
    if request.method == "POST":
        if not csrf_ok(item.csrf):
            return bad_csrf()
        if request.form.get("decision") != "approve":
            return deny(item, AccessDenied("The user denied the app access"))
        if elsewhere := out_of_step(item, "consent"):
            return elsewhere
        kept = set(request.form.getlist("type"))
        approved = []
        for text in scopes.scopes:
            rtype = resource_type_of(text)
            if rtype is None:
                approved.append(text)
            elif rtype in kept:
                parsed = ScopeSet((text,)).resource_scopes[0]
                shown = offers_categories(parsed) and f"categories-shown:{text}" in request.form
                approved += narrow(parsed, request.form.getlist(f"category:{text}")) if shown else [text]
        audit.record(store(), "authorize.approved", client_id=client.client_id, user_id=item.user_id,
                     launch_id=item.launch_id, rule="The user approved on the consent page",
                     unchecked=sorted({resource_type_of(s) for s in scopes.scopes} - kept - {None}),
                     how="consent page", scope=" ".join(approved), scope_offered=item.request["scope"])
        return issue(item, " ".join(approved))
    if elsewhere := out_of_step(item, "consent"):
        return elsewhere
    patient_name = None
    if item.context.get("patient") and store().exists("Patient", item.context["patient"]):
        patient_name = patient_row(store().read("Patient", item.context["patient"]).resource)["name"]
    user = UserDirectory(store()).get(item.user_id)
    yours = bool(user and item.context.get("patient") and user.fhir_user == f"Patient/{item.context['patient']}")
    resources = [(str(s), s.resource_type, describe_resource_scope(s, patient_name, yours),
                  CATEGORIES[s.resource_type] if offers_categories(s) else ()) for s in scopes.resource_scopes]
    others = [(s, describe(s)) for s in scopes.scopes if s in IDENTITY or s.startswith("launch/")]
    reach = user_scopes_reach(item.user_id, item.request["scope"])
    reach_names = [patient_row(store().read("Patient", p).resource)["name"] for p in reach or ()
                   if store().exists("Patient", p)]
    return page("oauth/consent.html", item=item, client=client, resources=resources, others=others,
                patient_name=patient_name, type_words=type_words, user=user, yours=yours,
                dropped=item.request.get("dropped") or [], user_reach=reach_names if reach is not None else None)


# -- helpers ------------------------------------------------------------------------------------------------------


def client_of(item: pending.Pending):
    return ClientRegistry(store(), current_app.config["BASE_URL"]).get(item.request["client_id"])


def resource_type_of(scope_text: str) -> str | None:
    parsed = ScopeSet((scope_text,)).resource_scopes
    return parsed[0].resource_type if parsed else None


def patient_row(resource: dict) -> dict:
    name = next(iter(resource.get("name") or []), {})
    mrn = next((i.get("value") for i in resource.get("identifier", [])
                if any(c.get("code") == "MR" for c in (i.get("type") or {}).get("coding", []))), None)
    family = (name.get("family") or "").upper()
    given = " ".join(name.get("given") or [])
    return {"id": resource["id"], "name": f"{family}, {given}".strip(", ") or resource["id"],
            "born": fmt.date(resource.get("birthDate")), "gender": (resource.get("gender") or "Not known").title(),
            "mrn": fmt.grouped_digits(mrn)}


def encounter_row(resource: dict) -> dict:
    period = resource.get("period") or {}
    kind = (resource.get("class") or {}).get("display") or (resource.get("class") or {}).get("code", "")
    type_text = next((t.get("text") or next((c.get("display") for c in t.get("coding", [])), "")
                      for t in resource.get("type", [])), "")
    reason = next((r.get("text") or next((c.get("display") for c in r.get("coding", [])), "")
                   for r in resource.get("reasonCode", [])), "")
    return {"id": resource["id"], "start": fmt.date_time(period.get("start")), "class": kind,
            "type": type_text, "reason": reason, "status": resource.get("status", "")}
