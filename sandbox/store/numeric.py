"""Number and quantity search values (FHIR R4 search.html §3.1.1.5.1 number, §3.1.1.5.6 quantity) as SQL.

A value is ``[prefix]number`` and, for a quantity, ``|system|code``, ``||code`` or nothing (any unit). Its
precision sets the range ``eq`` accepts: ``100`` is [99.5, 100.5), ``100.0`` is [99.95, 100.05). The indexed
side is [low, high]: one number (low = high) or a Range. With a UCUM code that reduces to a unit without
prefixes (ucum.py), both sides compare in that unit, so ``gt5|http://unitsofmeasure.org|mg`` finds 0.01 g.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .errors import InvalidRequest
from .ucum import UCUM_SYSTEM, canonical

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
APPROXIMATE = Decimal("0.1")  # R4 §3.1.1.4.7: "ap" — the server decides; HAPI and this server use 10 %
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class NumericValue:
    prefix: str
    number: Decimal
    system: str | None = None
    code: str | None = None

    @property
    def bounds(self) -> tuple[Decimal, Decimal]:
        """The range the value's precision implies: half a unit of its last digit either side."""
        half = Decimal(5).scaleb(self.number.as_tuple().exponent - 1)
        return self.number - half, self.number + half


def parse_numeric(value: str, quantity: bool) -> NumericValue:
    """A number (``quantity`` False) or quantity search value; InvalidRequest names what is wrong."""
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    text = value[2:] if value[:2] in PREFIXES else value
    number, system, code = text, None, None
    if "|" in text:
        if not quantity:
            raise InvalidRequest(f"'{value}' is not a number search value (a number takes no unit)")
        parts = text.split("|")
        if len(parts) != 3:
            raise InvalidRequest(f"'{value}' is not a quantity search value: use number|system|code, "
                                 "number||code or a number alone")
        number, system, code = parts[0], parts[1] or None, parts[2] or None
    if not _NUMBER.match(number):
        raise InvalidRequest(f"'{value}' is not a valid {'quantity' if quantity else 'number'} search value")
    try:
        parsed = Decimal(number)
    except InvalidOperation:
        raise InvalidRequest(f"'{value}' is not a valid number") from None
    return NumericValue(prefix, parsed, system, code)


def _rule(prefix: str, low: str, high: str, lo: Decimal, hi: Decimal, number: Decimal) -> tuple[str, list]:
    """One prefix's condition on the indexed [low, high] (column names), against the value's range."""
    n = float(number)
    if prefix == "eq":
        return f"({low} >= ? AND {high} < ?)", [float(lo), float(hi)]
    if prefix == "ne":
        return f"NOT ({low} >= ? AND {high} < ?)", [float(lo), float(hi)]
    if prefix == "ap":
        spread = abs(number) * APPROXIMATE
        return f"({low} <= ? AND {high} >= ?)", [float(number + spread), float(number - spread)]
    column, operator = {"gt": (high, ">"), "lt": (low, "<"), "ge": (high, ">="), "le": (low, "<="),
                        "sa": (low, ">"), "eb": (high, "<")}[prefix]
    return f"{column} {operator} ?", [n]


def numeric_sql(value: NumericValue, columns: dict[str, str]) -> tuple[str, list]:
    """The condition one value puts on an index row; ``columns`` names the row's system, code, low, high,
    canon, canon_low and canon_high columns."""
    c = columns
    lo, hi = value.bounds
    plain, plain_args = _rule(value.prefix, c["low"], c["high"], lo, hi, value.number)
    if value.code is None:
        if value.system is not None:
            return f"({c['system']} = ? AND {plain})", [value.system, *plain_args]
        return plain, plain_args
    reduced = canonical(value.code) if value.system in (None, UCUM_SYSTEM) else None
    if reduced is None:
        conds, args = [f"{c['code']} = ?"], [value.code]
        if value.system is not None:
            conds.append(f"{c['system']} = ?")
            args.append(value.system)
        return f"({' AND '.join(conds)} AND {plain})", [*args, *plain_args]
    unit, factor = reduced
    scaled, scaled_args = _rule(value.prefix, c["canon_low"], c["canon_high"], lo * factor, hi * factor,
                                value.number * factor)
    sql, args = f"({c['canon']} = ? AND {scaled})", [unit, *scaled_args]
    if value.system is None:  # ||code also matches the same code in another system
        sql = f"({sql} OR ({c['canon']} IS NULL AND {c['code']} = ? AND {plain}))"
        args.extend([value.code, *plain_args])
    return sql, args


QUANTITY_COLUMNS = {name: name for name in ("system", "code", "low", "high", "canon", "canon_low", "canon_high")}
COMPOSITE_COLUMNS = {name: f"v_{name}" for name in QUANTITY_COLUMNS}
