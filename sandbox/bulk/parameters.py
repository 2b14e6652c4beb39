"""The kick-off request of a bulk export (Bulk Data Access IG 2.0.0, export.html §Bulk Data Kick-off Request):
its parameters from the query string (GET) or a Parameters resource (POST), checked before any job is made.

The IG's rule for what a server cannot do: "A server that is unable to support [a parameter] SHOULD return an
error and FHIR OperationOutcome … When a `Prefer: handling=lenient` header is included in the request, the server
MAY process the request instead of returning an error." So, as for search, a parameter or value this server
does not support is a 400 naming it, unless the request is lenient: then it is left out, and the manifest's
error file says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qsl

from ..fhir.interactions import parse_instant
from ..store.compartment import COMPARTMENT_TYPES
from ..store.errors import InvalidRequest, NotSupported
from ..store.query import RESULT_PARAMS, Criterion, UnsupportedSearch, parse_search
from ..store.resource_types import STORABLE_TYPES

SYSTEM, PATIENT, GROUP = "system", "patient", "group"
# "The server SHALL accept the full content type of application/fhir+ndjson as well as the abbreviated
# representations application/ndjson and ndjson."
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
# includeAssociatedData values this server supports (ValueSet include-associated-data). Relevant Provenance is
# what a Patient or Group export includes anyway (export.html: without a provenance value the server SHALL
# include the Provenance whose target is in the Patient compartment).
ASSOCIATED_DATA = ("RelevantProvenanceResources",)
# Parameters whose values are comma-separated and may be repeated (export.html: "treat the values provided as
# if they were comma delimited values within a single instance of the parameter").
LISTS = ("_type", "_typeFilter", "_elements", "includeAssociatedData")
FORMAT_PARAMS = ("_format", "_pretty")
# _typeFilter queries are joined with commas, and a query's own values may hold commas once the URL is decoded
# (`Observation?category=laboratory,vital-signs`): a comma separates queries only where the next one begins.
TYPE_FILTER_SPLIT = re.compile(r",(?=[A-Z][A-Za-z]+\?)")


@dataclass
class ExportRequest:
    """A checked kick-off: what to export, stored with the job as plain data."""

    level: str  # system | patient | group
    url: str  # the kick-off URL (for the manifest's `request`)
    group_id: str | None = None
    types: list[str] | None = None  # None: every type the token may read
    since: str | None = None
    type_filters: dict[str, list[list[list[str]]]] = field(default_factory=dict)  # type → queries → (name, value)
    elements: list[str] = field(default_factory=list)
    patients: list[str] | None = None  # ids named by the `patient` parameter
    ignored: list[str] = field(default_factory=list)  # what lenient handling left out, for the error file

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ExportRequest:
        return cls(**data)


def from_parameters(body: object) -> list[tuple[str, str]]:
    """The (name, value) pairs of a POSTed Parameters resource (export.html: a server MAY support POST with
    parameters in a FHIR Parameters resource)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest("A POSTed $export takes a FHIR Parameters resource as its body")
    pairs = []
    for item in body.get("parameter") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidRequest("Each Parameters.parameter of an $export needs a name and a value")
        values = [v for k, v in item.items() if k.startswith("value")]
        if len(values) != 1:
            raise InvalidRequest(f"Parameter '{item['name']}' of an $export needs exactly one value[x]")
        value = values[0]
        if isinstance(value, dict):  # valueReference
            value = value.get("reference")
        if not isinstance(value, str):
            raise InvalidRequest(f"Parameter '{item['name']}' has a value this server cannot read as text")
        pairs.append((item["name"], value))
    return pairs


