"""Patient-facing apps opened from the portal (a portal launch), and the apps connected to the person's record.

A portal launch is an EHR launch (SMART App Launch 2.2 §EHR Launch) made by the patient: Open is a POST (CSRF)
that saves a launch context bound to the app, the signed-in user and their session, with the record shown in
the portal as the patient, then redirects to the app's `launch_uri?iss=…&launch=…`. The app is not framed, so it
draws its own banner (`need_patient_banner: true`).
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, g, redirect, render_template, request, url_for

from .. import formatting as fmt
from ..apps.connected import grants_of
from ..auth import launch_context
from ..auth.clients import Client
from ..auth.consent_text import describe_resource_scope
from ..auth.pages import csrf_ok, login_csrf
from ..auth.smart_config import style_url
from ..ehr import apps as ehr_apps
from ..store import Store
from .views import blueprint, message, record_or_problem, store

SHOWN_PERMISSIONS = 4


def patient_apps(store: Store) -> list[Client]:
    """Apps a patient can open: authorization-code apps with a launch URL that may be granted patient/ scopes."""
    return [c for c in ehr_apps.registry(store).list()
            if ehr_apps.user_facing(c) and c.launch_uri and "patient" in c.scopes.contexts()]


def app_card(client: Client, patient_name: str, mine: bool) -> dict:
    """What the Apps page says of an app: name, purpose and what it may see of this record, in words."""
    seen = [describe_resource_scope(s, patient_name, yours=mine) for s in client.scopes.resource_scopes
            if s.context == "patient"]
    more = len(seen) - SHOWN_PERMISSIONS
    card = ehr_apps.card(client)
    return {"client_id": client.client_id, "name": card["name"], "initials": card["initials"], "logo": card["logo"],
            "purpose": card["purpose"], "sees": seen[:SHOWN_PERMISSIONS] + ([f"and {more} more"] if more > 0 else [])}


@blueprint.get("/apps")
def apps():
    patient_id, _, values = record_or_problem()
    if patient_id is None:
        return values
    cards = [app_card(c, values["patient_name"], values["mine"]) for c in patient_apps(store())]
    return render_template("portal/apps.html", active="apps", **values, cards=cards)


@blueprint.post("/apps/open")
def open_app():
    if not csrf_ok(login_csrf()):
        return message("This form has expired", "The page's security token did not match, so no app was opened. "
                       "Go back, reload the page and try again.", 400, (url_for("portal.apps"), "Back to apps"))
    patient_id, _, values = record_or_problem()
    if patient_id is None:
        return values
    client_id = request.form.get("client_id", "")
    client = next((c for c in patient_apps(store()) if c.client_id == client_id), None)
    if client is None:
        return message("This app can't be opened from the portal",
                       "It is not registered in the sandbox as an app for patients, or it has no launch URL. "
                       "Pick an app from the list.", 404, (url_for("portal.apps"), "Back to apps"))
    base = current_app.config["BASE_URL"]
    made = launch_context.create(store(), client.client_id, g.portal_user.id, g.portal_session,
                                 {"patient": patient_id, "need_patient_banner": True,
                                  "smart_style_url": style_url(base)},
                                 current_app.config["LAUNCH_LIFETIME"])
    return redirect(launch_context.app_url(client.launch_uri, base, made.secret), 303)


# -- connected apps ------------------------------------------------------------------------------------------------


def on(when: dt.datetime | None) -> str | None:
    """``9 September 2024 at 14:05``, as the portal writes a moment."""
    return f"{fmt.long_date(when.date().isoformat())} at {when:%H:%M}" if when else None


@blueprint.get("/connected-apps")
def connected():
    """The apps holding access through this person, as /auth/manage lists them; revoking posts there and comes back."""
    grants = [{"grant": grant, "granted_on": on(grant.granted_at), "last_used": on(grant.last_used)}
              for grant in grants_of(g.portal_user.id)]
    return render_template("portal/connected.html", active="connected", grants=grants,
                           mine=g.portal_user.kind == "patient")
