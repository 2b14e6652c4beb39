"""Which resources an export holds, one SQL query per resource type, built from the same search filters FHIR
search uses: the token's access policy (``search_filters``), `_typeFilter` queries parsed as searches, `_since`,
and for Patient and Group exports the patients' compartments.

Bulk Data IG 2.0.0 export.html: "For Patient-level requests and Group-level requests associated with groups of
patients, the Patient Compartment SHOULD be used as a point of reference for recommended resources to be returned
… Other resources outside of the patient compartment that are helpful in interpreting the patient data (such as
Organization and Practitioner) MAY also be returned." Here those are the resources of types outside every
patient compartment that the exported records refer to (a MedicationRequest's medication, an Encounter's
practitioner, location and service provider, a Condition's recorder …), found in their JSON as they are written.
And: "the server SHALL include all available Provenance resources whose Provenance.target is a resource in the Patient
compartment in a patient level export request".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..fhir.access import SEARCH, AccessPolicy
from ..store import Store
from ..store.compartment import COMPARTMENT_TYPES
from ..store.errors import Forbidden
from ..store.query import Criterion, parse_search
from ..store.search import AnyOf, Compartment, Filter, compile_where, in_values
from .parameters import SYSTEM, ExportRequest


@dataclass(frozen=True)
class TypeQuery:
    """The SELECT of one type's resources: ``SELECT r.json FROM resources r WHERE {where}``."""

    resource_type: str
    where: str
    args: tuple

    def rows(self, conn, batch: int) -> Iterator[list[tuple[str]]]:
        """The stored JSON in batches, read by one cursor: memory holds one batch whatever the export's size."""
        cursor = conn.execute(f"SELECT r.json FROM resources r WHERE {self.where}", self.args)
        while rows := cursor.fetchmany(batch):
            yield rows


def export_types(store: Store, policy: AccessPolicy, wanted: ExportRequest) -> list[str]:
    """The types to export: those named by `_type`, or every stored type. A type the token may not search is
    refused when named (403, as search refuses it) and left out otherwise (export.html: the server SHALL return
    all supported resources within the scope of the client authorization)."""
    if wanted.types is not None:
        for rtype in wanted.types:
            policy.check(SEARCH, rtype)
        return sorted(wanted.types)
    # From the (type, last_updated) index alone; a type whose resources are all deleted gives an empty file, dropped.
    stored = [row[0] for row in store.conn.execute("SELECT DISTINCT type FROM resources")]
    allowed = []
    for rtype in sorted(stored):
        try:
            policy.check(SEARCH, rtype)
        except Forbidden:
            continue
        allowed.append(rtype)
    return allowed


def type_query(policy: AccessPolicy, wanted: ExportRequest, rtype: str, transaction_time: str,
               patients: list[str] | None, referenced: set[str] = frozenset()) -> TypeQuery:
    """The query of one type. ``patients`` confines a Patient or Group export (None: every patient);
    ``referenced`` are the ids of a type outside every compartment that the exported records refer to."""
    criteria, filters = _type_filter(wanted, rtype)
    filters = policy.search_filters(rtype) + filters
    if wanted.level != SYSTEM and patients is not None and rtype in COMPARTMENT_TYPES and rtype != "Provenance":
        filters += (Compartment(tuple(patients)),)  # indexed: it can drive the query
    where, args = compile_where(rtype, criteria, filters, policy.search_filters)
    parts, args = [where, "r.last_updated <= ?"], [*args, transaction_time]
    if wanted.since:
        parts.append("r.last_updated > ?")
        args.append(wanted.since)
    if wanted.level != SYSTEM:
        sql, more = _patients_part(rtype, patients, referenced)
        if sql:
            parts.append(sql)
            args.extend(more)
    return TypeQuery(rtype, " AND ".join(parts), tuple(args))


def references_to_follow(text: str, base: str) -> list[tuple[str, str]]:
    """(type, id) of the references in a record's JSON to types outside every patient compartment (relative, or
    absolute on this server's base), as Patient/$everything follows them."""
    pattern = _REFERENCE.get(base)
    if pattern is None:
        pattern = _REFERENCE[base] = re.compile(
            r'"reference":"(?:' + re.escape(base) + r'/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"')
    return [(rtype, rid) for rtype, rid in pattern.findall(text) if rtype not in COMPARTMENT_TYPES]


_REFERENCE: dict[str, re.Pattern] = {}


def _type_filter(wanted: ExportRequest, rtype: str) -> tuple[list, tuple[Filter, ...]]:
    """`_typeFilter` queries of the type, ORed: one query as plain criteria (chains allowed), several as an AnyOf."""
    queries = [parse_search(rtype, [tuple(pair) for pair in pairs], strict=True).criteria
               for pairs in wanted.type_filters.get(rtype, [])]
    if not queries:
        return [], ()
    if len(queries) == 1:
        return list(queries[0]), ()
    groups = tuple(tuple(c for c in query if isinstance(c, Criterion)) for query in queries)
    return [], (AnyOf(groups),)


def _in_compartments(alias: str, patients: list[str] | None) -> tuple[str, list]:
    """``{alias}`` (a row id) is in the compartment of one of the patients (None: of any patient)."""
    if patients is None:
        return f"{alias} IN (SELECT rid FROM compartment)", []
    among, args = in_values("patient_id", patients)
    return f"{alias} IN (SELECT rid FROM compartment WHERE {among})", list(args)


def _patients_part(rtype: str, patients: list[str] | None, referenced: set[str]) -> tuple[str, list]:
    """What confines a type to the patients' records beyond the Compartment filter; for a type outside every
    compartment, being referred to by the exported records."""
    if rtype == "Provenance":
        inside, args = _in_compartments("r.rid", patients)
        target, more = _in_compartments("t.rid", patients)
        return (f"({inside} OR EXISTS (SELECT 1 FROM idx_reference x JOIN resources t ON t.type = x.target_type "
                f"AND t.id = x.target_id WHERE x.rid = r.rid AND x.param = 'target' AND {target}))", args + more)
    if rtype in COMPARTMENT_TYPES:
        return _in_compartments("r.rid", None) if patients is None else ("", [])
    return "r.id IN (SELECT value FROM json_each(?))", [json.dumps(sorted(referenced))]


def deleted_ids(conn, policy: AccessPolicy, wanted: ExportRequest, rtype: str, transaction_time: str) -> Iterator[str]:
    """Ids of the type's resources deleted after `_since` (export.html, `deleted`: "When a _since timestamp is
    supplied in the export request, this array SHOULD be populated"). Only in a system export, and only of types the
    token reads whole: a deleted resource has no content left to judge a narrower scope or a compartment by."""
    if wanted.level != SYSTEM or not wanted.since or wanted.type_filters.get(rtype) \
            or not policy.reads_everything(rtype):
        return iter(())
    return (row[0] for row in conn.execute(
        "SELECT id FROM resources WHERE type = ? AND deleted = 1 AND last_updated > ? AND last_updated <= ?",
        (rtype, wanted.since, transaction_time)))
