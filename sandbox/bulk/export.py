"""Run one bulk export job: write each type's NDJSON file, then build the manifest (Bulk Data IG 2.0.0
export.html §Response - Complete Status).

Every type is read inside one read transaction of a connection of its own, so the whole export is one snapshot
of the database, and the rows are streamed from SQL in batches so memory stays flat. After each batch the job's
lease is renewed; when that fails (the job was cancelled, or its lease ran out and another worker took it) the
export stops.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..auth.bearer import policy_for
from ..auth.tokens import TokenInfo
from ..fhir.outcome import operation_outcome
from ..fhir.summary import _element_sets, subset
from ..store import Store, db
from ..store.compartment import COMPARTMENT_TYPES
from . import files
from .jobs import Job
from .parameters import SYSTEM, ExportRequest
from .selection import TypeQuery, deleted_ids, export_types, references_to_follow, type_query

# The reader passes over each row once: a small page cache keeps the worker's memory flat (a connection's default
# is 64 MiB, store/db.py).
READER_CACHE_KB = 2048


class Stopped(Exception):
    """The job was cancelled or taken over while it ran."""


def grant_policy(store: Store, grant: dict):
    """The access policy of the token that asked for the export, rebuilt from what the job stored: the export runs
    under the scopes granted at kick-off, also after that token has expired."""
    context = {"patient": grant["patient"]} if grant.get("patient") else {}
    info = TokenInfo("access", "", grant["client_id"], grant.get("user_id"), None, grant["scope"], context)
    return policy_for(store, info)


def run_export(store: Store, job: Job, base: str, batch: int, pause: float,
               renew: Callable[[str], bool]) -> dict:
    """Write the job's files and return its manifest; ``renew(progress)`` is called after every batch. In a
    Patient or Group export the patients' records come first, and the resources outside every compartment that
    they refer to after them."""
    wanted = ExportRequest.from_dict(job.request)
    policy = grant_policy(store, job.grant)
    types = export_types(store, policy, wanted)
    if wanted.level != SYSTEM:
        types.sort(key=lambda rtype: rtype not in COMPARTMENT_TYPES)
    folder = files.fresh_folder(store.path, job.id)
    referenced: dict[str, set[str]] = {}  # type outside the compartments → ids the exported records refer to

    def follow(text: str) -> None:
        for rtype, rid in references_to_follow(text, base):
            referenced.setdefault(rtype, set()).add(rid)

    output, deletions = [], 0
    reader = db.connect(store.path)
    reader.execute(f"PRAGMA cache_size = -{READER_CACHE_KB}")
    try:
        reader.execute("BEGIN")  # one snapshot for every type
        for number, rtype in enumerate(types, 1):
            outside = wanted.level != SYSTEM and rtype not in COMPARTMENT_TYPES
            if outside and not referenced.get(rtype):
                continue
            query = type_query(policy, wanted, rtype, job.transaction_time, wanted.patients,
                               referenced.get(rtype, set()))
            records = wanted.level != SYSTEM and not outside
            count = _write_type(reader, query, folder, wanted.elements, batch, pause, follow if records else None,
                                lambda done, t=rtype, n=number: renew(f"{t}: {done:,} resources (type {n} of "
                                                                      f"{len(types)})"))
            if count:
                output.append({"type": rtype, "url": _file_url(base, job, rtype), "count": count})
            deletions += _write_deleted(folder, deleted_ids(reader, policy, wanted, rtype, job.transaction_time),
                                        rtype)
        reader.execute("COMMIT")
    finally:
        reader.close()
    errors = []
    if wanted.ignored:
        files.write_outcomes(folder, [operation_outcome(
            f"Ignored (Prefer: handling=lenient): {reason}", "not-supported", "warning") for reason in wanted.ignored])
        errors.append({"type": "OperationOutcome", "url": _file_url(base, job, "OperationOutcome"),
                       "count": len(wanted.ignored)})
    manifest = {"transactionTime": job.transaction_time, "request": wanted.url, "requiresAccessToken": True,
                "output": output, "error": errors}
    if not deletions:
        (folder / files.DELETED).unlink(missing_ok=True)
    if wanted.since and wanted.level == SYSTEM:
        manifest["deleted"] = [{"type": "Bundle", "url": f"{base}/bulk-files/{job.id}/{files.DELETED}",
                                "count": deletions}] if deletions else []
    return manifest


def _write_deleted(folder: Path, ids, rtype: str) -> int:
    """One transaction Bundle per deleted resource, its one entry a DELETE of it (export.html, `deleted`)."""
    count = 0
    with (folder / files.DELETED).open("a", encoding="utf-8") as out:
        for rid in ids:
            out.write(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"request": {"method": "DELETE", "url": f"{rtype}/{rid}"}}]}, separators=(",", ":")) + "\n")
            count += 1
    return count


def _file_url(base: str, job: Job, rtype: str) -> str:
    return f"{base}/bulk-files/{job.id}/{rtype}.ndjson"


def _write_type(reader, query: TypeQuery, folder: Path, elements: list[str], batch: int, pause: float,
                follow: Callable[[str], object] | None, renew: Callable[[int], bool]) -> int:
    path = folder / f"{query.resource_type}.ndjson"
    shape = _shaper(query.resource_type, elements)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for rows in query.rows(reader, batch):
            if follow is not None:
                for row in rows:
                    follow(row[0])
            out.write("".join(shape(row[0]) + "\n" for row in rows))
            count += len(rows)
            if not renew(count):
                raise Stopped
            if pause:
                time.sleep(pause)
    if not count:
        path.unlink()
    return count


def _shaper(rtype: str, elements: list[str]) -> Callable[[str], str]:
    """Stored JSON as is, or (``_elements``) the elements asked for that apply to the type, its mandatory ones
    and the SUBSETTED tag (export.html: a server SHOULD always return mandatory elements)."""
    wanted = [e.split(".", 1)[1] if "." in e else e for e in elements
              if "." not in e or e.split(".", 1)[0] == rtype]
    if not wanted:
        return lambda text: text
    sets = _element_sets(rtype)
    kept = tuple(wanted) + tuple(sets[1] if sets else ())
    return lambda text: json.dumps(subset(json.loads(text), None, kept), separators=(",", ":"), ensure_ascii=False)
