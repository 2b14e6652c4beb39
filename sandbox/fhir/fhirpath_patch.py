"""FHIRPath Patch (FHIR R4 fhirpatch.html): a ``Parameters`` resource whose ``operation`` parameters each
have a ``type`` (add, insert, delete, replace, move), a ``path`` and, by type, ``name``, ``value``,
``index``, ``source`` and ``destination``.

Paths are the simple subset of FHIRPath the specification's examples use: ``Type.element``, nested
elements, ``element[n]``, ``first()``, ``last()`` and ``where(child = 'literal')``. A choice element is named
without its type, as FHIRPath names it (``Observation.value`` finds ``valueQuantity``). Anything else is refused
with a 400 that names the path, rather than guessed at. Operations that cannot apply to this resource
(a path that matches nothing, or more than one element) fail with 422.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from ..store.errors import InvalidRequest, Unprocessable
from .cardinality import is_element, repeats

TYPES = ("add", "insert", "delete", "replace", "move")
# R4 datatypes.html: the types a choice element (value[x], effective[x] …) may take, as its JSON name ends.
CHOICE_TYPES = frozenset(
    "Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant Integer Markdown Oid PositiveInt String "
    "Time UnsignedInt Uri Url Uuid Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count "
    "Distance Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData Signature "
    "Timing ContactDetail Contributor DataRequirement Expression ParameterDefinition RelatedArtifact "
    "TriggerDefinition UsageContext Dosage Meta".split())
_STEP = re.compile(r"""
    \.?(?:
        (?P<name>[A-Za-z_][A-Za-z0-9_]*)\b(?!\()
      | \[(?P<index>\d+)\]
      | (?P<function>first|last)\(\)
      | where\((?P<left>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<literal>'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?|true|false)\)
    )""", re.VERBOSE)


@dataclass
class Node:
    """An element found by a path: ``owner[key]``, or ``owner[key][position]`` for an item of a list."""

    owner: dict
    key: str
    position: int | None = None
    names: tuple[str, ...] = ()  # the JSON names from the resource down to here, for cardinality
    name: str = ""  # the name the path used: 'value' for valueQuantity

    @property
    def value(self) -> Any:
        held = self.owner[self.key]
        return held if self.position is None else held[self.position]


def apply_fhirpath_patch(parameters: Any, target: dict) -> dict:
    """Apply every ``operation`` in order to a copy of ``target``; one failure aborts the whole patch."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise InvalidRequest("A FHIRPath Patch is a Parameters resource (FHIR R4 fhirpatch.html)")
    operations = parameters.get("parameter")
    if not isinstance(operations, list) or not operations:
        raise InvalidRequest("A FHIRPath Patch needs at least one 'operation' parameter (FHIR R4 fhirpatch.html)")
    result = copy.deepcopy(target)
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict) or operation.get("name") != "operation":
            raise InvalidRequest(f"Parameters.parameter[{index}] must be named 'operation' (FHIR R4 fhirpatch.html)")
        apply_operation(result, index, parts_of(operation, index))
    return result


def parts_of(operation: dict, index: int) -> dict[str, Any]:
    """The operation's parts by name: ``type``, ``path``, ``name``, ``index``, ``source``, ``destination`` as
    their primitive values, ``value`` as a value[x] or, for an element with children, an object built from
    its nested parts."""
    found: dict[str, Any] = {}
    for part in operation.get("part") or []:
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            raise InvalidRequest(f"FHIRPath Patch operation {index}: every part needs a name")
        found[part["name"]] = part_value(part)
        if part["name"] == "value":
            found["value type"] = next((key[5:] for key in part if key[5:] in CHOICE_TYPES), None)
    return found


def part_value(part: dict) -> Any:
    for key, value in part.items():
        if key.startswith("value") and len(key) > 5 and key[5].isupper():
            return value
    if isinstance(part.get("part"), list):
        built: dict[str, Any] = {}
        for child in part["part"]:
            if isinstance(child, dict) and isinstance(child.get("name"), str):
                value = part_value(child)
                if child["name"] in built:  # a repeated name is a list
                    held = built[child["name"]]
                    built[child["name"]] = (held if isinstance(held, list) else [held]) + [value]
                else:
                    built[child["name"]] = value
        return built
    return None


def apply_operation(resource: dict, index: int, parts: dict[str, Any]) -> None:
    kind, path = parts.get("type"), parts.get("path")
    label = f"FHIRPath Patch operation {index} ({kind} {path})"
    if kind not in TYPES:
        raise InvalidRequest(f"{label}: type must be one of {', '.join(TYPES)} (FHIR R4 fhirpatch.html)")
    if not isinstance(path, str) or not path:
        raise InvalidRequest(f"{label}: a path is required")
    if kind in ("add", "insert", "replace") and "value" not in parts:
        raise InvalidRequest(f"{label}: '{kind}' needs a value")
    nodes = evaluate(resource, path, label)
    if kind != "add" and any(node.key == "" for node in nodes):
        raise InvalidRequest(f"{label}: the path must name an element inside the resource; only add takes the "
                             "resource itself")
    OPERATIONS[kind](resource, nodes, parts, label)


def delete(resource: dict, nodes: list[Node], parts: dict[str, Any], label: str) -> None:
    """fhirpatch.html: delete one element; deleting what is not there is not an error."""
    if len(nodes) > 1:
        raise Unprocessable(f"{label}: the path matches {len(nodes)} elements; delete takes one")
    if nodes:
        remove(nodes[0])


def add(resource: dict, nodes: list[Node], parts: dict[str, Any], label: str) -> None:
    """fhirpatch.html: add ``name`` with ``value`` to the one element at ``path``; a repeating element gets the
    value appended."""
    name = parts.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{label}: 'add' needs a name, the element to add to the path's element")
    node = single(nodes, label)
    container = node.value
    if not isinstance(container, dict):
        raise Unprocessable(f"{label}: the path is a primitive value, which has no elements to add to")
    value = copy.deepcopy(parts["value"])
    held, typed = container.get(name), choice_name(resource["resourceType"], node.names, name, parts)
    if isinstance(held, list):
        held.append(value)
    elif held is not None or (typed and typed in container):
        raise Unprocessable(f"{label}: '{name}' already has a value; use replace")
    elif typed:
        container[typed] = value
    elif repeats(resource["resourceType"], node.names + (name,)):
        container[name] = [value]
    else:
        container[name] = value


def replace(resource: dict, nodes: list[Node], parts: dict[str, Any], label: str) -> None:
    """fhirpatch.html: replace the one element at ``path`` with ``value``."""
    node = single(nodes, label)
    if node.position is None:
        value, key = copy.deepcopy(parts["value"]), node.key
        if key != node.name and parts.get("value type"):  # a choice element may change its type
            del node.owner[key]
            key = node.name + parts["value type"]
        node.owner[key] = value
    else:
        node.owner[node.key][node.position] = copy.deepcopy(parts["value"])


def insert(resource: dict, nodes: list[Node], parts: dict[str, Any], label: str) -> None:
    """fhirpatch.html: insert ``value`` into the list at ``path`` at ``index``."""
    items = list_at(nodes, label)
    items.insert(position(parts, "index", label, len(items)), copy.deepcopy(parts["value"]))


def move(resource: dict, nodes: list[Node], parts: dict[str, Any], label: str) -> None:
    """fhirpatch.html: move the item at ``source`` in the list at ``path`` to ``destination``."""
    items = list_at(nodes, label)
    source = position(parts, "source", label, len(items) - 1)
    destination = position(parts, "destination", label, len(items) - 1)
    items.insert(destination, items.pop(source))


def choice_name(resource_type: str, names: tuple[str, ...], name: str, parts: dict[str, Any]) -> str | None:
    """The JSON name of choice element ``name`` holding the patch's value (``value`` + ``Quantity``), when
    ``name`` is a choice element; else None."""
    typed = name + (parts.get("value type") or "")
    if typed != name and not is_element(resource_type, names + (name,)) and is_element(resource_type,
                                                                                        names + (typed,)):
        return typed
    return None


OPERATIONS = {"add": add, "insert": insert, "delete": delete, "replace": replace, "move": move}


def evaluate(resource: dict, path: str, label: str) -> list[Node]:
    """The elements ``path`` selects, as locations that can be changed in place."""
    rtype = resource.get("resourceType", "")
    if path != rtype and not path.startswith(rtype + "."):
        raise InvalidRequest(f"{label}: the path must start with '{rtype}' (FHIR R4 fhirpatch.html)")
    nodes, offset = [Node({"": resource}, "")], len(rtype)
    while offset < len(path):
        step = _STEP.match(path, offset)
        if step is None:
            raise InvalidRequest(f"{label}: '{path[offset:]}' is not supported in a path here; this server "
                                 "takes elements, [index], first(), last() and where(element = 'literal')")
        nodes = apply_step(nodes, step)
        offset = step.end()
    return nodes


def apply_step(nodes: list[Node], step: re.Match) -> list[Node]:
    if step.group("name"):
        return children(nodes, step.group("name"))
    if step.group("index") is not None:
        at = int(step.group("index"))
        return nodes[at:at + 1]
    if step.group("function"):
        return nodes[:1] if step.group("function") == "first" else nodes[-1:]
    wanted = literal(step.group("literal"))
    return [node for node in nodes if wanted in values_at(node, step.group("left").split("."))]


def children(nodes: list[Node], name: str) -> list[Node]:
    found = []
    for node in nodes:
        value = node.value
        if not isinstance(value, dict):
            continue
        key = name if name in value else next(
            (k for k in value if k.startswith(name) and k[len(name):] in CHOICE_TYPES), None)
        if key is not None:
            held = value[key]
            if isinstance(held, list):
                found += [Node(value, key, i, node.names + (key,), name) for i in range(len(held))]
            else:
                found.append(Node(value, key, None, node.names + (key,), name))
    return found


def values_at(node: Node, names: list[str]) -> list[Any]:
    nodes = [node]
    for name in names:
        nodes = children(nodes, name)
    return [n.value for n in nodes]


def literal(text: str) -> Any:
    if text.startswith("'"):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text in ("true", "false"):
        return text == "true"
    return float(text) if "." in text else int(text)


def single(nodes: list[Node], label: str) -> Node:
    if len(nodes) != 1:
        raise Unprocessable(f"{label}: the path matches {len(nodes)} elements; it must match exactly one")
    return nodes[0]


def list_at(nodes: list[Node], label: str) -> list:
    """The list that insert and move work on: the path names a repeating element (all its items)."""
    owners = {(id(n.owner), n.key) for n in nodes}
    if not nodes or len(owners) != 1 or nodes[0].position is None:
        raise Unprocessable(f"{label}: the path must name one existing list (a repeating element)")
    return nodes[0].owner[nodes[0].key]


def position(parts: dict[str, Any], name: str, label: str, highest: int) -> int:
    value = parts.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRequest(f"{label}: '{name}' must be a non-negative integer")
    if value > highest:
        raise Unprocessable(f"{label}: {name} {value} is out of range (at most {highest})")
    return value


def remove(node: Node) -> None:
    """Delete an element; a list left empty goes too, since FHIR JSON has no empty arrays."""
    if node.position is None:
        del node.owner[node.key]
        return
    items = node.owner[node.key]
    del items[node.position]
    if not items:
        del node.owner[node.key]
