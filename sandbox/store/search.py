"""Run a SearchQuery on the index tables: every criterion is an indexed sub-select, never a JSON scan.

Access rules join the same query as extra filters (``Compartment`` and ``AnyOf``), so paging and totals
only ever count what the caller may see. Chained and reverse-chained criteria (R4 search.html §3.1.1.4.13 and
§3.1.1.4.14) are sub-selects over the other type's resources, confined by that type's own filters
(``filters_for``): a resource the caller may not see never decides what a search returns.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .chaining import Chain, Has
from .errors import InvalidRequest
from .includes import resolve_includes
from .indexing import HIGH_BOUND, LOW_BOUND, normalize_string, parse_reference
from .numeric import COMPOSITE_COLUMNS, QUANTITY_COLUMNS, numeric_sql, parse_numeric
from .query import Criterion, SearchQuery, check_composite_value, parse_date_value
from .resources import Store, Stored
from .searchparams import COMPOSITE, DATE, INDEX_TABLE, NUMBER, QUANTITY, REFERENCE, STRING, TOKEN, URI, params_for
from .valuesets import token_values

MAX_STRING = "\U0010ffff"


@dataclass(frozen=True)
class Compartment:
    """Only resources in one of these patients' compartments."""

    patient_ids: tuple[str, ...]


@dataclass(frozen=True)
class AnyOf:
    """Only resources that match every item (criterion or compartment) of at least one group."""

    groups: tuple[tuple[Criterion | Compartment, ...], ...]


Filter = Compartment | AnyOf
FiltersFor = Callable[[str], tuple[Filter, ...]]  # the filters of a search of one type


def no_filters(resource_type: str) -> tuple[Filter, ...]:
    return ()


@dataclass
class SearchResult:
    matches: list[Stored]
    total: int | None
    included: list[Stored] = field(default_factory=list)


def search(store: Store, query: SearchQuery, filters: tuple[Filter, ...] = (),
           filters_for: FiltersFor = no_filters) -> SearchResult:
    """Run the query under ``filters``; ``filters_for`` confines the types chained criteria reach into."""
    criteria = [with_value_sets(store, c) for c in query.criteria]
    where, args = compile_where(query.resource_type, criteria, filters, filters_for)
    total = None
    if query.total != "none" or query.summary == "count":
        total = store.conn.execute(f"SELECT count(*) FROM resources r WHERE {where}", args).fetchone()[0]
    if query.summary == "count" or query.count == 0:
        return SearchResult([], total)
    order, order_args = _order_by(query)
    rows = store.conn.execute(
        f"SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.json FROM resources r WHERE {where} "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, *order_args, query.count, query.offset],
    ).fetchall()
    matches = [Stored(*row[1:]) for row in rows]
    included = resolve_includes(store, [row[0] for row in rows], query.includes, query.revincludes)
    return SearchResult(matches, total, included)


def with_value_sets(store: Store, c: Criterion | Chain | Has) -> Criterion | Chain | Has:
    """The criterion with each token ``:in``/``:not-in`` replaced by the codes of its ValueSet (valuesets.py):
    ``:in`` becomes the plain token values, ``:not-in`` the same under ``:not``; chains are followed."""
    if isinstance(c, Chain):
        return Chain(c.param, tuple((target, with_value_sets(store, inner)) for target, inner in c.branches))
    if isinstance(c, Has):
        return Has(c.source_type, c.param, with_value_sets(store, c.inner))
    if c.modifier not in ("in", "not-in"):
        return c
    values = tuple(v for reference in c.values for v in token_values(store.conn, reference))
    return Criterion(c.param, c.kind, values, "not" if c.modifier == "not-in" else None)


# How narrow a term usually is, by index table: the narrowest positive term drives the query.
_DRIVER_RANK = {"compartment": 0, "idx_reference": 0, "idx_token": 1, "idx_composite": 1, "idx_date": 2,
                "idx_string": 3, "idx_quantity": 3}


