"""Simulated failures: a launch made to fail on purpose, so a developer sees how their app copes and a teacher can
show each failure as it happens.

A launch carries ``simulate`` in its context ({"kind", "after", "seconds"}); the context travels with the code
and the tokens as any launch context does, but never into the token response. Each failure is produced by the
real code path — the token is really expired or revoked in the database and then refused by the bearer check, an
unexpected exception really reaches the FHIR API's error handler — and is recorded in the launch's trail as
simulated, so what the app sees is exactly what a real server would send.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from ..store import Store
from ..store.errors import FhirError
from . import audit, launch_context
from .tokens import TokenInfo, active_token, revoke_family

# kind → what happens, in words for the menus and the trail; first those of the authorization itself
AUTHORIZE_KINDS = {
    "invalid-client": "The authorization server does not know the app's client_id (an error page, no redirect)",
    "unregistered-redirect": "The app's redirect_uri is not registered (an error page, no redirect)",
    "invalid-scope": "The authorization request is refused with invalid_scope",
    "denied-consent": "The user denies access (access_denied)",
}
CODE_KINDS = {
    "code-expired": "The authorization code has expired when the app exchanges it",
    "code-used": "The authorization code was already used when the app exchanges it",
    "pkce-mismatch": "The app's code_verifier does not match the challenge (invalid_grant)",
    "refresh-refused": "The refresh token is refused when the app uses it",
    "token-short-lived": "The access token expires S seconds after it is issued",
    "patient-gone": "The patient in context no longer exists",
}
FHIR_KINDS = {
    "token-expired": "The access token expires after the app's first N FHIR requests",
    "token-revoked": "The access token is revoked after the app's first N FHIR requests",
    "fhir-500": "The FHIR server fails (500) from the app's Nth FHIR request on",
    "fhir-429": "The FHIR server answers 429 Too Many Requests from the Nth FHIR request on",
    "fhir-slow": "The FHIR server takes S seconds to answer from the Nth FHIR request on",
}
KINDS = {**AUTHORIZE_KINDS, **CODE_KINDS, **FHIR_KINDS}
MAX_AFTER = 1000
MAX_SECONDS = 10
RETRY_AFTER = 5


class SimulationError(ValueError):
    """A ``simulate`` value that is not one the sandbox offers, said for the person who sent it."""


def parse(value: Any) -> dict[str, Any] | None:
    """A launch's ``simulate``: a kind name, or an object with ``kind`` and optionally ``after`` (the Nth FHIR
    request, default 1) and ``seconds`` (fhir-slow, default 3). None or "" for no simulation."""
    if value in (None, "", "none"):
        return None
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, dict):
        raise SimulationError("simulate is a kind name or an object with kind, after and seconds")
    kind = value.get("kind")
    if kind not in KINDS:
        raise SimulationError(f"simulate.kind {kind!r} is not one of {', '.join(KINDS)}")
    after, seconds = value.get("after", 1), value.get("seconds", 3)
    if not isinstance(after, int) or isinstance(after, bool) or not 1 <= after <= MAX_AFTER:
        raise SimulationError(f"simulate.after is a whole number from 1 to {MAX_AFTER}")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= MAX_SECONDS:
        raise SimulationError(f"simulate.seconds is a whole number from 1 to {MAX_SECONDS}")
    return {"kind": kind, "after": after, "seconds": seconds}


def describe(simulation: dict[str, Any]) -> str:
    words = KINDS[simulation["kind"]].replace("first N", f"first {simulation['after']}")
    return words.replace("Nth", ordinal(simulation["after"])).replace("S seconds", f"{simulation['seconds']} s")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _count(store: Store, launch_id: str) -> int:
    """This FHIR request's number among the launch's (one write, only for simulated launches)."""
    with store.transaction() as conn:
        conn.execute("INSERT INTO simulation_calls (launch_id, calls) VALUES (?, 1) "
                     "ON CONFLICT (launch_id) DO UPDATE SET calls = calls + 1", (launch_id,))
        return conn.execute("SELECT calls FROM simulation_calls WHERE launch_id = ?", (launch_id,)).fetchone()[0]


def on_fhir_request(store: Store, info: TokenInfo, presented: str, method: str, path: str) -> TokenInfo | None:
    """Apply the token's simulation, if any, to this FHIR request: the token as it now stands (None once the
    simulation expired or revoked it), or an exception the FHIR API answers as it answers real ones."""
    simulation = info.context.get("simulate")
    if not isinstance(simulation, dict) or simulation.get("kind") not in FHIR_KINDS:
        return info
    launch_id = info.context.get("launch_id") or info.family_id
    number = _count(store, launch_id)
    kind, after = simulation["kind"], simulation["after"]
    if kind in ("token-expired", "token-revoked"):
        if number <= after:
            return info
        if number == after + 1:
            _record(store, info, launch_id, simulation, number, method, path)
            if kind == "token-expired":
                with store.transaction() as conn:
                    conn.execute("UPDATE tokens SET expires_at = ? WHERE family_id = ? AND kind = 'access' AND "
                                 "expires_at > ?", (int(time.time()) - 1, info.family_id, int(time.time()) - 1))
            else:
                revoke_family(store, info.family_id)
        return active_token(store, presented)
    if number < after:
        return info
    _record(store, info, launch_id, simulation, number, method, path)
    if kind == "fhir-slow":
        time.sleep(simulation["seconds"])
        return info
    if kind == "fhir-429":
        raise FhirError(f"Too many requests: try again in {RETRY_AFTER} seconds", status=429, code="throttled",
                        headers={"Retry-After": str(RETRY_AFTER)})
    raise RuntimeError(f"Simulated server failure on FHIR request {number} ({describe(simulation)})")


def _record(store: Store, info: TokenInfo, launch_id: str, simulation: dict, number: int, method: str,
            path: str) -> None:
    audit.record(store, "simulated", audit.FAILURE, client_id=info.client_id, user_id=info.user_id, launch_id=launch_id,
                 rule=f"Simulated on purpose: {describe(simulation)}", kind=simulation["kind"], request=number,
                 method=method, path=path)


# -- the authorization, the code and the tokens -------------------------------------------------------------------


def at_authorize(launch: launch_context.Launch | None) -> str | None:
    """The kind of failure the launch an authorize request would take simulates (None when it names none, or one
    that would be refused — another app's, a used or expired one — which fails the real way instead)."""
    kind = kind_of(launch.context) if launch else None
    return kind if kind in KINDS else None


def kind_of(context: dict[str, Any]) -> str | None:
    """The kind of failure a launch context simulates, if any."""
    simulation = context.get("simulate")
    return simulation.get("kind") if isinstance(simulation, dict) else None


CODE_SHAPES = ("code-expired", "code-used", "pkce-mismatch")  # the kinds shape_code stores a code for


def shape_code(context: dict[str, Any], code_challenge: str, lifetime: int) -> tuple[str, int, bool]:
    """The code as a simulation wants it stored — (challenge, lifetime, spent already) — so that the token endpoint's
    own checks refuse it: expired, already used, or bound to a challenge no verifier of the app's matches."""
    kind = kind_of(context)
    if kind == "code-expired":
        return code_challenge, -1, False
    if kind == "code-used":
        return code_challenge, lifetime, True
    if kind == "pkce-mismatch":
        return hashlib.sha256(secrets.token_bytes(32)).hexdigest(), lifetime, False
    return code_challenge, lifetime, False


def access_lifetime(context: dict[str, Any], lifetime: int) -> int:
    """An access token that lives only S seconds when the launch simulates token-short-lived (the real expiry check
    then refuses it, and expires_in says so)."""
    return context["simulate"].get("seconds", lifetime) if kind_of(context) == "token-short-lived" else lifetime


def refresh_expiry(context: dict[str, Any], expires_at: int | None, now: int) -> int | None:
    """A refresh token already expired when the launch simulates refresh-refused (the real expiry check refuses it)."""
    return now - 1 if kind_of(context) == "refresh-refused" and expires_at else expires_at


def shape_context(context: dict[str, Any]) -> dict[str, Any]:
    """A launch context whose patient no longer exists, for patient-gone: the app's reads of it answer 404."""
    if kind_of(context) == "patient-gone" and context.get("patient"):
        return {**context, "patient": f"{context['patient']}-gone-{secrets.token_hex(3)}"}
    return context
