"""The FHIR RESTful interactions (FHIR R4 http.html) as plain functions of a Context: read, vread, search,
create, update, delete and history. Views, batches and transactions all call these, so every path
runs the same checks: resource type, validation, reference syntax, and the request's AccessPolicy."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidRequest,
    InvalidResource,
    NotFound,
    PreconditionFailed,
)
from ..store.indexing import date_range
from ..store.query import parse_search
from ..store.resource_types import STORABLE_TYPES
from ..store.resources import Store, Stored
from ..store.search import search as run_search
from ..store.validation import check_id, validate
from .access import CREATE, DELETE, READ, SEARCH, UPDATE, AccessPolicy
from .bundles import bundle, history_entry, outcome_entry, page_links, resource_body, search_entry
from .formats import RawJson
from .outcome import information, issue_outcome, operation_outcome
from .references import AmbiguousReference, check_reference_syntax, dangling_references, find_matches

MAX_OFFSET = 2**31
_FRACTION = re.compile(r"(?<=:\d\d)\.\d+")


@dataclass
class Context:
    """What every interaction needs: the store, the request's access policy and the public FHIR base."""

    store: Store
    policy: AccessPolicy
    base: str  # BASE_URL + "/fhir"
    page_size: int = 20
    max_page_size: int = 1000
    pending: frozenset[str] = frozenset()  # ``Type/id`` of every entry of the transaction being run
    # In a transaction, deletes are checked for referential integrity once all its entries ran (so a Patient
    # may be deleted before its Observations in the same Bundle): ``(type, id)`` of each delete, else None.
    deferred_deletes: list[tuple[str, str]] | None = None
    strict_search: bool = True  # False when the request sent ``Prefer: handling=lenient`` (its Bundle's entries too)


@dataclass
class Answer:
    """The result of one interaction, before it becomes an HTTP response or a Bundle response entry."""

    status: int
    body: Any = None  # a resource (dict or RawJson), a Bundle, an OperationOutcome, or None
    stored: Stored | None = None  # the version read or written: ETag, Last-Modified, Location
    location: bool = False  # whether to send Location (create and update)
    headers: dict[str, str] = field(default_factory=dict)


def known_type(rtype: str) -> None:
    """An unknown resource type in the URL is 404 (FHIR R4 §3.1.0.4: the endpoint does not exist)."""
    if rtype not in STORABLE_TYPES:
        raise NotFound(f"Unknown resource type '{rtype}': this server serves the FHIR R4 resource types "
                       "listed in its CapabilityStatement (GET /fhir/metadata)", code="not-supported")


