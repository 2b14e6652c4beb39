"""What the chart draws from Observations: the vitals small multiples with their normal bands, sparklines beside
the summary's latest vitals, and a lab result's earlier values against its reference range (UI-GUIDE §2).

Values are charted in the units the seed writes (mmHg, /min, Cel, %, kg, kg/m2); the few other units that
imported records use for the same measure (°F, lb, in) are converted, so one panel never mixes units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .. import formatting as fmt
from ..vital_ranges import ADULT_AGE, NORMAL, adult_on
from . import trends
from .results import DIASTOLIC, SYSTOLIC, codes_of, effective, reference_range, test_name, vital_key
from .trends import Reading, Series

SPARK_READINGS = 12
SPARK_SIZE = (48, 16)
LAB_SPARK_SIZE = (232, 52)


@dataclass(frozen=True)
class Line:
    label: str
    code: str | None  # the component (or own) LOINC code, for blood pressure; None: the Observation's value
    band: tuple[float, float] | None


@dataclass(frozen=True)
class Measure:
    key: str  # as in results.VITALS
    title: str
    unit: str
    decimals: int
    lines: tuple[Line, ...]
    min_span: float  # the least y range drawn, about a clinically small change, so noise doesn't look like a trend
    adult_band: bool = False  # the band is an adult range: shaded only when every reading is from ADULT_AGE on
    in_chart: bool = True  # False: a sparkline on the summary only


# Shaded bands: the adult normal ranges of sandbox/vital_ranges.py.
MEASURES = (
    Measure("bp", "Blood pressure", "mmHg", 0, (Line("Systolic BP", SYSTOLIC, NORMAL["systolic"]),
                                                Line("Diastolic BP", DIASTOLIC, NORMAL["diastolic"])), 40,
            adult_band=True),
    Measure("hr", "Heart rate", "/min", 0, (Line("Heart rate", None, NORMAL["hr"]),), 20, adult_band=True),
    Measure("rr", "Respiratory rate", "/min", 0, (Line("Respiratory rate", None, NORMAL["rr"]),), 8,
            adult_band=True),
    Measure("temp", "Temperature", "°C", 1, (Line("Temperature", None, NORMAL["temp"]),), 1.5),
    Measure("spo2", "SpO₂", "%", 0, (Line("SpO₂", None, NORMAL["spo2"]),), 6),
    Measure("weight", "Weight", "kg", 1, (Line("Weight", None, None),), 4),
    Measure("bmi", "BMI", "kg/m²", 1, (Line("BMI", None, NORMAL["bmi"]),), 4, adult_band=True),
    Measure("height", "Height", "cm", 1, (Line("Height", None, None),), 4, in_chart=False),
    Measure("head", "Head circumference", "cm", 1, (Line("Head circumference", None, None),), 2, in_chart=False),
)
BY_KEY = {m.key: m for m in MEASURES}

# Other units the same measures arrive in: unit → function to the chart's unit.
def _celsius(fahrenheit: float) -> float:
    return (fahrenheit - 32) * 5 / 9


def _kilograms(pounds: float) -> float:
    return pounds * 0.45359237


def _centimetres(inches: float) -> float:
    return inches * 2.54


CONVERSIONS = {
    "temp": {"[degF]": _celsius, "degF": _celsius, "°F": _celsius},
    "weight": {"[lb_av]": _kilograms, "lb": _kilograms, "g": lambda grams: grams / 1000},
    "height": {"[in_i]": _centimetres, "in": _centimetres, "m": lambda metres: metres * 100},
    "head": {"[in_i]": _centimetres, "in": _centimetres},
}


def _quantity_value(quantity: dict | None, key: str) -> float | None:
    if not quantity or isinstance(quantity.get("value"), bool) or not isinstance(quantity.get("value"), (int, float)):
        return None
    convert = CONVERSIONS.get(key, {})
    unit = next((u for u in (quantity.get("code"), quantity.get("unit")) if u in convert), None)
    return convert[unit](quantity["value"]) if unit else float(quantity["value"])


def _line_quantity(resource: dict, line: Line) -> dict | None:
    if line.code is None:
        return resource.get("valueQuantity")
    for component in resource.get("component") or []:
        if line.code in codes_of(component):
            return component.get("valueQuantity")
    return resource.get("valueQuantity") if line.code in codes_of(resource) else None


def vital_readings(resources: list[dict]) -> dict[str, list[list[Reading]]]:
    """Readings per measure key, one list per line of the measure (blood pressure has two), oldest first."""
    found: dict[str, list[list[Reading]]] = {}
    for resource in resources:
        if resource.get("status") == "entered-in-error":
            continue
        codes = codes_of(resource)
        key = "bp" if SYSTOLIC in codes or DIASTOLIC in codes else vital_key(resource)
        measure = BY_KEY.get(key)
        when = effective(resource)
        day = trends.day_number(when)
        if measure is None or day is None:
            continue
        lines = found.setdefault(key, [[] for _ in measure.lines])
        for n, line in enumerate(measure.lines):
            value = _quantity_value(_line_quantity(resource, line), key)
            if value is not None:
                lines[n].append(Reading(day, value, when, trends.number_text(value, measure.decimals)))
    for lines in found.values():
        for readings in lines:
            readings.sort(key=lambda r: r.day)
    return found


def _band_note(measure: Measure, shaded: bool) -> str:
    bands = [(line, line.band) for line in measure.lines if line.band]
    if not bands:
        return ""
    if not shaded:
        return f"No normal range is shaded: adult ranges do not apply to readings before age {ADULT_AGE}."
    adult = "adult " if measure.adult_band else ""
    if len(bands) == 1:
        return f"Shaded: normal {adult}range {trends.span_text(list(bands[0][1]), measure.decimals)} {measure.unit}."
    ranges = " and ".join(f"{line.label.split()[0].lower()} {trends.span_text(list(band), measure.decimals)}"
                          for line, band in bands)
    return f"Shaded: normal {adult}ranges, {ranges} {measure.unit}."


def vitals_chart(resources: list[dict], birth_date: str | None) -> list[dict]:
    """The Vitals section's small multiples, on one date axis. Adult bands are left out when the patient was a
    child at any charted reading, or the birth date is not known."""
    readings = vital_readings(resources)
    series_of = {}
    all_series = []
    for measure in MEASURES:
        if not measure.in_chart or not any(readings.get(measure.key, [])):
            continue
        lines = readings[measure.key]
        series_of[measure.key] = [Series(line.label, tuple(found), line.band)
                                  for line, found in zip(measure.lines, lines, strict=True) if found]
        all_series += series_of[measure.key]
    domain = trends.shared_domain(all_series)
    if domain is None:
        return []
    first_day = min(r.day for s in all_series for r in s.readings)
    adult = adult_on(birth_date, dt.date.fromordinal(int(first_day)))
    panels = []
    for key, series in series_of.items():
        measure = BY_KEY[key]
        shaded = adult or not measure.adult_band
        if not shaded:
            series = [Series(s.label, s.readings, None) for s in series]
        panels.append(trends.panel(key, measure.title, measure.unit, series, domain, measure.decimals,
                                   _band_note(measure, shaded), measure.min_span))
    return panels


def vital_sparklines(resources: list[dict]) -> dict[str, dict]:
    """A sparkline of the latest readings of each measure, by measure key (drawn beside the summary's tiles)."""
    sparks = {}
    for key, lines in vital_readings(resources).items():
        series = [Series(line.label, tuple(found[-SPARK_READINGS:]))
                  for line, found in zip(BY_KEY[key].lines, lines, strict=True) if found]
        spark = trends.sparkline(series, *SPARK_SIZE, min_span=BY_KEY[key].min_span)
        if spark and sum(len(s.readings) for s in series) > len(series):  # one reading is no trend
            sparks[key] = spark
    return sparks


# -- lab results ------------------------------------------------------------------------------------------------


def _decimals(value: float) -> int:
    text = fmt.number(value)
    return len(text.partition(".")[2]) if "." in text and "e" not in text else 0


def _same_unit(quantity: dict, unit: tuple[str | None, str | None]) -> bool:
    return (quantity.get("code"), quantity.get("unit")) == unit or (
        quantity.get("code") is not None and quantity.get("code") == unit[0])


def lab_trend(observation: dict, history: list[dict]) -> dict | None:
    """A result's trend: the same test's numeric results up to and including this one (``history`` oldest
    first), in the same unit, with this result's reference range shaded. None for a result with no number."""
    quantity = observation.get("valueQuantity") or {}
    if not isinstance(quantity.get("value"), (int, float)) or isinstance(quantity.get("value"), bool):
        return None
    unit = (quantity.get("code"), quantity.get("unit"))
    readings, other_units, decimals = [], 0, 0
    for resource in history:
        value = (resource.get("valueQuantity") or {}).get("value")
        day = trends.day_number(effective(resource))
        if not isinstance(value, (int, float)) or isinstance(value, bool) or day is None:
            continue
        if not _same_unit(resource["valueQuantity"], unit):
            other_units += 1
            continue
        comparator = resource["valueQuantity"].get("comparator") or ""
        decimals = max(decimals, _decimals(value))  # as recorded: 201 stays "201", 0.95 keeps two places
        readings.append(Reading(day, float(value), effective(resource), comparator + fmt.number(value)))
    readings.sort(key=lambda r: r.day)
    band = None
    ranges = observation.get("referenceRange") or []
    low = ((ranges[0].get("low") or {}).get("value") if ranges else None)
    high = ((ranges[0].get("high") or {}).get("value") if ranges else None)
    values = [r.value for r in readings]
    if values and (low is not None or high is not None):
        # A one-sided range (≤ 100, ≥ 60) is shaded from its edge a little past the data on its normal side.
        edges = [v for v in (low, high) if v is not None]
        margin = (max(*values, *edges) - min(*values, *edges)) * 0.1 or 1
        band = (low if low is not None else min(*values, high) - margin,
                high if high is not None else max(*values, low) + margin)
    name = test_name(observation)
    series = Series(name, tuple(readings), band)
    unit_words = fmt.unit(quantity)
    return {
        "id": observation.get("id"),
        "name": name,
        "summary": trends.describe(series, unit_words, decimals, noun="result"),
        "range": reference_range(observation),
        "spark": trends.sparkline([series], *LAB_SPARK_SIZE, pad=4),
        "first": fmt.date(readings[0].when) if readings else "",
        "last": fmt.date(readings[-1].when) if readings else "",
        "other_units": other_units,
    }
