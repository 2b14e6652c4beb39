"""References inside resources: syntax checks, rewriting bundle-local references, and resolving
conditional references (``Organization?identifier=system|value``).

FHIR R4 references.html §2.3.0: ``Reference.reference`` is a relative URL (``Type/id``, optionally
``/_history/vid``), an absolute URL, or ``#id`` of a contained resource. Inside a transaction Bundle it
may also be a ``urn:uuid:``/``urn:oid:`` fullUrl of another entry, or a conditional reference that the
server resolves to the single matching resource (http.html §3.1.0.11.2: "If there are no matches, or
multiple matches, the transaction fails"). Transactions and the importer share this one resolver.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import unquote

from ..store.errors import InvalidRequest, Issue, PreconditionFailed, Unprocessable
from ..store.query import parse_search
from ..store.resource_types import R4_RESOURCE_TYPES
from ..store.resources import Store, Stored
from ..store.search import Filter, FiltersFor, no_filters, search

_ID = r"[A-Za-z0-9\-.]{1,64}"
RELATIVE = re.compile(rf"^([A-Z][A-Za-z]+)/({_ID})(/_history/{_ID})?$")
# A scheme, "://", a host and the rest without spaces, the host's first character taken by one part only:
# `[^\s/]+\S*` matches the same strings but backtracks quadratically on a long reference that ends in a space.
ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.\-]*://[^\s/]\S*$")
CONTAINED = re.compile(r"^#[A-Za-z0-9\-.]{0,64}$")
URN = re.compile(r"^urn:(uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                 r"|oid:[0-2](\.(0|[1-9][0-9]*))+)$")
CONDITIONAL = re.compile(r"^([A-Z][A-Za-z]+)\?(.*)$", re.DOTALL)


class UnresolvedReference(InvalidRequest):
    """A conditional reference that matches no resource."""

    code = "not-found"


class AmbiguousReference(PreconditionFailed):
    """A conditional reference (or conditional create/update) that matches more than one resource."""

    code = "multiple-matches"


def iter_references(resource: dict) -> Iterator[dict]:
    """Every Reference-like dict (one with a ``reference`` string) in a resource, contained ones too."""
    stack: list[object] = [resource]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item
            stack.extend(value for value in item.values() if isinstance(value, dict | list))
        elif isinstance(item, list):
            stack.extend(value for value in item if isinstance(value, dict | list))


def element_paths(resource: dict) -> dict[int, str]:
    """The element path of every object inside ``resource`` (by ``id``), such as
    ``Encounter.participant[0].individual``: one walk, however many of them an error names."""
    paths: dict[int, str] = {}
    stack: list[tuple[str, object]] = [(str(resource.get("resourceType", "Resource")), resource)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            paths[id(item)] = where
            stack.extend((f"{where}.{key}", value) for key, value in item.items() if isinstance(value, dict | list))
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", value) for index, value in enumerate(item)
                         if isinstance(value, dict | list))
    return paths


def path_of(resource: dict, target: dict, paths: dict[int, str] | None = None) -> str:
    """The element path of ``target`` inside ``resource``; ``paths`` when already walked (element_paths)."""
    return (paths if paths is not None else element_paths(resource)).get(id(target), "reference")


def is_conditional(reference: str) -> bool:
    return bool(CONDITIONAL.match(reference))


def check_reference_syntax(resource: dict) -> None:
    """Refuse references that are not a relative ``Type/id``, an absolute URL or ``#contained`` (422).

    A stored Bundle (a document, a collection) may use ``urn:uuid:`` references: they name its own entries."""
    inside_bundle = resource.get("resourceType") == "Bundle"
    for holder in iter_references(resource):
        reference = holder["reference"]
        relative = RELATIVE.match(reference)
        if relative:
            if relative.group(1) not in R4_RESOURCE_TYPES:
                where = path_of(resource, holder) + ".reference"
                raise Unprocessable(f"{where} '{reference}' names '{relative.group(1)}', which is not a FHIR R4 "
                                    "resource type", code="invalid")
            continue
        if CONTAINED.match(reference) or ABSOLUTE.match(reference) or (inside_bundle and URN.match(reference)):
            continue
        where = path_of(resource, holder) + ".reference"
        if URN.match(reference) or is_conditional(reference):
            raise Unprocessable(f"{where} '{reference}' is only allowed inside a transaction Bundle, where it "
                                "must name another entry's fullUrl or match exactly one resource",
                                code="invalid")
        raise Unprocessable(f"{where} '{reference}' is not a valid reference: use Type/id, an absolute URL or "
                            "#id of a contained resource", code="invalid")


def dangling_references(store: Store, resource: dict, base: str, pending: frozenset[str] = frozenset()
                        ) -> list[Issue]:
    """References to this server (``Type/id``, or ``[base]/Type/id``) that name no stored, undeleted resource
    and no entry of the same transaction (``pending``: the ``Type/id`` every entry will write).

    FHIR R4 references.html §2.3.0.4 lets a server refuse references it cannot resolve; this one refuses local
    references it cannot resolve (422), so a stored resource never points at nothing here. References in a
    stored Bundle name its own entries and are left alone."""
    if resource.get("resourceType") == "Bundle":
        return []
    issues = []
    paths: dict[int, str] | None = None
    for holder in iter_references(resource):
        reference = holder["reference"]
        local = reference[len(base) + 1:] if reference.startswith(base + "/") else reference
        match = RELATIVE.match(local)
        if not match:
            continue
        rtype, rid = match.group(1), match.group(2)
        if f"{rtype}/{rid}" in pending:
            continue
        stored = store.current(rtype, rid)
        if stored is None or stored.deleted:
            state = "was deleted" if stored is not None else "is not stored on this server"
            paths = paths if paths is not None else element_paths(resource)
            where = path_of(resource, holder, paths) + ".reference"
            issues.append(Issue(where, f"{where} '{reference}' does not resolve: {rtype}/{rid} {state}",
                                "not-found"))
    return issues


def split_search(text: str) -> list[tuple[str, str]]:
    """Parameters of a search URL's query part (``+`` stays a plus, as FHIR references are written)."""
    params = []
    for part in text.lstrip("?").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        params.append((unquote(name), unquote(value)))
    return params


