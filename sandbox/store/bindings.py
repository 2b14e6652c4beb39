"""Required value-set bindings of FHIR R4 (4.0.1), loaded as data and checked on write.

FHIR R4 terminologies.html §4.1.0.1: with a ``required`` binding, "to be conformant, the concept in this
element SHALL be from the specified value set". ``seed_data/fhir/required_bindings.json`` is made from the
published definitions by ``seed_data/fhir/make_required_bindings.py`` (source and licence are named in the
file): every element of a resource or data type bound ``required`` whose value set expands from the R4
CodeSystems, with the expanded codes, and the elements whose data type holds such bindings, so that
``Patient.name[0].use`` is checked as ``HumanName.use``.

A ``code`` element must hold one of the value set's codes. A ``Coding`` or ``CodeableConcept`` is checked
coding by coding: a coding whose system is one the value set draws on must carry one of its codes from that
system (codings of other systems are left alone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .errors import Issue

DATA_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "fhir" / "required_bindings.json"
SHOWN_CODES = 8


@dataclass(frozen=True)
class Binding:
    """One element's required binding: its type and the allowed codes by system."""

    path: str  # ``Observation.component.code``
    type: str  # code, Coding or CodeableConcept
    value_set: str
    codes: dict[str, frozenset[str]]
    all_codes: frozenset[str]

    def allowed(self) -> str:
        """The first few allowed codes, for a diagnostics sentence."""
        shown = sorted(self.all_codes)[:SHOWN_CODES]
        more = f" … ({len(self.all_codes)} codes)" if len(self.all_codes) > SHOWN_CODES else ""
        return ", ".join(shown) + more


@dataclass
class Node:
    """One element of a resource or data type: its binding, the elements below it, and its data type when
    that type holds bindings of its own (``Observation.valueQuantity`` → Quantity → ``comparator``)."""

    binding: Binding | None = None
    children: dict[str, Node] = field(default_factory=dict)
    datatype: str | None = None


Tree = dict[str, Node]


@cache
def binding_trees() -> dict[str, Tree]:
    """The bound elements of every resource and data type as trees of element names, read once per process."""
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    value_sets = {url: {system: frozenset(codes) for system, codes in vs["codes"].items()}
                  for url, vs in data["valueSets"].items()}
    trees: dict[str, Tree] = {}
    for path, element in data["elements"].items():
        codes = value_sets[element["valueSet"]]
        binding = Binding(path, element["type"], element["valueSet"], codes, frozenset().union(*codes.values()))
        _node(trees, path).binding = binding
    for path, datatype in data["typedElements"].items():
        _node(trees, path).datatype = datatype
    return trees


def _node(trees: dict[str, Tree], path: str) -> Node:
    rtype, *names = path.split(".")
    tree = trees.setdefault(rtype, {})
    node = None
    for name in names:
        node = tree.setdefault(name, Node())
        tree = node.children
    assert node is not None, path
    return node


def binding_issues(resource: dict) -> list[Issue]:
    """Every element of ``resource`` whose value breaks its required binding."""
    trees = binding_trees()
    tree = trees.get(resource.get("resourceType", ""))
    issues: list[Issue] = []
    if tree:
        _walk(trees, resource, tree, str(resource["resourceType"]), issues)
    return issues


def _walk(trees: dict[str, Tree], item: dict, tree: Tree, where: str, issues: list[Issue]) -> None:
    for name, node in tree.items():
        value = item.get(name)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for index, one in enumerate(values):
            path = f"{where}.{name}" + (f"[{index}]" if isinstance(value, list) else "")
            if node.binding is not None:
                issues.extend(_check(node.binding, one, path))
            if not isinstance(one, dict):
                continue
            if node.children:
                _walk(trees, one, node.children, path, issues)
            if node.datatype is not None:
                _walk(trees, one, trees[node.datatype], path, issues)


def _check(binding: Binding, value: object, path: str) -> list[Issue]:
    if binding.type == "code":
        if isinstance(value, str) and value not in binding.all_codes:
            return [Issue(path, f"{path} '{value}' is not a code of the required value set {binding.value_set} "
                                f"(allowed: {binding.allowed()})", "code-invalid")]
        return []
    codings = value.get("coding", []) if binding.type == "CodeableConcept" and isinstance(value, dict) else [value]
    issues = []
    for index, coding in enumerate(codings if isinstance(codings, list) else []):
        if not isinstance(coding, dict) or coding.get("system") not in binding.codes:
            continue
        if coding.get("code") not in binding.codes[coding["system"]]:
            where = (f"{path}.coding[{index}]" if binding.type == "CodeableConcept" else path) + ".code"
            issues.append(Issue(where, f"{where} '{coding.get('code')}' is not a code of {coding['system']} in "
                                f"the required value set {binding.value_set} (allowed: {binding.allowed()})",
                                "code-invalid"))
    return issues
