"""UCUM codes reduced to their unit without metric prefixes, so quantities compare across scales.

FHIR R4 search.html §3.1.1.5.6 (quantity): a server may compare quantities in canonical units. This server does
so where the UCUM codes differ only by metric prefixes or powers of ten: ``5 mg`` is ``0.005 g``, ``7 mmol/L``
is ``7000 umol/L`` in ``mol/L``; other conversions (°F to Cel, [lb_av] to g) are not made. Prefixes and the
atoms that take them come from the UCUM essence (``seed_data/ucum/ucum_scales.json``, made by
``seed_data/ucum/make_ucum_scales.py``, which names its source and licence).
"""

from __future__ import annotations

import functools
import json
import re
from decimal import Decimal
from pathlib import Path

UCUM_SYSTEM = "http://unitsofmeasure.org"
DATA_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "ucum" / "ucum_scales.json"

_DATA = json.loads(DATA_FILE.read_text(encoding="utf-8"))
PREFIXES = {code: Decimal(value) for code, value in _DATA["prefixes"].items()}
METRIC = frozenset(_DATA["metricAtoms"])
ATOMS = METRIC | frozenset(_DATA["otherAtoms"])

_TERM = re.compile(r"^(?P<unit>[^\d{}+-][^{}]*?|)(?P<exponent>[+-]?\d+)?(?P<note>\{[^}]*\})?$")
_POWER_OF_TEN = re.compile(r"^10[*^](?P<power>[+-]?\d+)$")


@functools.lru_cache(maxsize=4096)
def canonical(code: str) -> tuple[str, Decimal] | None:
    """(unit without prefixes, factor) of a UCUM code such as ``mmol/L`` → (``mol/L``, 0.001); None for a code
    this reduction does not read (then it is compared only with the same code)."""
    if not code or " " in code or "(" in code:
        return None
    factor = Decimal(1)
    out: list[str] = []
    for index, (operator, term) in enumerate(_terms(code)):
        if index == 0 and term == "":
            out.append("1")  # a leading '/', as in /min: 1/min
            continue
        reduced = _term(term)
        if reduced is None:
            return None
        unit, scale = reduced
        factor = factor / scale if operator == "/" else factor * scale
        out.append(f"{operator if index else ''}{unit}")
    return "".join(out) or "1", factor


def _terms(code: str) -> list[tuple[str, str]]:
    """``mg/dL`` → [('', 'mg'), ('/', 'dL')]."""
    terms, operator, current = [], "", ""
    for part in re.findall(r"\{[^}]*\}|[./]|[^./{]+", code):  # a dot inside {annotation} is no operator
        if part in (".", "/"):
            terms.append((operator, current))
            operator, current = part, ""
        else:
            current += part
    terms.append((operator, current))
    return terms


def _term(term: str) -> tuple[str, Decimal] | None:
    power = _POWER_OF_TEN.match(term)
    if power:
        return "1", Decimal(10) ** int(power["power"])
    match = _TERM.match(term)
    if not match:
        return None
    # UCUM §2.1: an annotation {…} means nothing to the unit, so it is dropped.
    unit, exponent = match["unit"], int(match["exponent"] or 1)
    if unit == "":
        return "1", Decimal(1)
    if unit in ATOMS or unit.startswith("["):
        return f"{unit}{match['exponent'] or ''}", Decimal(1)
    for prefix in sorted(PREFIXES, key=len, reverse=True):
        if unit.startswith(prefix) and unit[len(prefix):] in METRIC:
            return f"{unit[len(prefix):]}{match['exponent'] or ''}", PREFIXES[prefix] ** exponent
    return None
