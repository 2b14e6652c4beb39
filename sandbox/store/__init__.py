"""SQLite resource store: resources, versions and search index tables in one file."""

from .errors import FhirError
from .resources import Store, Stored

__all__ = ["FhirError", "Store", "Stored"]
