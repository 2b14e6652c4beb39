"""Launching registered apps from the EHR (SMART App Launch 2.2 §EHR Launch), and the app gallery.

Launch is a POST (CSRF): it saves a launch context bound to the app, the signed-in clinician and their session,
with the patient and the encounter in context, then redirects (post/redirect/get): to the app's
`launch_uri?iss=…&launch=…` in a new tab, or to the chart page that frames it. `need_patient_banner` is false
inside the chart, whose banner stays on screen, and true in a tab of its own. An app allowed `launch/encounter`
with no encounter in context first gets the encounter picker. Apps can also be launched with no patient
(population apps) from the gallery, and several can run side by side in one chart. Consent is not skipped: an
app that is not pre-approved shows its consent page.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import current_app, g, redirect, render_template, request, session, url_for

from ..auth import launch_context, pending, simulate, step_mode
from ..auth.authorization import step_of
from ..auth.clients import Client
from ..auth.pages import csrf_ok, login_csrf
from ..auth.smart_config import style_url
from ..patients import record_of
from ..store import FhirError
from . import apps, chart, records, sections
from .views import (
    ENCOUNTERS_KEY,
    LAST_LAUNCH_KEY,
    blueprint,
    encounter_in_context,
    error_page,
    is_htmx,
    patient_or_404,
    render_chart,
    store,
)

SLOW_AFTER = 10  # seconds without an authorize request before the chart suggests why (UI-GUIDE §4)
MAX_PANES = 3  # apps side by side in one chart; more would leave each too narrow to use
PICKER_ROWS = 50
IFRAME_SANDBOX = ("allow-scripts allow-same-origin allow-forms allow-modals allow-popups "
                  "allow-popups-to-escape-sandbox allow-downloads")


@dataclass(frozen=True)
class Pane:
    """One app framed in the EHR: the launch it was opened with and whether that launch is spent."""
    launch_id: str
    url: str
    client_id: str
    name: str
    initials: str
    encounter: dict | None
    used: bool


@blueprint.context_processor
def launch_frame_values() -> dict[str, str]:
    return {"frame_sandbox": IFRAME_SANDBOX}


def expired_form():
    return error_page("This form has expired", "The page's security token did not match, so no app was "
                      "launched. Reload the page and try again.", 400)


def launchable(client_id: str, back_url: str) -> tuple[Client | None, Any]:
    """The app to launch, or an error page saying why it cannot be."""
    client = apps.registry(store()).get(client_id)
    if client is None or not apps.user_facing(client):
        return None, error_page("Unknown app", "That app is not registered in the sandbox (or is a backend "
                                "service, which has no one to launch it).", 404, (back_url, "Back"))
    if not client.launch_uri:
        return None, error_page(f"{client.display_name} has no launch URL",
                                "An EHR launch opens the app at its registered launch URL. Register one for this "
                                "app, then launch it again.", 400, (back_url, "Back"))
    return client, None


def wants_encounter(client: Client) -> bool:
    return "launch/encounter" in client.scopes


def new_launch(client: Client, context: dict[str, Any]) -> str:
    """Save a launch context for the signed-in clinician; returns the launch id."""
    context = simulate.shape_context({**context, "smart_style_url": style_url(current_app.config["BASE_URL"])})
    made = launch_context.create(store(), client.client_id, g.ehr_user.id, g.ehr_session, context,
                                 current_app.config["LAUNCH_LIFETIME"])
    session[LAST_LAUNCH_KEY] = made.id
    return made.id


def launch_url(client: Client, launch_id: str) -> str:
    """The app's launch URL for one of the clinician's launches (the launch's secret, never its trail id)."""
    return launch_context.app_url(client.launch_uri, current_app.config["BASE_URL"],
                                  launch_context.secret_of(store(), launch_id) or "")


SIMULATE_FIELDS = ("simulate", "simulate_after", "simulate_seconds", "pause")


def simulation_asked(back_url: str) -> tuple[dict | None, Any]:
    """The failure a launch form asked to simulate (auth/simulate.py), or an error page saying what is wrong."""
    kind = request.values.get("simulate", "")
    if not kind:
        return None, None
    try:
        numbers = {name: int(request.values.get(f"simulate_{name}") or default)
                   for name, default in (("after", 1), ("seconds", 3))}
        return simulate.parse({"kind": kind, **numbers}), None
    except (ValueError, simulate.SimulationError) as exc:
        return None, error_page("This failure cannot be simulated", f"{exc}. Go back and choose again.", 400,
                                (back_url, "Back"))


def back_section() -> str:
    back = request.values.get("back", "apps")
    return back if back in sections.BY_KEY else "apps"


def launch_ids() -> list[str]:
    return [v for v in request.values.getlist("launch") if v][:MAX_PANES]


# -- from a chart ----------------------------------------------------------------------------------------------------


@blueprint.post("/patients/<patient_id>/launch")
def launch(patient_id: str):
    if not csrf_ok(login_csrf()):
        return expired_form()
    resource, problem = patient_or_404(patient_id)
    if problem:
        return problem
    back = back_section()
    chart_url = url_for("ehr.chart_section", patient_id=patient_id, section=back)
    client, problem = launchable(request.form.get("client_id", ""), chart_url)
    if problem:
        return problem
    mode = "tab" if request.form.get("mode") == "tab" else "embedded"
    encounter, problem = chosen_encounter(patient_id)
    if problem:
        return problem
    opened, problem = opened_resource(client, patient_id)
    if problem:
        return problem
    simulation, problem = simulation_asked(chart_url)
    if problem:
        return problem
    if encounter is None and "without_encounter" not in request.form and wants_encounter(client):
        return redirect(url_for("ehr.pick_encounter", patient_id=patient_id, client_id=client.client_id,
                                mode=mode, back=back, launch=request.form.getlist("beside"),
                                context=request.form.get("context") or None,
                                **{k: request.form[k] for k in SIMULATE_FIELDS if request.form.get(k)}), 303)
    made = new_launch(client, {"patient": patient_id, "encounter": encounter["id"] if encounter else None,
                               "need_patient_banner": mode == "tab", "intent": client.launch_intent,
                               "fhirContext": fhir_context(client, patient_id, opened), "simulate": simulation,
                               "pause": request.form.get("pause") == "on" or None})
    if mode == "tab":
        return redirect(launch_url(client, made), 303)
    open_ids = opened_with(made)
    running_url = url_for("ehr.running", patient_id=patient_id, launch=open_ids, back=back)
    if is_htmx():
        # Reload or Open beside inside a running chart: only the new pane is sent, so the other apps keep running;
        # the address bar follows, so the page's URL still names every open app.
        panes = {i: pane_of(i, patient_id) for i in open_ids}  # None for a launch that is not this user's
        return render_template("ehr/_app_pane.html", pane=panes[made], patient_id=patient_id, back=back,
                               beside=render_beside([p for p in panes.values() if p], patient_id, back)), \
            200, {"HX-Push-Url": running_url}
    return redirect(running_url, 303)


def opened_with(made: str) -> list[str]:
    """The launches open after this one: it replaces the pane it reloads, or joins the others (the oldest
    dropping out past MAX_PANES). htmx requests name the open launches in the page's own URL."""
    if is_htmx():
        current = parse_qs(urlsplit(request.headers.get("HX-Current-URL", "")).query).get("launch", [])
    else:
        current = request.form.getlist("beside")
    replace = request.form.get("replace")
    if replace in current:
        return [made if i == replace else i for i in current]
    return [*current, made][-MAX_PANES:]


def render_beside(panes: list[Pane], patient_id: str, back: str) -> str:
    return render_template("ehr/_open_beside.html", running={"panes": panes, "back": back,
                                                             "others": other_apps(panes)}, patient_id=patient_id,
                           oob=True)


@blueprint.post("/launch")
def launch_for_patient():
    """A launch whose patient comes from the form (the app page's Test launch), not from a chart's address."""
    return launch(request.form.get("patient", ""))


def fhir_context(client: Client, patient_id: str, opened: tuple[str, str] | None = None) -> list[dict[str, str]]:
    """SMART App Launch 2.2 §fhirContext: for each `launch/<Type>` the app may be granted (beyond patient and
    encounter), the resource the clinician opened the app with (``opened``: type and id) or else the patient's
    newest of that type, as a reference. Types the patient has none of, or not searched by patient, add nothing."""
    found = []
    for rtype in client.scopes.launch_types:
        if rtype in ("Patient", "Encounter"):
            continue
        if opened and opened[0] == rtype:
            found.append({"reference": f"{rtype}/{opened[1]}"})
        elif (newest := newest_of(rtype, patient_id)) is not None:
            found.append({"reference": f"{rtype}/{newest['id']}"})
    return found


def opened_resource(client: Client, patient_id: str) -> tuple[tuple[str, str] | None, Any]:
    """The resource named by the form's `context` ("DiagnosticReport/123": open this report in the app), checked:
    the patient's own, and of a type the app may be given (`launch/<Type>`)."""
    reference = request.form.get("context", "")
    if not reference:
        return None, None
    rtype, _, rid = reference.partition("/")
    if rtype not in client.scopes.launch_types or record_of(store(), rtype, patient_id, rid) is None:
        return None, error_page("That record can't be opened in this app",
                                f"{reference} is not one of this patient's records that {client.display_name} may "
                                f"be given (it needs the launch/{rtype} scope). Pick it again from the chart.", 400)
    return (rtype, rid), None


def newest_of(rtype: str, patient_id: str) -> dict | None:
    for order in (("_sort", "-date"), ("_sort", "-_lastUpdated")):  # not every type has a date to sort on
        try:
            return next(iter(records.resources(records.of_patient(store(), rtype, patient_id, order, count=1))), None)
        except FhirError:
            continue
    return None


def chosen_encounter(patient_id: str) -> tuple[dict | None, Any]:
    """The encounter a launch carries: the one picked in the form (which also becomes the chart's encounter in
    context), none when the form says so, else the chart's."""
    if "without_encounter" in request.form:
        return None, None
    picked = request.form.get("encounter", "")
    if not picked:
        return encounter_in_context(patient_id), None
    resource = records.encounter(store(), patient_id, picked)
    if resource is None:
        return None, error_page("Unknown encounter", "That encounter does not belong to this patient. Pick one "
                                "from the list, or launch without an encounter.", 400)
    session[ENCOUNTERS_KEY] = {**session.get(ENCOUNTERS_KEY, {}), patient_id: picked}
    return chart.encounter_row(resource), None


@blueprint.get("/patients/<patient_id>/launch/<client_id>/encounter")
def pick_encounter(patient_id: str, client_id: str):
    """The encounter picker (UI-GUIDE §2): the chart with a dialog listing the patient's encounters, newest
    first and preselected."""
    resource, problem = patient_or_404(patient_id)
    if problem:
        return problem
    back = back_section()
    client, problem = launchable(client_id, url_for("ehr.chart_section", patient_id=patient_id, section=back))
    if problem:
        return problem
    found = records.of_patient(store(), "Encounter", patient_id, ("_sort", "-date"), count=PICKER_ROWS)
    picker = {"client_id": client.client_id, "name": client.display_name,
              "mode": "tab" if request.args.get("mode") == "tab" else "embedded", "beside": launch_ids(),
              "context": request.args.get("context", ""),
              "simulate": {k: request.args[k] for k in SIMULATE_FIELDS if request.args.get(k)},
              "rows": [chart.encounter_row(r) for r in records.resources(found)], "total": found.total or 0}
    return render_chart(patient_id, resource, back, picker=picker)


def launch_row(launch_id: str) -> dict | None:
    """A launch of the signed-in clinician, or None (someone else's launches are not shown)."""
    row = store().conn.execute("SELECT client_id, user_id, context, created_at, expires_at, used_at FROM launches "
                               "WHERE id = ?", (launch_id,)).fetchone()
    if row is None or row[1] != g.ehr_user.id:
        return None
    return {"client_id": row[0], "context": json.loads(row[2]), "created_at": row[3], "expires_at": row[4],
            "used_at": row[5]}


def pane_of(launch_id: str, patient_id: str | None) -> Pane | None:
    row = launch_row(launch_id)
    if row is None or row["context"].get("patient") != patient_id:
        return None
    client = apps.registry(store()).get(row["client_id"])
    if client is None or not client.launch_uri:
        return None
    encounter_id = row["context"].get("encounter")
    encounter = records.encounter(store(), patient_id, encounter_id) if patient_id and encounter_id else None
    return Pane(launch_id, launch_url(client, launch_id), client.client_id, client.display_name,
                apps.card(client)["initials"], chart.encounter_row(encounter) if encounter else None,
                row["used_at"] is not None)


def panes_or_error(patient_id: str | None, back_url: str):
    panes = [p for p in (pane_of(i, patient_id) for i in launch_ids()) if p is not None]
    if not panes:
        return None, error_page("This app launch is not open", "The launch in this address is not one of yours, "
                                "or its app was removed. Launch the app again from the apps list.", 404,
                                (back_url, "Back to the apps"))
    return panes, None


@blueprint.get("/patients/<patient_id>/running")
def running(patient_id: str):
    """The chart with one or more apps framed side by side. A launch is single use, so reloading this page shows
    spent launches as such, with Reload to start a new one, instead of framing an app that would be refused."""
    resource, problem = patient_or_404(patient_id)
    if problem:
        return problem
    back = back_section()
    panes, problem = panes_or_error(patient_id, url_for("ehr.chart_section", patient_id=patient_id, section="apps"))
    if problem:
        return problem
    return render_chart(patient_id, resource, back, running={"panes": panes, "back": back,
                                                             "others": other_apps(panes)})


def other_apps(panes: list[Pane]) -> list[dict]:
    """Apps that could open beside the running ones (launchable, not already open)."""
    if len(panes) >= MAX_PANES:
        return []
    open_ids = {p.client_id for p in panes}
    return [c for c in apps.cards(store()) if c["launch_uri"] and c["client_id"] not in open_ids]


# -- with no patient (population apps) -------------------------------------------------------------------------------


@blueprint.get("/apps")
def gallery():
    return render_template("ehr/apps.html", cards=apps.cards(store()), backend_count=apps.backend_count(store()))


@blueprint.post("/apps/launch")
def launch_without_patient():
    """Launch an app with the clinician and no patient in context, for apps that work across patients."""
    if not csrf_ok(login_csrf()):
        return expired_form()
    client, problem = launchable(request.form.get("client_id", ""), url_for("ehr.gallery"))
    if problem:
        return problem
    mode = "tab" if request.form.get("mode") == "tab" else "embedded"
    simulation, problem = simulation_asked(url_for("ehr.gallery"))
    if problem:
        return problem
    # there is no patient for a banner to show
    made = new_launch(client, {"need_patient_banner": False, "simulate": simulation,
                               "pause": request.form.get("pause") == "on" or None})
    if mode == "tab":
        return redirect(launch_url(client, made), 303)
    return redirect(url_for("ehr.running_without_patient", launch=made), 303)


@blueprint.get("/apps/running")
def running_without_patient():
    panes, problem = panes_or_error(None, url_for("ehr.gallery"))
    if problem:
        return problem
    return render_template("ehr/running.html", running={"panes": panes, "back": None, "others": []})


# -- launch state ------------------------------------------------------------------------------------------------------


# What the app bar says while an authorization is waiting on a person: the pending request's step (auth.step_of)
PENDING_STATES = {"login": "signing-in", "patient": "picking-patient", "encounter": "picking-encounter",
                  "consent": "consent", "issue": "authorizing"}
# The trail's events that move a used launch on, newest first wins; each with the state it leads to
PROGRESS_EVENTS = {"token.issued": "running", "token.refreshed": "running", "code.issued": "authorized",
                   "authorize.denied": "denied", "authorize.refused": "refused", "token.refused": "refused"}
FINAL_STATES = {"running", "denied", "refused", "expired", "unknown"}


def progress(launch_id: str, row: dict) -> str:
    """Where a launch stands, from the launch, its pending authorization and its trail: launching (or slow,
    expired) until the app uses it, then the step a person is at (sign-in, a picker, consent), authorized once
    the code is issued, running once the app has its token, or denied / refused."""
    now = time.time()
    paused = step_mode.waiting_at(store(), launch_id)
    if paused:
        return f"paused-{paused}"
    if row["used_at"] is None:
        if row["expires_at"] <= now:
            return "expired"
        return "slow" if now - row["created_at"] > SLOW_AFTER else "launching"
    conn = store().conn
    marks = ", ".join("?" * len(PROGRESS_EVENTS))
    latest = conn.execute(f"SELECT event FROM audit_events WHERE launch_id = ? AND event IN ({marks}) "
                          "ORDER BY id DESC LIMIT 1", (launch_id, *PROGRESS_EVENTS)).fetchone()
    if latest:
        return PROGRESS_EVENTS[latest[0]]
    item = pending.of_launch(store(), launch_id)
    return PENDING_STATES[step_of(item)] if item else "authorizing"


@blueprint.post("/launches/<launch_id>/continue")
def continue_launch(launch_id: str):
    """Step mode: the presenter lets a paused launch go on (its own launches only)."""
    if not csrf_ok(login_csrf()):
        return expired_form()
    if launch_row(launch_id) is None:
        return error_page("Unknown launch", "This launch is not one of yours, or it has ended.", 404)
    step_mode.release(store(), launch_id, g.ehr_user.id)
    return launch_state(launch_id)


@blueprint.get("/launches/<launch_id>/state")
def launch_state(launch_id: str):
    """The app bar's launch state, polled every 2 s until the app runs or the launch ends (286 stops htmx
    polling)."""
    row = launch_row(launch_id)
    if row is None:
        return render_template("ehr/_launch_state.html", state="unknown", launch_id=launch_id, oob=True), 286
    client = apps.registry(store()).get(row["client_id"])
    state = progress(launch_id, row)
    return render_template("ehr/_launch_state.html", state=state, launch_id=launch_id, oob=True,
                           name=client.display_name if client else row["client_id"],
                           lifetime=current_app.config["LAUNCH_LIFETIME"]), 286 if state in FINAL_STATES else 200