@dataclass(frozen=True)
class _Term:
    """One indexed condition: rows of ``table`` for ``param`` (None: any) that satisfy ``cond``."""

    table: str
    param: str | tuple[str, ...] | None  # a tuple: rows of any of these parameters
    cond: str
    args: tuple
    negate: bool = False
    chained: bool = False

    def as_driver(self, rtype: str) -> tuple[str, list]:
        """``r.rid IN (…)``: SQLite walks the (small) set of matching row ids and looks each resource up."""
        where, args = ["type = ?"], [rtype]
        if self.param is not None:
            sql, names = _param_sql("param", self.param)
            where.append(sql)
            args.extend(names)
        return f"r.rid IN (SELECT rid FROM {self.table} WHERE {' AND '.join(where)} AND ({self.cond}))", \
            [*args, *self.args]

    def as_check(self) -> tuple[str, list]:
        """``EXISTS (…)`` on the row id index: a few index probes per candidate, whatever the table size."""
        where, args = ["x.rid = r.rid"], []
        if self.param is not None:
            sql, names = _param_sql("x.param", self.param)
            where.append(sql)
            args.extend(names)
        sql = f"EXISTS (SELECT 1 FROM {self.table} x WHERE {' AND '.join(where)} AND ({self.cond}))"
        return ("NOT " if self.negate else "") + sql, [*args, *self.args]


def _param_sql(column: str, param: str | tuple[str, ...]) -> tuple[str, list]:
    if isinstance(param, str):
        return f"{column} = ?", [param]
    return f"{column} IN ({','.join('?' * len(param))})", list(param)


def _rows_of(rtype: str, name: str, suffix: str = "") -> str | tuple[str, ...]:
    """The index rows that answer a parameter: its own, or those of the parameters it unites."""
    param = params_for(rtype).get(name)
    if param is None or not param.stored_as or (param.kind == TOKEN and not suffix):
        return f"{name}{suffix}"
    return tuple(f"{other}{suffix}" for other in param.stored_as)


def compile_where(rtype: str, criteria: list[Criterion | Chain | Has], filters: tuple[Filter, ...] = (),
                  filters_for: FiltersFor = no_filters, drive: bool = True) -> tuple[str, list]:
    """The WHERE clause of a search: plain conditions on the resource row, one driving index term, and
    every other term as a correlated check, so the cost follows the narrowest term, not the widest.
    ``drive=False`` makes every term a check, for a sub-select probed once per row of an outer query."""
    parts, args = ["r.type = ?", "r.deleted = 0"], [rtype]
    terms: list[_Term] = []
    reverse_chains = [c for c in criteria if isinstance(c, Has)]
    for criterion in criteria:
        if isinstance(criterion, Has):
            continue
        compiled = _criterion(rtype, criterion, filters_for)
        if isinstance(compiled, _Term):
            terms.append(compiled)
        else:
            parts.append(compiled[0])
            args.extend(compiled[1])
    for item in filters:
        if isinstance(item, Compartment):
            terms.append(_compartment_term(item))
        else:
            sql, more = _any_of_sql(rtype, item)
            parts.append(sql)
            args.extend(more)
    positive = [t for t in terms if not t.negate]
    driver = min(positive, key=_driver_rank) if positive and drive else None
    if driver is not None:
        parts[0] = "+r.type = ?"  # unary plus: never let the planner walk every resource of the type instead
    for term in terms:
        sql, more = term.as_driver(rtype) if term is driver else term.as_check()
        parts.append(sql)
        args.extend(more)
    for has in reverse_chains:
        sql, more = _has_sql(rtype, has, filters_for, correlated=driver is not None or not drive)
        parts.append(sql)
        args.extend(more)
    return " AND ".join(parts), args


def _driver_rank(term: _Term) -> float:
    """A plain reference or the compartment drives before a chain, whose target set may be wide."""
    return _DRIVER_RANK[term.table] + (0.5 if term.chained else 0)


# SQLite's own build lets a statement hold at most 32,766 variables (some systems build it with more): a longer
# list of values goes as one JSON array.
VARIABLES_PER_LIST = 100


def in_values(column: str, values: Sequence[str]) -> tuple[str, tuple]:
    """``column IN (…)`` for any number of values: one variable each when they are few (the planner sees them),
    else one JSON array read by ``json_each`` — a Group of 20,000 patients, say."""
    if len(values) <= VARIABLES_PER_LIST:
        return f"{column} IN ({','.join('?' * len(values))})", tuple(values)
    return f"{column} IN (SELECT value FROM json_each(?))", (json.dumps(list(values)),)


