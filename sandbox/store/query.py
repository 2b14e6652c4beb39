"""Parse FHIR search parameters (R4 §3.1.1 and §2.21.1) into a query the store can run.

A search is bounded before it is parsed (R4 search.html, Handling Errors: a server unable to execute a search
may return an error). The SQL of a larger search outgrows SQLite's limits, an internal error otherwise: measured
on an expression tree at most 1,000 deep, one parameter's ORed values fail from 497 on, ANDed parameters from
about 990, `_sort` keys from 2,000. MAX_VALUES leaves room for MAX_PARAMETERS, and for a token's granular scopes,
beside them.

Chained parameters (``patient.name``, ``subject:Patient.name``) and reverse chaining (``_has``) are parsed in
chaining.py into nested criteria (R4 search.html §3.1.1.4.13 and §3.1.1.4.14).

Search is strict by default (R4 search.html, Handling Errors: "Prefer: handling=strict" or
"handling=lenient"): a parameter this server does not support — an unknown name, a chain through a parameter
that is not a reference or to a parameter its target lacks, or a modifier its type does not take — is refused with
a 400 that names it and lists what the type supports. Lenient handling ignores it instead, and the Bundle's
``self`` link leaves it out (search.html#errors: "the client can determine which parameters were used").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .chaining import Chain, ChainRefused, Has, is_chained, parse_chained
from .errors import InvalidRequest
from .indexing import date_range
from .numeric import parse_numeric
from .searchparams import (
    COMPOSITE,
    DATE,
    NUMBER,
    QUANTITY,
    REFERENCE,
    SPECIAL,
    STRING,
    TOKEN,
    URI,
    SearchParam,
    omitted_for,
    params_for,
)

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
MODIFIERS = {
    TOKEN: {None, "not", "missing", "of-type", "in", "not-in", "text"},
    URI: {None, "missing", "below", "above"},
    STRING: {None, "exact", "contains", "missing"},
    DATE: {None, "missing"},
    REFERENCE: {None, "missing", "identifier"},
    NUMBER: {None, "missing"},
    QUANTITY: {None, "missing"},
    COMPOSITE: {None, "missing"},
}
# The second components a composite search reads (its first is always a token).
COMPOSITE_SECOND = (TOKEN, QUANTITY, NUMBER, DATE, STRING)
SUMMARY_VALUES = {"true", "false", "count", "data", "text"}
TOTAL_VALUES = {"none", "estimate", "accurate"}
MAX_PARAMETERS = 100  # name=value pairs of one search, _count, _sort … included
MAX_VALUES = 400  # comma-separated values of all its parameters together
MAX_VALUE_CHARS = 2048  # characters of one parameter's name, and of its value
# Parameters that shape the result rather than select resources.
# ``_totalMethod`` is what fhirpy's ``count()`` sends beside ``_count=0`` (an Aidbox spelling of ``_total``).
RESULT_PARAMS = {"_count", "_offset", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude",
                 "_format", "_pretty", "_totalMethod"}
TOTAL_METHODS = {"count": "accurate", "estimate": "estimate", "none": "none"}


class UnsupportedSearch(InvalidRequest):
    """A search parameter or modifier this server does not support, under strict handling: 400, not-supported."""

    code = "not-supported"


class SearchTooLarge(InvalidRequest):
    """A search beyond the limits of this server: 400 with the issue code too-costly."""

    code = "too-costly"


@dataclass(frozen=True)
class Criterion:
    """One search parameter occurrence: its values are ORed; criteria are ANDed."""

    param: str
    kind: str
    values: tuple[str, ...]
    modifier: str | None = None


@dataclass(frozen=True)
class Include:
    source_type: str
    param: str
    target_type: str | None = None
    iterate: bool = False  # also applied to what the includes bring in, until nothing new comes


@dataclass
class SearchQuery:
    resource_type: str
    criteria: list[Criterion | Chain | Has] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (param, descending)
    count: int = 20
    offset: int = 0
    total: str = "accurate"
    summary: str | None = None
    elements: tuple[str, ...] = ()
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # parameters the server did not understand


def parse_search(resource_type: str, params: Iterable[tuple[str, str]], *, page_size: int = 20,
                 max_page_size: int = 1000, strict: bool = True) -> SearchQuery:
    """Build a SearchQuery. Malformed values raise InvalidRequest (400). Unsupported parameters raise
    UnsupportedSearch naming them all when ``strict`` (the default); otherwise (Prefer: handling=lenient) they are
    left out and listed in ``ignored``."""
    params = check_limits(params)
    query = SearchQuery(resource_type, count=page_size)
    known = params_for(resource_type)
    refused_names: list[str] = []
    for raw_name, raw_value in params:
        if is_chained(raw_name):
            try:
                query.criteria.append(parse_chained(resource_type, raw_name, raw_value, _chain_leaf))
            except ChainRefused as refused:
                refused_names.append(f"'{raw_name}' ({refused.reason})")
                query.ignored.append(raw_name)
            continue
        name, _, modifier = raw_name.partition(":")
        kind = SPECIAL.get(name) or (known[name].kind if name in known else None)
        reason = unsupported(name, kind, modifier, resource_type)
        if reason:
            refused_names.append(f"'{raw_name}' ({reason})")
            query.ignored.append(raw_name)
        elif name in RESULT_PARAMS:
            _apply_result_param(query, name, raw_value, max_page_size, modifier == "iterate")
        else:
            query.criteria.append(make_criterion(resource_type, name, kind, modifier or None, raw_value))
    if refused_names and strict:
        raise UnsupportedSearch(f"{resource_type} search does not support {', '.join(refused_names)}. "
                                f"{supported_summary(resource_type)} Send 'Prefer: handling=lenient' to have "
                                "unsupported parameters ignored instead.")
    return query


def _chain_leaf(resource_type: str, raw_name: str, raw_value: str) -> Criterion:
    """The parameter at the end of a chain: an ordinary criterion of ``resource_type``, with its modifiers."""
    name, _, modifier = raw_name.partition(":")
    kind = SPECIAL.get(name) or (params_for(resource_type)[name].kind if name in params_for(resource_type) else None)
    reason = "a result parameter cannot be chained" if name in RESULT_PARAMS else \
        unsupported(name, kind, modifier, resource_type)
    if reason:
        raise ChainRefused(f"{resource_type} parameter '{raw_name}': {reason}")
    return make_criterion(resource_type, name, kind, modifier or None, raw_value)


def unsupported(name: str, kind: str | None, modifier: str, resource_type: str = "") -> str | None:
    """Why this server cannot apply a parameter (its name split from its modifier), or None when it can."""
    if name in RESULT_PARAMS:
        if modifier == "iterate" and name in ("_include", "_revinclude"):
            return None  # R4 search.html §3.1.1.5.4: includes of includes
        return f"modifiers of {name} are not supported" if modifier else None
    if kind is None:
        omitted = omitted_for(resource_type, name)
        return f"an R4 parameter whose expression this server cannot index: {omitted}" if omitted else \
            "unknown parameter"
    if kind == COMPOSITE and resource_type:
        reason = composite_unsupported(params_for(resource_type)[name])
        if reason:
            return reason
    if not modifier:
        return None
    if kind == REFERENCE and modifier[:1].isupper():
        return None  # a target type, such as subject:Patient
    if modifier not in MODIFIERS[kind]:
        allowed = sorted(f":{m}" for m in MODIFIERS[kind] if m)
        if kind == REFERENCE:
            allowed.append(":[type]")
        return f"{kind} parameters take only {', '.join(allowed)}"
    return None


def composite_unsupported(param: SearchParam) -> str | None:
    """Why a composite parameter cannot be searched here, or None: this server pairs a token with a value."""
    kinds = [component.kind for component in param.components]
    if len(kinds) != 2 or kinds[0] != TOKEN or kinds[1] not in COMPOSITE_SECOND:
        return f"composite of {' and '.join(kinds)} components: only a token paired with a " \
               f"{', '.join(COMPOSITE_SECOND)} value is supported"
    return None


def supported_summary(resource_type: str) -> str:
    """The parameters a type supports, as the sentence an unsupported-search error ends with."""
    names = sorted({*SPECIAL, *params_for(resource_type)})
    return (f"Search parameters of {resource_type}: {', '.join(names)}; "
            f"result parameters: {', '.join(sorted(RESULT_PARAMS))}.")


def check_limits(params: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The parameters, once they are known to be within MAX_PARAMETERS, MAX_VALUE_CHARS and MAX_VALUES;
    SearchTooLarge names the limit otherwise."""
    checked: list[tuple[str, str]] = []
    values = 0
    for name, value in params:
        checked.append((name, value))
        if len(checked) > MAX_PARAMETERS:
            raise SearchTooLarge(f"A search may have at most {MAX_PARAMETERS} parameters; this one has more. "
                                 "Split it into several searches.")
        if len(name) > MAX_VALUE_CHARS or len(value) > MAX_VALUE_CHARS:
            raise SearchTooLarge(f"Search parameter '{name[:64]}' is {len(name) + len(value) + 1} characters long; "
                                 f"its name and its value may have at most {MAX_VALUE_CHARS} each")
        values += len(split_values(value))
        if values > MAX_VALUES:
            raise SearchTooLarge(f"A search may have at most {MAX_VALUES} values in all (each comma-separated "
                                 "value counts); split it into several searches")
    return checked


