"""Which FHIR operations this server runs (FHIR R4 operations.html §2.1.0.1): an operation is invoked at
``[base]/$name``, ``[base]/[type]/$name`` or ``[base]/[type]/[id]/$name``. A logical id never contains ``$``
(R4 datatypes.html#id: ``[A-Za-z0-9\\-\\.]{1,64}``), so a path segment that starts with ``$`` always names an
operation, and an unknown one is answered "operation not supported" rather than read as an id or a type."""

from __future__ import annotations

from ..store.errors import NotFound

# Each supported operation: the places it is invoked, as (resource type or None for any type, level), and how
# each reads. $export (Bulk Data Access IG) is routed by bulk/views.py.
SUPPORTED = {"$everything": (("Patient", "instance", "Patient/[id]/$everything"),),
             "$validate": ((None, "type", "[type]/$validate"),),
             "$export": ((None, "system", "$export"), ("Patient", "type", "Patient/$export"),
                         ("Group", "instance", "Group/[id]/$export"))}
SUPPORTED_TEXT = ", ".join(text for places in SUPPORTED.values() for _, _, text in places)


def check_operation(segments: list[str]) -> None:
    """Refuse an operation this server does not run: 404 with the issue code not-supported (R4 http.html §3.1.0.4:
    the endpoint does not exist here). ``segments`` is the path below the FHIR base, split on '/'."""
    named = [segment for segment in segments if segment.startswith("$")]
    if not named:
        return
    operation = named[0]
    level = {1: "system", 2: "type", 3: "instance"}.get(len(segments))
    places = SUPPORTED.get(operation, ())
    at = "/".join(segments)
    if segments[-1] == operation and any(level == place[1] and place[0] in (None, segments[0]) for place in places):
        return
    if places:
        raise NotFound(f"Operation {operation} is not supported at {at}; this server supports it as "
                       f"{' or '.join(place[2] for place in places)}", code="not-supported")
    raise NotFound(f"Operation {operation} is not supported by this server ({at}); the operations it supports "
                   f"are {SUPPORTED_TEXT}, listed in the CapabilityStatement (GET /fhir/metadata)",
                   code="not-supported")
