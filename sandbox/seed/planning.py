"""What happens to a random patient: which problems they have and when they come in.

The plan is decided before anything is written so that visits can be put in date order and every resource
can point only at resources written before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .codes import Tables
from .immunizations import due_date, flu_day
from .record import Chart, weekday_on_or_after

HISTORY_YEARS = 5
WELL_CHILD_MONTHS = [0, 1, 2, 4, 6, 9, 12, 15, 18, 24, 30, 36] + list(range(48, 216, 12))
KIND_ORDER = {"well": 0, "diagnosis": 1, "follow-up": 2, "acute": 3, "shot": 4}


@dataclass
class Problem:
    """A chronic condition of this patient; ``resource`` is set once its Condition is written."""

    key: str
    entry: dict
    onset: dt.date
    resource: dict | None = None
    treated: bool = False
    medications: list[str] = field(default_factory=list)


@dataclass
class PlannedVisit:
    day: dt.date
    kind: str
    scheduled_months: int | None = None
    acute: str | None = None
    setting: str | None = None
    specialist: str | None = None
    problems: tuple[str, ...] = ()
    vaccine: str | None = None
    dose: int | None = None


@dataclass
class Plan:
    window_start: dt.date
    bmi: float
    smoking: str | None
    problems: dict[str, Problem] = field(default_factory=dict)
    allergies: list[str] = field(default_factory=list)
    visits: list[PlannedVisit] = field(default_factory=list)

    def needs_epinephrine(self, tables: Tables) -> bool:
        """Food or sting allergies that have caused anaphylaxis call for an auto-injector."""
        return any("anaphylaxis" in tables.allergies[key]["reactions"] for key in self.allergies)


def band_rate(bands: list, age: int) -> float:
    for low, high, rate in bands:
        if low <= age <= high:
            return rate
    return 0.0


def choose_smoking(chart: Chart, age: int) -> str | None:
    if age < 13:
        return None
    rng = chart.rng
    current, former = (0.03, 0.0) if age < 18 else (0.13, 0.06) if age < 30 else (0.12, 0.16) if age < 65 else (
        0.08, 0.35)
    roll = rng.random()
    if roll < current:
        return "daily" if rng.random() < 0.8 else "occasional"
    return "former" if roll < current + former else "never"


def choose_problems(chart: Chart, age: int, bmi: float, smoking: str | None) -> dict[str, Problem]:
    """Chronic conditions by age- and sex-specific prevalence, raised by risk factors already present."""
    rng = chart.rng
    smoker = smoking in ("daily", "occasional", "former")
    obese = age >= 18 and bmi >= 30
    chosen: dict[str, Problem] = {}
    for key, entry in chart.tables.conditions["chronic"].items():
        if entry.get("derived"):
            if obese:
                chosen[key] = Problem(key, entry, _onset(chart, max(18, age - 8), age))
            continue
        rate = band_rate(entry["prevalence"], age)
        if not rate or any(other in chosen for other in entry.get("excludes", [])):
            continue
        if entry.get("requires_smoking") and not smoker:
            continue
        if chart.sex == "male":
            rate *= entry.get("male_factor", 1.0)
        for factor, multiplier in entry.get("risk", {}).items():
            if factor in chosen or (factor == "obesity" and obese) or (factor == "smoker" and smoker):
                rate *= multiplier
        if rng.random() < min(rate, 0.9):
            earliest = entry["prevalence"][0][0]
            chosen[key] = Problem(key, entry, _onset(chart, max(earliest, age - 20), age))
    return chosen


def _onset(chart: Chart, from_age: float, to_age: float) -> dt.date:
    age = chart.rng.uniform(from_age, to_age + 0.9)
    day = chart.birth_date + dt.timedelta(days=int(age * 365.25))
    return min(day, chart.anchor - dt.timedelta(days=30))


def choose_allergies(chart: Chart, age: int) -> list[str]:
    found: list[str] = []
    if age < 1:
        return found
    for key, entry in chart.tables.allergies.items():
        if key in ("reactions", "no-known-allergy") or age < entry.get("min_age", 0):
            continue
        rate = entry.get("child_prevalence", entry["prevalence"]) if age < 18 else entry["prevalence"]
        if chart.rng.random() < rate:
            found.append(key)
    return found


def plan_visits(chart: Chart, plan: Plan) -> list[PlannedVisit]:
    rng = chart.rng
    start, end = plan.window_start, chart.anchor - dt.timedelta(days=2)
    visits: list[PlannedVisit] = []

    def inside(day: dt.date) -> bool:
        return start <= day <= end

    for months in WELL_CHILD_MONTHS:
        day = weekday_on_or_after(due_date(chart.birth_date, months) + dt.timedelta(days=rng.randint(2, 12)))
        if inside(day) and rng.random() < (0.95 if months < 36 else 0.8):
            visits.append(PlannedVisit(day, "well", scheduled_months=months))
    usual = rng.randint(0, 364)
    for years_back in range(HISTORY_YEARS + 1):
        day = weekday_on_or_after(dt.date(chart.anchor.year - years_back, 1, 1)
                                  + dt.timedelta(days=usual + rng.randint(-20, 20)))
        age = chart.age_years(day)
        if inside(day) and age >= 18 and rng.random() < (0.55 if age < 40 else 0.8 if age < 65 else 0.92):
            visits.append(PlannedVisit(day, "well"))
    recent = [v for v in visits if v.kind == "well" and (chart.anchor - v.day).days < 400]
    catch_up = weekday_on_or_after(chart.anchor - dt.timedelta(days=rng.randint(30, 300)))
    if not recent and inside(catch_up) and chart.age_years(catch_up) >= 18 and (
            plan.problems or chart.age_years(catch_up) >= 50):
        visits.append(PlannedVisit(catch_up, "well"))

    for problem in plan.problems.values():
        if inside(problem.onset):
            visits.append(PlannedVisit(weekday_on_or_after(problem.onset), "diagnosis", problems=(problem.key,)))
    per_year = max([p.entry["follow_ups_per_year"] for p in plan.problems.values()] or [0])
    for year in range(HISTORY_YEARS + 1):
        base = start + dt.timedelta(days=365 * year)
        for slot in range(1, per_year + 1):
            day = weekday_on_or_after(base + dt.timedelta(days=365 * slot // (per_year + 1) + rng.randint(-20, 20)))
            addressed = tuple(k for k, p in plan.problems.items()
                              if p.onset <= day and p.entry["follow_ups_per_year"] >= slot)
            if inside(day) and addressed:
                specialists = [plan.problems[k].entry["specialist"] for k in addressed
                               if "specialist" in plan.problems[k].entry]
                visits.append(PlannedVisit(day, "follow-up", problems=addressed,
                                           specialist=specialists[0] if slot == 1 and specialists else None))
    visits.extend(_acute_visits(chart, start, end))
    visits.extend(_shots(chart, start, end))
    visits.sort(key=lambda v: (v.day, KIND_ORDER[v.kind]))
    return _drop_crowded_follow_ups(visits)


def _acute_visits(chart: Chart, start: dt.date, end: dt.date) -> list[PlannedVisit]:
    rng = chart.rng
    acute = chart.tables.conditions["acute"]
    visits = []
    day = start
    while day < end:
        age = chart.age_years(day)
        rate = 1.5 if age < 5 else 0.8 if age < 18 else 0.5 if age < 65 else 0.7
        day += dt.timedelta(days=int(rng.expovariate(rate) * 365) + 1)
        if day >= end:
            break
        age = chart.age_years(day)
        options, weights = [], []
        for key, entry in acute.items():
            weight = band_rate(entry["weights"], age)
            if not weight or entry.get("sex", chart.sex) != chart.sex:
                continue
            if entry.get("available_from") and day.isoformat() < entry["available_from"]:
                continue
            options.append(key)
            weights.append(weight)
        key = rng.choices(options, weights=weights)[0]
        settings = acute[key]["settings"]
        setting = rng.choices(list(settings), weights=list(settings.values()))[0]
        if setting == "inpatient" and ((end - day).days < 6 or age < acute[key].get("inpatient_min_age", 0)):
            setting = "emergency"
        visit_day = weekday_on_or_after(day) if setting in ("problem", "urgent") else day
        if visit_day <= end:
            visits.append(PlannedVisit(visit_day, "acute", acute=key, setting=setting))
    return visits


def _shots(chart: Chart, start: dt.date, end: dt.date) -> list[PlannedVisit]:
    """Flu seasons and COVID-19 doses, given without a separate encounter (nurse or pharmacy clinic)."""
    rng = chart.rng
    shots = []
    for season in range(start.year, end.year + 1):
        day = flu_day(chart, season)
        age = chart.age_years(day)
        chance = 0.6 if age < 18 else 0.35 if age < 50 else 0.5 if age < 65 else 0.72
        if start <= day <= end and chart.age_months(day) >= 6 and rng.random() < chance:
            shots.append(PlannedVisit(day, "shot", vaccine="flu"))
    if chart.tables.vaccines["covid19"]["first_available"] <= end.year and rng.random() < 0.6:
        first = dt.date(chart.tables.vaccines["covid19"]["first_available"], 4, 6)
        for number, offset in enumerate((0, 28, 220), start=1):
            day = weekday_on_or_after(first + dt.timedelta(days=offset + rng.randint(0, 20)))
            if start <= day <= end and chart.age_months(day) >= 144 and (number < 3 or rng.random() < 0.7):
                shots.append(PlannedVisit(day, "shot", vaccine="covid19", dose=number))
    return shots


def _drop_crowded_follow_ups(visits: list[PlannedVisit]) -> list[PlannedVisit]:
    """A follow-up within three weeks of another planned check-in is folded into it."""
    kept: list[PlannedVisit] = []
    last_checkin: dt.date | None = None
    for visit in visits:
        if visit.kind in ("well", "follow-up", "diagnosis"):
            if visit.kind == "follow-up" and last_checkin and (visit.day - last_checkin).days < 21:
                continue
            last_checkin = visit.day
        kept.append(visit)
    return kept
