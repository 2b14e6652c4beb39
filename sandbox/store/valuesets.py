"""Token ``:in`` and ``:not-in`` (R4 search.html §3.1.1.4.9): the codes of a ValueSet stored on this server.

A ValueSet is found by its canonical ``url`` (optionally ``|version``) or as ``ValueSet/id``, and turned into
token values the index can match: its ``expansion.contains`` when it has one, otherwise its ``compose``. An
``include`` listing concepts gives ``system|code`` values; an include of a whole system gives ``system|`` (any
code of that system, R4 valueset.html §4.9.5.1); an include of other ValueSets takes in theirs. What cannot be
turned into such values is refused with a 400 that says what: filters (``is-a``, ``regex`` …, which need the
terminology), ``exclude`` from a whole system, a ValueSet this server does not hold.
"""

from __future__ import annotations

import json

from .errors import InvalidRequest

MAX_CODES = 1000  # token values of one expanded ValueSet
MAX_DEPTH = 5  # ValueSets included by ValueSets


class CannotExpand(InvalidRequest):
    """A ValueSet whose codes this server cannot list: 400, not-supported."""

    code = "not-supported"


def token_values(conn, reference: str, depth: int = 0) -> tuple[str, ...]:
    """The ``system|code`` and ``system|`` token values the ValueSet named by ``reference`` stands for."""
    if depth > MAX_DEPTH:
        raise CannotExpand(f"ValueSet {reference} includes ValueSets more than {MAX_DEPTH} deep")
    value_set = _find(conn, reference)
    if value_set.get("expansion", {}).get("contains"):
        values = list(_contains(value_set["expansion"]["contains"]))
    else:
        values = _compose(conn, reference, value_set.get("compose") or {}, depth)
    unique = tuple(dict.fromkeys(values))
    if not unique:
        raise CannotExpand(f"ValueSet {reference} has neither an expansion nor a compose.include to read codes from")
    if len(unique) > MAX_CODES:
        raise CannotExpand(f"ValueSet {reference} has more than {MAX_CODES} codes; search with fewer")
    return unique


def _find(conn, reference: str) -> dict:
    if reference.startswith("ValueSet/"):
        rows = conn.execute("SELECT json FROM resources WHERE type = 'ValueSet' AND id = ? AND deleted = 0",
                            (reference.removeprefix("ValueSet/"),)).fetchall()
        found = [json.loads(text) for (text,) in rows]
    else:
        url, _, version = reference.partition("|")
        rows = conn.execute(
            "SELECT r.json FROM idx_token x JOIN resources r ON r.rid = x.rid AND r.deleted = 0 "
            "WHERE x.type = 'ValueSet' AND x.param = 'url' AND x.code = ? ORDER BY r.last_updated DESC", (url,),
        ).fetchall()
        found = [json.loads(text) for (text,) in rows]
        if version:
            found = [vs for vs in found if vs.get("version") == version]
    if not found:
        raise CannotExpand(f"ValueSet {reference} is not stored on this server (store it with PUT or POST first)")
    return found[0]


def _contains(items: list[dict]):
    for item in items:
        if item.get("code") and not item.get("abstract"):
            yield f"{item.get('system', '')}|{item['code']}"
        yield from _contains(item.get("contains", []))


def _compose(conn, reference: str, compose: dict, depth: int) -> list[str]:
    values: list[str] = []
    for include in compose.get("include", []):
        if include.get("filter"):
            ops = ", ".join(f"{f.get('property')} {f.get('op')} {f.get('value')}" for f in include["filter"])
            raise CannotExpand(f"ValueSet {reference} includes codes of {include.get('system')} by a filter "
                               f"({ops}), which this server cannot expand")
        from_sets = [v for nested in include.get("valueSet", []) for v in token_values(conn, nested, depth + 1)]
        system = include.get("system")
        if include.get("concept"):
            own = [f"{system or ''}|{concept['code']}" for concept in include["concept"]]
        elif system:
            own = [f"{system}|"]
        else:
            own = []
        if from_sets and (own or system):  # both: only codes in the system part and in every ValueSet (AND)
            own = [v for v in from_sets if v in own or (system and v.startswith(f"{system}|"))]
        values.extend(own or from_sets)
    excluded = set()
    for exclude in compose.get("exclude", []):
        if exclude.get("filter") or not exclude.get("concept"):
            raise CannotExpand(f"ValueSet {reference} excludes codes by a filter or a whole system, which this "
                               "server cannot expand")
        excluded |= {f"{exclude.get('system', '')}|{concept['code']}" for concept in exclude["concept"]}
    if excluded and any(v.endswith("|") for v in values):
        raise CannotExpand(f"ValueSet {reference} excludes codes from a whole system, which this server cannot "
                           "expand")
    return [v for v in values if v not in excluded]
