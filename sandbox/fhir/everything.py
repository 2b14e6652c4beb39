"""``Patient/[id]/$everything`` (FHIR R4 patient-operation-everything): the patient, every resource in
the patient's compartment, and the resources outside any patient compartment that those reference
directly (practitioners, organizations, locations, medications …), as a paged searchset Bundle.

Order: the patient, then the referenced resources (few, and needed to read the rest), then the
compartment grouped by type."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..store.compartment import COMPARTMENT_TYPES
from ..store.errors import InvalidRequest
from ..store.resource_types import STORABLE_TYPES
from ..store.resources import Stored
from .access import READ
from .bundles import bundle, page_links, search_entry
from .interactions import Answer, Context, paging, parse_instant


def everything(ctx: Context, patient_id: str, params: Sequence[tuple[str, str]]) -> Answer:
    patient = ctx.store.read("Patient", patient_id)
    ctx.policy.check(READ, "Patient", patient.resource)
    count, offset = paging(ctx, params)
    since, types = None, None
    for name, value in params:
        if name == "_since":
            since = parse_instant("_since", value)
        elif name == "_type":
            types = {t.strip() for t in value.split(",") if t.strip()}
            unknown = sorted(types - STORABLE_TYPES)
            if unknown:
                raise InvalidRequest(f"_type names unknown resource types: {', '.join(unknown)}")
    members = _compartment(ctx, patient)
    resources = [patient, *_referenced(ctx, members), *members[1:]]
    selected = [s for s in resources
                if (types is None or s.type in types) and (since is None or s.last_updated >= since)
                and ctx.policy.may_see(s)]
    page = selected[offset:offset + count]
    entries = [search_entry(ctx.base, s, "match") for s in page]
    kept = [(k, v) for k, v in params if k in ("_since", "_type", "_count", "_offset")]
    links = page_links(f"{ctx.base}/Patient/{patient_id}/$everything", kept, count, offset, len(selected),
                       len(page))
    return Answer(200, bundle("searchset", entries, len(selected), links))


def _compartment(ctx: Context, patient: Stored) -> list[Stored]:
    """The patient first, then its compartment grouped by type in the order stored."""
    rows = ctx.store.conn.execute(
        "SELECT c.rid FROM compartment c JOIN resources r ON r.rid = c.rid "
        "WHERE c.patient_id = ? AND NOT (r.type = 'Patient' AND r.id = ?) ORDER BY c.type, c.rid",
        (patient.id, patient.id),
    ).fetchall()
    return [patient, *ctx.store.read_many(row[0] for row in rows)]


def _referenced(ctx: Context, members: list[Stored]) -> list[Stored]:
    """Resources outside patient compartments that the members reference with relative or own-base URLs (types
    of patient compartments come in through the compartment, never because another patient's record points
    at them)."""
    pattern = re.compile(r'"reference":"(?:' + re.escape(ctx.base) + r'/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"')
    wanted: dict[tuple[str, str], None] = {}
    for stored in members:
        for rtype, rid in pattern.findall(stored.json or ""):
            if rtype not in COMPARTMENT_TYPES:
                wanted[(rtype, rid)] = None
    keys = sorted(wanted)
    found: list[Stored] = []
    conn = ctx.store.conn
    for start in range(0, len(keys), 400):
        chunk = keys[start:start + 400]
        clause = " OR ".join("(type = ? AND id = ?)" for _ in chunk)
        args = [part for key in chunk for part in key]
        rids = [row[0] for row in conn.execute(
            f"SELECT rid FROM resources WHERE deleted = 0 AND ({clause}) ORDER BY type, id", args)]
        found.extend(ctx.store.read_many(rids))
    return sorted(found, key=lambda s: (s.type, s.id))