def is_number(text: str, max_digits: int) -> bool:
    """Whether ``text`` is a non-negative integer in ASCII digits (``str.isdigit`` also accepts '²')."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def parse_version(text: str | None, what: str = "If-Match") -> int | None:
    """``W/"3"``, ``"3"`` or ``3`` as a version number; None when absent."""
    if text is None or text.strip() == "":
        return None
    raw = text.strip()
    raw = raw[2:] if raw.startswith("W/") else raw
    raw = raw.strip('"')
    if not is_number(raw, 12):
        raise InvalidRequest(f"{what} must be a version such as W/\"3\", got '{text}'")
    return int(raw)


def parse_instant(name: str, value: str) -> str:
    """An instant as the UTC text the store compares ``last_updated`` with (milliseconds kept)."""
    value = value.replace(" ", "+")  # an unencoded '+' of a time zone arrives as a space
    try:
        start = date_range(value)[0]
    except ValueError:
        raise InvalidRequest(f"{name} must be an instant such as 2024-01-31T12:00:00Z, got '{value}'") from None
    fraction = _FRACTION.search(value)
    return start + (fraction.group(0)[:4] if fraction else "")


def paging(ctx: Context, params: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """``_count`` (reduced to MAX_PAGE_SIZE) and ``_offset`` of a history or $everything request."""
    count, offset = ctx.page_size, 0
    for name, value in params:
        if name in ("_count", "_offset"):
            if not is_number(value, 10) or int(value) > MAX_OFFSET:
                raise InvalidRequest(f"{name} must be a non-negative integer, got '{value}'")
            if name == "_count":
                count = min(int(value), ctx.max_page_size)
            else:
                offset = int(value)
    return count, offset


# -- reads -----------------------------------------------------------------------------------------

def read(ctx: Context, rtype: str, rid: str, summary: str | None = None, elements: tuple[str, ...] = ()) -> Answer:
    known_type(rtype)
    ctx.policy.check(READ, rtype)
    with _deletion_judged_by_last_content(ctx, rtype, rid):
        stored = ctx.store.read(rtype, rid)
    ctx.policy.check_stored(READ, stored)
    return Answer(200, resource_body(stored, summary, elements), stored)


def vread(ctx: Context, rtype: str, rid: str, vid: str) -> Answer:
    known_type(rtype)
    ctx.policy.check(READ, rtype)
    if not is_number(vid, 12):
        raise NotFound(f"{rtype}/{rid} has no version '{vid}' (versions are numbers)")
    with _deletion_judged_by_last_content(ctx, rtype, rid):
        stored = ctx.store.vread(rtype, rid, int(vid))
    if not ctx.policy.reads_everything(rtype):
        ctx.policy.check_version_content(stored)
    ctx.policy.check_stored(READ, stored)
    return Answer(200, RawJson(stored.json), stored)


@contextlib.contextmanager
def _deletion_judged_by_last_content(ctx: Context, rtype: str, rid: str) -> Iterator[None]:
    """A 410 tells that the resource existed: only a caller who may read what it last was learns it. Others get
    the refusal a live resource outside their reach gets."""
    try:
        yield
    except Gone:
        last = ctx.store.last_content(rtype, rid)
        if last is not None:
            ctx.policy.check(READ, rtype, last.resource)
        raise


def search(ctx: Context, rtype: str, params: Sequence[tuple[str, str]], strict: bool = True) -> Answer:
    """Type-level search (FHIR R4 search.html): a searchset Bundle of one page, with paging links. Unsupported
    parameters are a 400 when ``strict``; otherwise they are ignored, left out of the links (search.html#errors:
    the ``self`` link shows the parameters applied) and named in an outcome entry."""
    known_type(rtype)
    ctx.policy.check(SEARCH, rtype)
    query = parse_search(rtype, params, page_size=ctx.page_size, max_page_size=ctx.max_page_size, strict=strict)
    if query.offset > MAX_OFFSET:
        raise InvalidRequest(f"_offset must be at most {MAX_OFFSET}")
    result = run_search(ctx.store, query, ctx.policy.search_filters(rtype), ctx.policy.search_filters)
    entries: list[dict] = []
    if query.summary != "count":
        entries = [search_entry(ctx.base, s, "match", query.summary, query.elements) for s in result.matches]
        entries += [search_entry(ctx.base, s, "include", query.summary, query.elements)
                    for s in ctx.policy.visible(result.included)]
        if query.ignored:
            entries.append(outcome_entry(operation_outcome(
                f"Unsupported search parameters were ignored (Prefer: handling=lenient): {', '.join(query.ignored)}",
                code="not-supported", severity="warning")))
    applied = [(name, value) for name, value in params if name not in query.ignored]
    links = page_links(f"{ctx.base}/{rtype}", applied, query.count, query.offset, result.total, len(result.matches))
    return Answer(200, bundle("searchset", entries, result.total, links))


# -- writes ----------------------------------------------------------------------------------------

def checked_resource(rtype: str, body: Any, ctx: Context | None = None) -> dict:
    """Validate a request body as a resource of ``rtype``: R4B model, required bindings, invariants, reference
    syntax and, given a Context, that its local references resolve (see store/validation.py)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object holding a FHIR resource, not "
                             f"{type(body).__name__ if body is not None else 'null'}")
    if body.get("resourceType") != rtype:
        raise InvalidRequest(f"The body holds resourceType '{body.get('resourceType')}' but the URL names {rtype}")
    validate(body)
    check_reference_syntax(body)
    if ctx is not None:
        dangling = dangling_references(ctx.store, body, ctx.base, ctx.pending)
        if dangling:
            raise InvalidResource.of(dangling)
    return body


