"""The words of the activity trail: what each step, parameter and claim means, what to change when a step
fails, and how values and times are written. Plain sentences an educator can read out; the SMART or OAuth term
stays beside them in monospace.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

# event → (title in plain words, actor arrow, protocol term)
STEPS = {
    "launch.created": ("Launch requested: context saved", "EHR → App", "launch"),
    "discovery": ("Discovery", "App → FHIR", "GET /fhir/.well-known/smart-configuration"),
    "launch.refused": ("Launch refused", "App → EHR", "launch"),
    "authorize.requested": ("Authorization request", "App → EHR", "GET /auth/authorize"),
    "authorize.refused": ("Authorization request refused", "App → EHR", "GET /auth/authorize"),
    "authorize.signed_in": ("User signed in", "User → EHR", "/auth/login"),
    "authorize.context": ("Launch context chosen", "User → EHR", "launch/patient"),
    "authorize.approved": ("Authorization approved", "User → EHR", "consent"),
    "authorize.denied": ("Authorization denied", "User → EHR", "access_denied"),
    "code.issued": ("Redirect back to the app with a code", "EHR → App", "authorization code"),
    "code.reused": ("A code was used twice: its tokens were revoked", "App → EHR", "invalid_grant"),
    "token.issued": ("Code exchanged for tokens", "App → EHR", "POST /auth/token"),
    "token.refused": ("Token request refused", "App → EHR", "POST /auth/token"),
    "token.refreshed": ("Access token refreshed", "App → EHR", "grant_type=refresh_token"),
    "refresh.reused": ("An old refresh token was reused: all tokens revoked", "App → EHR", "refresh_token"),
    "introspection": ("Token introspected", "App → EHR", "POST /auth/introspect"),
    "revocation": ("Tokens revoked", "App → EHR", "POST /auth/revoke"),
    "simulated": ("Simulated failure", "Sandbox", "simulate"),
    "paused": ("Paused: step mode", "Presenter", "pause"),
    "continued": ("Continue pressed", "Presenter", "continue"),
}

# event → (short explanation, longer one for "Explain more")
EXPLAIN = {
    "discovery": (
        "Before asking for authorization, the app read where the server's endpoints are: "
        ".well-known/smart-configuration (SMART App Launch 2.2 §Discovery), and perhaps the CapabilityStatement.",
        "The authorization_endpoint and token_endpoint come from here; an app never hard-codes them. No token is "
        "needed: the documents are public."),
    "launch.created": (
        "The EHR saved who is using it and what is open (patient, encounter) under an opaque launch id, then "
        "opened the app at its launch URL with iss (the FHIR server) and launch (that id).",
        "The launch id tells the app nothing by itself: the app sends it back in its authorization request and "
        "gets the context only with its access token. Before that request, the app reads the server's endpoints "
        "from the FHIR server's .well-known/smart-configuration."),
    "launch.refused": (
        "The launch id in the authorization request could not be used, so the app got an error at its "
        "redirect_uri.",
        "A launch is made for one app, can be used once, and only for a few minutes."),
    "authorize.requested": (
        "The app sent the browser to the authorize endpoint: which app it is, what it wants, where to send the "
        "answer.",
        "The app found the endpoint in .well-known/smart-configuration. For PKCE it made a random secret (the "
        "code_verifier), kept it, and sent only its SHA-256 hash (the code_challenge): a stolen code is useless "
        "without the verifier. Scopes the server does not know are dropped, never an error."),
    "authorize.refused": (
        "The authorization server refused the request before asking anyone anything.",
        "Until the client and its redirect_uri are known to be good the server shows an error page; after that "
        "it sends the error back to the app's redirect_uri with the state (RFC 6749 §4.1.2.1)."),
    "authorize.signed_in": (
        "Nobody was signed in, so the EHR asked the person to sign in; the request goes on as them.",
        "In an EHR launch the user is already known from the launch. A standalone launch starts at the app, so "
        "the authorization server has to find out who is at the keyboard."),
    "authorize.context": (
        "The app asked for launch context (launch/patient or launch/encounter) that did not come with a "
        "launch, so it was chosen here.",
        "A clinician picks the patient; a patient or a family member gets their own (or their linked patient's) "
        "record without a picker."),
    "authorize.approved": (
        "The request was approved, with the scopes shown.",
        "A consent page lets the user untick what the app asks for, so the grant may be narrower than the "
        "request. Pre-approved apps and launches made with skip_consent skip the page."),
    "authorize.denied": (
        "The request was refused: the app gets error=access_denied at its redirect_uri.",
        "The user cancelled, denied consent, or had no record to share."),
    "code.issued": (
        "The browser went back to the app's redirect_uri with a one-time code and the app's own state.",
        "The code works once, for a short time, only for this app and this redirect_uri, and only with the "
        "PKCE code_verifier. It is bound to the scopes granted and the launch context."),
    "code.reused": (
        "A code that had already been exchanged was presented again, so the tokens it gave were revoked.",
        "RFC 6749 §4.1.2: a code used twice may have been stolen, so the server revokes what it issued."),
    "token.issued": (
        "The app traded the code for tokens at the token endpoint, a direct call that does not pass through "
        "the browser.",
        "The server checked the client's authentication, that the code is unused and unexpired, that it was "
        "issued to this client for this redirect_uri, and the PKCE verifier. The answer carries the access "
        "token, what it may do (scope) and the launch context."),
    "token.refused": (
        "The token endpoint refused the request with an OAuth error (RFC 6749 §5.2).",
        "The app gets a JSON error with error and error_description, and no token."),
    "token.refreshed": (
        "The app traded its refresh token for a new access token, without the user; the refresh token rotated.",
        "Each refresh returns a new refresh token and retires the one presented. Presenting a retired one again "
        "revokes every token of the family (RFC 9700 §4.14.2)."),
    "refresh.reused": (
        "A refresh token that had already been used was presented again, so every token of its family was "
        "revoked.",
        "Rotation catches stolen refresh tokens: only one party can keep using the family."),
    "paused": (
        "Step mode: the launch waits here until the presenter presses Continue in the EHR, so the class can look at "
        "what happened so far.",
        "Before the code, the browser waits on a page of the authorization server; before the token exchange, the "
        "app's token request waits, as if the server were slow."),
    "continued": ("The presenter let the launch go on.", ""),
    "simulated": (
        "The launch was made to fail on purpose (Simulate): the sandbox made this failure through its real code "
        "path, so the app saw exactly what a real server sends.",
        "Watch what the app does next: does it tell its user, retry after Retry-After, or ask for a new token?"),
    "revocation": (
        "Tokens of this authorization were revoked (RFC 7009); they no longer work.",
        "An app revokes tokens when the user signs out of it; a user can revoke from Connected apps."),
    "fhir": (
        "The app called the FHIR API with its access token. Each request was checked against the token's "
        "scopes, patient and user; the rule that decided is shown.",
        "patient/ scopes reach only the patient in context, user/ scopes what the user may see. A refused read "
        "gets 403; a search silently leaves out what the token may not see."),
}

AUTHORIZE_PARAMS = {
    "response_type": "Always code: the app wants an authorization code.",
    "client_id": "Which registered app is asking.",
    "redirect_uri": "Where the answer goes; it must match a registered URI exactly.",
    "scope": "What the app asks to do: data scopes, launch context, identity, refresh.",
    "state": "A random value of the app's own that must come back unchanged (protects against forged answers).",
    "aud": "The FHIR server the token is for: this server's FHIR base URL.",
    "launch": "The EHR launch this request continues (the opaque id from the launch URL).",
    "code_challenge": "PKCE: the SHA-256 hash of a secret only the app keeps (the code_verifier).",
    "code_challenge_method": "How the challenge was made; SMART allows only S256.",
    "nonce": "OpenID Connect: a value the id_token echoes, tying it to this request.",
}

TOKEN_PARAMS = {
    "grant_type": "What is traded: an authorization_code, a refresh_token, or client_credentials.",
    "code": "The one-time code from the redirect (cut short here).",
    "redirect_uri": "Must be the same as in the authorization request.",
    "code_verifier": "PKCE: the secret whose S256 hash was the code_challenge (cut short here).",
    "client_id": "Which app is asking; all a public app sends to identify itself.",
    "client_secret": "A confidential app's password; the trail never records it.",
    "client_assertion_type": "Says the app authenticates with a signed JWT (private_key_jwt).",
    "client_assertion": "A JWT signed with the app's private key (cut short here).",
    "refresh_token": "The refresh token being traded (cut short here).",
    "scope": "Optional: ask for less than was granted, never more.",
}

REDIRECT_PARAMS = {
    "code": "The one-time authorization code (cut short here: the trail never keeps a usable one).",
    "state": "The app's own value, sent back unchanged so the app knows the answer is to its request.",
}

LAUNCH_PARAMS = {
    "iss": "The FHIR server to talk to; the app fetches its .well-known/smart-configuration.",
    "launch": "An opaque id for this launch; the app sends it back in its authorization request.",
}

CONTEXT_FIELDS = ("patient", "encounter", "fhirContext", "need_patient_banner", "smart_style_url", "intent", "tenant")

RESPONSE_CLAIMS = {
    "access_token": "What the app sends as Authorization: Bearer on FHIR requests. Opaque: a random string the "
                    "server looks up. Cut short here: the trail never keeps a usable token.",
    "token_type": "Bearer: whoever holds the token may use it, so it must stay secret.",
    "expires_in": "Seconds the access token works for.",
    "exp": "When the access token stops working.",
    "iat": "When the access token was issued.",
    "scope": "What was granted, which may be less than was asked.",
    "refresh_token": "Trades for a new access token without the user; rotates on every use (cut short here).",
    "id_token": "A signed statement of who the user is (OpenID Connect); decoded below.",
    "fhirUser": "The FHIR resource of the user the token acts for.",
    "patient": "The patient in context: the app opens on this patient, and patient/ scopes reach only them.",
    "encounter": "The encounter in context.",
    "fhirContext": "Other resources in context (SMART 2.2), as references.",
    "need_patient_banner": "true: the app must show the patient's name and details; false: the EHR already does.",
    "smart_style_url": "The EHR's colours and fonts, so the app can look at home inside it.",
    "intent": "What the EHR expects the app to do, e.g. reconcile-medications.",
    "tenant": "The organisation or tenant the launch belongs to.",
}

ID_TOKEN_HEADER = {
    "alg": "Signature algorithm: RS256, RSA with SHA-256.",
    "kid": "Which of the server's keys signed it; the public key is at /auth/jwks.",
    "typ": "The token type: a JWT.",
}

ID_TOKEN_CLAIMS = {
    "iss": "Issuer: the FHIR base URL. The app checks it is the server it launched against.",
    "sub": "Subject: the user's id at this server.",
    "aud": "Audience: the client_id the id_token is for. The app checks it is its own.",
    "exp": "When the id_token expires.",
    "iat": "When it was issued.",
    "fhirUser": "The user's FHIR resource (Practitioner, Patient or RelatedPerson) as an absolute URL.",
    "nonce": "The nonce of the authorization request, sent back so the app can tie the id_token to it.",
    "name": "The user's name (profile scope).",
}

CLIENT_AUTH = {
    "none": "Public app: no secret to keep (it runs in a browser or on a phone), so it sends only its client_id; "
            "PKCE protects the code.",
    "client_secret_basic": "Confidential app: client_id and secret in an HTTP Basic Authorization header.",
    "client_secret_post": "Confidential app: client_id and client_secret in the form body.",
    "private_key_jwt": "Confidential app: a JWT signed with its private key, checked with its registered public key.",
}

APPROVALS = {
    "consent page": "The user approved on the consent page.",
    "pre-approved": "No consent page: the app is registered as pre-approved.",
    "skip_consent": "No consent page: the launch was made with skip_consent.",
}

# What to change, by OAuth error code; a mismatch names the field instead.
CHANGE = {
    "invalid_request": "Fix the parameter the error names, then send the request again.",
    "invalid_client": "Authenticate the way the app is registered (its token_endpoint_auth_method), with the "
                      "right credentials.",
    "invalid_grant": "Start the authorization again for a new code: a code works once, for a short time, with "
                     "the same redirect_uri and the PKCE verifier of its request.",
    "invalid_scope": "Ask only for scopes the app is registered for, in SMART syntax (e.g. patient/Observation.rs).",
    "unauthorized_client": "Register the app for this grant type.",
    "unsupported_grant_type": "Use authorization_code, refresh_token or client_credentials.",
    "unsupported_response_type": "Send response_type=code.",
    "access_denied": "The user or the EHR said no. Ask again, perhaps for less.",
    "slow_down": "Too many failures: wait for Retry-After seconds, then fix the credentials.",
}
CHANGE_BY_RULE = (  # (words in the rule, what to change), more specific than the error code
    ("never widen", "Ask for the scopes granted, or fewer; for more, the app must authorize again."),
    ("code_verifier", "Send the code_verifier whose S256 hash was the code_challenge; keep it beside the state "
                      "between the redirect and the callback."),
    ("refresh token", "Use the newest refresh token: every refresh returns a new one and retires the one presented; "
                      "when the family was revoked, authorize again."),
)
CHANGE_LAUNCH = "Start a new launch from the EHR: a launch is for one app, used once, within a few minutes."
CHANGE_MISMATCH = {
    "client_id": "Register the app first, or send the client_id it was registered with.",
    "redirect_uri": "Send exactly a registered redirect URI (scheme, host, port and path alike), and the same one "
                    "at the token endpoint as in the authorization request.",
    "aud": "Send aud set to the FHIR base URL: the iss the app was launched with.",
    "scope": "Send scope with what the app needs, e.g. launch/patient openid fhirUser patient/*.rs.",
}

WAITING = {  # after this event, what the trail waits for
    "launch.created": "Waiting for the app to send its authorization request",
    "authorize.requested": "Waiting for the person: sign-in, pickers or consent",
    "authorize.signed_in": "Waiting for the person: pickers or consent",
    "authorize.context": "Waiting for the person: pickers or consent",
    "code.issued": "Waiting for the app to exchange the code for tokens",
}
WATCHING = "Watching for FHIR requests and refreshes"


def change_for(error: str | None, rule: str | None, mismatch: dict | None) -> str:
    """What to change: by the rule's own words when they are specific, else by the field that differs, else by
    the error code."""
    for words, change in CHANGE_BY_RULE:
        if words in (rule or ""):
            return change
    if mismatch and mismatch.get("field") in CHANGE_MISMATCH:
        return CHANGE_MISMATCH[mismatch["field"]]
    return CHANGE.get(error or "", "Read what happened above, fix the request and try again.")


# -- words for values and times ----------------------------------------------------------------------------------


def text(value: Any) -> Any:
    """A value as the tables show it: JSON words for booleans, compact JSON for objects, lists kept as lists."""
    if value is None:
        return "Not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict) for v in value)):
        return json.dumps(value, separators=(", ", ": "))
    return value if isinstance(value, list) else str(value)


def local_time(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%d-%b-%Y %H:%M:%S")


def relative(timestamp: int, now: float, expiry: bool = True) -> str:
    left = timestamp - now
    if not expiry:
        return f"{duration(-left)} ago" if left <= 0 else f"in {duration(left)}"
    return f"expires in {duration(left)}" if left > 0 else f"expired {duration(-left)} ago"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def since_start(elapsed: dt.timedelta) -> str:
    seconds = elapsed.total_seconds()
    if seconds < 60:
        return f"+{seconds:.2f} s"
    if seconds < 3600:
        return f"+{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"+{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
