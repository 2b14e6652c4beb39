"""Bearer tokens on the FHIR API (RFC 6750; SMART App Launch 2.2 §Access token use).

Every FHIR request except the CapabilityStatement, the discovery documents and CORS preflights needs a
valid, unexpired, unrevoked access token issued by this server: without one it gets 401 with
`WWW-Authenticate: Bearer` (RFC 6750 §3), with `error="invalid_token"` when one was presented. The token
becomes the request's access policy (auth/access_policy.py); after the response, the policy's decisions go
to the audit trail with the rule that made them.

The OPEN_READ setting lets people explore the data without a token: reads and searches only.
"""

from __future__ import annotations

import re

from flask import current_app, g, request

from ..fhir.access import READ, SEARCH, AccessPolicy
from ..fhir.policy import current_policy, use_policy
from ..store import Store
from ..store.errors import Forbidden, Unauthorized
from . import audit, simulate
from .access_policy import ScopePolicy
from .scopes import ScopeSet
from .tokens import TokenInfo, active_token
from .users import UserDirectory, patients_of

REALM = "sandbox-fhir"
METADATA = "/fhir/metadata"
WELL_KNOWN = "/fhir/.well-known/"  # the documents have their own blueprint; other paths here get a 404, no 401
# Bundles are written resourceType, id, meta, type, total first, so a search's total sits in the body's first bytes.
SEARCH_TOTAL = re.compile(rb'"type"\s*:\s*"searchset"\s*,\s*"total"\s*:\s*(\d+)')
RESOURCE_TYPE = re.compile(rb'\s*\{\s*"resourceType"\s*:\s*"(\w+)"')
NOT_RESOURCES = (b"Bundle", b"OperationOutcome", b"CapabilityStatement")


class ReadOnlyPolicy(AccessPolicy):
    """OPEN_READ without a token: everything may be read and searched, nothing written."""

    def check(self, permission: str, resource_type: str, resource: dict | None = None) -> None:
        if permission not in (READ, SEARCH):
            raise Forbidden("This sandbox serves FHIR data without a token for reading only (OPEN_READ); "
                            "writes need an access token with write scopes")


def authenticate() -> None:
    """Before every FHIR request: find the token and install its policy, or refuse with 401."""
    if request.method == "OPTIONS" or request.path.rstrip("/") == METADATA or request.path.startswith(WELL_KNOWN):
        return
    store: Store = current_app.extensions["store"]
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    presented = presented.strip()
    if not presented or scheme.lower() != "bearer":
        if current_app.config.get("OPEN_READ"):
            use_policy(ReadOnlyPolicy())
            return
        raise Unauthorized(
            "This FHIR server needs an access token: send Authorization: Bearer <token> (SMART App Launch)",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    info = active_token(store, presented)
    if info is not None and "simulate" in info.context:
        info = simulate.on_fhir_request(store, info, presented, request.method, request.full_path.rstrip("?"))
    if info is None:
        audit.record_soon(store, "access.refused", audit.FAILURE,
                          rule="The access token is unknown, expired or revoked", method=request.method,
                          path=request.full_path.rstrip("?"))
        raise Unauthorized(
            "The access token is not valid: it is unknown, expired or revoked. Get a new one.",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token", '
                                         'error_description="The access token is unknown, expired or revoked"'})
    g.fhir_token = info
    use_policy(policy_for(store, info))


def policy_for(store: Store, info: TokenInfo) -> ScopePolicy:
    """The access policy of a token: its scopes, its launch patient, and what its user may see."""
    user = UserDirectory(store).get(info.user_id) if info.user_id else None
    fhir_user = user.fhir_user if user else None
    return ScopePolicy(store, ScopeSet.parse(info.scope), patient=info.context.get("patient"),
                       user_patients=patients_of(store, user), fhir_user=fhir_user)


def record_decisions(response):
    """After a FHIR request under a token: one audit event with the decision and the rule behind it."""
    info: TokenInfo | None = g.get("fhir_token")
    if info is None:
        return response
    policy = current_policy()
    decisions = getattr(policy, "decisions", [])
    refused = [rule for outcome, rule in decisions if outcome == audit.FAILURE]
    allowed = [rule for outcome, rule in decisions if outcome == audit.SUCCESS]
    outcome = audit.FAILURE if refused or response.status_code >= 400 else audit.SUCCESS
    rule = (refused or allowed or [f"HTTP {response.status_code}"])[0]
    audit.record_soon(current_app.extensions["store"], "access.refused" if refused else "access.allowed", outcome,
                      client_id=info.client_id, user_id=info.user_id, launch_id=info.context.get("launch_id"),
                      rule=rule, method=request.method, path=request.full_path.rstrip("?"),
                      status=response.status_code, family=info.family_id, count=resource_count(response))
    return response


def resource_count(response) -> int | None:
    """How many resources a GET answered with, for the activity trail: a search's Bundle.total, 1 for a read;
    None when the first bytes of the body do not tell (the body is never parsed)."""
    if request.method != "GET" or response.status_code != 200 or response.is_streamed:
        return None
    head = response.get_data()[:400]
    if total := SEARCH_TOTAL.search(head):
        return int(total.group(1))
    kind = RESOURCE_TYPE.match(head)
    return 1 if kind and kind.group(1) not in NOT_RESOURCES else None
