"""The search parameters of FHIR R4, loaded as data (the patient compartment is data too: see compartment.py).

``seed_data/fhir/search_parameters.json`` is made from the published R4 SearchParameter definitions by
``seed_data/fhir/make_search_parameters.py``, and ``us_core_search_parameters.json`` from US Core 6.1's own by
``make_us_core_search_parameters.py`` (source and licence are named in each file). For each resource type it
lists every core parameter with its code, type, canonical url, description, target types and the element paths
it reads (FHIRPath expressions translated into dotted paths, choice types spelled out, ``step[key=value]``
filters). Parameters whose expression could not be translated are listed there under ``omitted`` with the reason,
and are refused by strict search like any unknown parameter. The index tables are filled from these definitions
on every write, so a search never scans JSON; ``DIGEST`` changes when they do, and the store then refills its
index tables (see reindex.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "fhir" / "search_parameters.json"
US_CORE_FILE = DATA_FILE.with_name("us_core_search_parameters.json")

TOKEN, STRING, DATE, REFERENCE, URI = "token", "string", "date", "reference", "uri"
NUMBER, QUANTITY, COMPOSITE = "number", "quantity", "composite"


@dataclass(frozen=True)
class Component:
    """One part of a composite parameter: its definition, type and paths below the composite's element."""

    definition: str
    kind: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class SearchParam:
    name: str
    kind: str
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()  # reference params: allowed target types (empty = any)
    description: str = ""
    url: str = ""
    components: tuple[Component, ...] = ()  # composite params only
    stored_as: tuple[str, ...] = ()  # a union of other parameters: their rows answer it (see _unions)


def _param(entry: dict) -> SearchParam:
    return SearchParam(
        entry["code"], entry["type"], tuple(entry["paths"]), tuple(entry.get("target", ())),
        entry.get("description", ""), entry["url"],
        tuple(Component(c["definition"], c["type"], tuple(c["paths"])) for c in entry.get("components", ())))


def _load(*paths: Path) -> tuple[list[dict], str]:
    digest = hashlib.sha256()
    found = []
    for path in paths:
        raw = path.read_bytes()
        data = json.loads(raw)
        if data["source"]["fhirVersion"] != "4.0.1":
            raise ValueError(f"{path} does not hold FHIR R4 search parameters")
        digest.update(raw)
        found.append(data)
    return found, digest.hexdigest()[:16]


(_DATA, _US_CORE), DIGEST = _load(DATA_FILE, US_CORE_FILE)
"""DIGEST changes whenever the definitions the index is filled from do."""

# Parameters answered from resource columns rather than index tables.
SPECIAL = {"_id": TOKEN, "_lastUpdated": DATE}

COMMON = tuple(_param(entry) for entry in _DATA["common"] if entry["code"] not in SPECIAL)
"""Parameters every resource type supports (besides _id and _lastUpdated, which read resource columns)."""

SPECIAL_URLS = {entry["code"]: entry["url"] for entry in _DATA["common"] if entry["code"] in SPECIAL}
SPECIAL_DOCS = {entry["code"]: entry["description"] for entry in _DATA["common"] if entry["code"] in SPECIAL}

OMITTED: tuple[dict, ...] = tuple(_DATA["omitted"]) + tuple(_US_CORE["omitted"])
"""R4 parameters whose expressions this server cannot index, each with the reason."""

_COMMON_BY_NAME = {p.name: p for p in COMMON}
# US Core 6.1's own parameters (race, ethnicity, asserted-date …) come after the R4 ones of each type.
_BY_TYPE = {rtype: {**_COMMON_BY_NAME, **{e["code"]: _param(e) for e in entries},
                    **{e["code"]: _param(e) for e in _US_CORE["resource"].get(rtype, ())}}
            for rtype, entries in _DATA["resource"].items()}


def _reads(param: SearchParam) -> frozenset:
    """What a parameter reads: its paths, and for a composite each element path with its components' paths."""
    if param.kind != COMPOSITE:
        return frozenset(param.paths)
    parts = tuple((c.kind, c.paths) for c in param.components)
    return frozenset((path, parts) for path in param.paths)


def _unions(params: dict[str, SearchParam]) -> dict[str, SearchParam]:
    """R4 defines some parameters as the union of others (``combo-value-quantity`` reads what ``value-quantity``
    and ``component-value-quantity`` read). Their rows would repeat the others', so they are answered from the
    others' rows instead. Tokens keep rows of their own (access checks read a resource's token rows by name);
    only the texts of their codes (``:text``) are shared."""
    found = dict(params)
    for name, param in params.items():
        reads = _reads(param)
        parts = [other for other in params.values() if other.name != name and other.kind == param.kind
                 and other.targets == param.targets and _reads(other) and _reads(other) < reads]
        if len(parts) >= 2 and frozenset().union(*(_reads(p) for p in parts)) == reads:
            found[name] = replace(param, stored_as=tuple(p.name for p in parts))
    return found


_BY_TYPE = {rtype: _unions(params) for rtype, params in _BY_TYPE.items()}


def params_for(resource_type: str) -> dict[str, SearchParam]:
    """The indexed search parameters of a resource type, by name (common ones included)."""
    return _BY_TYPE.get(resource_type, _COMMON_BY_NAME)


def searchable_types() -> tuple[str, ...]:
    """The resource types with search parameters of their own, in alphabetical order."""
    return tuple(_BY_TYPE)


def omitted_for(resource_type: str, name: str) -> str | None:
    """Why an R4 parameter of this type is not supported (its expression could not be indexed), or None."""
    for entry in OMITTED:
        if entry["code"] == name and entry["base"] in (resource_type, "Resource", "DomainResource"):
            return entry["reason"]
    return None


# Every search parameter has a kind; `uri` values are stored and matched like tokens without a system;
# numbers are quantities without a unit.
INDEX_TABLE = {TOKEN: "idx_token", URI: "idx_token", STRING: "idx_string", DATE: "idx_date",
               REFERENCE: "idx_reference", NUMBER: "idx_quantity", QUANTITY: "idx_quantity",
               COMPOSITE: "idx_composite"}
