"""OAuth 2.0 errors (RFC 6749 §4.1.2.1 and §5.2): one class per error code, one JSON shape, one redirect shape.

The token, introspection and revocation endpoints answer JSON; the authorize endpoint redirects to the
app with `error`, `error_description` and `state` once the client and redirect_uri are known to be good,
and shows an error page before that (never redirecting to an unverified URI).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    error = "invalid_request"
    status = 400

    def __init__(self, description: str, *, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.description = description
        self.headers = dict(headers or {})
        self.who: dict[str, str | None] = {}
        self.mismatch: dict[str, str] | None = None

    def about(self, **who: str | None) -> OAuthError:
        """Note whom the refusal concerns (client_id, user_id, launch_id) for the audit trail; returns self."""
        self.who.update(who)
        return self

    def differs(self, name: str, registered: str, received: str) -> OAuthError:
        """Note, for the audit trail, a value that differs from the registered (or earlier) one; returns self."""
        self.mismatch = {"field": name, "registered": registered, "received": received}
        return self

    def as_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def response(self):
        """(body, status, headers) for a JSON endpoint."""
        from flask import jsonify

        return jsonify(self.as_json()), self.status, {**NO_STORE, **self.headers}

    def redirect_url(self, redirect_uri: str, state: str | None, issuer: str) -> str:
        """The redirect_uri with the error appended to its query (RFC 6749 §4.1.2.1), and the issuer (RFC 9207)."""
        params = self.as_json()
        if state is not None:
            params["state"] = state
        params["iss"] = issuer
        return append_query(redirect_uri, params)


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: 401, with a WWW-Authenticate challenge when the client tried HTTP Basic."""

    error = "invalid_client"
    status = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: a bearer token that is unknown, expired or revoked — 401 with a Bearer challenge."""

    error = "invalid_token"
    status = 401


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 403


class ServerError(OAuthError):
    error = "server_error"
    status = 500


class TooManyRequests(OAuthError):
    """Not an RFC 6749 code, but the same shape: 429 with Retry-After."""

    error = "slow_down"
    status = 429

    def __init__(self, description: str, retry_after: int):
        super().__init__(description, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def append_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query string, keeping what was there (RFC 6749 §3.1.2)."""
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