def _compartment_term(item: Compartment) -> _Term:
    if not item.patient_ids:
        return _Term("compartment", None, "0", ())
    return _Term("compartment", None, *in_values("patient_id", item.patient_ids))


def _any_of_sql(rtype: str, item: AnyOf) -> tuple[str, list]:
    """Groups ORed together, each group's criteria ANDed, all as checks on the candidate row."""
    groups, args = [], []
    for group in item.groups:
        parts = ["1"]
        for criterion in group:
            compiled = _compartment_term(criterion) if isinstance(criterion, Compartment) else \
                _criterion(rtype, criterion)
            sql, more = compiled.as_check() if isinstance(compiled, _Term) else compiled
            parts.append(sql)
            args.extend(more)
        groups.append("(" + " AND ".join(parts) + ")")
    return ("(" + " OR ".join(groups) + ")") if groups else "0", args


def _criterion(rtype: str, c: Criterion | Chain | Has,
               filters_for: FiltersFor = no_filters) -> _Term | tuple[str, list]:
    """An index term, or for _id, _lastUpdated and _has a condition on the resource row itself."""
    if isinstance(c, Chain):
        return _chain_term(c, filters_for)
    if isinstance(c, Has):
        return _has_sql(rtype, c, filters_for, correlated=False)
    if c.param == "_id":
        marks = ",".join("?" * len(c.values))
        return (f"r.id {'NOT ' if c.modifier == 'not' else ''}IN ({marks})", list(c.values))
    if c.param == "_lastUpdated":
        moment = "substr(r.last_updated, 1, 19)"
        return _date_sql(c.values, moment, f"strftime('%Y-%m-%dT%H:%M:%S', {moment}, '+1 second')")
    if c.modifier in ("identifier", "of-type"):  # indexed as tokens under "param:modifier"
        return _Term("idx_token", f"{c.param}:{c.modifier}", *_modifier_token_sql(c))
    if c.modifier == "text":  # the texts of the codes, indexed as strings under "param:text"
        cond, args = _string_sql(Criterion(c.param, STRING, c.values))
        return _Term("idx_string", _rows_of(rtype, c.param, ":text"), cond, tuple(args))
    table = INDEX_TABLE[c.kind]
    rows = _rows_of(rtype, c.param)
    if c.modifier == "missing":
        return _Term(table, rows, "1", (), negate=c.values[0] == "true")
    if c.kind in (TOKEN, URI):
        cond, args = _token_sql(c)
    elif c.kind == STRING:
        cond, args = _string_sql(c)
    elif c.kind == DATE:
        cond, args = _date_sql(c.values, "start", '"end"')
    elif c.kind == REFERENCE:
        cond, args = _reference_sql(rtype, c)
    elif c.kind in (NUMBER, QUANTITY):
        cond, args = _or([numeric_sql(parse_numeric(v, c.kind == QUANTITY), QUANTITY_COLUMNS) for v in c.values])
    elif c.kind == COMPOSITE:
        cond, args = _composite_sql(rtype, c)
    else:  # pragma: no cover - every kind is handled above
        raise InvalidRequest(f"Cannot search on '{c.param}'")
    return _Term(table, rows, cond, tuple(args), negate=c.modifier == "not")


def _matching_sql(rtype: str, criterion: Criterion | Chain | Has, filters_for: FiltersFor,
                  column: str) -> tuple[str, list]:
    """``SELECT r.<column>`` of the visible resources of a type that match one criterion: a self-contained
    sub-select (its aliases shadow the outer query's), so SQLite runs it once whatever the outer query does."""
    where, args = compile_where(rtype, [criterion], filters_for(rtype), filters_for)
    return f"SELECT r.{column} FROM resources r WHERE {where}", args


def _chain_term(c: Chain, filters_for: FiltersFor) -> _Term:
    """R4 search.html §3.1.1.4.13: the reference ``c.param`` points at a matching resource of a branch's type."""
    conds, args = [], []
    for target_type, inner in c.branches:
        sql, more = _matching_sql(target_type, inner, filters_for, "id")
        conds.append(f"(target_type = ? AND target_id IN ({sql}))")
        args.extend([target_type, *more])
    return _Term("idx_reference", c.param, " OR ".join(conds), tuple(args), chained=True)


