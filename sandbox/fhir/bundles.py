"""Searchset and history Bundles, and the paging links between their pages (FHIR R4 bundle.html, http.html
§3.1.0.8 paging). Every URL is built from BASE_URL; pages are addressed by ``_offset`` and ``_count``,
so a ``next`` link stays valid whichever worker process answers it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

from ..store.resources import Stored, new_id, now_instant
from .formats import RawJson
from .summary import subset

PAGING_PARAMS = ("_count", "_offset")
HISTORY_STATUS = {"POST": 201, "PUT": 200, "DELETE": 204}


def status_line(code: int) -> str:
    """``201 Created``: the form of Bundle.entry.response.status."""
    return f"{code} {HTTPStatus(code).phrase}"


def bundle(kind: str, entries: Sequence[dict], total: int | None = None,
           links: Sequence[tuple[str, str]] = ()) -> dict:
    result: dict[str, Any] = {"resourceType": "Bundle", "id": new_id(), "meta": {"lastUpdated": now_instant()},
                              "type": kind}
    if total is not None:
        result["total"] = total
    if links:
        result["link"] = [{"relation": relation, "url": url} for relation, url in links]
    if entries:
        result["entry"] = list(entries)
    return result


def resource_body(stored: Stored, summary: str | None = None, elements: tuple[str, ...] = ()) -> Any:
    """The stored JSON as is, or the subset ``_summary``/``_elements`` ask for."""
    if summary in (None, "false") and not elements:
        return RawJson(stored.json)
    return subset(stored.resource, summary, elements)


def full_url(base: str, stored: Stored) -> str:
    return f"{base}/{stored.type}/{stored.id}"


def search_entry(base: str, stored: Stored, mode: str, summary: str | None = None,
                 elements: tuple[str, ...] = ()) -> dict:
    return {"fullUrl": full_url(base, stored), "resource": resource_body(stored, summary, elements),
            "search": {"mode": mode}}


def outcome_entry(outcome: dict) -> dict:
    return {"resource": outcome, "search": {"mode": "outcome"}}


def page_url(url: str, params: Iterable[tuple[str, str]], count: int, offset: int) -> str:
    pairs = [(k, v) for k, v in params if k not in PAGING_PARAMS]
    pairs += [("_count", str(count)), ("_offset", str(offset))]
    return f"{url}?{urlencode(pairs, quote_via=quote, safe=':/|,')}"


def page_links(url: str, params: Sequence[tuple[str, str]], count: int, offset: int, total: int | None,
               returned: int) -> list[tuple[str, str]]:
    """self, first, previous, next and last links of one page of a result."""
    links = [("self", page_url(url, params, count, offset))]
    if count <= 0:
        return links
    links.append(("first", page_url(url, params, count, 0)))
    if offset > 0:
        links.append(("previous", page_url(url, params, count, max(0, offset - count))))
    has_next = offset + count < total if total is not None else returned == count
    if has_next:
        links.append(("next", page_url(url, params, count, offset + count)))
    if total is not None:
        links.append(("last", page_url(url, params, count, (max(total, 1) - 1) // count * count)))
    return links


def history_entry(base: str, stored: Stored) -> dict:
    method = stored.method
    entry: dict[str, Any] = {"fullUrl": full_url(base, stored)}
    if not stored.deleted:
        entry["resource"] = RawJson(stored.json)
    entry["request"] = {"method": method,
                        "url": stored.type if method == "POST" else f"{stored.type}/{stored.id}"}
    entry["response"] = {"status": status_line(HISTORY_STATUS[method]), "etag": stored.etag,
                         "lastModified": stored.last_updated}
    return entry
