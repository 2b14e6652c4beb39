"""How the pages write dates, ages, quantities and identifiers (UI-GUIDE §6).

Dates are dd-Mmm-yyyy with 24-hour times (NHS CUI Date Display), never 03/04/2025. A missing value reads
"Not known", never "?" or a blank.
"""

from __future__ import annotations

import datetime as dt
import re

NOT_KNOWN = "Not known"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T(\d{2}):(\d{2}))?")

# UCUM codes that read better written out; everything else is shown as the resource's own unit.
UNIT_WORDS = {"mm[Hg]": "mmHg", "Cel": "°C", "[degF]": "°F", "kg/m2": "kg/m²", "/min": "/min", "{beats}/min": "/min",
              "{breaths}/min": "/min", "[in_i]": "in", "[lb_av]": "lb", "mL/min/{1.73_m2}": "mL/min/1.73 m²",
              "mL/min/1.73m2": "mL/min/1.73 m²", "10*3/uL": "×10³/µL", "10*6/uL": "×10⁶/µL", "uL": "µL"}

CODE_SYSTEMS = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/cvx": "CVX",
}


def parse(text: str | None) -> tuple[dt.date | None, str | None, str]:
    """(the date if a full date, "HH:MM" if a time is given, precision "year"|"month"|"day"|"") of a FHIR
    date, dateTime or instant. The date and time are those written (the record's own local time)."""
    match = _DATE.match(text or "")
    if not match:
        return None, None, ""
    year, month, day, hour, minute = match.groups()
    if day is None:
        return None, None, "month" if month else "year"
    try:
        value = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None, None, ""
    return value, f"{hour}:{minute}" if hour else None, "day"


def date(text: str | None) -> str:
    """``2025-03-03T09:00:00-05:00`` → ``03-Mar-2025``; partial dates keep their precision (``Mar-2025``)."""
    value, _, precision = parse(text)
    if precision == "day":
        return f"{value.day:02d}-{MONTHS[value.month - 1]}-{value.year}"
    if precision == "month":
        return f"{MONTHS[int(text[5:7]) - 1]}-{text[:4]}"
    if precision == "year":
        return text[:4]
    return NOT_KNOWN


def date_time(text: str | None) -> str:
    """``03-Mar-2025 09:00`` (24-hour), or just the date when no time is recorded."""
    _, time, _ = parse(text)
    return f"{date(text)} {time}" if time else date(text)


def period(start: str | None, end: str | None) -> str:
    """A span: ``03-Mar-2025 09:00–09:25`` on one day, ``01-Mar-2025 10:00 – 04-Mar-2025 12:00`` across days."""
    if not start:
        return date_time(end) if end else NOT_KNOWN
    if not end:
        return date_time(start)
    first, first_time, _ = parse(start)
    last, last_time, _ = parse(end)
    if first and first == last and first_time and last_time:
        return f"{date_time(start)}–{last_time}"
    if first == last:
        return date_time(start)
    return f"{date_time(start)} – {date_time(end)}"


def years_between(born: dt.date, on: dt.date) -> int:
    """Whole years from ``born`` to ``on`` (a birthday counts from its day)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age(birth: str | None, today: dt.date, until: str | None = None) -> str:
    """Age in years; children under 2 in months, under a month in weeks, under a week in days (UI-GUIDE §3)."""
    born, _, precision = parse(birth)
    if precision != "day":
        return ""
    end = parse(until)[0] if until else today
    end = end or today
    days = (end - born).days
    if days < 0:
        return ""
    years = years_between(born, end)
    if years >= 2:
        return f"{years}y"
    months = (end.year - born.year) * 12 + end.month - born.month - (end.day < born.day)
    if months >= 1:
        return f"{months}m"
    if days >= 7:
        return f"{days // 7}w"
    return f"{days}d"


def born(birth: str | None, today: dt.date, deceased: str | None = None) -> str:
    """``14-Jul-1945 (79y)``."""
    if not birth:
        return NOT_KNOWN
    years = age(birth, today, deceased)
    return f"{date(birth)} ({years})" if years else date(birth)


def number(value) -> str:
    """A measured number as recorded: 138 → "138", 6.9 → "6.9"."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def unit(quantity: dict | None) -> str:
    if not quantity:
        return ""
    text = quantity.get("unit") or quantity.get("code") or ""
    return UNIT_WORDS.get(text, UNIT_WORDS.get(quantity.get("code") or "", text))


def quantity(q: dict | None) -> str:
    """``{"value": 6.9, "unit": "%"}`` → ``6.9 %``; a comparator is kept (``<5 mg/L``)."""
    if not q or q.get("value") is None:
        return ""
    text = (q.get("comparator") or "") + number(q["value"])
    words = unit(q)
    return f"{text} {words}" if words else text


def grouped_digits(value: str | None) -> str:
    """An all-digit identifier in groups of three from the right (``1 000 001``); others as written."""
    if not value:
        return NOT_KNOWN
    if not value.isdigit() or len(value) < 5:
        return value
    head = len(value) % 3 or 3
    groups = [value[:head]] + [value[i:i + 3] for i in range(head, len(value), 3)]
    return " ".join(groups)


def system_name(system: str | None) -> str:
    return CODE_SYSTEMS.get(system or "", system or "")


def title_case(code: str | None) -> str:
    """A FHIR code for people: ``in-progress`` → ``In progress``."""
    if not code:
        return NOT_KNOWN
    words = code.replace("-", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")


def long_date(text: str | None) -> str:
    """``2024-09-09T10:00:00Z`` → ``9 September 2024``: the patient portal's everyday form (UI-GUIDE §2), which
    no one misreads; partial dates keep their precision (``September 2024``, ``2024``)."""
    value, _, precision = parse(text)
    if precision == "day":
        return f"{value.day} {MONTH_NAMES[value.month - 1]} {value.year}"
    if precision == "month" and 1 <= int(text[5:7]) <= 12:
        return f"{MONTH_NAMES[int(text[5:7]) - 1]} {text[:4]}"
    if precision == "year":
        return text[:4]
    return NOT_KNOWN
