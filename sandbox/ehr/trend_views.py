"""A lab result's trend, fetched when its Trend control is opened (htmx), so the labs page does not draw a
sparkline for every row it lists. Without htmx the same state has a page of its own: the labs section with that
trend open (UI-GUIDE §1: every view has a real URL)."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from . import sections
from .views import blueprint, is_htmx, patient_or_404, store


@blueprint.get("/patients/<patient_id>/labs/<observation_id>/trend")
def lab_trend(patient_id: str, observation_id: str):
    _, problem = patient_or_404(patient_id)
    if problem:
        return problem
    if not is_htmx():
        return redirect(url_for("ehr.chart_section", patient_id=patient_id, section="labs", trend=observation_id,
                                _anchor=f"result-{observation_id}"), 303)
    trend = sections.lab_trend(store(), patient_id, observation_id)
    return render_template("ehr/sections/_lab_trend.html", trend=trend), 200 if trend else 404
