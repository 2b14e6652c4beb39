"""Client metadata rules (RFC 7591 §2) — the one validation used by dynamic registration, the CLI and the UI.

``validate_metadata`` takes client metadata as sent and returns it normalised: defaults applied, unknown
scopes dropped, sandbox-relative paths joined with the base URL. Anything it cannot accept raises a
``RegistrationError`` carrying the RFC 7591 §3.2.2 error code and a description that names the rule.
Metadata the server does not understand is ignored (RFC 7591 §2: the server "MUST ignore" it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from joserfc.jwk import JWKRegistry

from .scopes import ScopeSet, TooManyScopes, parse_resource_scope

AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
RESPONSE_TYPES = ("code",)
LAUNCH_MODES = ("embedded", "tab")
# SMART App Launch 2.2 §client-confidential-asymmetric — clients sign with RS384 or ES384; we also verify
# RS256 and ES256. EC curves by algorithm (RFC 7518 §3.4).
SIGNING_ALGORITHMS = ("RS384", "ES384", "RS256", "ES256")
EC_CURVES = {"P-256": "ES256", "P-384": "ES384"}  # RFC 7518 §3.4: the curve fixes the algorithm
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

# Allowed scopes when the metadata names none (RFC 7591 §2 — the server MAY register a default set).
DEFAULT_APP_SCOPE = ("openid fhirUser profile launch launch/patient launch/encounter online_access offline_access "
                     "patient/*.cruds user/*.cruds")
DEFAULT_BACKEND_SCOPE = "system/*.cruds"

STRING_FIELDS = ("client_name", "description", "logo_uri", "client_uri", "launch_uri", "jwks_uri", "scope",
                 "token_endpoint_auth_method", "launch_mode", "launch_intent")
INTENT_MAX = 200  # the sandbox's launch_intent: a short word or phrase the app acts on (SMART §intent)
LIST_FIELDS = ("redirect_uris", "grant_types", "response_types")
URL_FIELDS = ("logo_uri", "client_uri", "launch_uri", "jwks_uri")


class RegistrationError(ValueError):
    """RFC 7591 §3.2.2 — a registration error: HTTP 400 with ``error`` and ``error_description``."""

    error = "invalid_client_metadata"
    status_code = 400
    default_field: str | None = None

    def __init__(self, description: str, field: str | None = None):
        super().__init__(description)
        self.description = description
        self.field = field or self.default_field  # the metadata field at fault, for forms to point at

    def as_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidClientMetadata(RegistrationError):
    """RFC 7591 §3.2.2 invalid_client_metadata — a metadata field is invalid."""


class InvalidRedirectUri(RegistrationError):
    """RFC 7591 §3.2.2 invalid_redirect_uri — one or more redirect_uris are invalid."""

    error = "invalid_redirect_uri"
    default_field = "redirect_uris"


def client_type(auth_method: str, grant_types: list[str] | tuple[str, ...]) -> str:
    """SMART's client types: public, confidential-symmetric, confidential-asymmetric, or backend services."""
    if auth_method == "none":
        return "public"
    if auth_method in SECRET_METHODS:
        return "confidential-symmetric"
    return "backend" if "client_credentials" in grant_types else "confidential-asymmetric"


def validate_metadata(metadata: Mapping[str, Any], base_url: str | None = None,
                      require_keys: bool = True) -> dict[str, Any]:
    """The normalised metadata of a client, or a ``RegistrationError`` naming the broken rule.

    ``base_url`` resolves paths (``/demo/launch.html``) in URL fields, for apps the sandbox serves itself.
    ``require_keys=False`` lets a private_key_jwt client be declared before its keys are known.
    """
    if not isinstance(metadata, Mapping):
        raise InvalidClientMetadata("The client metadata must be a JSON object")
    _check_types(metadata)
    method = metadata.get("token_endpoint_auth_method") or "client_secret_basic"  # RFC 7591 §2 default
    if method not in AUTH_METHODS:
        raise InvalidClientMetadata(f"token_endpoint_auth_method {method!r} is not supported; use one of "
                                    f"{', '.join(AUTH_METHODS)}", "token_endpoint_auth_method")
    grants = _unique(metadata.get("grant_types") or ["authorization_code"])  # RFC 7591 §2 default
    _check_grants(grants, method)
    responses = _check_response_types(metadata.get("response_types"), grants)
    result: dict[str, Any] = {
        "client_name": metadata.get("client_name") or None,
        "description": metadata.get("description") or None,
        "token_endpoint_auth_method": method,
        "grant_types": grants,
        "response_types": responses,
        "redirect_uris": _check_redirect_uris(metadata.get("redirect_uris"), grants, base_url),
        "scope": _check_scope(metadata.get("scope"), grants),
    }
    for field in URL_FIELDS:
        if metadata.get(field):
            result[field] = _absolute_url(field, metadata[field], base_url)
    result.update(_check_keys(metadata, method, result.get("jwks_uri"), require_keys))
    pre_approved = metadata.get("pre_approved")
    result["pre_approved"] = False if pre_approved is None else _check_bool("pre_approved", pre_approved)
    intent = (metadata.get("launch_intent") or "").strip()
    if len(intent) > INTENT_MAX:
        raise InvalidClientMetadata(f"launch_intent is limited to {INTENT_MAX} characters", "launch_intent")
    result["launch_intent"] = intent or None
    result["launch_mode"] = metadata.get("launch_mode") or "embedded"
    if result["launch_mode"] not in LAUNCH_MODES:
        raise InvalidClientMetadata(f"launch_mode must be one of {', '.join(LAUNCH_MODES)}", "launch_mode")
    return {k: v for k, v in result.items() if v is not None}


