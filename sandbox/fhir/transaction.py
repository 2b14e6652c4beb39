"""Batch and transaction Bundles POSTed to the base (FHIR R4 http.html §3.1.0.11).

A batch runs each entry on its own: each gets its own status, and an OperationOutcome when it failed.
A transaction is all or nothing inside one store transaction, in the order R4 §3.1.0.11.2 sets:
DELETE, then POST, then PUT and PATCH, then GET. Before anything is written, every POST gets its id and every
PUT its target, so references to an entry's ``fullUrl`` (``urn:uuid:…``) are rewritten to ``Type/id``;
conditional references (``Organization?identifier=…``) resolve to their single match.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from ..store.errors import FhirError, InvalidRequest, NotSupported
from ..store.resources import new_id
from . import interactions as api
from .bundles import bundle, status_line
from .everything import everything
from .formats import RawJson
from .interactions import Answer, Context
from .outcome import outcome_of
from .patch import bundle_patch_document, conditional_patch, patch
from .references import AmbiguousReference, ReferenceResolver, find_matches, split_search

METHODS = ("DELETE", "POST", "PUT", "PATCH", "GET", "HEAD")
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass
class Entry:
    index: int
    method: str
    path: str  # the request URL relative to the base, without its query
    query: str
    resource: Any
    full_url: str | None
    if_none_exist: str | None
    if_match: str | None
    target: str | None = None  # "Type/id" this POST or PUT will write
    existing: Answer | None = None  # a conditional create that found its match

    @property
    def parts(self) -> list[str]:
        return self.path.split("/") if self.path else []

    @property
    def label(self) -> str:
        return f"entry {self.index} ({self.method} {self.path}{'?' + self.query if self.query else ''})"


def process(ctx: Context, body: Any, prefer_return: str | None = None) -> Answer:
    """Run a Bundle of type batch or transaction; answer with the matching response Bundle."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise InvalidRequest("POST to the FHIR base takes a Bundle of type batch or transaction")
    kind = body.get("type")
    entries = body.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidRequest("Bundle.entry must be a list")
    if kind == "batch":
        return Answer(200, bundle("batch-response", [_batch_entry(ctx, i, e, prefer_return)
                                                     for i, e in enumerate(entries)]))
    if kind == "transaction":
        return Answer(200, bundle("transaction-response", _transaction(ctx, entries, prefer_return)))
    raise InvalidRequest(f"A Bundle POSTed to the base must be of type batch or transaction, not '{kind}'")


def parse_entry(ctx: Context, index: int, raw: Any) -> Entry:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"entry {index} is not a JSON object")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise InvalidRequest(f"entry {index} has no request")
    method, url = request.get("method"), request.get("url")
    if method not in METHODS:
        raise InvalidRequest(f"entry {index}: request.method must be one of {', '.join(METHODS)}")
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest(f"entry {index}: request.url is missing")
    url = url.strip()
    if url.startswith(ctx.base + "/"):
        url = url[len(ctx.base) + 1:]
    elif "://" in url.split("?")[0]:
        raise InvalidRequest(f"entry {index}: request.url '{url}' is not on this server ({ctx.base})")
    path, _, query = url.lstrip("/").partition("?")
    full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
    extras = {key: request.get(key) if isinstance(request.get(key), str) else None
              for key in ("ifNoneExist", "ifMatch")}
    return Entry(index, method, path.rstrip("/"), query, raw.get("resource"), full_url,
                 extras["ifNoneExist"], extras["ifMatch"])


