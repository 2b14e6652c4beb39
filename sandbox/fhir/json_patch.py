"""JSON Patch (RFC 6902) over JSON Pointers (RFC 6901), and JSON Merge Patch (RFC 7396).

FHIR R4 http.html §3.1.0.6.2 accepts JSON Patch on ``PATCH [type]/[id]``. Written here rather than taken
from a library so that every failure names the operation that failed (``operation 2 (replace /name/0)``),
which is what a developer debugging their app needs to read.

Failures: a malformed document raises ``InvalidRequest`` (400); an operation that cannot apply to this
resource, or a ``test`` that does not hold, raises ``Unprocessable`` (422) — RFC 5789 §2.2 names 422 for a
patch that is valid but cannot be applied.
"""

from __future__ import annotations

import copy
from typing import Any

from ..store.errors import InvalidRequest, Unprocessable

OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


def apply_json_patch(document: Any, target: dict) -> dict:
    """RFC 6902 §3: apply the operations in order to a copy of ``target``; any failure aborts the whole
    patch (§5), so the caller's resource is never half-patched."""
    if not isinstance(document, list):
        raise InvalidRequest("A JSON Patch document must be a JSON array of operations (RFC 6902 §3)")
    result: Any = copy.deepcopy(target)
    for index, operation in enumerate(document):
        result = _apply_one(result, index, operation)
    return result


def _apply_one(doc: Any, index: int, operation: Any) -> Any:
    if not isinstance(operation, dict):
        raise InvalidRequest(f"JSON Patch operation {index} is not a JSON object (RFC 6902 §4)")
    op = operation.get("op")
    label = f"JSON Patch operation {index} ({op} {operation.get('path')})"
    if op not in OPERATIONS:
        raise InvalidRequest(f"{label}: 'op' must be one of {', '.join(OPERATIONS)} (RFC 6902 §4)")
    path = _pointer(operation, "path", label)
    if op in ("add", "replace", "test") and "value" not in operation:
        raise InvalidRequest(f"{label}: '{op}' needs a 'value' member (RFC 6902 §4)")
    if op == "add":
        return _add(doc, path, copy.deepcopy(operation["value"]), label)
    if op == "remove":
        return _remove(doc, path, label)[0]
    if op == "replace":
        doc, _ = _remove(doc, path, label)
        return _add(doc, path, copy.deepcopy(operation["value"]), label)
    if op == "test":
        if not _equal(_get(doc, path, label), operation["value"]):
            raise Unprocessable(f"{label}: the value at '{operation['path']}' is not the expected value "
                                "(RFC 6902 §4.6)", code="conflict")
        return doc
    source = _pointer(operation, "from", label)
    if op == "move":
        if path[:len(source)] == source and len(path) > len(source):
            raise InvalidRequest(f"{label}: cannot move a value into one of its own children (RFC 6902 §4.4)")
        doc, value = _remove(doc, source, label)
        return _add(doc, path, value, label)
    return _add(doc, path, copy.deepcopy(_get(doc, source, label)), label)  # copy


def _pointer(operation: dict, member: str, label: str) -> list[str]:
    """RFC 6901 §3-4: '' is the whole document, otherwise '/'-separated tokens with ~1 → / and ~0 → ~."""
    text = operation.get(member)
    if not isinstance(text, str):
        raise InvalidRequest(f"{label}: '{member}' must be a JSON Pointer string (RFC 6902 §4)")
    if text == "":
        return []
    if not text.startswith("/"):
        raise InvalidRequest(f"{label}: '{member}' '{text}' is not a JSON Pointer: it must start with '/' "
                             "(RFC 6901 §3)")
    return [token.replace("~1", "/").replace("~0", "~") for token in text[1:].split("/")]


def _array_index(container: list, token: str, label: str, allow_end: bool) -> int:
    """RFC 6901 §4: array indexes are decimal without leading zeros; '-' is the end (for add only)."""
    if allow_end and token == "-":
        return len(container)
    if not token.isascii() or not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise Unprocessable(f"{label}: '{token}' is not an array index (RFC 6901 §4)")
    position = int(token)
    if position > len(container) or (position == len(container) and not allow_end):
        raise Unprocessable(f"{label}: index {position} is out of bounds (the array has {len(container)} items)")
    return position


def _parent(doc: Any, path: list[str], label: str) -> Any:
    return _get(doc, path[:-1], label)


def _get(doc: Any, path: list[str], label: str) -> Any:
    value = doc
    for depth, token in enumerate(path):
        where = "/" + "/".join(path[:depth + 1])
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list):
            value = value[_array_index(value, token, label, allow_end=False)]
        else:
            raise Unprocessable(f"{label}: there is nothing at '{where}' (RFC 6902 §4)")
    return value


def _add(doc: Any, path: list[str], value: Any, label: str) -> Any:
    """RFC 6902 §4.1: the parent must exist; objects get the member set, arrays get the value inserted."""
    if not path:
        return value
    parent, token = _parent(doc, path, label), path[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(parent, token, label, allow_end=True), value)
    else:
        raise Unprocessable(f"{label}: the parent of the target is not an object or array (RFC 6902 §4.1)")
    return doc


def _remove(doc: Any, path: list[str], label: str) -> tuple[Any, Any]:
    """RFC 6902 §4.2: the target location MUST exist. Returns (document, removed value)."""
    if not path:
        return None, doc
    parent, token = _parent(doc, path, label), path[-1]
    if isinstance(parent, dict) and token in parent:
        return doc, parent.pop(token)
    if isinstance(parent, list):
        return doc, parent.pop(_array_index(parent, token, label, allow_end=False))
    raise Unprocessable(f"{label}: there is nothing at '/{'/'.join(path)}' to remove (RFC 6902 §4.2)")


def _equal(left: Any, right: Any) -> bool:
    """RFC 6902 §4.6: same JSON type and value; numbers compare by value, booleans are not numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return left == right
    return type(left) is type(right) and left == right


def apply_merge_patch(patch: Any, target: Any) -> Any:
    """RFC 7396 §2: members of a patch object replace the target's, null removes one, and objects merge
    recursively; anything that is not an object replaces the target whole."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply_merge_patch(value, result.get(name))
    return result
