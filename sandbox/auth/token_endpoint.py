"""The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; SMART App Launch 2.2 §Obtain access token,
§Refresh access token, Backend Services §Obtain access token).

The caller has already authenticated the client (client_auth.py). Each grant checks its own parameters,
issues tokens (tokens.py) and builds the RFC 6749 §5.1 response with SMART's launch context; a request it
cannot honour raises an OAuthError naming the rule (RFC 6749 §5.2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..store import Store
from . import audit, pkce, simulate, step_mode, tokens
from .assertions import SeenJti
from .clients import Client
from .codes import CodeGrant, Redemption, holder_of, look_up, spend
from .errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient, UnsupportedGrantType
from .id_tokens import fhir_user_url, make_id_token, wants_id_token
from .scopes import ScopeSet, TooManyScopes, parse_resource_scope

# SMART App Launch 2.2 §Launch context arrives with your access token — each one only when set.
CONTEXT_PARAMS = ("patient", "encounter", "fhirContext", "need_patient_banner", "smart_style_url", "intent", "tenant")
BACKEND_MAX_LIFETIME = 300  # SMART Backend Services: expires_in SHOULD be no more than 300 seconds


def require(form: Mapping[str, str], name: str) -> str:
    """RFC 6749 §5.2 invalid_request — a required parameter is missing (an empty one counts as missing)."""
    value = form.get(name)
    if not value:
        raise InvalidRequest(f"{name} is required")
    return value


def context_params(context: Mapping[str, Any]) -> dict[str, Any]:
    """The launch context parameters of a token response that are set, in SMART's order.

    SMART App Launch 2.2 §fhirContext — an array of objects (`reference`, `canonical`, `identifier`, `type`,
    `role`); a plain reference string, as in STU 2.0, is given as ``{"reference": …}``.
    """
    params = {name: context[name] for name in CONTEXT_PARAMS if context.get(name) not in (None, "", [])}
    if isinstance(params.get("fhirContext"), list):
        params["fhirContext"] = [{"reference": item} if isinstance(item, str) else item
                                 for item in params["fhirContext"]]
    return params


def token_response(store: Store, settings: Mapping[str, Any], client: Client, form: Mapping[str, str],
                   seen_jti: Sequence[SeenJti] = ()) -> dict:
    """RFC 6749 §5.1 — the successful answer to a token request by an authenticated ``client``. ``seen_jti`` is
    the client assertion's jti, recorded in the transaction that issues the tokens (RFC 7523 §3)."""
    grant_type = check_grant_type(form)
    if not client.allows_grant(grant_type):
        raise UnauthorizedClient(f"Client {client.client_id} is not registered for the {grant_type} grant "
                                 f"(its grant_types: {', '.join(client.grant_types)})")
    try:
        ScopeSet.requested(form.get("scope"))  # refresh and client_credentials take a scope; bounded for all
    except TooManyScopes as error:
        raise InvalidScope(str(error)).about(client_id=client.client_id) from None
    return GRANTS[grant_type](store, settings, client, form, seen_jti)


def check_grant_type(form: Mapping[str, str]) -> str:
    """The grant_type, checked before anything else: missing → invalid_request, unknown →
    unsupported_grant_type (RFC 6749 §5.2)."""
    grant_type = require(form, "grant_type")
    if grant_type not in GRANTS:
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported; use one of {', '.join(GRANTS)}")
    return grant_type


# -- authorization_code ------------------------------------------------------------------------------------