def _check_types(metadata: Mapping[str, Any]) -> None:
    for field in STRING_FIELDS:
        if metadata.get(field) is not None and not isinstance(metadata[field], str):
            raise InvalidClientMetadata(f"{field} must be a string", field)
    for field in LIST_FIELDS:
        value = metadata.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            error = InvalidRedirectUri if field == "redirect_uris" else InvalidClientMetadata
            raise error(f"{field} must be an array of strings")


def _check_grants(grants: list[str], method: str) -> None:
    unknown = [g for g in grants if g not in GRANT_TYPES]
    if unknown:
        raise InvalidClientMetadata(f"grant_types {', '.join(unknown)} not supported; use "
                                    f"{', '.join(GRANT_TYPES)}")
    if "client_credentials" in grants:
        if method != "private_key_jwt":
            raise InvalidClientMetadata("SMART Backend Services: the client_credentials grant requires "
                                        "token_endpoint_auth_method private_key_jwt")
        if len(grants) > 1:
            raise InvalidClientMetadata("A client_credentials client (SMART Backend Services) cannot also use "
                                        f"{', '.join(g for g in grants if g != 'client_credentials')}; "
                                        "register a separate client for user-facing launches")
    elif "authorization_code" not in grants:
        raise InvalidClientMetadata("grant_types refresh_token needs authorization_code as well")


def _check_response_types(value: list[str] | None, grants: list[str]) -> list[str]:
    """RFC 7591 §2.1 — response_types and grant_types must agree: authorization_code ⇔ code."""
    uses_code = "authorization_code" in grants
    responses = _unique(value if value is not None else (["code"] if uses_code else []))
    unknown = [r for r in responses if r not in RESPONSE_TYPES]
    if unknown:
        raise InvalidClientMetadata(f"response_types {', '.join(unknown)} not supported; only code is")
    if uses_code and "code" not in responses:
        raise InvalidClientMetadata("grant_types authorization_code needs response_types code (RFC 7591 §2.1)")
    if responses and not uses_code:
        raise InvalidClientMetadata("response_types code needs grant_types authorization_code (RFC 7591 §2.1)")
    return responses


def _check_redirect_uris(value: list[str] | None, grants: list[str], base_url: str | None) -> list[str]:
    """RFC 6749 §3.1.2 — redirection endpoints are absolute URIs without a fragment; required for
    redirect-based grants (RFC 7591 §2). Matched exactly later, so wildcards are refused."""
    uris = _unique(value or [])
    if "authorization_code" not in grants:
        if uris:
            raise InvalidRedirectUri("redirect_uris are only used by the authorization_code grant")
        return []
    if not uris:
        raise InvalidRedirectUri("redirect_uris is required for the authorization_code grant")
    checked = []
    for uri in uris:
        uri = _resolve(uri, base_url)
        if "*" in uri:
            raise InvalidRedirectUri(f"redirect_uri {uri!r} contains a wildcard; register each URI exactly")
        if "#" in uri:
            raise InvalidRedirectUri(f"redirect_uri {uri!r} has a fragment, which RFC 6749 §3.1.2 forbids")
        if not _is_http_url(uri):
            raise InvalidRedirectUri(f"redirect_uri {uri!r} must be an absolute http or https URL")
        checked.append(uri)
    return checked


