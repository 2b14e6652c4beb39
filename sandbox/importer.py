"""Import FHIR data into the store: Bundles (transaction, batch or collection, as JSON files) and FHIR
Bulk Data exports (NDJSON, one resource per line, files named like ``Patient.000.ndjson``).

Resources keep their own ids. They load in dependency order (organizations, locations and practitioners
before the patients and records that point at them), so conditional references such as
``Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974493`` resolve against what is already
stored or loaded earlier in the run, with the same resolver transactions use. References to a bundle
entry's ``fullUrl`` (``urn:uuid:…``) become ``Type/id``. A resource that fails is reported with its file
and line (or entry) and the import goes on; a resource whose conditional reference matches nothing yet
is tried again once everything else has loaded. A resource without a narrative gets a generated one
(sandbox/narrative.py); one that has ``text`` keeps it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .fhir.formats import parse_json
from .fhir.references import (
    AmbiguousReference,
    ReferenceResolver,
    UnresolvedReference,
    check_reference_syntax,
    find_matches,
)
from .narrative import with_narrative
from .store import Store
from .store.errors import FhirError, InvalidRequest
from .store.resources import new_id
from .store.validation import ID_PATTERN, validate

DEPENDENCY_ORDER = ("Organization", "Location", "Practitioner", "PractitionerRole", "Medication", "Patient",
                    "Encounter")
CHUNK = 500
_UUID_URN = re.compile(r"^urn:uuid:([0-9a-fA-F-]{36})$")
_RESOURCE_TYPE = re.compile(r'"resourceType"\s*:\s*"([A-Za-z]+)"')


def type_rank(rtype: str) -> int:
    """Position of a type in the load order: the listed types first, then everything else."""
    return DEPENDENCY_ORDER.index(rtype) if rtype in DEPENDENCY_ORDER else len(DEPENDENCY_ORDER)


@dataclass
class ImportReport:
    loaded: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    matched: Counter = field(default_factory=Counter)  # conditional creates that found the resource stored
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary_lines(self) -> list[str]:
        lines = []
        for rtype in sorted(set(self.loaded) | set(self.failed) | set(self.matched), key=lambda t: (type_rank(t), t)):
            matched = f", {self.matched[rtype]} already stored" if self.matched[rtype] else ""
            failed = f", {self.failed[rtype]} failed" if self.failed[rtype] else ""
            lines.append(f"{rtype:<24} {self.loaded[rtype]:>7} loaded{matched}{failed}")
        total_failed = sum(self.failed.values())
        lines.append(f"{'Total':<24} {sum(self.loaded.values()):>7} loaded"
                     + (f", {total_failed} failed" if total_failed else ""))
        return lines


@dataclass
class Item:
    """One resource to load, where it came from, and its bundle's fullUrl → ``Type/id`` map."""

    resource: dict
    where: str
    local: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType", "?"))


def import_paths(store: Store, paths: Iterable[str | Path], echo: Callable[[str], None] = print) -> ImportReport:
    """Import every Bundle and NDJSON file found at ``paths`` (files or folders)."""
    return Importer(store, echo).run(paths)


