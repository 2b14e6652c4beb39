"""Immunizations on the routine US schedule (vaccines.json), plus flu seasons and adult boosters."""

from __future__ import annotations

import datetime as dt
import string

from . import codes
from .codes import concept
from .record import Chart, Clinician, Visit, stamp, weekday_on_or_after

ORIGIN = "http://terminology.hl7.org/CodeSystem/immunization-origin"
DAYS_PER_MONTH = 30.4375


def due_date(birth: dt.date, months: int) -> dt.date:
    """When a dose at ``months`` of age is due; the birth dose is given before the newborn goes home."""
    return birth + dt.timedelta(days=2 if months == 0 else round(months * DAYS_PER_MONTH))


def available(chart: Chart, key: str, day: dt.date) -> bool:
    return chart.tables.vaccines[key]["first_available"] <= day.year


def routine_doses(chart: Chart) -> list[tuple[int, str, int]]:
    """(age in months, vaccine key, dose number) of every routine childhood dose, in schedule order."""
    doses = []
    for key, vaccine in chart.tables.vaccines.items():
        for number, months in enumerate(vaccine.get("at_months", []), start=1):
            doses.append((months, key, number))
    doses.sort()
    return doses


def flu_vaccine_key(chart: Chart, day: dt.date) -> str:
    return "influenza" if available(chart, "influenza", day) else "influenza-older"


def lot_number(chart: Chart) -> str:
    letters = "".join(chart.rng.choice(string.ascii_uppercase) for _ in range(2))
    return f"{letters}{chart.rng.randint(1000, 9999)}"


def add_immunization(chart: Chart, key: str, day: dt.date, *, visit: Visit | None = None, hour: int = 10,
                     dose: int | None = None, historical: bool = False,
                     clinician: Clinician | None = None) -> dict:
    """A completed Immunization; ``historical`` ones were copied from an outside record."""
    vaccine = chart.tables.vaccines[key]
    resource = {
        "resourceType": "Immunization", "id": chart.new_id(), "meta": codes.profile("us-core-immunization"),
        "status": "completed",
        "vaccineCode": {"coding": [codes.coding(codes.CVX, vaccine["cvx"], vaccine["display"])],
                        "text": vaccine["text"]},
        "patient": chart.subject(),
    }
    if visit is not None:
        resource["encounter"] = visit.ref
        resource["occurrenceDateTime"] = visit.at(25)
    else:
        resource["occurrenceDateTime"] = stamp(day, hour, 15)
    resource["primarySource"] = not historical
    if historical:
        resource["reportOrigin"] = concept(ORIGIN, "record", "Written Record")
    else:
        resource["location"] = dict(visit.location) if visit else chart.location(chart.clinic)
        resource["lotNumber"] = lot_number(chart)
        resource["performer"] = [{"actor": dict((clinician or (visit.clinician if visit else chart.pcp)).ref)}]
    if dose:
        resource["protocolApplied"] = [{"doseNumberPositiveInt": dose}]
    return chart.add(resource)


def add_history_before(chart: Chart, start: dt.date) -> None:
    """Childhood doses due before the chart's first visit, recorded from the state registry."""
    for months, key, number in routine_doses(chart):
        day = due_date(chart.birth_date, months)
        if day >= start or day >= chart.anchor:
            break
        if available(chart, key, day):
            add_immunization(chart, key, weekday_on_or_after(day + dt.timedelta(days=chart.rng.randint(0, 10))),
                             dose=number, historical=True)


def doses_for_visit(chart: Chart, scheduled_months: int, given: set[tuple[str, int]],
                    window_start: dt.date) -> list[tuple[str, int]]:
    """Doses due by this well-child visit that were not given yet (catch-up included)."""
    due = []
    for months, key, number in routine_doses(chart):
        if months > scheduled_months:
            break
        day = due_date(chart.birth_date, months)
        if (key, number) in given or day < window_start or not available(chart, key, day):
            continue
        due.append((key, number))
    return due


def flu_day(chart: Chart, season_year: int) -> dt.date:
    """A weekday between late September and late November of the season."""
    return weekday_on_or_after(dt.date(season_year, 9, 20) + dt.timedelta(days=chart.rng.randint(0, 65)))