def validate_only(ctx: Context, rtype: str, body: Any) -> Answer:
    """``$validate`` (FHIR R4 resource-operation-validate): the checks of a create, nothing stored. The answer
    is 200 with an OperationOutcome either way: its issues are the problems found, or one informational issue."""
    known_type(rtype)
    ctx.policy.check(CREATE, rtype)  # a client that may create the type may ask whether a create would pass
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        given = [p.get("resource") for p in body.get("parameter", []) if isinstance(p, dict)
                 and p.get("name") == "resource"] if isinstance(body.get("parameter"), list) else []
        if len(given) != 1:
            raise InvalidRequest("A Parameters body to $validate must carry the resource in one parameter "
                                 "named 'resource'")
        body = given[0]
    try:
        checked_resource(rtype, body, ctx)
    except InvalidResource as exc:
        return Answer(200, issue_outcome(exc.issues))
    return Answer(200, information(f"No problems found in the {rtype}: it would be accepted by create"))


def written(stored: Stored, status: int, prefer_return: str | None) -> Answer:
    """The answer to a create or update, shaped by ``Prefer: return=`` (FHIR R4 §3.1.0.8.1)."""
    if prefer_return == "minimal":
        body = None
    elif prefer_return == "OperationOutcome":
        verb = "Created" if status == 201 else "Updated"
        body = information(f"{verb} {stored.type}/{stored.id}, version {stored.version}")
    else:
        body = RawJson(stored.json)
    return Answer(status, body, stored, location=True)


def create(ctx: Context, rtype: str, body: Any, if_none_exist: str | None = None,
           prefer_return: str | None = None, assigned_id: str | None = None) -> Answer:
    """create, and conditional create with If-None-Exist (0 matches: create; 1: return it; more: 412)."""
    known_type(rtype)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "id"}  # R4 §3.1.0.5: the server ignores a client id
    resource = checked_resource(rtype, body, ctx)
    ctx.policy.check_write(CREATE, rtype, resource)
    with ctx.store.transaction():
        if if_none_exist is not None:
            matches = find_matches(ctx.store, rtype, query_part(rtype, if_none_exist),
                                   ctx.policy.search_filters)
            if len(matches) > 1:
                raise AmbiguousReference(f"If-None-Exist '{if_none_exist}' matches more than one {rtype}")
            if matches:
                return Answer(200, RawJson(matches[0].json), matches[0], location=True)
        if assigned_id is None:
            stored = ctx.store.create(resource)
        else:
            stored, _ = ctx.store.update({**resource, "id": assigned_id})
    return written(stored, 201, prefer_return)


def update(ctx: Context, rtype: str, rid: str, body: Any, if_match: str | None = None,
           prefer_return: str | None = None) -> Answer:
    """update (R4 §3.1.0.4): the body's id must be the URL's; unknown ids are created (update as create)."""
    known_type(rtype)
    check_id(rid)
    resource = checked_resource(rtype, body, ctx)
    if "id" not in resource:
        raise InvalidRequest(f"The {rtype} in a PUT body must have an id, and it must be '{rid}'")
    if resource["id"] != rid:
        raise InvalidRequest(f"The body's id '{resource['id']}' does not match the id '{rid}' in the URL")
    version = parse_version(if_match)
    with ctx.store.transaction():
        existing = ctx.store.current(rtype, rid)
        if existing is None or existing.deleted:  # created anew; a deleted one is judged by what it last was
            ctx.policy.check_write(CREATE, rtype, resource, existing and ctx.store.last_content(rtype, rid))
        else:
            ctx.policy.check_write(UPDATE, rtype, resource, existing)
        stored, created = ctx.store.update(resource, if_match=version)
    return written(stored, 201 if created else 200, prefer_return)