def _check_scope(value: str | None, grants: list[str]) -> str:
    """Unknown scopes are dropped, never an error. SMART Backend Services: system/ scopes belong to backend
    services (client_credentials, which _check_grants ties to private_key_jwt) and they hold nothing else; an app a
    person authorizes never holds them."""
    backend = "client_credentials" in grants
    if not value or not value.strip():
        return DEFAULT_BACKEND_SCOPE if backend else DEFAULT_APP_SCOPE
    try:
        ScopeSet.requested(value)
    except TooManyScopes as error:
        raise InvalidClientMetadata(str(error), "scope") from None
    scopes = ScopeSet.parse(value)
    system = [s for s in scopes.scopes if (parsed := parse_resource_scope(s)) and parsed.context == "system"]
    others = [s for s in scopes.scopes if s not in system]
    if backend and others:
        raise InvalidClientMetadata(f"A client_credentials client may only hold system/ scopes; remove "
                                    f"{' '.join(others)}", "scope")
    if not backend and system:
        raise InvalidClientMetadata(f"system/ scopes are for backend services (client_credentials with "
                                    f"private_key_jwt), not apps a person authorizes; remove {' '.join(system)}",
                                    "scope")
    return str(scopes)


def _check_keys(metadata: Mapping[str, Any], method: str, jwks_uri: str | None,
                require_keys: bool) -> dict[str, Any]:
    """SMART client-confidential-asymmetric — private_key_jwt clients register a JWK Set URL or a JWK Set."""
    jwks = metadata.get("jwks")
    if jwks is not None and jwks_uri:
        raise InvalidClientMetadata("jwks and jwks_uri must not both be present (RFC 7591 §2)", "jwks")
    if method != "private_key_jwt":
        if jwks is not None or jwks_uri:
            raise InvalidClientMetadata(f"jwks and jwks_uri are only used with private_key_jwt, not {method}",
                                        "jwks")
        return {}
    if jwks is None:
        if not jwks_uri and require_keys:
            raise InvalidClientMetadata("private_key_jwt needs the client's public keys: jwks_uri or jwks", "jwks")
        return {}
    try:
        return {"jwks": check_jwks(jwks)}
    except RegistrationError as exc:
        exc.field = exc.field or "jwks"
        raise


def check_jwks(jwks: Any) -> dict[str, Any]:
    """A JWK Set of public keys (RFC 7517 §5), at least one able to verify RS384/ES384/RS256/ES256.

    SMART client-confidential-asymmetric: each JWK carries `kty` and `kid` and bare key values; the set
    holds no private or symmetric key material (RFC 7591 §2 jwks).
    """
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise InvalidClientMetadata('jwks must be a JWK Set: {"keys": [ ... ]} with at least one key')
    usable = 0
    for index, jwk in enumerate(jwks["keys"]):
        if not isinstance(jwk, dict):
            raise InvalidClientMetadata(f"jwks key {index} is not a JSON object")
        name = f"jwks key {jwk.get('kid', index)!r}"
        private = [m for m in PRIVATE_MEMBERS if m in jwk]
        if private or jwk.get("kty") == "oct":
            raise InvalidClientMetadata(f"{name} carries private or symmetric key material "
                                        f"({', '.join(private) or 'kty oct'}); register public keys only")
        if not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
            raise InvalidClientMetadata(f"{name} has no kid; SMART requires kid on every key")
        if jwk.get("kty") not in ("RSA", "EC"):
            raise InvalidClientMetadata(f"{name} has kty {jwk.get('kty')!r}; use RSA or EC")
        try:
            JWKRegistry.import_key(jwk)
        except Exception as exc:  # any failure to read the key is the client's error
            raise InvalidClientMetadata(f"{name} is not a valid {jwk['kty']} public key: {exc}") from None
        usable += _can_verify(jwk)
    if not usable:
        raise InvalidClientMetadata(f"jwks has no key for signatures with {', '.join(SIGNING_ALGORITHMS)}")
    return {"keys": [dict(jwk) for jwk in jwks["keys"]]}


def _can_verify(jwk: dict[str, Any]) -> bool:
    if jwk.get("use", "sig") != "sig" or ("key_ops" in jwk and "verify" not in (jwk["key_ops"] or [])):
        return False
    alg = jwk.get("alg")
    if jwk["kty"] == "RSA":
        return alg is None or alg in ("RS384", "RS256")
    curve_alg = EC_CURVES.get(jwk.get("crv"))
    return curve_alg is not None and alg in (None, curve_alg)


def _check_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidClientMetadata(f"{field} must be true or false")
    return value


def _absolute_url(field: str, value: str, base_url: str | None) -> str:
    url = _resolve(value, base_url)
    if not _is_http_url(url):
        raise InvalidClientMetadata(f"{field} {value!r} must be an absolute http or https URL", field)
    return url


def _resolve(value: str, base_url: str | None) -> str:
    """A path starting with "/" names a page the sandbox serves itself: join it with the base URL."""
    if base_url and value.startswith("/") and not value.startswith("//"):
        return base_url.rstrip("/") + value
    return value


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value
    except ValueError:
        return False


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))