def exchange_code(store: Store, settings: Mapping[str, Any], client: Client, form: Mapping[str, str],
                  seen_jti: Sequence[SeenJti] = ()) -> dict:
    """RFC 6749 §4.1.3 — the code must be known, unexpired, unused, issued to this client and bound to this
    redirect_uri; RFC 7636 §4.6 and SMART App Launch 2.2 — the code_verifier must hash (S256) to its challenge.

    The code is read and checked, the tokens minted and the id_token signed first; then one transaction spends
    the code, stores the tokens and records the event, so all of them are written or none. A code another
    request spent meanwhile is refused as a reuse."""
    code, redirect_uri = require(form, "code"), require(form, "redirect_uri")
    try:
        verifier = pkce.check_verifier_syntax(form.get("code_verifier"))
    except InvalidGrant as error:  # the code is not spent, but the refusal belongs to its trail
        raise error.about(client_id=client.client_id, **holder_of(store, code)) from None
    family_id = tokens.new_family_id()
    redemption = look_up(store, code)
    grant = redemption.grant
    if grant is None:
        raise _refused_code(store, client, redemption)
    if step_mode.wanted(grant.context) and grant.launch_id and step_mode.hold(
            store, grant.launch_id, step_mode.TOKEN, client.client_id):
        step_mode.wait_for_release(store, grant.launch_id, step_mode.TOKEN)  # a server slow to answer, on purpose
    who = {"client_id": client.client_id, "user_id": grant.user_id, "launch_id": grant.launch_id}
    mismatch = _binding_mismatch(client, grant, redirect_uri, verifier, who)
    if mismatch is not None:  # a code presented with the wrong client, redirect_uri or verifier is spent all the same
        with store.transaction() as conn:
            spend(conn, code, family_id)
        raise mismatch
    now = int(time.time())
    issued, rows = tokens.mint(
        family_id=family_id, client_id=client.client_id, scope=grant.scope,
        access_lifetime=simulate.access_lifetime(grant.context, settings["ACCESS_TOKEN_LIFETIME"]),
        user_id=grant.user_id, session_id=grant.session_id,
        context=grant.context, now=now, refresh_expires_at=simulate.refresh_expiry(
            grant.context, _refresh_expiry(store, settings, client, grant.scope, grant.session_id, now), now))
    body = _body(store, settings, client, issued, grant.scope, grant.user_id, grant.context, grant.nonce)
    event = audit.event_row(
        "token.issued", **who, rule="Authorization code exchanged for tokens", grant_type="authorization_code",
        scope=grant.scope, family_id=family_id, refresh_token=issued.refresh_token is not None,
        pkce={"method": "S256", "code_challenge": audit.short(grant.code_challenge, 10),
              "result": "S256 verifier matched the challenge: BASE64URL(SHA256(code_verifier)) equals the "
                        "code_challenge of the authorize request"},
        **_trail_detail(store, settings, client, form, body, issued, grant.user_id))
    with store.transaction() as conn:  # the code spent, the tokens and their audit event in one commit
        if not spend(conn, code, family_id, now):
            refusal = _refused_code(store, client, look_up(store, code, now))
        else:
            refusal = None
            _record(conn, seen_jti)
            tokens.save(conn, rows)
            audit.write(conn, event)
    if refusal is not None:
        raise refusal
    return body


def _refused_code(store: Store, client: Client, redemption: Redemption) -> InvalidGrant:
    """Why a code cannot be redeemed; a reused code revokes the tokens its first use issued (RFC 6749 §4.1.2),
    with its audit event, in one transaction (the caller's when it has one open)."""
    who = {"client_id": client.client_id, **redemption.who}
    if redemption.reused_family:
        with store.transaction():
            revoked = tokens.revoke_family(store, redemption.reused_family)
            audit.record(store, "code.reused", audit.FAILURE, **who,
                         rule="An authorization code was presented twice: the tokens its first use issued are "
                              "revoked (RFC 6749 §4.1.2)", family_id=redemption.reused_family, revoked=revoked,
                         error=InvalidGrant.error)
        return InvalidGrant(f"{redemption.problem}; the tokens issued with it are now revoked "
                            "(RFC 6749 §4.1.2)").about(**who)
    return InvalidGrant(redemption.problem).about(**who)


def _binding_mismatch(client: Client, grant: CodeGrant, redirect_uri: str, verifier: str,
                      who: dict) -> InvalidGrant | None:
    if grant.client_id != client.client_id:
        return InvalidGrant("The authorization code was issued to another client (RFC 6749 §4.1.3)").about(
            **who).differs("client_id", grant.client_id, client.client_id)
    if grant.redirect_uri != redirect_uri:
        return InvalidGrant("redirect_uri differs from the one of the authorization request; it must be identical "
                            "(RFC 6749 §4.1.3)").about(**who).differs("redirect_uri", grant.redirect_uri,
                                                                      redirect_uri)
    try:
        pkce.check_verifier(verifier, grant.code_challenge)
    except InvalidGrant as error:
        return error.about(**who)
    return None


def _record(conn, seen_jti: Sequence[SeenJti]) -> None:
    for seen in seen_jti:
        seen.record(conn)


