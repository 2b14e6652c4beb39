"""Bulk Data export (HL7 FHIR Bulk Data Access IG 2.0.0): kick-off, jobs run in the background by any worker,
status and manifest, NDJSON files."""

from .jobs import ensure_schema
from .views import blueprint

__all__ = ["blueprint", "ensure_schema"]
