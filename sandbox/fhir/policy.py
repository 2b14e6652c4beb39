"""Which AccessPolicy governs the current request: the one place the FHIR API asks.

The authorization layer stores a policy per request with ``use_policy`` (from the bearer token);
until something does, every request runs under ``ALLOW_ALL``.
"""

from __future__ import annotations

from flask import g

from .access import ALLOW_ALL, AccessPolicy

_KEY = "fhir_access_policy"


def current_policy() -> AccessPolicy:
    """The AccessPolicy of this request."""
    return g.get(_KEY) or ALLOW_ALL


def use_policy(policy: AccessPolicy) -> None:
    """Make ``policy`` govern the rest of this request."""
    setattr(g, _KEY, policy)
