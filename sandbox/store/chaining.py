"""Parse chained parameters and reverse chaining (``_has``) into nested criteria.

FHIR R4 search.html §3.1.1.4.13 Chained parameters (#chaining): ``subject:Patient.name=peter`` selects
resources whose ``subject`` refers to a Patient matching ``name=peter``; chains may go any depth, and a
reference that can point at several types is chained into each of them unless the ``:Type`` modifier picks one.
FHIR R4 search.html §3.1.1.4.14 Reverse chaining (#has): ``Patient?_has:Observation:patient:code=1234``
selects patients referred to by the ``patient`` parameter of an Observation matching ``code=1234``; ``_has``
may nest.

The innermost parameter is an ordinary criterion of its type, parsed with all its modifiers and prefixes.
A chain is bounded (R4 search.html, Handling Errors: a server may refuse a search it cannot execute): a
reference to any type fans out into every type with the next parameter, so an unbounded chain would grow
exponentially with its length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import InvalidRequest
from .resource_types import STORABLE_TYPES
from .searchparams import REFERENCE, SPECIAL, params_for, searchable_types

MAX_LINKS = 4  # references followed by one parameter, chained and reverse-chained together
MAX_BRANCHES = 64  # sub-selects of one parameter, once every reference to any type has fanned out


@dataclass(frozen=True)
class Chain:
    """``param[:Type].rest``: the reference ``param`` points at a resource of one of the branches' types that
    matches that branch's inner criterion."""

    param: str
    branches: tuple[tuple[str, object], ...]  # (target type, Criterion | Chain | Has)


@dataclass(frozen=True)
class Has:
    """``_has:Source:param:rest``: a ``Source`` resource matching ``inner`` refers to this one by ``param``."""

    source_type: str
    param: str
    inner: object  # Criterion | Chain | Has


class ChainTooCostly(InvalidRequest):
    """A chain beyond MAX_LINKS or MAX_BRANCHES: 400 with the issue code too-costly, even when lenient."""

    code = "too-costly"


class ChainRefused(Exception):
    """A chained or reverse-chained parameter this server cannot apply; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


LeafParser = Callable[[str, str, str], object]  # (resource type, raw name, raw value) -> Criterion


def is_chained(raw_name: str) -> bool:
    """Whether a parameter name is a chain (a dot in it) or starts a reverse chain."""
    return raw_name.startswith("_has:") or raw_name == "_has" or "." in raw_name


def parse_chained(resource_type: str, raw_name: str, raw_value: str, leaf: LeafParser) -> object:
    """The Chain, Has or (at the end of the chain) leaf criterion ``raw_name`` stands for on ``resource_type``.
    ``leaf`` parses a plain parameter and raises ChainRefused when the type does not support it."""
    links = raw_name.count(".") + raw_name.count("_has:")
    if links > MAX_LINKS:
        raise ChainTooCostly(f"Search parameter '{raw_name[:200]}' follows {links} references; a chain may follow "
                             f"at most {MAX_LINKS}")
    parsed = _parse(resource_type, raw_name, raw_value, leaf)
    if branches(parsed) > MAX_BRANCHES:
        raise ChainTooCostly(f"Search parameter '{raw_name}' reaches too many resource types "
                             f"({branches(parsed)} sub-searches, at most {MAX_BRANCHES}); name the target types "
                             "with the :Type modifier")
    return parsed


def branches(parsed: object) -> int:
    """How many sub-selects a parsed chain runs."""
    if isinstance(parsed, Chain):
        return sum(branches(inner) for _, inner in parsed.branches) + len(parsed.branches)
    if isinstance(parsed, Has):
        return 1 + branches(parsed.inner)
    return 0


def _parse(resource_type: str, raw_name: str, raw_value: str, leaf: LeafParser) -> object:
    if raw_name == "_has" or raw_name.startswith("_has:"):
        return _parse_has(resource_type, raw_name, raw_value, leaf)
    head, dot, rest = raw_name.partition(".")
    if not dot:
        return leaf(resource_type, raw_name, raw_value)
    name, _, target_type = head.partition(":")
    param = params_for(resource_type).get(name)
    if param is None or param.kind != REFERENCE:
        what = "unknown parameter" if param is None and name not in SPECIAL else "not a reference parameter"
        raise ChainRefused(f"'{name}' of {resource_type} cannot be chained: {what}")
    if not rest:
        raise ChainRefused(f"the chain after '{head}' names no parameter")
    if target_type:
        if target_type not in STORABLE_TYPES:
            raise ChainRefused(f"'{target_type}' is not a FHIR R4 resource type")
        if param.targets and target_type not in param.targets:
            raise ChainRefused(f"'{name}' of {resource_type} refers to {', '.join(param.targets)}, "
                               f"not {target_type}")
        candidates: tuple[str, ...] = (target_type,)
    else:
        candidates = param.targets or searchable_types()
    found, reasons = [], []
    for candidate in candidates:
        try:
            found.append((candidate, _parse(candidate, rest, raw_value, leaf)))
        except ChainRefused as refused:
            reasons.append(refused.reason)
    if not found:
        if len(candidates) == 1:
            raise ChainRefused(reasons[0])
        raise ChainRefused(f"no type '{name}' of {resource_type} may refer to supports '{rest}'")
    return Chain(name, tuple(found))


def _parse_has(resource_type: str, raw_name: str, raw_value: str, leaf: LeafParser) -> Has:
    parts = raw_name.split(":", 3)
    if len(parts) < 4 or not all(parts[1:]):
        raise ChainRefused("_has takes the form _has:Type:reference-parameter:parameter")
    _, source_type, name, rest = parts
    if source_type not in searchable_types():
        raise ChainRefused(f"{source_type} has no search parameters on this server")
    param = params_for(source_type).get(name)
    if param is None or param.kind != REFERENCE:
        raise ChainRefused(f"'{name}' is not a reference search parameter of {source_type}")
    if param.targets and resource_type not in param.targets:
        raise ChainRefused(f"'{name}' of {source_type} refers to {', '.join(param.targets)}, not {resource_type}")
    return Has(source_type, name, _parse(source_type, rest, raw_value, leaf))
