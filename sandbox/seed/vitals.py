"""Vital signs and growth: a simple physiology per patient, measured at each visit.

Each patient keeps a growth percentile (children) or a height, BMI and blood-pressure set point (adults), so a
chart shows a believable trend rather than independent random numbers. Conditions shift the set points
(hypertension raises blood pressure, COPD lowers oxygen saturation); BMI is computed from height and weight.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right

from . import codes
from .record import Chart, Visit

ADULT_MONTHS = 216
HEAD_CIRCUMFERENCE_UNTIL_MONTHS = 36
WEIGHT_FOR_LENGTH_UNTIL_MONTHS = 24


def normal_percentile(z: float) -> float:
    return 50.0 * (1.0 + math.erf(z / math.sqrt(2.0)))


def growth_median(chart: Chart, measure: str, months: float) -> float:
    """Median for age and sex by linear interpolation in growth.json."""
    growth = chart.tables.growth
    values = growth[measure][chart.sex]
    ages = growth["ages"][: len(values)]
    months = min(max(months, 0.0), ages[-1])
    index = bisect_right(ages, months) - 1
    if index >= len(ages) - 1:
        return values[-1]
    span = ages[index + 1] - ages[index]
    return values[index] + (values[index + 1] - values[index]) * (months - ages[index]) / span


def init_body(chart: Chart, *, bmi: float | None = None, height_z: float | None = None,
              weight_z: float | None = None, bmi_trend: float | None = None) -> None:
    """Fix the patient's set points; call once, after conditions have set ``chart.vital_effects``."""
    rng = chart.rng
    body = chart.body
    body["z_height"] = height_z if height_z is not None else max(-2.2, min(2.2, rng.gauss(0, 1)))
    body["z_weight"] = weight_z if weight_z is not None else max(-2.0, min(2.6, rng.gauss(0.25, 1)))
    body["z_head"] = max(-2.0, min(2.0, body["z_height"] * 0.5 + rng.gauss(0, 0.8)))
    cv = chart.tables.growth["cv"]
    body["adult_height"] = growth_median(chart, "height", ADULT_MONTHS) * (1 + body["z_height"] * cv["height"])
    body["bmi"] = bmi if bmi is not None else max(18.0, min(46.0, rng.gauss(27.5, 5.0)))
    body["bmi_trend"] = bmi_trend if bmi_trend is not None else rng.gauss(0.12, 0.25)
    age = chart.age_years(chart.anchor)
    effects = chart.vital_effects
    if "systolic" in effects:
        body["systolic"] = rng.uniform(*effects["systolic"])
        body["diastolic"] = rng.uniform(*effects["diastolic"])
    else:
        body["systolic"] = min(128.0, 108 + 0.35 * max(0, age - 20) + rng.gauss(0, 5))
        body["diastolic"] = min(83.0, 68 + 0.15 * max(0, age - 20) + rng.gauss(0, 4))
    body["heart_rate"] = rng.uniform(*effects["heart_rate"]) if "heart_rate" in effects else rng.gauss(72, 7)


def measure(chart: Chart, day: dt.date, *, full: bool = True, fever: bool = False,
            acute_effects: dict | None = None) -> dict:
    """Measured values for one visit, keyed like vitals.json (blood pressure as a (systolic, diastolic) pair).

    ``full`` is a complete set (well and follow-up visits); otherwise only what triage records.
    """
    rng = chart.rng
    body = chart.body
    effects = dict(chart.vital_effects)
    effects.update(acute_effects or {})
    months = chart.age_months(day)
    years = months / 12
    cv = chart.tables.growth["cv"]
    values: dict = {}
    if months < ADULT_MONTHS:
        height = growth_median(chart, "height", months) * (1 + body["z_height"] * cv["height"] + rng.gauss(0, 0.004))
        weight = growth_median(chart, "weight", months) * (1 + body["z_weight"] * cv["weight"] + rng.gauss(0, 0.01))
    else:
        height = body["adult_height"] + rng.gauss(0, 0.4)
        drift = body["bmi_trend"] * (day - chart.anchor).days / 365.25
        weight = max(40.0, (body["bmi"] + drift) * (body["adult_height"] / 100) ** 2 + rng.gauss(0, 0.8))
    if full:
        values["height"] = height
    values["weight"] = weight
    if full:
        values["bmi"] = weight / (height / 100) ** 2
        if months < WEIGHT_FOR_LENGTH_UNTIL_MONTHS:
            values["weight_for_length"] = _percentile(body["z_weight"] - 0.4 * body["z_height"], rng)
            values.pop("bmi")
        elif months < 240:
            values["bmi_percentile"] = _percentile(body["z_weight"] - 0.5 * body["z_height"], rng)
        if months <= HEAD_CIRCUMFERENCE_UNTIL_MONTHS:
            values["head_circumference"] = growth_median(chart, "head_circumference", months) * (
                1 + body["z_head"] * cv["head_circumference"] + rng.gauss(0, 0.004))
            values["head_circumference_percentile"] = _percentile(body["z_head"], rng)
    if years >= 3:
        if years >= 18:
            systolic = body["systolic"] + rng.gauss(0, 5)
            diastolic = body["diastolic"] + rng.gauss(0, 4)
        else:
            systolic = 92 + 1.6 * years + rng.gauss(0, 6)
            diastolic = 54 + 1.0 * years + rng.gauss(0, 5)
        values["blood_pressure"] = (round(systolic), round(min(diastolic, systolic - 25)))
    values["heart_rate"] = _ranged(effects, "heart_rate", rng) or _heart_rate_for_age(years, body, rng)
    values["respiratory_rate"] = _ranged(effects, "respiratory_rate", rng) or _respiratory_rate_for_age(years, rng)
    values["temperature"] = rng.uniform(38.1, 39.3) if fever else rng.uniform(36.5, 37.2)
    values["spo2"] = _ranged(effects, "spo2", rng) or rng.uniform(96, 99.4)
    return values


