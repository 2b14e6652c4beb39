"""SMART scopes, v1 and v2, as one model (SMART App Launch 2.2 §Scopes and Launch Context).

Grammar of a resource scope::

    ( "patient" | "user" | "system" ) "/" ( ResourceType | "*" ) "." permissions [ "?" query ]
    permissions v2: any of c r u d s, in that order;  v1: "read" | "write" | "*"

v1 scopes map to v2 permissions: read = rs, write = cud, * = cruds. A granular scope narrows a v2 scope
with search parameters (``patient/Observation.rs?category=…|laboratory``). Scopes the server does not
know are dropped from a grant, never an error; a v1 request is answered with v1 scopes and granular
scopes are echoed verbatim, because clients compare the granted text with what they asked for.

A request may ask for at most MAX_SCOPES scopes of at most MAX_SCOPE_CHARS characters each (ScopeSet.requested):
no app needs more, and every list of scopes is parsed, stored and shown again on later requests.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ..store.resource_types import R4_RESOURCE_TYPES

CONTEXTS = ("patient", "user", "system")
PERMISSION_ORDER = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
IDENTITY_SCOPES = frozenset({"openid", "fhirUser", "profile"})
ACCESS_SCOPES = frozenset({"offline_access", "online_access"})
LAUNCH_SCOPES = frozenset({"launch", "launch/patient", "launch/encounter"})
# SMART 2.2 §launch/<type>: apps may ask for any FHIR type as fhirContext.
LAUNCH_TYPE = re.compile(r"^launch/([A-Z][A-Za-z]+)$")
MAX_SCOPES = 100
MAX_SCOPE_CHARS = 256
MAX_SCOPE_TEXT = MAX_SCOPES * (MAX_SCOPE_CHARS + 1) + 1024  # the longest list allowed, with room for more spaces
_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(\?.*)?$")


class TooManyScopes(ValueError):
    """A request's scope list beyond MAX_SCOPES scopes or MAX_SCOPE_CHARS characters in one scope; each endpoint
    answers it in its own error (invalid_scope, invalid_client_metadata)."""


@dataclass(frozen=True)
class ResourceScope:
    """A permission on FHIR resources, with optional granular search restrictions."""

    context: str
    resource_type: str
    permissions: str  # subset of "cruds", in that order
    query: tuple[tuple[str, str], ...] = ()
    version: int = 2
    text: str = ""

    def __str__(self) -> str:
        return self.text or self.render()

    def render(self) -> str:
        if self.version == 1:
            word = {v: k for k, v in V1_PERMISSIONS.items()}.get(self.permissions)
            if word:
                return f"{self.context}/{self.resource_type}.{word}"
        suffix = ("?" + "&".join(f"{k}={v}" for k, v in self.query)) if self.query else ""
        return f"{self.context}/{self.resource_type}.{self.permissions}{suffix}"

    def applies_to(self, resource_type: str) -> bool:
        return self.resource_type in ("*", resource_type)

    def allows(self, permission: str, resource_type: str) -> bool:
        """Whether this scope grants ``permission`` (one of c r u d s) on the type, restrictions aside."""
        return permission in self.permissions and self.applies_to(resource_type)

    def covers(self, other: ResourceScope) -> bool:
        """True when everything ``other`` grants is granted by this scope too (``other`` ⊆ ``self``)."""
        if other.context != self.context:
            return False
        if self.resource_type != "*" and other.resource_type != self.resource_type:
            return False
        if not set(other.permissions) <= set(self.permissions):
            return False
        return set(self.query) <= set(other.query)  # fewer restrictions is wider

    def intersect(self, other: ResourceScope) -> ResourceScope | None:
        """The widest scope both allow, or None, in the style of ``other`` (the request): a requested
        scope this one wholly allows is kept verbatim, and a v1 request is answered in v1 where it can be."""
        if self.covers(other):
            return other
        if other.context != self.context:
            return None
        if "*" not in (self.resource_type, other.resource_type) and self.resource_type != other.resource_type:
            return None
        permissions = "".join(p for p in PERMISSION_ORDER if p in self.permissions and p in other.permissions)
        if not permissions:
            return None
        if other.covers(self) and self.version == other.version:
            return self
        rtype = other.resource_type if self.resource_type == "*" else self.resource_type
        query = tuple(sorted(set(self.query) | set(other.query)))
        as_v1 = other.version == 1 and permissions in V1_PERMISSIONS.values() and not query
        narrowed = ResourceScope(self.context, rtype, permissions, query, 1 if as_v1 else 2)
        return ResourceScope(narrowed.context, rtype, permissions, query, narrowed.version, narrowed.render())


@functools.lru_cache(maxsize=4096)
def parse_resource_scope(text: str) -> ResourceScope | None:
    """A ResourceScope, or None when ``text`` is not a valid SMART resource scope."""
    match = _RESOURCE_SCOPE.match(text)
    if not match:
        return None
    context, rtype, perms, query_text = match.groups()
    if rtype != "*" and rtype not in R4_RESOURCE_TYPES:
        return None
    if perms in V1_PERMISSIONS:
        if query_text:
            return None  # granular restrictions exist only in v2
        return ResourceScope(context, rtype, V1_PERMISSIONS[perms], (), 1, text)
    if not perms or not _in_cruds_order(perms):
        return None
    query: tuple[tuple[str, str], ...] = ()
    if query_text:
        pairs = parse_qsl(query_text[1:], keep_blank_values=True)
        if not pairs or any(not k or not v for k, v in pairs):
            return None
        query = tuple(pairs)
    return ResourceScope(context, rtype, perms, query, 2, text)


def _in_cruds_order(perms: str) -> bool:
    positions = [PERMISSION_ORDER.find(p) for p in perms]
    return all(p >= 0 for p in positions) and positions == sorted(set(positions))


@functools.lru_cache(maxsize=1024)  # the same few scopes come with every request; unknown ones cannot grow it
def is_known(text: str) -> bool:
    """Whether the server understands a scope (any other is dropped from a grant)."""
    if text in IDENTITY_SCOPES or text in ACCESS_SCOPES or text in LAUNCH_SCOPES:
        return True
    match = LAUNCH_TYPE.match(text)
    if match:
        return match.group(1) in R4_RESOURCE_TYPES
    return parse_resource_scope(text) is not None


@dataclass(frozen=True)
class ScopeSet:
    """The scopes of a request or grant, in the order given, unknown ones dropped."""

    scopes: tuple[str, ...]

    @staticmethod
    def split(text: str | None) -> list[str]:
        """The scopes of a space-separated list (RFC 6749 §3.3), each once, in the order given."""
        return list(dict.fromkeys((text or "").split()))

    @classmethod
    def parse(cls, text: str | None) -> ScopeSet:
        return cls(tuple(item for item in cls.split(text) if is_known(item)))

    @classmethod
    def requested(cls, text: str | None) -> list[str]:
        """The scopes a request asks for (``split``), within MAX_SCOPES and MAX_SCOPE_CHARS, else TooManyScopes.
        The whole text is measured before it is split, so an endless list costs no more than a long one."""
        limit = f"at most {MAX_SCOPES} scopes of at most {MAX_SCOPE_CHARS} characters each"
        if len(text or "") > MAX_SCOPE_TEXT:
            raise TooManyScopes(f"The scope parameter is {len(text or '')} characters long; a request may ask for "
                                f"{limit}")
        items = (text or "").split()
        if len(items) > MAX_SCOPES:
            raise TooManyScopes(f"{len(items)} scopes were asked for; a request may ask for {limit}")
        if too_long := next((item for item in items if len(item) > MAX_SCOPE_CHARS), None):
            raise TooManyScopes(f"A scope of {len(too_long)} characters was asked for ({too_long[:40]}…); a request "
                                f"may ask for {limit}")
        return cls.split(text)

    @classmethod
    def first_requested(cls, text: str | None) -> list[str]:
        """As much of a request's scopes as the limits allow (``requested`` refuses the rest): what the activity
        trail shows of a request however long it was."""
        return cls.split((text or "")[:MAX_SCOPE_TEXT])[:MAX_SCOPES]

    def __str__(self) -> str:
        return " ".join(self.scopes)

    def __contains__(self, scope: str) -> bool:
        return scope in self.scopes

    def __bool__(self) -> bool:
        return bool(self.scopes)

    @property
    def resource_scopes(self) -> list[ResourceScope]:
        return [s for s in (parse_resource_scope(t) for t in self.scopes) if s is not None]

    @property
    def launch_types(self) -> list[str]:
        """Resource types asked for as launch context: launch/patient → Patient, launch/<Type> → Type."""
        types = []
        for scope in self.scopes:
            if scope == "launch/patient":
                types.append("Patient")
            elif scope == "launch/encounter":
                types.append("Encounter")
            elif (m := LAUNCH_TYPE.match(scope)) and m.group(1) not in types:
                types.append(m.group(1))
        return types

    def contexts(self) -> set[str]:
        return {s.context for s in self.resource_scopes}

    def allows(self, permission: str, resource_type: str, context: str | None = None) -> bool:
        return any(s.allows(permission, resource_type) and (context is None or s.context == context)
                   for s in self.resource_scopes)

    def restrict_to(self, allowed: ScopeSet) -> ScopeSet:
        """What may be granted of this request given what a client is allowed: non-resource scopes when
        allowed as such, resource scopes narrowed to the allowed ones (verbatim when wholly allowed)."""
        granted: list[str] = []
        allowed_resources = allowed.resource_scopes
        for text in self.scopes:
            scope = parse_resource_scope(text)
            if scope is None:
                if text in allowed:
                    granted.append(text)
                continue
            for permitted in allowed_resources:
                narrowed = permitted.intersect(scope)
                if narrowed is not None and str(narrowed) not in granted:
                    granted.append(str(narrowed))
                    if narrowed == scope:
                        break
        return ScopeSet(tuple(granted))

    def is_subset_of(self, wider: ScopeSet) -> bool:
        """True when every scope here is granted by ``wider`` (refresh may narrow, never widen)."""
        wide_resources = wider.resource_scopes
        for text in self.scopes:
            scope = parse_resource_scope(text)
            if scope is None:
                if text not in wider:
                    return False
            elif not any(w.covers(scope) for w in wide_resources):
                return False
        return True
