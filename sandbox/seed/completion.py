"""The parts of a record US Core 6.1 reads beyond visits and results, added once a chart's visits are written:
family, insurance, care team, goals and plan, implants, screenings, pharmacy fills, occupation and pregnancy
intent, and the provenance of it all.

They draw on the chart's own US Core randomness and ids (record.py), so the rest of the chart stays the same."""

from __future__ import annotations

from .careplans import add_care_plan, add_care_team, add_goals
from .coverage import add_coverage
from .devices import add_implant, wants_implant
from .family import add_family_member, is_parent
from .imaging import add_imaging_reports
from .orders import order_procedures
from .pharmacy import add_dispenses, add_reported_medication
from .provenance import add_provenance
from .record import Chart
from .screening import add_screenings, add_sexual_orientation
from .social import add_occupation, add_pregnancy_intent


def complete_record(chart: Chart, *, family: tuple[str, str] | None = None,
                    implant_years_ago: int | None = None) -> list[dict]:
    """Add the US Core records to ``chart`` and return all its resources. Stories name their family member
    (``(relationship, given name)``) and implant age; random patients get them by chance."""
    relative = add_family_member(chart, *family) if family else add_family_member(chart)
    child = chart.age_years(chart.anchor) < 18
    add_coverage(chart, subscriber=relative if child and relative is not None and is_parent(relative) else None)
    care_team = add_care_team(chart, relative)
    goals = add_goals(chart)
    add_care_plan(chart, goals, care_team)
    if implant_years_ago is not None:
        add_implant(chart, "knee", implant_years_ago)
    elif wants_implant(chart, "knee"):
        add_implant(chart, "knee")
    order_procedures(chart)
    add_imaging_reports(chart)
    add_screenings(chart)
    add_sexual_orientation(chart)
    add_reported_medication(chart)
    add_dispenses(chart)
    add_occupation(chart)
    add_pregnancy_intent(chart)
    add_provenance(chart)
    return chart.resources