def _ranged(effects: dict, key: str, rng) -> float | None:
    return rng.uniform(*effects[key]) if key in effects else None


def _percentile(z: float, rng) -> float:
    return max(1.0, min(99.0, normal_percentile(z + rng.gauss(0, 0.08))))


def _heart_rate_for_age(years: float, body: dict, rng) -> float:
    if years < 1:
        return rng.gauss(128, 8)
    if years < 3:
        return rng.gauss(112, 8)
    if years < 6:
        return rng.gauss(98, 7)
    if years < 12:
        return rng.gauss(86, 7)
    if years < 18:
        return rng.gauss(78, 7)
    return body["heart_rate"] + rng.gauss(0, 4)


def _respiratory_rate_for_age(years: float, rng) -> float:
    if years < 1:
        return rng.uniform(30, 40)
    if years < 3:
        return rng.uniform(24, 30)
    if years < 6:
        return rng.uniform(21, 25)
    if years < 12:
        return rng.uniform(18, 22)
    return rng.uniform(13, 18)


def _base(chart: Chart, visit: Visit, spec: dict, effective: str) -> dict:
    return {
        "resourceType": "Observation", "id": chart.new_id(), "meta": codes.profile(spec["profile"]),
        "status": "final",
        "category": codes.category(codes.OBSERVATION_CATEGORY, "vital-signs", "Vital Signs"),
        "code": {"coding": [codes.coding(codes.LOINC, spec["loinc"], spec["display"])], "text": spec["display"]},
        "subject": chart.subject(),
        "encounter": visit.ref,
        "effectiveDateTime": effective,
    }


def rounded(value: float, decimals: int) -> float | int:
    return int(round(value)) if decimals == 0 else round(value, decimals)


def add_vitals(chart: Chart, visit: Visit, values: dict, minutes_after_start: int = 5) -> list[dict]:
    """One Observation per measured value, in the order the values are given."""
    table = chart.tables.vitals
    effective = visit.at(minutes_after_start)
    added = []
    for key, value in values.items():
        spec = table[key]
        obs = _base(chart, visit, spec, effective)
        if key == "blood_pressure":
            systolic, diastolic = value
            obs["component"] = [
                {"code": codes.loinc(spec["systolic"]["loinc"], spec["systolic"]["display"]),
                 "valueQuantity": codes.quantity(int(systolic), spec["unit"], spec["code"])},
                {"code": codes.loinc(spec["diastolic"]["loinc"], spec["diastolic"]["display"]),
                 "valueQuantity": codes.quantity(int(diastolic), spec["unit"], spec["code"])},
            ]
        else:
            if key == "spo2":
                obs["code"]["coding"].append(codes.coding(codes.LOINC, spec["extra_loinc"], spec["extra_display"]))
            obs["valueQuantity"] = codes.quantity(rounded(value, spec["decimals"]), spec["unit"], spec["code"])
        added.append(chart.add(obs))
    return added


def summary(values: dict) -> str:
    """One line for a clinical note, e.g. ``BP 128/82 mmHg, HR 72/min, ...``."""
    parts = []
    if "blood_pressure" in values:
        parts.append("BP {}/{} mmHg".format(*values["blood_pressure"]))
    if "heart_rate" in values:
        parts.append(f"HR {round(values['heart_rate'])}/min")
    if "respiratory_rate" in values:
        parts.append(f"RR {round(values['respiratory_rate'])}/min")
    if "temperature" in values:
        parts.append(f"Temp {values['temperature']:.1f} C")
    if "spo2" in values:
        parts.append(f"SpO2 {round(values['spo2'])}%")
    if "weight" in values:
        parts.append(f"Wt {values['weight']:.1f} kg")
    if "bmi" in values:
        parts.append(f"BMI {values['bmi']:.1f}")
    return ", ".join(parts)
