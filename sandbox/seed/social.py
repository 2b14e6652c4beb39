"""Social history US Core 6.1 asks for beyond smoking and sexual orientation: the patient's job (US Core
Observation Occupation) and, for women of childbearing age, whether they mean to become pregnant in the next
year (US Core Observation Pregnancy Intent). Both are taken at the latest check-up, as the patient told it then."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from . import codes
from .record import Chart, Visit

ADULT_AGE = 18
CHECKUPS = ("well-adult", "well-child")
SOCIAL_HISTORY = ("social-history", "Social History")


def add_occupation(chart: Chart) -> dict | None:
    """The patient's current job, or their last one if retired: it started in their late teens or twenties, and
    a retired patient's ended at retirement age. Dates are as of the latest adult check-up, where it was taken
    down, or as of today for a patient without one."""
    spec = chart.tables.records["occupation"]
    rng = chart.us_core_rng
    visit = _latest_checkup(chart, lambda day: chart.age_years(day) >= ADULT_AGE)
    as_of = visit.day if visit else chart.anchor
    story = chart.key.startswith("story-")
    if chart.age_years(as_of) < ADULT_AGE or not (story or rng.random() < spec["recorded_rate"]):
        return None
    job = rng.choice(spec["jobs"])
    age = chart.age_years(as_of)
    period = {"start": _during_year_of_age(chart, rng, rng.randint(ADULT_AGE, min(age, spec["first_job_ages"][1])),
                                           as_of).isoformat()}
    retired_at = rng.randint(*spec["retirement_ages"])
    if age > retired_at:
        period["end"] = _during_year_of_age(chart, rng, retired_at, as_of).isoformat()
    occupation, industry = job["occupation"], job["industry"]
    if not story:  # stories keep the whole record; some others lack one half, as US Core's examples show
        draw = rng.random()
        if draw < spec["occupation_unknown_rate"]:
            occupation = spec["unknown_occupation"]
        elif draw < spec["occupation_unknown_rate"] + spec["industry_unknown_rate"]:
            industry = None
    observation = _social_history(chart, "us-core-observation-occupation", spec["code"], visit)
    observation["effectivePeriod"] = period
    observation["valueCodeableConcept"] = _concept(occupation)
    if industry:
        observation["component"] = [{"code": _concept(spec["industry_code"]),
                                     "valueCodeableConcept": _concept(industry)}]
    return chart.add(observation)


def add_pregnancy_intent(chart: Chart) -> dict | None:
    """Asked of women of childbearing age at their latest check-up while not pregnant. A woman whose pregnancy
    began after that check-up had said she wanted one."""
    spec = chart.tables.records["pregnancy_intent"]
    if not chart.is_female:
        return None
    youngest, oldest = spec["ages"]
    pregnant_from = _pregnancy_start(chart)
    visit = _latest_checkup(chart, lambda day: youngest <= chart.age_years(day) <= oldest
                            and (pregnant_from is None or day < pregnant_from))
    rng = chart.us_core_rng
    if visit is None or not (chart.key.startswith("story-") or rng.random() < spec["asked_rate"]):
        return None
    answers = spec["answers"]
    if pregnant_from is not None:
        answer = next(a for a in answers if a["code"] == spec["before_pregnancy"])
    else:
        answer = rng.choices(answers, weights=[a["weight"] for a in answers])[0]
    observation = _social_history(chart, "us-core-observation-pregnancyintent", spec["code"], visit)
    observation["effectiveDateTime"] = visit.at(6)
    observation["valueCodeableConcept"] = _concept(answer)
    return chart.add(observation)


def _latest_checkup(chart: Chart, fits: Callable[[dt.date], bool]) -> Visit | None:
    return next((v for v in reversed(chart.visits) if v.kind in CHECKUPS and fits(v.day)), None)


def _pregnancy_start(chart: Chart) -> dt.date | None:
    pregnancy = chart.conditions_by_code.get(chart.tables.conditions["chronic"]["normal-pregnancy"]["snomed"])
    return dt.date.fromisoformat(pregnancy["onsetDateTime"][:10]) if pregnancy else None


def _during_year_of_age(chart: Chart, rng: random.Random, years: int, latest: dt.date) -> dt.date:
    """A day while the patient was ``years`` old, no later than ``latest`` (when they were that old or older)."""
    born = chart.birth_date
    try:
        birthday = born.replace(year=born.year + years)
    except ValueError:  # born on 29 February: a year older on 1 March
        birthday = dt.date(born.year + years, 3, 1)
    return birthday + dt.timedelta(days=rng.randint(0, min(364, (latest - birthday).days)))


def _social_history(chart: Chart, profile: str, code: dict, visit: Visit | None) -> dict:
    observation = {
        "resourceType": "Observation", "id": chart.us_core_id(),
        "meta": codes.profile(profile),
        "status": "final",
        "category": codes.category(codes.OBSERVATION_CATEGORY, *SOCIAL_HISTORY),
        "code": _concept(code),
        "subject": chart.subject(),
    }
    if visit:
        observation["encounter"] = visit.ref
    return observation


def _concept(coding: dict) -> dict:
    """A CodeableConcept of one published coding, read as its display (a data-absent reason has none)."""
    kept = {key: coding[key] for key in ("system", "code", "display") if key in coding}
    return {"coding": [kept], "text": kept["display"]} if "display" in kept else {"coding": [kept]}
