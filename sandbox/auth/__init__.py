"""SMART App Launch 2.2 authorization server."""

from .schema import ensure_schema
from .views import blueprint

__all__ = ["blueprint", "ensure_schema"]
