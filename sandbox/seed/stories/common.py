"""Helpers the story patients share: a fixed person, and short verbs for writing a scripted chart."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from .. import clinical, labs, vitals
from ..codes import Tables
from ..encounters import open_visit, reason_concept
from ..patients import Person, patient_resource
from ..record import Chart, Clinician, Staff, Visit, stable_int, stamp, weekday_on_or_after


@dataclass(frozen=True)
class Story:
    patient_id: str
    name: str
    summary: str
    build: Callable[[dt.date, Staff, Tables], list[dict]]


def birth_for(anchor: dt.date, years: int, extra_days: int) -> dt.date:
    """A birthday ``years`` years and ``extra_days`` days before the anchor date."""
    try:
        birthday = anchor.replace(year=anchor.year - years)
    except ValueError:  # 29 February
        birthday = anchor.replace(year=anchor.year - years, day=28)
    return birthday - dt.timedelta(days=extra_days)


def start_chart(story_id: str, anchor: dt.date, staff: Staff, tables: Tables, person: Person, *, mrn: str,
                pcp: Clinician, clinic: str = "primary-care") -> Chart:
    """A chart whose randomness comes from the story id alone, never from the caller's seed."""
    chart = Chart(key=story_id, patient_id=story_id, rng=random.Random(stable_int(story_id)), anchor=anchor,
                  staff=staff, tables=tables, sex=person.sex, birth_date=person.birth_date,
                  name=person.display_name, mrn=mrn, pcp=pcp, clinic=clinic)
    chart.add(patient_resource(chart, person))
    return chart


def days_before(chart: Chart, days: int, *, weekday: bool = True) -> dt.date:
    """A date ``days`` before the anchor, moved off the weekend for office visits (never past the anchor)."""
    day = chart.anchor - dt.timedelta(days=days)
    moved = weekday_on_or_after(day) if weekday else day
    return moved if moved < chart.anchor else day


def visit(chart: Chart, kind: str, day: dt.date, *, reason: str | None = None, clinician: Clinician | None = None,
          hour: int = 9, minute: int = 0, minutes: int = 30, **kwargs) -> Visit:
    entry = chronic(chart, reason) if reason else None
    return open_visit(chart, kind, day, hour=hour, minute=minute, minutes=minutes, clinician=clinician,
                      reason=reason_concept(entry) if entry else None, **kwargs)


def chronic(chart: Chart, key: str) -> dict:
    conditions = chart.tables.conditions
    return conditions["chronic"].get(key) or conditions["acute"][key]


def problem(chart: Chart, key: str, onset: dt.date, *, at: Visit | None = None) -> dict:
    """A problem-list Condition, recorded at a visit or (onset before the chart) on its onset date."""
    recorded = at.start if at else stamp(onset, 9)
    return clinical.add_condition(chart, chronic(chart, key), onset=stamp(onset, 9), recorded=recorded, visit=at)


def prescribe(chart: Chart, key: str, at: Visit, reason: dict | None, *, status: str = "active",
              sig: str | None = None, category: str = "community") -> dict:
    return clinical.add_medication(chart, key, authored=at.at(max(5, _minutes(at) - 5)), requester=at.clinician,
                                   visit=at, reason=reason, status=status, sig=sig, category=category)


def _minutes(at: Visit) -> int:
    start = int(at.start[11:13]) * 60 + int(at.start[14:16])
    end = int(at.end[11:13]) * 60 + int(at.end[14:16])
    return end - start if at.end_day == at.day else 30


def measure(chart: Chart, at: Visit, *, full: bool = True, **overrides) -> dict:
    """Vital signs from the patient's physiology, with story-specific values forced where given."""
    values = vitals.measure(chart, at.day, full=full)
    values.update(overrides)
    if "weight" in overrides and "bmi" in values and "height" in values:
        values["bmi"] = values["weight"] / (values["height"] / 100) ** 2
    vitals.add_vitals(chart, at, values)
    return values


def lab(chart: Chart, at: Visit, panel: str, **given) -> list[str]:
    _, values = labs.add_panel(chart, at, panel, given)
    return [labs.summary(chart, values)]