def perform(ctx: Context, entry: Entry, resolver: ReferenceResolver, local: dict[str, str],
            prefer_return: str | None) -> Answer:
    """One entry's interaction, after its resource's references are rewritten."""
    parts, method = entry.parts, entry.method
    if method in ("POST", "PUT") and isinstance(entry.resource, dict):
        resource = resolver.rewrite(copy.deepcopy(entry.resource), local)
    else:
        resource = entry.resource
    if method in ("GET", "HEAD"):
        return _read_entry(ctx, entry)
    if method == "POST" and len(parts) == 1:
        if entry.existing:
            return entry.existing
        if entry.target:  # a transaction decided the id, and checked ifNoneExist, before any write
            return api.create(ctx, parts[0], resource, None, prefer_return, assigned_id=entry.target.split("/")[1])
        return api.create(ctx, parts[0], resource, entry.if_none_exist, prefer_return)
    if method == "PUT" and len(parts) == 2:
        return api.update(ctx, parts[0], parts[1], resource, entry.if_match, prefer_return)
    if method == "PUT" and len(parts) == 1 and entry.query:
        if entry.target:
            rid = entry.target.split("/")[1]
            body = {**resource, "id": rid} if isinstance(resource, dict) else resource
            return api.update(ctx, parts[0], rid, body, entry.if_match, prefer_return)
        return api.conditional_update(ctx, parts[0], entry.query, resource, entry.if_match, prefer_return)
    if method == "DELETE" and len(parts) == 2:
        return api.delete(ctx, parts[0], parts[1])
    if method == "DELETE" and len(parts) == 1 and entry.query:
        return api.conditional_delete(ctx, parts[0], entry.query)
    if method == "PATCH" and len(parts) == 2:
        return patch(ctx, parts[0], parts[1], *patch_of(entry, resolver, local), entry.if_match, prefer_return)
    if method == "PATCH" and len(parts) == 1 and entry.query:
        return conditional_patch(ctx, parts[0], entry.query, *patch_of(entry, resolver, local), entry.if_match,
                                 prefer_return)
    raise InvalidRequest(f"{method} {entry.path} is not an interaction this server supports in a Bundle")


def patch_of(entry: Entry, resolver: ReferenceResolver, local: dict[str, str]) -> tuple[str, Any]:
    """A PATCH entry's patch, with the references its values carry rewritten as a POST's or PUT's are: to other
    entries by their fullUrl (``urn:uuid:…``), and conditional ones to their match."""
    kind, document = bundle_patch_document(entry.resource, entry.label)
    document = copy.deepcopy(document)
    resolver.rewrite({"resourceType": "Patch", "operation": document}, local)
    return kind, document


def _read_entry(ctx: Context, entry: Entry) -> Answer:
    parts, params = entry.parts, split_search(entry.query)
    if len(parts) == 1 and parts[0] == "_history":
        return api.history(ctx, params)
    if len(parts) == 1:
        return api.search(ctx, parts[0], params, strict=ctx.strict_search)
    if len(parts) == 2 and parts[1] == "_history":
        return api.history(ctx, params, parts[0])
    if len(parts) == 2:
        return api.read(ctx, parts[0], parts[1])
    if len(parts) == 3 and parts[2] == "_history":
        return api.history(ctx, params, parts[0], parts[1])
    if len(parts) == 3 and parts[0] == "Patient" and parts[2] == "$everything":
        return everything(ctx, parts[1], params)
    if len(parts) == 4 and parts[2] == "_history":
        return api.vread(ctx, parts[0], parts[1], parts[3])
    raise NotSupported(f"GET {entry.path} is not an interaction this server supports in a Bundle")


def response_entry(ctx: Context, answer: Answer) -> dict:
    """Bundle.entry of a batch-response or transaction-response."""
    response: dict[str, Any] = {"status": status_line(answer.status)}
    stored = answer.stored
    if stored is not None:
        if answer.location:
            response["location"] = f"{ctx.base}/{stored.type}/{stored.id}/_history/{stored.version}"
        response["etag"] = stored.etag
        response["lastModified"] = stored.last_updated
    entry: dict[str, Any] = {}
    body = answer.body
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        response["outcome"] = body
    elif body is not None:
        if stored is not None:
            entry["fullUrl"] = f"{ctx.base}/{stored.type}/{stored.id}"
        entry["resource"] = body
    entry["response"] = response
    return entry


def error_entry(exc: BaseException) -> dict:
    status, outcome, _ = outcome_of(exc)
    return {"response": {"status": status_line(status), "outcome": outcome}}


