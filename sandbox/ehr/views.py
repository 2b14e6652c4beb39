"""The clinician EHR at /ehr: sign-in guard, patient list, chart sections and the encounter in context.

Every page has a real URL; a request carrying `HX-Request` gets just the fragment it asked for (the patient
table, or one chart section), anything else the whole page (UI-GUIDE §1, STYLE 8).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from ..auth import signin
from ..auth.pages import csrf_ok, login_csrf
from ..store import Store
from . import chart, records, sections

blueprint = Blueprint("ehr", __name__)

ENCOUNTERS_KEY = "ehr_encounters"  # Flask session: {patient id: encounter id in context}
LAST_LAUNCH_KEY = "ehr_last_launch"


def store() -> Store:
    return current_app.extensions["store"]


def fhir_base() -> str:
    return current_app.config["BASE_URL"] + "/fhir"


def is_htmx() -> bool:
    """An htmx request for a fragment (a history restore needs the whole page)."""
    return request.headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in request.headers


def error_page(title: str, message: str, status: int, action: tuple[str, str] | None = None):
    return render_template("ehr/error.html", title=title, message=message, action=action), status


# -- every page -------------------------------------------------------------------------------------------------


@blueprint.before_request
def require_clinician():
    user, session_id = signin.current()
    if user is None:
        here = request.full_path.rstrip("?") if request.method == "GET" else url_for("ehr.patients")
        target = url_for("pages.login", next=here)
        if is_htmx():
            return "", 200, {"HX-Redirect": target}
        return redirect(target)
    if not user.is_clinician:
        return error_page("The EHR is for clinicians",
                          f"You are signed in as {user.display_name}, a {user.kind.replace('-', ' ')} user. The "
                          "clinician EHR needs a clinician: switch user and pick one from the Clinicians group. "
                          f"{user.display_name}'s own record is in the patient portal at "
                          f"{url_for('portal.home', _external=True)}.", 403,
                          (url_for("pages.login", next=request.path), "Switch user"))
    g.ehr_user, g.ehr_session = user, session_id
    return None


@blueprint.after_request
def page_headers(response):
    response.vary.add("HX-Request")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
    return response


@blueprint.context_processor
def frame_values() -> dict[str, Any]:
    return {"user": g.get("ehr_user"), "csrf": login_csrf(), "fhir_base": fhir_base()}


# -- patient list -----------------------------------------------------------------------------------------------


@blueprint.get("")
@blueprint.get("/")
@blueprint.get("/patients")  # listed last, so url_for builds /ehr/patients
def patients():
    text = request.args.get("q", "")[:100]
    page = request.args.get("page", "1")
    found = records.find_patients(store(), text, int(page) if page.isdigit() else 1, current_app.config["ANCHOR_DATE"])
    template = "ehr/_patient_results.html" if is_htmx() else "ehr/patients.html"
    return render_template(template, found=found, fragment=is_htmx(), list_url=request.path)


# -- the chart ----------------------------------------------------------------------------------------------------


def encounter_in_context(patient_id: str) -> dict | None:
    encounter_id = session.get(ENCOUNTERS_KEY, {}).get(patient_id)
    resource = records.encounter(store(), patient_id, encounter_id) if encounter_id else None
    return chart.encounter_row(resource) if resource else None


def chart_frame(patient_id: str, resource: dict, with_counts: bool) -> dict[str, Any]:
    """What every chart page shows around its section: banner, nav counts, status bar."""
    allergy_rows = [chart.allergy_row(r) for r in records.resources(
        records.of_patient(store(), "AllergyIntolerance", patient_id))]
    counts = records.section_counts(store(), patient_id) if with_counts else {}
    if counts:
        counts["allergies"] = sum(1 for r in allergy_rows if not r["no_known"])
    return {
        "patient_id": patient_id,
        "patient": chart.patient_header(resource, current_app.config["ANCHOR_DATE"]),
        "allergy_rows": allergy_rows,
        "allergy_state": chart.allergy_state(allergy_rows),
        "encounter": encounter_in_context(patient_id),
        "counts": counts,
        "sections": sections.SECTIONS,
        "last_launch": session.get(LAST_LAUNCH_KEY),
        "fhir_user": g.ehr_user.fhir_user,
    }


def render_chart(patient_id: str, resource: dict, section: str, running: dict | None = None, status: int = 200,
                 picker: dict | None = None):
    """The whole chart page, with a section or (``running``) embedded apps in its main region, and (``picker``)
    the encounter picker open over it."""
    page = chart_frame(patient_id, resource, with_counts=True)
    values = {} if running else sections.load(section, store(), patient_id)
    return render_template("ehr/chart.html", section=section, running=running, picker=picker, **page,
                           **values), status


def patient_or_404(patient_id: str):
    resource = records.patient(store(), patient_id)
    if resource is None:
        return None, error_page("Patient not found", f"There is no patient with id {patient_id} in the sandbox. "
                                "It may have been deleted or the database reseeded.", 404,
                                (url_for("ehr.patients"), "Find a patient"))
    return resource, None


@blueprint.get("/patients/<patient_id>")
@blueprint.get("/patients/<patient_id>/<section>")
def chart_section(patient_id: str, section: str = "summary"):
    if section not in sections.BY_KEY:
        return error_page("No such chart section", f"The chart has no section called {section}.", 404,
                          (url_for("ehr.chart_section", patient_id=patient_id), "Open the summary"))
    resource, problem = patient_or_404(patient_id)
    if problem:
        return problem
    if is_htmx():
        page = chart_frame(patient_id, resource, with_counts=False)
        values = sections.load(section, store(), patient_id)
        return render_template(f"ehr/sections/{section}.html", section=section, **page, **values)
    return render_chart(patient_id, resource, section)


@blueprint.post("/patients/<patient_id>/encounter")
def choose_encounter(patient_id: str):
    """Set (or clear) the encounter that launches from this chart carry, kept per patient in the session."""
    if not csrf_ok(login_csrf()):
        return error_page("This form has expired", "The page's security token did not match, so nothing was "
                          "changed. Reload the page and try again.", 400)
    resource, problem = patient_or_404(patient_id)
    if problem:
        return problem
    encounter_id = request.form.get("encounter", "")
    chosen = dict(session.get(ENCOUNTERS_KEY, {}))
    if encounter_id:
        if records.encounter(store(), patient_id, encounter_id) is None:
            return error_page("Unknown encounter", "That encounter does not belong to this patient.", 400)
        chosen[patient_id] = encounter_id
    else:
        chosen.pop(patient_id, None)
    session[ENCOUNTERS_KEY] = chosen
    back = request.form.get("back", "encounters")
    return redirect(url_for("ehr.chart_section", patient_id=patient_id,
                            section=back if back in sections.BY_KEY else "encounters"), 303)


# The FHIR search each section shows, for its "View FHIR JSON" link.
SECTION_QUERIES = {
    "summary": ("Patient", [("_id", "{id}")]),
    "encounters": ("Encounter", [("patient", "Patient/{id}"), ("_sort", "-date")]),
    "problems": ("Condition", [("patient", "Patient/{id}")]),
    "medications": ("MedicationRequest", [("patient", "Patient/{id}")]),
    "allergies": ("AllergyIntolerance", [("patient", "Patient/{id}")]),
    "vitals": ("Observation", [("patient", "Patient/{id}"), ("category", "vital-signs"), ("_sort", "-date")]),
    "labs": ("DiagnosticReport", [("patient", "Patient/{id}"), ("category", "LAB"), ("_sort", "-date"),
                                  ("_include", "DiagnosticReport:result")]),
    "immunizations": ("Immunization", [("patient", "Patient/{id}"), ("_sort", "-date")]),
    "procedures": ("Procedure", [("patient", "Patient/{id}"), ("_sort", "-date")]),
    "notes": ("DocumentReference", [("patient", "Patient/{id}"), ("_sort", "-date"),
                                    ("_include", "DocumentReference:encounter")]),
}


@blueprint.get("/patients/<patient_id>/<section>/fhir")
def section_fhir(patient_id: str, section: str):
    """The section's data as the FHIR searchset an app would get (for developers; the page itself is the view)."""
    if section not in SECTION_QUERIES:
        return error_page("No FHIR view", f"The {section} section has no FHIR search behind it.", 404)
    _, problem = patient_or_404(patient_id)
    if problem:
        return problem
    rtype, template = SECTION_QUERIES[section]
    params = [(name, value.format(id=patient_id)) for name, value in template]
    found = records.find(store(), rtype, params, count=records.MAX_ROWS)
    base = fhir_base()
    entries = [{"fullUrl": f"{base}/{s.type}/{s.id}", "resource": s.resource, "search": {"mode": "match"}}
               for s in found.matches]
    entries += [{"fullUrl": f"{base}/{s.type}/{s.id}", "resource": s.resource, "search": {"mode": "include"}}
                for s in found.included]
    query = "&".join(f"{name}={value}" for name, value in params)
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": found.total,
              "link": [{"relation": "self", "url": f"{base}/{rtype}?{query}"}], "entry": entries}
    return current_app.response_class(json.dumps(bundle, indent=2), mimetype="application/fhir+json")