def _has_sql(rtype: str, c: Has, filters_for: FiltersFor, correlated: bool) -> tuple[str, list]:
    """R4 search.html §3.1.1.4.14: a matching ``c.source_type`` resource refers to this one by ``c.param``.

    Alone, the matching sources drive: their references name the resources. ``correlated`` (another term
    drives the outer query) probes the references to each candidate instead, so a wide reverse chain
    (``_has:Observation:patient:category=laboratory``) costs what the candidate's own references cost."""
    if correlated:
        where, args = compile_where(c.source_type, [c.inner], filters_for(c.source_type), filters_for, drive=False)
        return (f"EXISTS (SELECT 1 FROM idx_reference h WHERE h.target_id = r.id AND h.target_type = ? "
                f"AND h.type = ? AND h.param = ? AND EXISTS (SELECT 1 FROM resources r WHERE r.rid = h.rid "
                f"AND {where}))", [rtype, c.source_type, c.param, *args])
    sql, args = _matching_sql(c.source_type, c.inner, filters_for, "rid")
    # Unary plus keeps SQLite on the row id index: it visits the references of the matches, not every one.
    return (f"r.id IN (SELECT h.target_id FROM idx_reference h WHERE +h.type = ? AND h.param = ? "
            f"AND h.target_type = ? AND h.rid IN ({sql}))", [c.source_type, c.param, rtype, *args])


def _or(parts: list[tuple[str, list]]) -> tuple[str, list]:
    return " OR ".join(f"({sql})" for sql, _ in parts), [arg for _, more in parts for arg in more]


def _token_value_sql(value: str, system_column: str = "system", code_column: str = "code") -> tuple[str, list]:
    """R4 §3.1.1.5.5: ``code``, ``system|code``, ``|code`` (no system) or ``system|`` (any code)."""
    if "|" not in value:
        return f"{code_column} = ?", [value]
    system, _, code = value.partition("|")
    if not code:
        return f"{system_column} = ?", [system]
    if not system:
        return f"({code_column} = ? AND {system_column} IS NULL)", [code]
    return f"({code_column} = ? AND {system_column} = ?)", [code, system]


def _composite_sql(rtype: str, c: Criterion) -> tuple[str, list]:
    """R4 §3.1.1.5.8: ``token$value``, both parts matched on one idx_composite row (one element)."""
    second = params_for(rtype)[c.param].components[1].kind
    parts = []
    for value in c.values:
        first, rest = check_composite_value(c.param, second, value)
        head, head_args = _token_value_sql(first)
        if second in (NUMBER, QUANTITY):
            tail, tail_args = numeric_sql(parse_numeric(rest, second == QUANTITY), COMPOSITE_COLUMNS)
        elif second == DATE:
            tail, tail_args = _date_sql((rest,), "v_start", "v_end")
        elif second == STRING:
            norm = normalize_string(rest)
            tail, tail_args = "(v_norm >= ? AND v_norm < ?)", [norm, norm + MAX_STRING]
        else:
            tail, tail_args = _token_value_sql(rest, "v_system", "v_code")
        parts.append((f"{head} AND ({tail})", [*head_args, *tail_args]))
    return _or(parts)


def _modifier_token_sql(c: Criterion) -> tuple[str, tuple]:
    """reference:identifier=system|value, or identifier:of-type=system|code|value (type system, type code, value)."""
    # of-type rows hold the type's system, and "code|value" as their code: the value splits at its first bar.
    sql, args = _or([_token_value_sql(value) for value in c.values])
    return sql, tuple(args)


def _token_sql(c: Criterion) -> tuple[str, list]:
    if c.modifier in ("in", "not-in"):  # search() expands them; a granular scope's criteria are not
        raise InvalidRequest(f"'{c.param}:{c.modifier}' is supported in searches only")
    conds, args = [], []
    for value in c.values:
        if "|" in value and c.kind == TOKEN:
            sql, more = _token_value_sql(value)
            conds.append(sql)
            args.extend(more)
        elif c.modifier == "below":
            conds.append("(code >= ? AND code < ?)")
            args.extend([value, value + MAX_STRING])
        else:
            conds.append("code = ?")
            args.append(value)
    return " OR ".join(conds), args


