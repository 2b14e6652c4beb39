"""FHIR R4 REST API blueprint, mounted at /fhir."""

from .views import blueprint

__all__ = ["blueprint"]
