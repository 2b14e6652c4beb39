"""Launching registered apps from a chart (SMART App Launch 2.2 §EHR Launch), and the app gallery.

Launch is a POST (CSRF): it saves a launch context bound to the app, the signed-in clinician and their session,
with the patient and the encounter in context; `need_patient_banner` is false inside the chart, whose banner
stays on screen, and true in a tab of its own. The app then opens at `launch_uri?iss=…&launch=…`, in the
chart's frame or in a new tab. Consent is not skipped: an app that is not pre-approved shows its consent page.
"""

from __future__ import annotations

import time

from flask import current_app, g, redirect, render_template, request, session, url_for

from ..auth import launch_context
from ..auth.errors import append_query
from ..auth.pages import csrf_ok, login_csrf
from ..auth.smart_config import style_url
from . import apps, sections
from .views import (
    LAST_LAUNCH_KEY,
    blueprint,
    encounter_in_context,
    error_page,
    fhir_base,
    patient_or_404,
    render_chart,
    store,
)

SLOW_AFTER = 10  # seconds without an authorize request before the chart suggests why (UI-GUIDE §4)
IFRAME_SANDBOX = ("allow-scripts allow-same-origin allow-forms allow-modals allow-popups "
                  "allow-popups-to-escape-sandbox allow-downloads")


@blueprint.get("/apps")
def gallery():
    return render_template("ehr/apps.html", cards=apps.cards(store()), backend_count=apps.backend_count(store()))


@blueprint.post("/patients/<patient_id>/launch")
def launch(patient_id: str):
    if not csrf_ok(login_csrf()):
        return error_page("This form has expired", "The page's security token did not match, so no app was "
                          "launched. Reload the chart and try again.", 400)
    resource, problem = patient_or_404(patient_id)
    if problem:
        return problem
    client = apps.registry(store()).get(request.form.get("client_id", ""))
    back = request.form.get("back", "apps")
    back = back if back in sections.BY_KEY else "apps"
    chart_url = url_for("ehr.chart_section", patient_id=patient_id, section=back)
    if client is None or not apps.user_facing(client):
        return error_page("Unknown app", "That app is not registered in the sandbox (or is a backend service, "
                          "which has no one to launch it).", 404, (chart_url, "Back to the chart"))
    if not client.launch_uri:
        return error_page(f"{client.display_name} has no launch URL",
                          "An EHR launch opens the app at its registered launch URL. Register one for this app, "
                          "then launch it again.", 400, (chart_url, "Back to the chart"))
    mode = "tab" if request.form.get("mode") == "tab" else "embedded"
    encounter = encounter_in_context(patient_id)
    context = {"patient": patient_id, "encounter": encounter["id"] if encounter else None,
               "need_patient_banner": mode == "tab",
               "smart_style_url": style_url(current_app.config["BASE_URL"])}
    made = launch_context.create(store(), client.client_id, g.ehr_user.id, g.ehr_session, context,
                                 current_app.config["LAUNCH_LIFETIME"])
    launch_url = append_query(client.launch_uri, {"iss": fhir_base(), "launch": made.id})
    session[LAST_LAUNCH_KEY] = made.id
    if mode == "tab":
        return redirect(launch_url, 303)
    running = {"launch_id": made.id, "url": launch_url, "client_id": client.client_id, "name": client.display_name,
               "initials": apps.card(client)["initials"], "back": back, "encounter": encounter,
               "sandbox": IFRAME_SANDBOX}
    return render_chart(patient_id, resource, back, running=running)


@blueprint.get("/launches/<launch_id>/state")
def launch_state(launch_id: str):
    """The app bar's launch state, polled every 2 s until the app has used its launch (286 stops htmx polling)."""
    row = store().conn.execute("SELECT client_id, user_id, created_at, expires_at, used_at FROM launches "
                               "WHERE id = ?", (launch_id,)).fetchone()
    if row is None or row[1] != g.ehr_user.id:
        return render_template("ehr/_launch_state.html", state="unknown", oob=True), 286
    client_id, _, created_at, expires_at, used_at = row
    client = apps.registry(store()).get(client_id)
    now = time.time()
    if used_at is not None:
        state, status = "running", 286
    elif expires_at <= now:
        state, status = "expired", 286
    else:
        state, status = ("slow" if now - created_at > SLOW_AFTER else "launching"), 200
    return render_template("ehr/_launch_state.html", state=state, launch_id=launch_id, oob=True,
                           name=client.display_name if client else client_id,
                           lifetime=current_app.config["LAUNCH_LIFETIME"]), status