def make_criterion(resource_type: str, name: str, kind: str, modifier: str | None, raw_value: str) -> Criterion:
    reason = unsupported(name, kind, modifier or "", resource_type)
    if reason:
        raise UnsupportedSearch(f"Search parameter '{name}:{modifier}' is not supported: {reason}")
    if kind == REFERENCE and modifier and modifier[:1].isupper():
        # `subject:Patient=123` narrows the target type; fold it into the value.
        raw_value = ",".join(f"{modifier}/{v}" if "/" not in v else v for v in split_values(raw_value))
        modifier = None
    values = tuple(split_values(raw_value))
    if not values or any(v == "" for v in values):
        raise InvalidRequest(f"Search parameter '{name}' needs a value")
    if modifier == "missing":
        if values not in (("true",), ("false",)):
            raise InvalidRequest(f"'{name}:missing' takes true or false")
    elif modifier == "of-type":
        if any(v.count("|") != 2 or not all(v.split("|")[1:]) for v in values):
            raise InvalidRequest(f"'{name}:of-type' takes system|code|value, the identifier's type and its value")
    elif kind == DATE:
        for value in values:
            parse_date_value(value)
    elif kind in (NUMBER, QUANTITY):
        for value in values:
            parse_numeric(value, kind == QUANTITY)
    elif kind == COMPOSITE:
        second = params_for(resource_type)[name].components[1].kind
        for value in values:
            check_composite_value(name, second, value)
    return Criterion(name, kind, values, modifier)


