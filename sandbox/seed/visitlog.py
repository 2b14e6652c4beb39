"""Bookkeeping shared by the visit writers: what happened at each visit and when things were last done."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from . import notes, vitals
from .record import Chart, Visit


@dataclass
class VisitLog:
    """What happened at a visit, kept for the note written about it."""

    visit: Visit
    complaint: str
    vitals: dict = field(default_factory=dict)
    results: list[str] = field(default_factory=list)
    assessment: list[str] = field(default_factory=list)
    medications: list[str] = field(default_factory=list)
    background: list[str] = field(default_factory=list)
    noted: bool = False


@dataclass
class History:
    """Per-patient bookkeeping across visits: last time a panel, screening or procedure was done."""

    last: dict[str, dt.date] = field(default_factory=dict)
    given: set = field(default_factory=set)
    logs: list[VisitLog] = field(default_factory=list)

    def due(self, key: str, day: dt.date, every_days: int) -> bool:
        return key not in self.last or (day - self.last[key]).days >= every_days


def present_illness(chart: Chart, log: VisitLog) -> str:
    who = notes.describe_patient(chart, log.visit.day)
    if log.background:
        who += " with " + (", ".join(log.background[:-1]) + " and " if len(log.background) > 1 else "") \
            + log.background[-1]
    return f"{who}, seen for {log.complaint[0].lower() + log.complaint[1:]}"


def note_sections(chart: Chart, log: VisitLog) -> list[tuple[str, object]]:
    return [
        ("Chief complaint", log.complaint),
        ("History of present illness", present_illness(chart, log)),
        ("Vital signs", vitals.summary(log.vitals)),
        ("Results", log.results),
        ("Assessment and plan", log.assessment or ["Healthy; routine anticipatory guidance given."]),
        ("New prescriptions", log.medications),
        ("Allergies", notes.allergy_line(chart)),
    ]


def sub_visit(visit: Visit, day: dt.date, hour: int, minute: int = 0) -> Visit:
    """The same encounter seen at another moment (inpatient days), for timestamps of later resources."""
    return replace(visit, day=day, hour=hour, minute=minute)
