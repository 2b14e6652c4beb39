"""JSON from outside the sandbox, read within one bound: nested at most MAX_DEPTH levels (RFC 8259 §9: a parser
MAY limit the depth of nesting).

Python's parser recurses once per level and fails (RecursionError) near 1,000 levels; a document just below that
would parse, be stored, and then break whatever walks it recursively later (validation, rendering, templates).
So every JSON body, the FHIR API's, the OAuth and admin endpoints' (through Flask's JSON provider, edges.py) and
a JWK Set pasted into a form or fetched from a jwks_uri, is read by ``loads``: too deep is malformed JSON, a
ValueError each caller already answers with its own 400.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH levels."""

    def __init__(self) -> None:
        super().__init__(f"the JSON is nested deeper than {MAX_DEPTH} levels")


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` (its keyword arguments too), raising TooDeep for JSON nested deeper than MAX_DEPTH."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep from None
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """TooDeep when a parsed value holds arrays or objects more than MAX_DEPTH levels deep (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TooDeep
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