def _refresh_expiry(store: Store, settings: Mapping[str, Any], client: Client, scope: str, session_id: str | None,
                    now: int) -> int | None:
    """A refresh token only for offline_access/online_access, and only to a client registered for the
    refresh_token grant (it could not use one otherwise)."""
    if not client.allows_grant("refresh_token"):
        return None
    return tokens.refresh_expiry(store, settings, scope, session_id, now)


# -- refresh_token -------------------------------------------------------------------------------------------


def refresh(store: Store, settings: Mapping[str, Any], client: Client, form: Mapping[str, str],
            seen_jti: Sequence[SeenJti] = ()) -> dict:
    """RFC 6749 §6 — a new access token for a refresh token of this client, optionally with narrower scope;
    the refresh token rotates, and a rotated-out one presented again revokes its family (RFC 9700 §4.14.2).
    The new tokens are minted and signed first; one transaction then rotates, stores and records."""
    presented = require(form, "refresh_token")
    info = tokens.find(store, presented)
    if info is None or info.kind != tokens.REFRESH:
        raise InvalidGrant("The refresh token is not known").about(client_id=client.client_id)
    who = {"client_id": client.client_id, "user_id": info.user_id, "launch_id": info.context.get("launch_id")}
    if info.client_id != client.client_id:
        raise InvalidGrant("The refresh token was issued to another client (RFC 6749 §6)").about(**who)
    if info.rotated_at is not None or info.revoked_at is not None:
        _reused(store, info)
        raise InvalidGrant("The refresh token was already used or revoked; every token issued with it is now "
                           "revoked (refresh token rotation, RFC 9700 §4.14.2)").about(**who)
    problem = tokens.inactive_reason(store, info)
    if problem:
        raise InvalidGrant(problem).about(**who)
    scope = _narrowed(form, info, who)
    now = int(time.time())
    issued, rows = tokens.mint(
        family_id=info.family_id, client_id=info.client_id, scope=scope,
        access_lifetime=simulate.access_lifetime(info.context, settings["ACCESS_TOKEN_LIFETIME"]),
        user_id=info.user_id, session_id=info.session_id,
        context=info.context, refresh_scope=info.scope, now=now,
        refresh_expires_at=tokens.refresh_expiry(store, settings, info.scope, info.session_id, now, info.expires_at))
    body = _body(store, settings, client, issued, scope, info.user_id, info.context)
    event = audit.event_row(
        "token.refreshed", **who, rule="Refresh token exchanged and rotated", grant_type="refresh_token",
        scope=scope, family_id=info.family_id,
        rotation={"presented": audit.short(presented), "issued": audit.short(issued.refresh_token),
                  "family_scope": info.scope}, **_trail_detail(store, settings, client, form, body, issued,
                                                               info.user_id))
    with store.transaction() as conn:
        rotated = tokens.take_for_rotation(conn, presented, now)
        if rotated:
            _record(conn, seen_jti)
            tokens.save(conn, rows)
            audit.write(conn, event)
        else:  # another request rotated it first
            _reused(store, info)
    if not rotated:
        raise InvalidGrant("The refresh token was already used; every token issued with it is now revoked "
                           "(refresh token rotation, RFC 9700 §4.14.2)").about(**who)
    return body


def _narrowed(form: Mapping[str, str], info: tokens.TokenInfo, who: dict) -> str:
    """RFC 6749 §6 — the requested scope MUST NOT include any scope not originally granted; omitted, it is
    the original scope."""
    requested = form.get("scope")
    if not requested:
        return info.scope
    asked = ScopeSet.parse(requested)
    if not asked:
        raise InvalidScope(f"None of the requested scopes ({requested}) is known").about(**who)
    if not asked.is_subset_of(ScopeSet.parse(info.scope)):
        raise InvalidScope(f"A refresh may narrow the scope, never widen it: {requested!r} is not within the "
                           f"granted {info.scope!r} (RFC 6749 §6)").about(**who).differs("scope", info.scope, requested)
    return str(asked)


