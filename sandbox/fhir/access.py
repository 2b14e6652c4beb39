"""The access policy: the one place that decides what a FHIR request may do and see.

Every FHIR interaction asks the request's policy first. A policy can refuse an interaction
(raise ``Forbidden``/``Unauthorized``), add filters to a search that the store applies inside the
SQL query (so paging and totals only count what may be seen), and drop included entries it may not
return. The foundation allows everything; the authorization server fills in a policy per token.
"""

from __future__ import annotations

from ..store.resources import Stored
from ..store.search import Filter

# Interactions as the SMART v2 permissions name them: c(reate) r(ead) u(pdate) d(elete) s(earch).
READ, SEARCH, CREATE, UPDATE, DELETE = "r", "s", "c", "u", "d"


class AccessPolicy:
    """Allows everything. Subclasses narrow it."""

    def check(self, permission: str, resource_type: str, resource: dict | None = None) -> None:
        """Raise when ``permission`` on ``resource_type`` (or on this very resource) is not allowed."""

    def check_write(self, permission: str, resource_type: str, resource: dict | None,
                    previous: Stored | None = None) -> None:
        """Raise when writing ``resource`` (None for a delete) is not allowed. ``previous`` is the version the
        write replaces — for a deleted resource the last version that had content — so both the resource as
        it was and as it will be are judged."""
        if previous is None and resource is None:
            self.check(permission, resource_type)
        if previous is not None:
            self.check(permission, resource_type, previous.resource)
        if resource is not None:
            self.check(permission, resource_type, resource)

    def check_stored(self, permission: str, stored: Stored) -> None:
        """Like ``check`` for a resource read from the store; ``stored.resource`` parses it only when a
        policy needs the content, so the open path serves stored JSON without parsing it."""
        self.check(permission, stored.type, None)

    def check_version_content(self, stored: Stored) -> None:
        """Raise when what this version of a resource held may not be read (vread, an instance's history), whatever
        the resource holds now."""

    def reads_everything(self, resource_type: str | None) -> bool:
        """Whether every resource of the type (None: of every type) may be read: type and system history
        list versions across resources, which query filters cannot confine."""
        return True

    def search_filters(self, resource_type: str) -> tuple[Filter, ...]:
        """Filters the store adds to every search of ``resource_type``."""
        return ()

    def may_see(self, stored: Stored) -> bool:
        """Whether a resource may be returned as an included or related entry."""
        return True

    def visible(self, entries: list[Stored]) -> list[Stored]:
        return [entry for entry in entries if self.may_see(entry)]


ALLOW_ALL = AccessPolicy()