def find_matches(store: Store, rtype: str, query_text: str, filters_for: FiltersFor = no_filters,
                 limit: int = 2) -> list[Stored]:
    """Resources of ``rtype`` matching a search query string (conditional create, update, reference), each
    type the search reaches (chains included) confined by ``filters_for``."""
    params = split_search(query_text)
    if not params:
        raise InvalidRequest(f"A conditional {rtype} match needs search parameters, got '{query_text}'")
    query = parse_search(rtype, params, strict=True)
    query.count, query.offset, query.total = limit, 0, "none"
    query.includes, query.revincludes, query.summary = [], [], None
    return search(store, query, filters_for(rtype), filters_for).matches


class ReferenceResolver:
    """Resolves conditional references to ``Type/id`` of their single match, remembering each answer."""

    def __init__(self, store: Store, filters_for: Callable[[str], tuple[Filter, ...]] = lambda rtype: ()):
        self.store = store
        self.filters_for = filters_for
        self._resolved: dict[str, str] = {}

    def resolve(self, reference: str, where: str = "reference") -> str:
        if reference in self._resolved:
            return self._resolved[reference]
        match = CONDITIONAL.match(reference)
        if not match:
            raise InvalidRequest(f"{where} '{reference}' is not a conditional reference")
        rtype, query_text = match.groups()
        if rtype not in R4_RESOURCE_TYPES:
            raise InvalidRequest(f"{where} '{reference}' names '{rtype}', which is not a FHIR R4 resource type")
        found = find_matches(self.store, rtype, query_text, self.filters_for)
        if not found:
            raise UnresolvedReference(f"{where} '{reference}' matches no {rtype}")
        if len(found) > 1:
            raise AmbiguousReference(f"{where} '{reference}' matches more than one {rtype}")
        resolved = self._resolved[reference] = f"{rtype}/{found[0].id}"
        return resolved

    def rewrite(self, resource: dict, local: Mapping[str, str] | None = None) -> dict:
        """Replace bundle-local references (fullUrls in ``local``) and conditional references, in place."""
        local = local or {}
        for holder in iter_references(resource):
            reference = holder["reference"]
            if reference in local:
                holder["reference"] = local[reference]
            elif reference in self._resolved:
                holder["reference"] = self._resolved[reference]
            elif is_conditional(reference):
                holder["reference"] = self.resolve(reference, path_of(resource, holder) + ".reference")
        return resource