def _string_sql(c: Criterion) -> tuple[str, list]:
    conds, args = [], []
    for value in c.values:
        if c.modifier == "exact":
            conds.append("value = ?")
            args.append(value)
        elif c.modifier == "contains":
            conds.append("norm LIKE ? ESCAPE '\\'")
            escaped = normalize_string(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{escaped}%")
        else:  # starts-with, case- and accent-insensitive
            norm = normalize_string(value)
            conds.append("(norm >= ? AND norm < ?)")
            args.extend([norm, norm + MAX_STRING])
    return " OR ".join(conds), args


def _date_sql(values: tuple[str, ...], start: str, end: str) -> tuple[str, list]:
    """FHIR R4 §3.1.1.5.4 on half-open ranges: the resource's [start, end) against the value's [lo, hi)."""
    rules = {
        "eq": f"({start} >= ? AND {end} <= ?)",
        "ne": f"NOT ({start} >= ? AND {end} <= ?)",
        "gt": f"({end} > ? AND ? IS NOT NULL)",
        "lt": f"({start} < ? AND ? IS NOT NULL)",
        "ge": f"({end} > ? AND ? IS NOT NULL)",
        "le": f"({start} < ? AND ? IS NOT NULL)",
        "sa": f"({start} >= ? AND ? IS NOT NULL)",
        "eb": f"({end} <= ? AND ? IS NOT NULL)",
        "ap": f"({start} < ? AND {end} > ?)",
    }
    conds, args = [], []
    for value in values:
        prefix, lo, hi = parse_date_value(value)
        conds.append(rules[prefix])
        if prefix == "ap":
            lo, hi = approximate_range(lo, hi)
            args.extend([hi, lo])
        elif prefix in ("eq", "ne"):
            args.extend([lo, hi])
        elif prefix in ("gt", "le", "sa"):
            args.extend([hi, hi])
        else:  # lt, ge, eb compare with the start of the value's range
            args.extend([lo, lo])
    return " OR ".join(conds), args


def approximate_range(lo: str, hi: str) -> tuple[str, str]:
    """R4 §3.1.1.4.7 ``ap`` on a date: the value's range widened by a tenth of its distance from now (at least
    a day), so ``ap2020`` is generous and ``ap`` today is a day either side (the server decides; HAPI does so)."""
    start, end = dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    gap = min(abs(now - start), abs(now - end)) if not start <= now < end else dt.timedelta(0)
    spread = max(gap / 10, dt.timedelta(days=1))
    return _shifted(start, -spread, LOW_BOUND), _shifted(end, spread, HIGH_BOUND)


def _shifted(moment: dt.datetime, delta: dt.timedelta, bound: str) -> str:
    try:
        return (moment + delta).strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    except OverflowError:
        return bound


def _reference_sql(rtype: str, c: Criterion) -> tuple[str, list]:
    targets = params_for(rtype)[c.param].targets
    conds, args = [], []
    for value in c.values:
        parsed = parse_reference(value) if "/" in value else None
        if parsed:
            conds.append("(target_id = ? AND target_type = ?)")
            args.extend([parsed[1], parsed[0]])
        elif "/" in value:
            raise InvalidRequest(f"'{value}' is not a reference of the form Type/id")
        elif len(targets) == 1:
            conds.append("(target_id = ? AND target_type = ?)")
            args.extend([value, targets[0]])
        else:
            conds.append("target_id = ?")
            args.append(value)
    return " OR ".join(conds), args


def _order_by(query: SearchQuery) -> tuple[str, list]:
    terms, args = [], []
    known = params_for(query.resource_type)
    for param, descending in query.sort:
        direction = "DESC" if descending else "ASC"
        if param == "_id":
            terms.append(f"r.id {direction}")
            continue
        if param == "_lastUpdated":
            terms.append(f"r.last_updated {direction}")
            continue
        kind = known[param].kind
        table = INDEX_TABLE[kind]
        column = {TOKEN: "code", URI: "code", STRING: "norm", DATE: "start", REFERENCE: "target_id",
                  NUMBER: "low", QUANTITY: "canon_low"}[kind]
        pick = "max" if descending else "min"
        rows, names = _param_sql("s.param", _rows_of(query.resource_type, param))
        terms.append(f"(SELECT {pick}({column}) FROM {table} s WHERE s.rid = r.rid AND {rows}) {direction}")
        args.extend(names)
    terms.append("r.rid ASC")
    return ", ".join(terms), args
