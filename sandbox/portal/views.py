"""The patient portal at /portal (UI-GUIDE §2 Patient portal): a patient, or a family member (RelatedPerson),
signs in and sees one record, theirs or their linked patient's, in a calmer layout than the chart.

Whose record is shown is never taken from the address: it is the signed-in user's own patient (auth/users.py
`patients_of`), or the one a family member picked among theirs, checked again on every request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from .. import formatting as fmt
from ..auth import signin
from ..auth.authorization import PAGE_HEADERS
from ..auth.pages import bad_csrf, csrf_ok, login_csrf, safe_next
from ..auth.users import User, patients_of
from ..ehr import records
from ..store import Store
from . import health

blueprint = Blueprint("portal", __name__)

CHOSEN_KEY = "portal_patient"  # Flask session: {user id: the patient a family member chose}
OPEN_ENDPOINTS = {"portal.login"}
NAV = (("home", "My health", "portal.home"), ("results", "Test results", "portal.results"),
       ("medicines", "Medicines", "portal.medicines"), ("apps", "Apps", "portal.apps"),
       ("connected", "Connected apps", "portal.connected"))


def store() -> Store:
    return current_app.extensions["store"]


def today() -> dt.date:
    return current_app.config["ANCHOR_DATE"]


def message(title: str, text: str, status: int, action: tuple[str, str] | None = None):
    return render_template("portal/message.html", title=title, text=text, action=action), status


# -- every page -----------------------------------------------------------------------------------------------------


@blueprint.before_request
def require_patient_or_family():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    user, session_id = signin.current()
    if user is None:
        here = request.full_path.rstrip("?") if request.method == "GET" else url_for("portal.home")
        return redirect(url_for("portal.login", next=here))
    if user.is_clinician:
        return message("The patient portal is for patients",
                       f"You are signed in as {user.display_name}, a clinician. The portal shows one person's own "
                       "health record, so it needs a patient or a family member: switch user and pick one. "
                       "Clinicians work in the EHR.", 403,
                       (url_for("portal.login", next=url_for("portal.home")), "Switch user"))
    g.portal_user, g.portal_session = user, session_id
    return None


@blueprint.after_request
def page_headers(response):
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@blueprint.context_processor
def frame_values() -> dict[str, Any]:
    user = g.get("portal_user")
    return {"person": person_of(user) if user else None, "csrf": login_csrf(), "nav": NAV if user else ()}


def person_of(user: User) -> dict[str, str]:
    """How the top bar names the signed-in person: a patient by their record's name, others as their user."""
    if user.kind == "patient":
        _, rid = user.fhir_resource
        return {"name": health.everyday_name(records.patient(store(), rid), user.display_name), "role": ""}
    return {"name": user.display_name, "role": "Family member"}


# -- whose record --------------------------------------------------------------------------------------------------


def visible() -> tuple[str, ...]:
    """The patients the signed-in user may see here (never None: clinicians are turned away above), worked out
    once per request."""
    if "portal_visible" not in g:
        g.portal_visible = tuple(p for p in patients_of(store(), g.portal_user) or () if records.patient(store(), p))
    return g.portal_visible


def chosen() -> str | None:
    """The record shown: the only one the user may see, or the one a family member chose among several."""
    patients = visible()
    if len(patients) == 1:
        return patients[0]
    pick = session.get(CHOSEN_KEY, {}).get(g.portal_user.id)
    return pick if pick in patients else None


def record_or_problem():
    """(patient id, Patient resource, page values) of the record shown, or (None, None, a response) when there
    is none to show yet."""
    patient_id = chosen()
    if patient_id is None:
        if visible():
            return None, None, redirect(url_for("portal.choose", next=request.path))
        return None, None, message("There is no health record to show",
                                   f"{g.portal_user.display_name} is not linked to a patient record in the "
                                   "sandbox, so there is nothing to show here. Sign in as another person.", 404,
                                   (url_for("portal.login"), "Switch user"))
    resource = records.patient(store(), patient_id)
    mine = g.portal_user.fhir_user == f"Patient/{patient_id}"
    values = {"patient_id": patient_id, "mine": mine, "patient_name": health.everyday_name(resource, patient_id),
              "patient_first": health.first_name(resource, patient_id), "several": len(visible()) > 1}
    return patient_id, resource, values


def next_or_home() -> str:
    """Where a form leads next: its `next` when that stays on this site (auth/pages.py safe_next), else My health."""
    target = request.values.get("next")
    return target if target and safe_next(target) == target else url_for("portal.home")


# -- pages -----------------------------------------------------------------------------------------------------------


@blueprint.get("/")
@blueprint.get("")  # listed last, so url_for builds /portal
def home():
    patient_id, resource, values = record_or_problem()
    if patient_id is None:
        return values
    return render_template("portal/home.html", active="home", **values,
                           **health.summary(store(), patient_id, resource, today()))


@blueprint.get("/results")
def results():
    patient_id, _, values = record_or_problem()
    if patient_id is None:
        return values
    return render_template("portal/results.html", active="results", **values,
                           **health.test_results(store(), patient_id))


@blueprint.get("/medicines")
def medicines():
    patient_id, _, values = record_or_problem()
    if patient_id is None:
        return values
    return render_template("portal/medicines.html", active="medicines", **values,
                           **health.medicines(store(), patient_id))


@blueprint.route("/choose", methods=["GET", "POST"])
def choose():
    """A family member linked to several patients picks whose record to see (kept in the session, per user)."""
    patients = visible()
    next_url = next_or_home()
    if len(patients) < 2:
        return redirect(next_url)
    if request.method == "POST":
        if not csrf_ok(login_csrf()):
            return bad_csrf()
        picked = request.form.get("patient", "")
        if picked not in patients:
            return message("That record is not one of yours",
                           "You can only see the records you are linked to. Pick one from the list.", 403,
                           (url_for("portal.choose"), "Back to the list"))
        session[CHOSEN_KEY] = {**session.get(CHOSEN_KEY, {}), g.portal_user.id: picked}
        return redirect(next_url, 303)
    rows = []
    for patient_id in patients:
        resource = records.patient(store(), patient_id)
        rows.append({"id": patient_id, "name": health.everyday_name(resource, patient_id),
                     "born": fmt.long_date(resource.get("birthDate"))})
    return render_template("portal/choose.html", active="", rows=rows, current=chosen(), next_url=next_url)