def check_composite_value(name: str, second: str, value: str) -> tuple[str, str]:
    """``token$value`` (R4 §3.1.1.5.8) split in two, once the second part is valid for its type."""
    first, dollar, rest = value.partition("$")
    if not dollar or not first or not rest or "$" in rest:
        raise InvalidRequest(f"'{name}' takes a value of the form code$value, e.g. "
                             f"http://loinc.org|8480-6$gt100; got '{value}'")
    if second in (NUMBER, QUANTITY):
        parse_numeric(rest, second == QUANTITY)
    elif second == DATE:
        parse_date_value(rest)
    return first, rest


def split_values(raw: str) -> list[str]:
    """Split on commas not escaped with a backslash (R4 §3.1.1.5.7), then unescape."""
    values, current, escaped = [], [], False
    for ch in raw:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
    values.append("".join(current))
    return values


def parse_date_value(value: str) -> tuple[str, str, str]:
    """(prefix, start, end) of a date search value such as ``ge2020-01`` (prefix defaults to eq)."""
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    try:
        start, end = date_range(text.replace(" ", "+"))  # an unencoded '+' in a URL arrives as a space
    except ValueError:
        raise InvalidRequest(f"'{value}' is not a valid date search value") from None
    return prefix, start, end


def _apply_result_param(query: SearchQuery, name: str, value: str, max_page_size: int,
                        iterate: bool = False) -> None:
    if name == "_count":
        query.count = min(_non_negative_int(name, value), max_page_size)
    elif name == "_offset":
        query.offset = _non_negative_int(name, value)
    elif name == "_sort":
        for item in split_values(value):
            descending = item.startswith("-")
            param = item.lstrip("-")
            if param not in SPECIAL and param not in params_for(query.resource_type):
                raise InvalidRequest(f"Cannot sort {query.resource_type} by unknown parameter '{param}'")
            if param in params_for(query.resource_type) and params_for(query.resource_type)[param].kind == COMPOSITE:
                raise InvalidRequest(f"Cannot sort by the composite parameter '{param}'")
            query.sort.append((param, descending))
    elif name == "_total":
        if value not in TOTAL_VALUES:
            raise InvalidRequest(f"_total must be one of {', '.join(sorted(TOTAL_VALUES))}")
        query.total = value
    elif name == "_totalMethod":
        if value not in TOTAL_METHODS:
            raise InvalidRequest(f"_totalMethod must be one of {', '.join(sorted(TOTAL_METHODS))}")
        query.total = TOTAL_METHODS[value]
    elif name == "_summary":
        if value not in SUMMARY_VALUES:
            raise InvalidRequest(f"_summary must be one of {', '.join(sorted(SUMMARY_VALUES))}")
        query.summary = value
    elif name == "_elements":
        query.elements = tuple(e.strip() for e in value.split(",") if e.strip())
    elif name in ("_include", "_revinclude"):
        include = _parse_include(name, value, iterate)
        (query.includes if name == "_include" else query.revincludes).append(include)


def _parse_include(name: str, value: str, iterate: bool = False) -> Include:
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise InvalidRequest(f"{name} must look like Type:parameter[:TargetType], got '{value}'")
    source, param = parts[0], parts[1]
    known = params_for(source)
    if param not in known or known[param].kind != REFERENCE:
        raise InvalidRequest(f"{name}: '{param}' is not a reference search parameter of {source}")
    return Include(source, param, parts[2] if len(parts) == 3 else None, iterate)


def _non_negative_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise InvalidRequest(f"{name} must be a non-negative integer, got '{value}'")
    return number