def conditional_update(ctx: Context, rtype: str, query_text: str, body: Any, if_match: str | None = None,
                       prefer_return: str | None = None) -> Answer:
    """``PUT [type]?search`` (R4 §3.1.0.4.3): one match is updated, none creates, several fail with 412."""
    known_type(rtype)
    checked_resource(rtype, body)
    with ctx.store.transaction():
        matches = find_matches(ctx.store, rtype, query_text, ctx.policy.search_filters)
        if len(matches) > 1:
            raise AmbiguousReference(f"The conditional update '{rtype}?{query_text}' matches more than one {rtype}")
        given = body.get("id")
        if matches:
            if given is not None and given != matches[0].id:
                raise InvalidRequest(f"The body's id '{given}' is not the id '{matches[0].id}' of the resource "
                                     "the search matches")
            return update(ctx, rtype, matches[0].id, {**body, "id": matches[0].id}, if_match, prefer_return)
        if given is not None:
            return update(ctx, rtype, given, body, if_match, prefer_return)
        return create(ctx, rtype, body, prefer_return=prefer_return)


def delete(ctx: Context, rtype: str, rid: str) -> Answer:
    """delete (R4 §3.1.0.7): 200 with an OperationOutcome, also when there was nothing to delete."""
    known_type(rtype)
    with ctx.store.transaction():
        existing = ctx.store.current(rtype, rid)
        if existing is None or existing.deleted:
            ctx.policy.check_write(DELETE, rtype, None, existing and ctx.store.last_content(rtype, rid))
            state = "never existed" if existing is None else "was already deleted"
            return Answer(200, information(f"{rtype}/{rid} {state}; nothing to delete"))
        ctx.policy.check_write(DELETE, rtype, None, existing)
        if ctx.deferred_deletes is None:
            refuse_if_referenced(ctx.store, rtype, rid)
        else:
            ctx.deferred_deletes.append((rtype, rid))
        stored = ctx.store.delete(rtype, rid)
    return Answer(200, information(f"Deleted {rtype}/{rid} (version {stored.version})"), stored)


def refuse_if_referenced(store: Store, rtype: str, rid: str) -> None:
    """R4 §3.1.0.7.1: a server may refuse a delete that would break referential integrity (409).

    Runs after the access check, so a caller that may not delete learns nothing about referrers."""
    shown, total = store.referrers(rtype, rid)
    if total:
        more = f" and {total - len(shown)} more" if total > len(shown) else ""
        raise Conflict(f"{rtype}/{rid} is still referenced by {total} resource(s): "
                       f"{', '.join(shown)}{more}; delete or change those first")


MULTIPLE_DELETE_LIMIT = 100  # the most resources one conditional delete with _multiple=true removes


def multiple_flag(query_text: str) -> tuple[str, bool]:
    """The query without its ``_multiple`` parameter, and whether it asks to delete every match."""
    kept, multiple = [], False
    for part in query_text.split("&"):
        name, _, value = part.partition("=")
        if name != "_multiple":
            kept.append(part)
        elif value in ("true", "false"):
            multiple = value == "true"
        else:
            raise InvalidRequest(f"_multiple is true or false, not '{value}'")
    return "&".join(kept), multiple