def _batch_entry(ctx: Context, index: int, raw: Any, prefer_return: str | None) -> dict:
    try:
        entry = parse_entry(ctx, index, raw)
        resolver = ReferenceResolver(ctx.store, ctx.policy.search_filters)
        return response_entry(ctx, perform(ctx, entry, resolver, {}, prefer_return))
    except FhirError as exc:
        return error_entry(exc)


def _transaction(ctx: Context, raw_entries: list, prefer_return: str | None) -> list[dict]:
    entries = [parse_entry(ctx, i, raw) for i, raw in enumerate(raw_entries)]
    resolver = ReferenceResolver(ctx.store, ctx.policy.search_filters)
    answers: dict[int, Answer] = {}
    ordered = sorted(entries, key=lambda e: (ORDER[e.method], e.index))
    current: Entry | None = None
    ctx = replace(ctx, deferred_deletes=[])
    try:
        with ctx.store.transaction():
            local: dict[str, str] | None = None
            for entry in ordered:
                if entry.method != "DELETE" and local is None:
                    current, local = None, _assign_targets(ctx, entries)
                    ctx = replace(ctx, pending=_targets(entries))
                current = entry
                answers[entry.index] = perform(ctx, entry, resolver, local or {}, prefer_return)
            current = None
            for rtype, rid in ctx.deferred_deletes:  # what is still referenced once every entry ran
                api.refuse_if_referenced(ctx.store, rtype, rid)
    except FhirError as exc:
        failed = f"Transaction failed{f' at {current.label}' if current else ''}; nothing was stored: "
        issues = tuple(replace(issue, diagnostics=failed + issue.diagnostics) for issue in exc.issues)
        raise type(exc)(failed + exc.message, status=exc.status, code=exc.code, headers=exc.headers,
                        issues=issues) from None
    return [response_entry(ctx, answers[e.index]) for e in entries]


def _targets(entries: list[Entry]) -> frozenset[str]:
    """``Type/id`` of every resource the transaction writes, so its entries may reference each other."""
    return frozenset(entry.target for entry in entries if entry.target)


def _assign_targets(ctx: Context, entries: list[Entry]) -> dict[str, str]:
    """Decide the ``Type/id`` of every POST and PUT before anything is written (after the DELETEs), and map
    each entry's fullUrl to it, so entries may reference each other by fullUrl."""
    local: dict[str, str] = {}
    for entry in entries:
        parts = entry.parts
        if len(parts) not in (1, 2) or entry.method not in ("POST", "PUT") or not parts[0]:
            continue
        rtype = parts[0]
        api.known_type(rtype)
        if entry.method == "POST" and len(parts) == 1:
            if entry.if_none_exist:
                matches = find_matches(ctx.store, rtype, api.query_part(rtype, entry.if_none_exist),
                                       ctx.policy.search_filters)
                if len(matches) > 1:
                    raise AmbiguousReference(f"{entry.label}: ifNoneExist matches more than one {rtype}")
                if matches:
                    entry.existing = Answer(200, RawJson(matches[0].json), matches[0], location=True)
                    entry.target = f"{rtype}/{matches[0].id}"
            if entry.target is None:
                entry.target = f"{rtype}/{new_id()}"
        elif entry.method == "PUT" and len(parts) == 2:
            entry.target = f"{rtype}/{parts[1]}"
        elif entry.method == "PUT" and entry.query:
            matches = find_matches(ctx.store, rtype, entry.query, ctx.policy.search_filters)
            if len(matches) > 1:
                raise AmbiguousReference(f"{entry.label}: the conditional update matches more than one {rtype}")
            given = entry.resource.get("id") if isinstance(entry.resource, dict) else None
            if matches and given is not None and given != matches[0].id:
                raise InvalidRequest(f"{entry.label}: the body's id '{given}' is not the id '{matches[0].id}' "
                                     "of the resource the search matches")
            if matches:
                entry.target = f"{rtype}/{matches[0].id}"
            elif isinstance(given, str):
                entry.target = f"{rtype}/{given}"
            else:
                entry.target = f"{rtype}/{new_id()}"
        if entry.full_url and entry.target:
            local[entry.full_url] = entry.target
            if entry.full_url.startswith(ctx.base + "/"):
                local[entry.full_url[len(ctx.base) + 1:]] = entry.target
    return local