def parse_kickoff(level: str, url: str, params: Sequence[tuple[str, str]], *, strict: bool, posted: bool,
                  group_id: str | None = None) -> ExportRequest:
    """Check every parameter; raise a 400 (strict) or note it in ``ignored`` (lenient) when it cannot be met."""
    wanted = ExportRequest(level, url, group_id)
    lists: dict[str, list[str]] = {name: [] for name in LISTS}
    refuse = _refuser(wanted, strict)
    for name, value in params:
        if name in LISTS:
            items = TYPE_FILTER_SPLIT.split(value) if name == "_typeFilter" else value.split(",")
            lists[name] += [item.strip() for item in items if item.strip()]
        elif name == "_outputFormat":
            if value not in OUTPUT_FORMATS:
                refuse(f"_outputFormat '{value}' is not supported; this server writes {', '.join(OUTPUT_FORMATS)} "
                       "(all the same NDJSON)")
        elif name == "_since":
            if wanted.since is not None:
                raise InvalidRequest("_since may be given once")
            wanted.since = parse_instant("_since", value)
        elif name == "patient":
            if level == SYSTEM:
                refuse("The patient parameter does not apply to a system-level export (use Patient/$export)")
            elif not posted:
                refuse("The patient parameter is taken only in the Parameters body of a POST kick-off "
                       "(Bulk Data IG export.html)")
            else:
                wanted.patients = [*(wanted.patients or []), _patient_id(value)]
        elif name in FORMAT_PARAMS:
            continue
        else:
            refuse(f"Parameter '{name}' is not a parameter of $export; it takes _outputFormat, _since, _type, "
                   "_typeFilter, _elements, includeAssociatedData and (POST, Patient and Group level) patient")
    wanted.types = _types(lists["_type"], level, refuse) if lists["_type"] else None
    wanted.type_filters = _type_filters(lists["_typeFilter"], wanted.types, refuse)
    wanted.elements = _elements(lists["_elements"], refuse)
    for value in lists["includeAssociatedData"]:
        if value not in ASSOCIATED_DATA:
            refuse(f"includeAssociatedData '{value}' is not supported; this server supports "
                   f"{', '.join(ASSOCIATED_DATA)} (which Patient and Group exports include anyway)")
    return wanted


def _refuser(wanted: ExportRequest, strict: bool):
    def refuse(reason: str) -> None:
        if strict:
            raise NotSupported(reason + ". Send 'Prefer: handling=lenient' to have it ignored instead.")
        wanted.ignored.append(reason)
    return refuse


def _patient_id(reference: str) -> str:
    kind, _, rid = reference.rpartition("/")
    if not rid or (kind and not kind.endswith("Patient")):
        raise InvalidRequest(f"The patient parameter takes references to patients (Patient/123), not '{reference}'")
    return rid


def _types(names: list[str], level: str, refuse) -> list[str] | None:
    known = []
    for name in dict.fromkeys(names):
        if name in STORABLE_TYPES:
            known.append(name)
        else:
            refuse(f"_type names '{name}', which is not a FHIR R4 resource type this server stores")
    if level != SYSTEM and known and not set(known) & COMPARTMENT_TYPES:
        refuse(f"_type names only types outside the Patient compartment ({', '.join(known)}); a {level}-level "
               "export holds patients' records and what they refer to")
    return known or None


def _type_filters(queries: list[str], types: list[str] | None, refuse) -> dict[str, list[list[list[str]]]]:
    """``Type?search`` queries, checked like a strict search. Result parameters are refused (export.html: "FHIR
    search response parameters such as _include and _sort SHALL NOT be used")."""
    filters: dict[str, list[list[list[str]]]] = {}
    chained: dict[str, bool] = {}
    for query in queries:
        rtype, mark, text = query.partition("?")
        if not mark or rtype not in STORABLE_TYPES:
            refuse(f"_typeFilter '{query}' is not of the form [type]?[search parameters]")
            continue
        if types is not None and rtype not in types:
            refuse(f"_typeFilter '{query}' is for {rtype}, which _type leaves out")
            continue
        pairs = parse_qsl(text, keep_blank_values=True)
        shaping = [name for name, _ in pairs if name.partition(":")[0] in RESULT_PARAMS]
        if shaping or not pairs:
            refuse(f"_typeFilter '{query}' " + (f"uses {', '.join(shaping)}: result parameters are not allowed"
                                                if shaping else "has no search parameters"))
            continue
        try:
            parsed = parse_search(rtype, pairs, strict=True)
        except UnsupportedSearch as exc:
            refuse(f"_typeFilter '{query}': {exc.message}")
            continue
        filters.setdefault(rtype, []).append([list(pair) for pair in pairs])
        chained.setdefault(rtype, False)
        chained[rtype] |= not all(isinstance(c, Criterion) for c in parsed.criteria)
    for rtype, queries in list(filters.items()):
        if chained[rtype] and len(queries) > 1:  # ORed queries are checked row by row: plain parameters only
            del filters[rtype]
            refuse(f"_typeFilter: the {len(queries)} queries of {rtype} are ORed, and then chained parameters and "
                   "_has are not supported (one query of a type may use them)")
    return filters


def _elements(names: list[str], refuse) -> list[str]:
    """Root elements, as `element` or `Type.element` (export.html: only root elements are permitted)."""
    kept = []
    for name in names:
        rtype, dot, element = name.rpartition(".")
        if not element or (dot and rtype not in STORABLE_TYPES):
            refuse(f"_elements '{name}' is not a root element ([element] or [type].[element])")
            continue
        kept.append(name)
    return kept