class Importer:
    def __init__(self, store: Store, echo: Callable[[str], None] = print):
        self.store = store
        self.echo = echo
        self.resolver = ReferenceResolver(store)
        self.report = ImportReport()
        self.deferred: list[Item] = []

    def run(self, paths: Iterable[str | Path]) -> ImportReport:
        for path in ordered_files(paths):
            self.echo(f"Importing {path}")
            self.load(self.items_of(path))
        retry, self.deferred = self.deferred, []
        self.load(retry, final=True)
        self.store.analyze()
        return self.report

    def fail(self, where: str, rtype: str, message: str) -> None:
        self.report.failed[rtype] += 1
        self.report.problems.append(f"{where}: {message}")
        self.echo(f"  error: {where}: {message}")

    def items_of(self, path: Path) -> Iterator[Item]:
        if path.suffix == ".ndjson":
            yield from self.ndjson_items(path)
        else:
            yield from self.bundle_items(path)

    def ndjson_items(self, path: Path) -> Iterator[Item]:
        with path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    resource = parse_json(line)
                except FhirError as exc:
                    self.fail(where, "?", exc.message)
                    continue
                if not isinstance(resource, dict):
                    self.fail(where, "?", "a line must hold one JSON object")
                    continue
                yield Item(resource, where)

    def bundle_items(self, path: Path) -> Iterator[Item]:
        try:
            document = parse_json(path.read_bytes())
        except FhirError as exc:
            self.fail(str(path), "?", exc.message)
            return
        if not isinstance(document, dict):
            self.fail(str(path), "?", "the file must hold one JSON object")
            return
        if document.get("resourceType") != "Bundle":
            yield Item(document, str(path))
            return
        entries = document.get("entry") or []
        if document.get("type") not in ("transaction", "batch", "collection") or not isinstance(entries, list):
            self.fail(str(path), "Bundle", f"Bundles of type '{document.get('type')}' are not imported; "
                                           "use transaction, batch or collection")
            return
        local: dict[str, str] = {}
        items = []
        for index, entry in enumerate(entries):
            item = self.bundle_item(f"{path} entry {index}", entry, local)
            if item is not None:
                items.append(item)
        yield from sorted(items, key=lambda item: type_rank(item.type))

    def bundle_item(self, where: str, entry: object, local: dict[str, str]) -> Item | None:
        """An entry's resource with its id decided; None when there is nothing to load."""
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            self.fail(where, "?", "the entry holds no resource")
            return None
        rtype = resource["resourceType"]
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        try:
            rid, existing = self.entry_target(rtype, resource, request, full_url)
        except FhirError as exc:
            self.fail(where, rtype, exc.message)
            return None
        if full_url:
            local[full_url] = f"{rtype}/{rid}"
        if existing:
            self.report.matched[rtype] += 1
            return None
        return Item({**resource, "id": rid}, where, local)

    def entry_target(self, rtype: str, resource: dict, request: dict, full_url: str | None) -> tuple[str, bool]:
        """(id to store the entry under, whether a conditional create found it already stored).

        Kept ids: the PUT url's, else the resource's own, else the uuid of a ``urn:uuid:`` fullUrl."""
        method, url = request.get("method", "POST"), str(request.get("url") or "")
        if method not in ("POST", "PUT"):
            raise InvalidRequest(f"request.method {method} does not load a resource; entry skipped")
        path, _, query = url.partition("?")
        if_none_exist = request.get("ifNoneExist")
        condition = query if method == "PUT" else if_none_exist if isinstance(if_none_exist, str) else ""
        if condition.strip():
            matches = find_matches(self.store, rtype, condition.split("?", 1)[-1])
            if len(matches) > 1:
                raise AmbiguousReference(f"the condition '{condition}' matches more than one {rtype}")
            if matches:
                return matches[0].id, method == "POST"
        if method == "PUT" and "/" in path:
            return path.rstrip("/").split("/")[-1], False
        own = resource.get("id")
        if isinstance(own, str) and ID_PATTERN.match(own):
            return own, False
        urn = _UUID_URN.match(full_url or "")
        return (urn.group(1).lower() if urn else new_id()), False

    def load(self, items: Iterable[Item], final: bool = False) -> None:
        """Validate and store items in chunks, each chunk one write transaction."""
        iterator = iter(items)
        while True:
            with self.store.transaction():
                count = 0
                for item in iterator:
                    self.load_one(item, final)
                    count += 1
                    if count >= CHUNK:
                        break
            if count < CHUNK:
                return

    def load_one(self, item: Item, final: bool) -> None:
        rtype = item.type
        try:
            resource = self.resolver.rewrite(item.resource, item.local)
            if not isinstance(resource.get("id"), str):
                resource["id"] = new_id()
            resource = with_narrative(resource)
            validate(resource)
            check_reference_syntax(resource)
        except UnresolvedReference as exc:
            if final:
                self.fail(item.where, rtype, exc.message)
            else:
                self.deferred.append(item)
            return
        except FhirError as exc:
            self.fail(item.where, rtype, exc.message)
            return
        self.store.load([resource])
        self.report.loaded[rtype] += 1


def ordered_files(paths: Iterable[str | Path]) -> list[Path]:
    """The NDJSON and JSON files at ``paths``, in dependency order of the types they hold."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix in (".ndjson", ".json"))
        else:
            found.append(path)
    return sorted(found, key=lambda p: (_file_rank(p), str(p)))


def _file_rank(path: Path) -> int:
    if path.suffix == ".ndjson":
        return type_rank(path.name.split(".")[0])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return len(DEPENDENCY_ORDER)
    types = {t for t in _RESOURCE_TYPE.findall(text) if t != "Bundle"}
    return min((type_rank(t) for t in types), default=len(DEPENDENCY_ORDER))
