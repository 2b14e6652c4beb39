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
from .searchparams import COMPOSITE, DATE, NUMBER, QUANTITY, REFERENCE, STRING, TOKEN, URI, SearchParam, params_for
from .ucum import UCUM_SYSTEM, canonical

INDEX_FORMAT = 4  # raise when index_rows writes other rows for the same definitions: stored data is reindexed
LOW_BOUND = "0001-01-01T00:00:00"
LOWEST, HIGHEST = -1e308, 1e308  # the open ends of a Range
HIGH_BOUND = "9999-12-31T23:59:59"

_FILTER = re.compile(r"^(\w+)\[(\w+)=([^\]]+)\]$")
_STEP = re.compile(r"[^.\[]+(?:\[[^\]]*\])?")  # a dot inside [url=http://…] does not end a step
_DATE_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


@functools.cache
def _steps(path: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """A dotted path parsed once into (field, filter key, filter value) steps."""
    steps = []
    for step in _STEP.findall(path):
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
            value = item.get(field) if not field.endswith("[x]") else _choice(item, field[:-3])
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


def _choice(item: dict, name: str) -> Any:
    """The value of a choice element of any type (``value[x]``: valueCoding, valueString …), or None."""
    for key, value in item.items():
        if key.startswith(name) and key[len(name):len(name) + 1].isupper():
            return value
    return None


@functools.lru_cache(maxsize=65536)  # the same names, cities and code displays come back again and again
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


def _token_texts(value: Any) -> Iterator[str]:
    """R4 §3.1.1.4.6 token:text reads CodeableConcept.text, Coding.display and Identifier.type.text."""
    if not isinstance(value, dict):
        return
    if isinstance(value.get("text"), str):
        yield value["text"]
    if isinstance(value.get("display"), str):
        yield value["display"]
    for coding in value.get("coding", ()) if isinstance(value.get("coding"), list) else ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            yield coding["display"]
    kind = value.get("type")
    if isinstance(kind, dict) and isinstance(kind.get("text"), str):
        yield kind["text"]


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
        elif isinstance(value, dict) and ("start" in value or "end" in value):  # Period
            start = date_range(value["start"])[0] if value.get("start") else LOW_BOUND
            end = date_range(value["end"])[1] if value.get("end") else HIGH_BOUND
            yield start, end
    except ValueError:
        return


def _quantities(value: Any, kind: str) -> Iterator[tuple]:
    """(system, code, low, high, canon, canon_low, canon_high) of a number, a Quantity or a Range."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield None, None, float(value), float(value), None, float(value), float(value)
    elif isinstance(value, dict) and kind == QUANTITY:
        if isinstance(value.get("value"), (int, float)) and not isinstance(value["value"], bool):
            yield quantity_row(value.get("system"), value.get("code") or value.get("unit"), value["value"],
                               value["value"])
        elif "low" in value or "high" in value:  # Range
            low, high = value.get("low") or {}, value.get("high") or {}
            unit = low if ("code" in low or "unit" in low) else high
            low_value, high_value = low.get("value", LOWEST), high.get("value", HIGHEST)
            if isinstance(low_value, (int, float)) and isinstance(high_value, (int, float)):
                yield quantity_row(unit.get("system"), unit.get("code") or unit.get("unit"), low_value, high_value)


@functools.lru_cache(maxsize=65536)  # one value is read by several parameters (value-, combo-, code-value-…)
def quantity_row(system: str | None, code: str | None, low: float, high: float) -> tuple:
    """A quantity's row: its system and code (the unit text when it has no code), and its canonical form."""
    canon, canon_low, canon_high = None, float(low), float(high)
    reduced = canonical(code) if system == UCUM_SYSTEM and code else None
    if reduced:
        canon, factor = reduced
        canon_low, canon_high = scaled(low, factor), scaled(high, factor)
    return system, code, float(low), float(high), canon, canon_low, canon_high


def scaled(number: float, factor) -> float:
    """``number`` × ``factor``, rounded to 12 significant digits so that 5 mg and 0.005 g are one value."""
    if number in (LOWEST, HIGHEST):
        return number
    return float(f"{float(number) * float(factor):.12g}")


def _references(value: Any, targets: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        parsed = parse_reference(value["reference"])
        if parsed and (not targets or parsed[0] in targets):
            yield parsed


def index_rows(resource: dict) -> dict[str, list[tuple]]:
    """Rows for each index table (without the rid column) of one resource."""
    rtype = resource["resourceType"]
    rows: dict[str, list[tuple]] = {"idx_token": [], "idx_string": [], "idx_date": [], "idx_reference": [],
                                     "idx_quantity": [], "idx_composite": [], "compartment": []}
    params, by_head, always = _params_by_head(rtype)
    # Most parameters read elements this resource lacks: visit only those that start at an element it has,
    # in definition order so the rows come out the same whatever the order of the resource's keys.
    wanted = {index for key in resource for index in by_head.get(key, ())}
    for index in sorted(wanted.union(always)):
        _index_param(rtype, params[index], resource, rows)
    for patient_id in sorted(compartment_patients(resource)):
        rows["compartment"].append((rtype, patient_id))
    return rows


@functools.cache
def _params_by_head(rtype: str) -> tuple[tuple[SearchParam, ...], dict[str, tuple[int, ...]], frozenset[int]]:
    """The parameters of a type; the positions of those under each top-level element their paths start at; and
    of those read whatever the resource holds (a composite of the resource itself, a choice of any type)."""
    params = tuple(params_for(rtype).values())
    by_head: dict[str, list[int]] = {}
    always = set()
    for index, param in enumerate(params):
        heads = {_steps(path)[0][0] if path else "" for path in param.paths}
        if "" in heads or any(head.endswith("[x]") for head in heads):
            always.add(index)
            continue
        for head in heads:
            by_head.setdefault(head, []).append(index)
    return params, {head: tuple(found) for head, found in by_head.items()}, frozenset(always)


def _index_param(rtype: str, param: SearchParam, resource: dict, rows: dict[str, list[tuple]]) -> None:
    if param.stored_as and param.kind != TOKEN:
        return  # the rows of the parameters it unites answer it (searchparams._unions)
    if param.kind == COMPOSITE:
        _index_composite(rtype, param, resource, rows["idx_composite"])
        return
    values = [value for path in param.paths for value in values_at(resource, path)]
    if not values:
        return
    name, kind = param.name, param.kind
    if kind in (TOKEN, URI):
        table, found = "idx_token", [(rtype, name, s, c) for v in values for s, c in _tokens(v)]
        if not param.stored_as:
            texts = {text: None for v in values for text in _token_texts(v)}
            rows["idx_string"].extend((rtype, f"{name}:text", text, normalize_string(text)) for text in texts)
        # R4 §3.1.1.4.10 identifier:of-type=system|code|value: an Identifier's type coding with its value.
        found += [(rtype, f"{name}:of-type", coding.get("system"), f"{coding['code']}|{v['value']}")
                  for v in values if isinstance(v, dict) and isinstance(v.get("type"), dict) and "value" in v
                  for coding in v["type"].get("coding", []) if coding.get("code")]
    elif kind == STRING:
        table, found = "idx_string", [(rtype, name, s, normalize_string(s)) for v in values for s in _strings(v)]
    elif kind == DATE:
        table, found = "idx_date", [(rtype, name, a, b) for v in values for a, b in _dates(v)]
    elif kind == REFERENCE:
        table, found = "idx_reference", [(rtype, name, t, i) for v in values for t, i in _references(v, param.targets)]
        # R4 §3.1.1.4.8 reference:identifier reads Reference.identifier; few references carry one.
        logical = [(rtype, f"{name}:identifier", s, c) for v in values if isinstance(v, dict) and "identifier" in v
                   for s, c in _tokens(v["identifier"])]
        rows["idx_token"].extend(dict.fromkeys(logical))
    elif kind in (NUMBER, QUANTITY):
        table, found = "idx_quantity", [(rtype, name, *q) for v in values for q in _quantities(v, kind)]
    else:
        return
    rows[table].extend(dict.fromkeys(found) if len(found) > 1 else found)  # each distinct row once, in order


def _index_composite(rtype: str, param: SearchParam, resource: dict, rows: list[tuple]) -> None:
    """Rows pairing the first component's tokens with the second's values, read from the same element (the
    resource itself, or each ``component`` of an Observation)."""
    if len(param.components) != 2 or param.components[0].kind != TOKEN:
        return
    first, second = param.components
    for path in param.paths:
        for element in ([resource] if path == "" else values_at(resource, path)):
            if not isinstance(element, dict):
                continue
            values = [v for p in second.paths for v in values_at(element, p)]  # the rarer half first
            if not values:
                continue
            codes = [t for p in first.paths for v in values_at(element, p) for t in _tokens(v)]
            parts = [_second_part(second.kind, v) for v in values]
            found = [(rtype, param.name, system, code, *part) for system, code in codes for each in parts
                     for part in each]
            rows.extend(dict.fromkeys(found))


_EMPTY_SECOND = (None,) * 10


def _second_part(kind: str, value: Any) -> list[tuple]:
    """The v_* columns of idx_composite for one value of the second component."""
    if kind == TOKEN:
        return [(s, c, *_EMPTY_SECOND[2:]) for s, c in _tokens(value)]
    if kind in (NUMBER, QUANTITY):
        return [(q[0], q[1], *q[2:], None, None, None) for q in _quantities(value, kind)]
    if kind == DATE:
        return [(*_EMPTY_SECOND[:8], a, b, None) for a, b in _dates(value)]
    if kind == STRING:
        return [(None, s, *_EMPTY_SECOND[2:9], normalize_string(s)) for s in _strings(value)]
    return []


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
