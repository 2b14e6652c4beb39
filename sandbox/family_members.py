"""Adding a family member who signs in to the portal: a US Core RelatedPerson linked to a patient, written through
the store's validation, and the portal user that stands for it (``sandbox users add-family``)."""

from __future__ import annotations

from .auth.users import User, UserDirectory, display_name, username_for
from .seed.codes import load_tables
from .seed.family import related_person, relationships
from .store import Store
from .store.resources import new_id
from .store.validation import resource_problems


class FamilyMemberError(ValueError):
    """The family member cannot be added; the message says why and what to do."""


def relationship_names() -> list[str]:
    return list(relationships(load_tables()))


def add_family_member(store: Store, patient_id: str, given: str, relationship: str, *, family: str | None = None,
                      username: str | None = None, password: str | None = None) -> tuple[dict, User]:
    """Store a RelatedPerson of the patient and make their portal user; returns (resource, user)."""
    if relationship not in relationship_names():
        raise FamilyMemberError(f"relationship must be one of {', '.join(relationship_names())}")
    if not given.strip():
        raise FamilyMemberError("give the family member's first name")
    stored = store.current("Patient", patient_id) if patient_id else None
    if stored is None or stored.deleted:
        raise FamilyMemberError(f"there is no Patient/{patient_id}; `sandbox users list` or the EHR's patient list "
                                "shows the patients")
    patient = stored.resource
    family = family or (patient.get("name") or [{}])[0].get("family") or ""
    if not family.strip():
        raise FamilyMemberError("give the family member's family name (--family)")
    resource = related_person(new_id(), patient, relationship, given.strip(), family.strip(), gender=None,
                              tables=load_tables())
    problems = resource_problems(resource)
    if problems:
        raise FamilyMemberError("; ".join(problem.diagnostics for problem in problems))
    directory = UserDirectory(store)
    name = username or username_for(resource, resource["id"])
    if directory.by_username(name) is not None:
        raise FamilyMemberError(f"username {name!r} is taken; choose another with --username")
    store.update(resource)
    user = directory.create(name, display_name(resource), "related-person", f"RelatedPerson/{resource['id']}",
                            password)
    return resource, user