def conditional_delete(ctx: Context, rtype: str, query_text: str) -> Answer:
    """Conditional delete (R4 §3.1.0.7.3): no match is 200 with nothing to delete; one match is deleted as a plain
    delete would be; several are 412 unless the query adds ``_multiple=true``, which deletes them all (at most
    MULTIPLE_DELETE_LIMIT) in one transaction — each allowed by the access policy and none still referenced by a
    resource outside the matches — or none of them."""
    known_type(rtype)
    query_text, multiple = multiple_flag(query_text)
    with ctx.store.transaction():
        matches = find_matches(ctx.store, rtype, query_text, ctx.policy.search_filters,
                               limit=MULTIPLE_DELETE_LIMIT + 1)
        how_many = f"more than {MULTIPLE_DELETE_LIMIT}" if len(matches) > MULTIPLE_DELETE_LIMIT else len(matches)
        if not matches:
            ctx.policy.check_write(DELETE, rtype, None, None)
            return Answer(200, information(f"No {rtype} matches '{query_text}'; nothing to delete"))
        if len(matches) == 1:
            return delete(ctx, rtype, matches[0].id)
        if not multiple:
            raise PreconditionFailed(f"The conditional delete '{rtype}?{query_text}' matches {how_many} resources; "
                                     f"add _multiple=true to delete every match (at most {MULTIPLE_DELETE_LIMIT})")
        if len(matches) > MULTIPLE_DELETE_LIMIT:
            raise PreconditionFailed(f"The conditional delete '{rtype}?{query_text}' matches {how_many} resources; "
                                     "narrow the search")
        for match in matches:
            ctx.policy.check_write(DELETE, rtype, None, match)
        if ctx.deferred_deletes is not None:
            ctx.deferred_deletes.extend((rtype, m.id) for m in matches)
            deleted = [f"{rtype}/{m.id}" for m in matches if ctx.store.delete(rtype, m.id)]
        else:
            deleted = delete_together(ctx.store, rtype, [m.id for m in matches])
    return Answer(200, information(f"Deleted {len(deleted)} {rtype} resources: {', '.join(deleted)}"))


def delete_together(store: Store, rtype: str, ids: list[str]) -> list[str]:
    """Delete resources that may refer to one another: each pass deletes those no remaining resource refers to;
    a pass that deletes none leaves one still referenced from outside, refused as a single delete would be."""
    left, done = list(ids), []
    while left:
        free = [rid for rid in left if store.referrers(rtype, rid, limit=1)[1] == 0]
        if not free:
            refuse_if_referenced(store, rtype, left[0])
        for rid in free:
            store.delete(rtype, rid)
            done.append(f"{rtype}/{rid}")
        left = [rid for rid in left if rid not in free]
    return done


def query_part(rtype: str, text: str) -> str:
    """The query of an If-None-Exist value, which some clients send as ``Type?params`` or ``?params``."""
    text = text.strip()
    if text.startswith(rtype + "?"):
        return text[len(rtype) + 1:]
    return text.lstrip("?")


# -- history ---------------------------------------------------------------------------------------

def history(ctx: Context, params: Sequence[tuple[str, str]], rtype: str | None = None,
            rid: str | None = None) -> Answer:
    """Instance, type or system history (R4 §3.1.0.9), newest first, paged with _count/_offset."""
    if rtype is not None:
        known_type(rtype)
        ctx.policy.check(READ, rtype)
    if rid is not None:
        shown = ctx.store.last_content(rtype, rid)  # a deleted resource is judged by what it last was
        if shown is None:
            raise NotFound(f"{rtype}/{rid} is not known")
        ctx.policy.check(READ, rtype, shown.resource)
        if not ctx.policy.reads_everything(rtype):
            for version in ctx.store.contents(rtype, rid):
                ctx.policy.check_version_content(version)
    if rid is None and not ctx.policy.reads_everything(rtype):
        raise Forbidden(f"{'Type' if rtype else 'System'} history lists versions of every "
                        f"{rtype or 'resource'}, so it needs a read scope without patient or category limits "
                        f"(such as {'system/' + (rtype or '*') + '.rs'}); read the history of one resource instead")
    count, offset = paging(ctx, params)
    since = None
    for name, value in params:
        if name == "_since":
            since = parse_instant("_since", value)
    versions, total = ctx.store.history(rtype, rid, since, count, offset)
    path = "/".join(p for p in (rtype, rid) if p)
    url = f"{ctx.base}/{path}/_history" if path else f"{ctx.base}/_history"
    kept = [(k, v) for k, v in params if k in ("_since", "_count", "_offset")]
    links = page_links(url, kept, count, offset, total, len(versions))
    return Answer(200, bundle("history", [history_entry(ctx.base, v) for v in versions], total, links))


