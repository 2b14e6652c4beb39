"""The cost of access checks: the same reads and searches on the open path and under tokens of each kind.

The server runs with OPEN_READ, so a FHIR read or search without a token takes the *open path*
(ReadOnlyPolicy: no token lookup, no per-resource check, no audit row). Each kind of token is minted
straight into the bench database, as the token endpoint would store it, and sent as
``Authorization: Bearer``; every request under a token costs a token lookup, its policy's checks, and
one audit row written after the response (bearer.record_decisions):

* ``system`` — ``system/*.rs`` (a backend service, no user): the lookup and an unrestricted policy;
* ``patient`` — ``patient/*.rs`` with the requested patient in context and a clinician as the user (an
  EHR launch): the compartment check runs inside the query (reads: one extra query on that id);
* ``granular`` — ``patient/Observation.rs?category=…|laboratory`` with the patient in context: the
  compartment and the category criterion inside the search query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .load import Request, bearer
from .sample import Sample
from .tokens import Setup

ACCESS_LIFETIME = 6 * 3600  # outlives any bench run
SYSTEM_SCOPE = "system/*.rs"
PATIENT_SCOPE = "patient/*.rs"
LAB_SCOPE = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
VARIANTS = ("open", "system", "patient")  # every read is measured under each
LAB_VARIANTS = ("open", "system", "patient", "granular")  # and the lab search under these


@dataclass
class AccessTokens:
    system: str
    patient: dict[str, str] = field(default_factory=dict)  # patient id -> patient/*.rs token in its context
    granular: dict[str, str] = field(default_factory=dict)  # patient id -> lab-only token in its context


def mint_system(db: Path, setup: Setup) -> str:
    """A ``system/*.rs`` access token of the bench backend service."""
    from sandbox.auth import ensure_schema
    from sandbox.auth.tokens import issue, new_family_id
    from sandbox.store import Store

    store = Store(str(db))
    ensure_schema(store)
    return issue(store, family_id=new_family_id(), client_id=setup.backend_id, scope=SYSTEM_SCOPE,
                 access_lifetime=ACCESS_LIFETIME).access_token


def mint_patient_tokens(db: Path, setup: Setup, patient_ids: list[str], scope: str) -> dict[str, str]:
    """One access token of the bench app per patient, with that patient in context and the clinician as the
    user, as an EHR launch would issue it; all in one transaction (issue() joins it)."""
    from sandbox.auth import ensure_schema
    from sandbox.auth.tokens import issue, new_family_id
    from sandbox.store import Store

    store = Store(str(db))
    ensure_schema(store)
    with store.transaction():
        return {pid: issue(store, family_id=new_family_id(), client_id=setup.app_id, scope=scope,
                           access_lifetime=ACCESS_LIFETIME, user_id=setup.user_id,
                           context={"patient": pid}).access_token
                for pid in dict.fromkeys(patient_ids)}


def _get(path: str, token: str | None) -> str | Request:
    return path if token is None else Request("GET", path, headers=bearer(token))


def _token(tokens: AccessTokens, variant: str, patient_id: str) -> str | None:
    return {"open": None, "system": tokens.system, "patient": tokens.patient.get(patient_id),
            "granular": tokens.granular.get(patient_id)}[variant]


def reads(found: Sample, tokens: AccessTokens) -> dict[str, dict[str, list[str | Request]]]:
    """{read: {variant: requests}}: the same ids in the same order under each variant."""
    patient_reads = [(f"/fhir/Patient/{quote(p)}", p) for p in found.patient_ids]
    observation_reads = [(f"/fhir/Observation/{quote(o)}", p)
                         for o, p in zip(found.observation_ids, found.observation_patients, strict=True)]
    return {read: {variant: [_get(path, _token(tokens, variant, pid)) for path, pid in targets]
                   for variant in VARIANTS}
            for read, targets in (("patient_read", patient_reads), ("observation_read", observation_reads))}


def lab_searches(found: Sample, tokens: AccessTokens) -> dict[str, list[str | Request]]:
    """{variant: requests} of the lab search over the sampled patients, each under its own patient's token."""
    targets = [(f"/fhir/Observation?patient={quote(p)}&category=laboratory&_sort=-date&_count=50", p)
               for p in found.patient_ids]
    return {variant: [_get(path, _token(tokens, variant, pid)) for path, pid in targets]
            for variant in LAB_VARIANTS}