def _reused(store: Store, info: tokens.TokenInfo) -> None:
    """The family of a reused refresh token revoked, with its audit event, in one transaction."""
    with store.transaction():
        revoked = tokens.revoke_family(store, info.family_id)
        audit.record(store, "refresh.reused", audit.FAILURE, client_id=info.client_id, user_id=info.user_id,
                     launch_id=info.context.get("launch_id"), error=InvalidGrant.error,
                     rule="A rotated-out or revoked refresh token was presented: the whole token family is revoked "
                          "(RFC 9700 §4.14.2)", family_id=info.family_id, revoked=revoked)


# -- client_credentials --------------------------------------------------------------------------------------


def client_credentials(store: Store, settings: Mapping[str, Any], client: Client, form: Mapping[str, str],
                       seen_jti: Sequence[SeenJti] = ()) -> dict:
    """SMART Backend Services — client_credentials with private_key_jwt, system/ scopes only, a short-lived
    access token and no refresh token (RFC 6749 §4.4.3: a refresh token SHOULD NOT be included). The
    assertion's jti, the token and the event are written in one transaction."""
    who = {"client_id": client.client_id}
    if client.token_endpoint_auth_method != "private_key_jwt":
        raise UnauthorizedClient("SMART Backend Services: the client_credentials grant needs a client registered "
                                 "with token_endpoint_auth_method private_key_jwt").about(**who)
    requested = require(form, "scope")
    system = ScopeSet(tuple(s for s in ScopeSet.parse(requested).scopes
                            if (parsed := parse_resource_scope(s)) is not None and parsed.context == "system"))
    granted = system.restrict_to(client.scopes)
    if not granted:
        raise InvalidScope(f"No scope of {requested!r} can be granted: a backend service gets system/ scopes "
                           f"within its registered {client.scope!r}").about(**who)
    scope = str(granted)
    lifetime = min(settings["BACKEND_TOKEN_LIFETIME"], BACKEND_MAX_LIFETIME)
    issued, rows = tokens.mint(family_id=tokens.new_family_id(), client_id=client.client_id, scope=scope,
                               access_lifetime=lifetime)
    body = _body(store, settings, client, issued, scope, None, {})
    event = audit.event_row("token.issued", **who, rule="Backend service token issued (client_credentials)",
                            grant_type="client_credentials", scope=scope, family_id=issued.family_id,
                            **_trail_detail(store, settings, client, form, body, issued, None))
    with store.transaction() as conn:
        _record(conn, seen_jti)
        tokens.save(conn, rows)
        audit.write(conn, event)
    return body


# -- the response ----------------------------------------------------------------------------------------------


def _body(store: Store, settings: Mapping[str, Any], client: Client, issued: tokens.Issued, scope: str,
          user_id: str | None, context: Mapping[str, Any], nonce: str | None = None) -> dict:
    """RFC 6749 §5.1 with SMART App Launch 2.2 §Response: access_token, token_type, expires_in, scope,
    refresh_token and id_token when granted, then the launch context."""
    body: dict[str, Any] = {"access_token": issued.access_token, "token_type": "Bearer",
                            "expires_in": issued.expires_in, "scope": scope}
    if issued.refresh_token:
        body["refresh_token"] = issued.refresh_token
    if user_id and wants_id_token(scope):
        body["id_token"] = make_id_token(store, settings, client.client_id, user_id, scope, nonce, issued.issued_at)
    body.update(context_params(context))
    return body


def _trail_detail(store: Store, settings: Mapping[str, Any], client: Client, form: Mapping[str, str], body: dict,
                  issued: tokens.Issued, user_id: str | None) -> dict[str, Any]:
    """The exchange as the activity trail keeps it: the request and the response with access and refresh tokens
    cut short (the trail never holds a usable token), the id_token whole (it grants nothing), and what the
    opaque access token stands for. The client authenticated with its registered method (client_auth.py)."""
    shown = {k: audit.short(v) if k in ("access_token", "refresh_token") else v for k, v in body.items()}
    return {"request": audit.safe_params(form), "client_auth": client.token_endpoint_auth_method, "response": shown,
            "token": {"iat": issued.issued_at, "exp": issued.expires_at,
                      "fhirUser": fhir_user_url(store, settings["BASE_URL"], user_id)}}


GRANTS: dict[str, Callable[[Store, Mapping[str, Any], Client, Mapping[str, str], Sequence[SeenJti]], dict]] = {
    "authorization_code": exchange_code,
    "refresh_token": refresh,
    "client_credentials": client_credentials,
}
