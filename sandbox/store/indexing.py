"""Turn a resource into rows of the search index tables, from the definitions in searchparams.py."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .compartment import COMPARTMENT_PARAMS
from .searchparams import DATE, REFERENCE, STRING, TOKEN, URI, SearchParam, params_for

LOW_BOUND = "0001-01-01T00:00:00"
HIGH_BOUND = "9999-12-31T23:59:59"

_FILTER = re.compile(r"^(\w+)\[(\w+)=([\w-]+)\]$")
_DATE_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


@functools.cache
def _steps(path: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """A dotted path parsed once into (field, filter key, filter value) steps."""
    steps = []
    for step in path.split("."):
        match = _FILTER.match(step)
        steps.append(match.groups() if match else (step, None, None))
    return tuple(steps)


def values_at(resource: dict, path: str) -> list[Any]:
    """Values found at a dotted path; lists are flattened, ``step[field=value]`` filters elements."""
    current: list[Any] = [resource]
    for field, key, wanted in _steps(path):
        found: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            value = item.get(field)
            if value is None:
                continue
            if key is None:
                if isinstance(value, list):
                    found.extend(value)
                else:
                    found.append(value)
            else:
                found.extend(e for e in (value if isinstance(value, list) else [value])
                             if isinstance(e, dict) and e.get(key) == wanted)
        if not found:
            return found
        current = found
    return current


def normalize_string(text: str) -> str:
    """Case- and accent-insensitive form used by string search (FHIR R4 §3.1.1.5.3)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


@functools.lru_cache(maxsize=65536)
def date_range(text: str) -> tuple[str, str]:
    """The half-open UTC range [start, end) a FHIR date, dateTime or instant stands for.

    Precision sets the width: "2020" covers the whole year, "2020-03-04" the whole day.
    Raises ValueError for text that is not a FHIR date.
    """
    match = _DATE_RE.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a valid date")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    y = int(year)
    if month is None:
        return _fmt(dt.datetime(y, 1, 1)), _fmt_next(dt.datetime(y, 1, 1), years=1)
    m = int(month)
    if day is None:
        start = dt.datetime(y, m, 1)
        return _fmt(start), _fmt_next(start, months=1)
    start = dt.datetime(y, m, int(day), int(hour or 0), int(minute or 0), int(second or 0))
    if zone:
        offset = dt.timedelta(0) if zone == "Z" else _offset(zone)
        start = start - offset
    if hour is None:
        width = dt.timedelta(days=1)
    elif second is None:
        width = dt.timedelta(minutes=1)
    else:
        width = dt.timedelta(seconds=1)
    return _fmt(start), _fmt(start + width)


def _offset(zone: str) -> dt.timedelta:
    sign = -1 if zone[0] == "-" else 1
    hours, minutes = zone[1:].split(":")
    return sign * dt.timedelta(hours=int(hours), minutes=int(minutes))


def _fmt(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")


def _fmt_next(start: dt.datetime, years: int = 0, months: int = 0) -> str:
    month_index = start.year * 12 + start.month - 1 + months + 12 * years
    year, month = divmod(month_index, 12)
    if year > 9999:
        return HIGH_BOUND
    return _fmt(dt.datetime(year, month + 1, 1))


def parse_reference(reference: str) -> tuple[str, str] | None:
    """(type, id) of a literal reference: relative, absolute or versioned. None for contained or urn refs."""
    if not reference or reference.startswith("#") or reference.startswith("urn:"):
        return None
    parts = reference.split("?")[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]


def _tokens(value: Any) -> Iterator[tuple[str | None, str]]:
    if isinstance(value, bool):
        yield None, "true" if value else "false"
    elif isinstance(value, str):
        yield None, value
    elif isinstance(value, dict):
        if "coding" in value:
            for coding in value["coding"]:
                yield from _tokens(coding)
        elif "code" in value:
            yield value.get("system"), value["code"]
        elif "value" in value and isinstance(value["value"], str):  # Identifier, ContactPoint
            yield value.get("system"), value["value"]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in ("text", "family", "given", "prefix", "suffix", "line", "city", "district", "state",
                    "postalCode", "country"):
            part = value.get(key)
            for item in part if isinstance(part, list) else [part]:
                if isinstance(item, str):
                    yield item


def _dates(value: Any) -> Iterator[tuple[str, str]]:
    try:
        if isinstance(value, str):
            yield date_range(value)
        elif isinstance(value, dict):  # Period
            start = date_range(value["start"])[0] if value.get("start") else LOW_BOUND
            end = date_range(value["end"])[1] if value.get("end") else HIGH_BOUND
            yield start, end
    except ValueError:
        return


def _references(value: Any, targets: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        parsed = parse_reference(value["reference"])
        if parsed and (not targets or parsed[0] in targets):
            yield parsed


def index_rows(resource: dict) -> dict[str, list[tuple]]:
    """Rows for each index table (without the rid column) of one resource."""
    rtype = resource["resourceType"]
    rows: dict[str, list[tuple]] = {"idx_token": [], "idx_string": [], "idx_date": [], "idx_reference": [],
                                     "compartment": []}
    for param in params_for(rtype).values():
        _index_param(rtype, param, resource, rows)
    for patient_id in sorted(compartment_patients(resource)):
        rows["compartment"].append((rtype, patient_id))
    return rows


def _index_param(rtype: str, param: SearchParam, resource: dict, rows: dict[str, list[tuple]]) -> None:
    values = [value for path in param.paths for value in values_at(resource, path)]
    if not values:
        return
    name, kind = param.name, param.kind
    if kind in (TOKEN, URI):
        table, found = "idx_token", [(rtype, name, s, c) for v in values for s, c in _tokens(v)]
    elif kind == STRING:
        table, found = "idx_string", [(rtype, name, s, normalize_string(s)) for v in values for s in _strings(v)]
    elif kind == DATE:
        table, found = "idx_date", [(rtype, name, a, b) for v in values for a, b in _dates(v)]
    elif kind == REFERENCE:
        table, found = "idx_reference", [(rtype, name, t, i) for v in values for t, i in _references(v, param.targets)]
    else:
        return
    rows[table].extend(dict.fromkeys(found) if len(found) > 1 else found)  # each distinct row once, in order


@dataclass(frozen=True)
class Membership:
    """Why a resource is in a patient's compartment: ``param`` (a compartment parameter of the R4 Patient
    CompartmentDefinition, or ``None`` for a Patient in its own) refers to Patient/``patient_id``."""

    patient_id: str
    param: str | None

    def describe(self) -> str:
        return f"Patient/{self.patient_id} ({self.param or 'the Patient itself'})"


def compartment_memberships(resource: dict) -> list[Membership]:
    """Every patient reference that puts this resource in a Patient compartment, in definition order."""
    rtype = resource["resourceType"]
    found = [Membership(resource["id"], None)] if rtype == "Patient" and resource.get("id") else []
    for param in COMPARTMENT_PARAMS.get(rtype, ()):
        for path in param.paths:
            for value in values_at(resource, path):
                found.extend(Membership(target_id, param.code) for _, target_id in _references(value, ("Patient",)))
    return list(dict.fromkeys(found))


def compartment_patients(resource: dict) -> set[str]:
    """Ids of the patients whose compartment holds this resource (a Patient is in its own)."""
    return {membership.patient_id for membership in compartment_memberships(resource)}
