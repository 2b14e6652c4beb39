"""Least privilege on the FHIR API: what a token's scopes, patient and user let it do and see.

SMART App Launch 2.2 §Scopes: `patient/` scopes reach the launch patient's compartment, `user/` scopes what
the user may see, `system/` scopes everything; v2 permissions c r u d s; granular scopes
(`patient/Observation.rs?category=…|laboratory`) narrow a scope with search parameters. A request is
allowed when at least one granted scope allows it. Each allowing scope has a *reach*: the patients whose
compartment it is confined to (None: any) and the search criteria its resources must meet. Searches get
the union of the reaches as filters inside the SQL query, so paging and totals only count what may be
seen; reads of a single resource run the same filters on that one id, so search and read can never
disagree.

Writes under a reach confined to patients (`patient/` scopes, `user/` scopes of a patient or family member)
stay wholly inside their compartments: every patient reference that puts the resource in a Patient
compartment (FHIR R4 CompartmentDefinition/patient) must name one of the reach's patients, in the new
version and in the version it replaces; types outside the Patient compartment are written only by `user/`
scopes of clinicians and `system/` scopes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..fhir.access import CREATE, DELETE, READ, SEARCH, UPDATE, AccessPolicy
from ..store import Store
from ..store.compartment import COMPARTMENT_TYPES
from ..store.errors import Forbidden, InvalidRequest
from ..store.indexing import compartment_memberships, index_rows
from ..store.query import Criterion, SearchQuery, parse_search
from ..store.resources import Stored
from ..store.search import AnyOf, Compartment, Filter, search
from ..store.searchparams import REFERENCE, TOKEN, params_for
from .scopes import ResourceScope, ScopeSet

VERBS = {"c": "Creating", "r": "Reading", "u": "Updating", "d": "Deleting", "s": "Searching"}
V1_WORDS = {"r": "read", "s": "read", "c": "write", "u": "write", "d": "write"}
WRITES = (CREATE, UPDATE, DELETE)


@dataclass(frozen=True)
class Reach:
    """Where one scope reaches: ``patients`` None means any patient; ``criteria`` must all match."""

    scope: str
    patients: tuple[str, ...] | None
    criteria: tuple[Criterion, ...] = ()

    @property
    def unrestricted(self) -> bool:
        return self.patients is None and not self.criteria

    def group(self) -> tuple[Criterion | Compartment, ...]:
        """The reach as one group of an AnyOf filter."""
        return ((Compartment(self.patients),) if self.patients is not None else ()) + self.criteria

    def filters(self) -> tuple[Filter, ...]:
        found: list[Filter] = []
        if self.patients is not None:
            found.append(Compartment(self.patients))
        if self.criteria:
            found.append(AnyOf((self.criteria,)))
        return tuple(found)


@dataclass
class ScopePolicy(AccessPolicy):
    """The access policy of one bearer token.

    ``patient`` is the token's launch patient (for `patient/` scopes); ``user_patients`` the patients the
    user may see through `user/` scopes (None: every patient, as for clinicians; a patient user sees
    only their own record, a RelatedPerson only the patients they are linked to); ``fhir_user`` the
    user's own resource (`Practitioner/123`), readable with the `fhirUser` scope.
    """

    store: Store
    scopes: ScopeSet
    patient: str | None = None
    user_patients: tuple[str, ...] | None = ()
    fhir_user: str | None = None
    decisions: list[tuple[str, str]] = field(default_factory=list)  # (outcome, rule) for the audit trail
    _reaches: dict[tuple[str, str], list[Reach]] = field(default_factory=dict, repr=False)  # one request's answers

    # -- the questions the FHIR API asks ------------------------------------------------------

    def check(self, permission: str, resource_type: str, resource: dict | None = None) -> None:
        reaches = self.reaches(permission, resource_type)
        if not reaches:
            if permission == READ and self._may_read_own_user(resource_type, resource):
                return None  # the read of the user's own resource is decided on the stored resource
            self._refuse(self.missing_scope(permission, resource_type))
        if resource is not None and permission in WRITES:
            return self._check_written(permission, resource_type, reaches, [(f"this {resource_type}", resource)])
        if resource is not None and not any(self._matches_in_memory(reach, resource) for reach in reaches):
            self._refuse(f"{VERBS[permission]} this {resource_type} is outside what the token's scopes reach "
                         f"({self._describe(reaches)})")
        self._allow(f"{VERBS[permission]} {resource_type} allowed by {reaches[0].scope}")

    def check_write(self, permission: str, resource_type: str, resource: dict | None,
                    previous: Stored | None = None) -> None:
        reaches = self.reaches(permission, resource_type)
        if not reaches:
            self._refuse(self.missing_scope(permission, resource_type))
        versions = []
        if previous is not None:
            versions.append((f"{resource_type}/{previous.id} as stored (version {previous.version})",
                             previous.resource))
        if resource is not None:
            versions.append((f"the new version of {resource_type}/{previous.id}" if previous is not None
                             else f"this {resource_type}", resource))
        if not versions:  # deleting what never existed: the permission is all there is to check
            return self._allow(f"{VERBS[permission]} {resource_type} allowed by {reaches[0].scope}")
        self._check_written(permission, resource_type, reaches, versions)

    def check_stored(self, permission: str, stored: Stored) -> None:
        if permission == READ and self._is_own_user(stored.type, stored.id):
            return self._allow("fhirUser scope: a user may read their own resource")
        reaches = self.reaches(permission, stored.type)
        if not reaches:
            self._refuse(self.missing_scope(permission, stored.type))
        if not self._visible_ids(stored.type, [stored.id], reaches):
            self._refuse(f"{stored.type}/{stored.id} is outside what the token's scopes reach "
                         f"({self._describe(reaches)})")
        self._allow(f"{VERBS[permission]} {stored.type}/{stored.id} allowed by the token's scopes")

    def check_version_content(self, stored: Stored) -> None:
        """A version read by vread or listed in an instance's history is judged by what it held, besides the
        resource as it stands (check, check_stored): a resource moved from one patient's record to another's keeps
        its earlier versions with the patient they belonged to."""
        if self._is_own_user(stored.type, stored.id):
            return
        reaches = self.reaches(READ, stored.type)
        if not reaches:
            self._refuse(self.missing_scope(READ, stored.type))
        if not any(self._matches_in_memory(reach, stored.resource) for reach in reaches):
            self._refuse(f"Version {stored.version} of {stored.type}/{stored.id} held what is outside what the "
                         f"token's scopes reach ({self._describe(reaches)})")

    def search_filters(self, resource_type: str) -> tuple[Filter, ...]:
        return self.filters_for(SEARCH, resource_type)

    def reads_everything(self, resource_type: str | None) -> bool:
        if resource_type is not None:
            return any(reach.unrestricted for reach in self.reaches(READ, resource_type))
        return any(scope.resource_type == "*" and "r" in scope.permissions and not scope.query
                   and self._confinement(scope.context) is None
                   for scope in self.scopes.resource_scopes)

    def may_see(self, stored: Stored) -> bool:
        return bool(self.visible([stored]))

    def confined_to_patients(self) -> bool:
        """Whether every resource scope reaches only certain patients' records (patient/ scopes, user/ scopes of a
        patient or family member): such a token may not export the whole server or a Group."""
        return all(self._confinement(scope.context) is not None for scope in self.scopes.resource_scopes)

    def visible(self, entries: list[Stored]) -> list[Stored]:
        """Included and related entries the token may read (one query per resource type)."""
        by_type: dict[str, list[str]] = {}
        for entry in entries:
            by_type.setdefault(entry.type, []).append(entry.id)
        allowed: set[tuple[str, str]] = set()
        for rtype, ids in by_type.items():
            reaches = self.reaches(READ, rtype)
            allowed.update((rtype, rid) for rid in self._visible_ids(rtype, ids, reaches))
            if self.fhir_user and self.fhir_user.startswith(rtype + "/") and "fhirUser" in self.scopes:
                allowed.add((rtype, self.fhir_user.split("/", 1)[1]))
        return [entry for entry in entries if (entry.type, entry.id) in allowed]

    # -- the rules -----------------------------------------------------------------------------

    def reaches(self, permission: str, resource_type: str) -> list[Reach]:
        """One reach per granted scope that allows ``permission`` on the type; empty when none does.
        A policy lives for one request, whose checks ask this several times: it is worked out once."""
        key = (permission, resource_type)
        if key not in self._reaches:
            self._reaches[key] = self._work_out_reaches(permission, resource_type)
        return self._reaches[key]

    def _work_out_reaches(self, permission: str, resource_type: str) -> list[Reach]:
        found = []
        for scope in self.scopes.resource_scopes:
            if not scope.allows(permission, resource_type):
                continue
            patients = self._patients_of(scope.context, resource_type, permission)
            if patients == ():
                continue  # e.g. a patient/ scope without a launch patient reaches nothing
            criteria = self._criteria(scope, resource_type)
            if criteria is None:
                continue
            own = self._own_patient_criteria(scope.context, resource_type) if patients is None else ()
            if own is None:
                continue
            found.append(Reach(str(scope), patients, criteria + own))
        return found

    def _own_patient_criteria(self, context: str, resource_type: str) -> tuple[Criterion, ...] | None:
        """R4 puts some types that name a patient outside every Patient compartment (Device: "never"). A scope
        confined to patients still reaches only their ones of those, by the type's own `patient` reference
        parameter; () when the scope is not confined or the type names no patient, None when it reaches none."""
        confined = self._confinement(context)
        param = params_for(resource_type).get("patient")
        if confined is None or resource_type in COMPARTMENT_TYPES or param is None or param.kind != REFERENCE:
            return ()
        if not confined:
            return None
        value = ",".join(f"Patient/{patient}" for patient in confined)
        return tuple(parse_search(resource_type, [("patient", value)], strict=True).criteria)

    def filters_for(self, permission: str, resource_type: str) -> tuple[Filter, ...]:
        """Filters confining a query of the type to the union of the reaches."""
        reaches = self.reaches(permission, resource_type)
        if not reaches:
            return (AnyOf(()),)  # matches nothing
        if any(reach.unrestricted for reach in reaches):
            return ()
        if len(reaches) == 1:
            return reaches[0].filters()  # flat, so the compartment can drive the query
        return (AnyOf(tuple(reach.group() for reach in reaches)),)

    def missing_scope(self, permission: str, resource_type: str) -> str:
        """Why a request was refused, naming the scope an app developer should ask for."""
        if permission in WRITES and resource_type not in COMPARTMENT_TYPES and self.scopes.allows(
                permission, resource_type):
            return (f"{VERBS[permission]} {resource_type} is refused: {resource_type} is outside the Patient "
                    "compartment, and the token's scopes that allow it are confined to patients (patient/ scopes, "
                    "or user/ scopes of a patient or family member); writing it needs the user/ scopes of a "
                    "clinician or system/ scopes")
        if not self.patient and self.scopes.allows(permission, resource_type, "patient"):
            return (f"{VERBS[permission]} {resource_type} through a patient/ scope needs a patient in context, "
                    "and this token has none: ask for launch/patient (standalone) or launch from a chart")
        context = "system" if self.scopes.contexts() == {"system"} else ("patient" if self.patient else "user")
        v2 = f"{context}/{resource_type}.{'rs' if permission in 'rs' else permission}"
        v1 = f"{context}/{resource_type}.{V1_WORDS[permission]}"
        granted = " ".join(str(s) for s in self.scopes.resource_scopes) or "no resource scopes"
        return (f"{VERBS[permission]} {resource_type} needs a scope such as {v2} (SMART v2) or {v1} (v1); "
                f"this token was granted: {granted}")

    def _patients_of(self, context: str, resource_type: str, permission: str) -> tuple[str, ...] | None:
        """The patients a scope of this context reaches for the type (None: any; empty: none)."""
        confined = self._confinement(context)
        if resource_type in COMPARTMENT_TYPES:
            return confined
        if permission in WRITES and confined is not None:
            return ()  # outside every patient compartment: a scope confined to patients cannot write it
        return None  # Practitioner, Organization, Medication …: apps follow references into them

    def _confinement(self, context: str) -> tuple[str, ...] | None:
        """The patients a scope context is confined to: the launch patient for patient/, the user's patients for
        user/ (None for a clinician), none for system/."""
        if context == "patient":
            return (self.patient,) if self.patient else ()
        if context == "user":
            return self.user_patients
        return None

    def _criteria(self, scope: ResourceScope, resource_type: str) -> tuple[Criterion, ...] | None:
        """The granular restrictions as search criteria; None when they cannot apply to this type (an
        unknown parameter would otherwise silently widen the scope, so it grants nothing; so does a chained one,
        which a resource in memory cannot be checked against)."""
        if not scope.query:
            return ()
        try:
            criteria = tuple(parse_search(resource_type, list(scope.query), strict=True).criteria)
        except InvalidRequest:
            return None
        return criteria if all(isinstance(criterion, Criterion) for criterion in criteria) else None

    def _visible_ids(self, resource_type: str, ids: list[str], reaches: list[Reach]) -> list[str]:
        if not reaches:
            return []
        if any(reach.unrestricted for reach in reaches):
            return ids
        visible: list[str] = []
        for start in range(0, len(ids), 200):
            chunk = tuple(ids[start:start + 200])
            query = SearchQuery(resource_type, [Criterion("_id", TOKEN, chunk)], count=len(chunk), total="none")
            result = search(self.store, query, self.filters_for(READ, resource_type))
            visible += [stored.id for stored in result.matches]
        return visible

    def _check_written(self, permission: str, resource_type: str, reaches: list[Reach],
                       versions: list[tuple[str, dict]]) -> None:
        """Each version (what it is called, its content) must lie wholly inside one of the reaches."""
        for what, resource in versions:
            if not any(self._holds_wholly(reach, resource) for reach in reaches):
                why = self._why_outside(reaches, what, resource)
                self._refuse(f"{VERBS[permission]} {resource_type} is refused: {why} ({self._describe(reaches)})")
        fitting = next(reach for reach in reaches if self._holds_wholly(reach, versions[-1][1]))
        self._allow(f"{VERBS[permission]} {resource_type} allowed by {fitting.scope}: inside "
                    + ("any patient's record" if fitting.patients is None else self._compartments(fitting.patients)))

    def _holds_wholly(self, reach: Reach, resource: dict) -> bool:
        """For writes: every patient reference that puts the resource in a Patient compartment names one of the
        reach's patients (and there is one), and the reach's criteria match."""
        if reach.patients is not None:
            named = {membership.patient_id for membership in compartment_memberships(resource)}
            if not named or not named <= set(reach.patients):
                return False
        return self._meets_criteria(reach, resource)

    def _why_outside(self, reaches: list[Reach], what: str, resource: dict) -> str:
        """Name the patient references outside the compartments, when every reach is confined to patients."""
        if all(reach.patients is not None for reach in reaches):
            memberships = compartment_memberships(resource)
            reachable = {patient for reach in reaches for patient in reach.patients or ()}
            outside = [membership.describe() for membership in memberships if membership.patient_id not in reachable]
            if outside:
                return f"{what} refers to {', '.join(outside)}, outside the patient compartment the token may write"
            if not memberships:
                return f"{what} refers to no patient, so it would be in no patient compartment the token may write"
        return f"{what} is outside what any one of the token's scopes reaches"

    def _matches_in_memory(self, reach: Reach, resource: dict) -> bool:
        """For reads of a resource in memory: in the compartment of one of the reach's patients, and the
        token criteria."""
        if reach.patients is not None and not set(reach.patients) & {
                membership.patient_id for membership in compartment_memberships(resource)}:
            return False
        return self._meets_criteria(reach, resource)

    def _meets_criteria(self, reach: Reach, resource: dict) -> bool:
        if not reach.criteria:
            return True
        tokens = {(row[1], row[2], row[3]) for row in index_rows(resource)["idx_token"]}
        for criterion in reach.criteria:
            if criterion.kind != TOKEN:
                return False  # granular scopes use token parameters (category, code); others are not matched
            if not any(_token_matches(value, criterion.param, tokens) for value in criterion.values):
                return False
        return True

    def _may_read_own_user(self, resource_type: str, resource: dict | None) -> bool:
        """fhirUser scope: the type of the user's own resource may be read, that one resource only."""
        if "fhirUser" not in self.scopes or not self.fhir_user:
            return False
        if resource is None:
            return self.fhir_user.startswith(resource_type + "/")
        return self._is_own_user(resource_type, resource.get("id"))

    def _is_own_user(self, resource_type: str, rid: str | None) -> bool:
        return "fhirUser" in self.scopes and self.fhir_user == f"{resource_type}/{rid}"

    def _describe(self, reaches: list[Reach]) -> str:
        parts = []
        for reach in reaches:
            where = "any patient" if reach.patients is None else self._compartments(reach.patients)
            parts.append(f"{reach.scope}: {where}")
        return "; ".join(parts)

    @staticmethod
    def _compartments(patients: tuple[str, ...]) -> str:
        return "the compartment of " + ", ".join(f"Patient/{p}" for p in patients)

    def _allow(self, rule: str) -> None:
        self.decisions.append(("success", rule))

    def _refuse(self, rule: str) -> None:
        self.decisions.append(("failure", rule))
        raise Forbidden(rule)


def _token_matches(value: str, param: str, tokens: set[tuple[str, str | None, str]]) -> bool:
    if "|" in value:
        system, _, code = value.partition("|")
        return any(p == param and c == code and (not system or s == system) for p, s, c in tokens)
    return any(p == param and c == value for p, _, c in tokens)
