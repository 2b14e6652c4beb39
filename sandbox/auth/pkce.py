"""PKCE with S256 only (RFC 7636; SMART App Launch 2.2 §App Launch: Authorize).

SMART App Launch 2.2 — the server SHALL support PKCE S256 for every client type, public and confidential
alike, and SHALL NOT support the `plain` method. So a token request without a code_verifier, or with one
that does not hash to the code_challenge, never gets a token.
"""

from __future__ import annotations

import hmac
import re

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .errors import InvalidGrant

# RFC 7636 §4.1 — code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# RFC 7636 §4.2 — an S256 challenge is BASE64URL(SHA256(verifier)) without padding: 43 characters.
CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256(verifier: str) -> str:
    """RFC 7636 §4.2 — code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    return create_s256_code_challenge(verifier)


def is_s256_challenge(challenge: str | None) -> bool:
    """Whether ``challenge`` has the shape of an S256 code_challenge."""
    return challenge is not None and CHALLENGE.fullmatch(challenge) is not None


def check_verifier_syntax(verifier: str | None) -> str:
    """RFC 7636 §4.5 — the token request SHALL carry the code_verifier: 43 to 128 unreserved characters.

    Raises InvalidGrant (RFC 7636 §4.6: the server answers invalid_grant when verification fails).
    """
    if verifier is None or not verifier.strip():
        raise InvalidGrant("code_verifier is required: SMART App Launch 2.2 requires PKCE (S256) for every "
                           "client, so send the verifier whose S256 hash was the code_challenge (RFC 7636 §4.5)")
    if VERIFIER.fullmatch(verifier) is None:
        raise InvalidGrant("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")
    return verifier


def check_verifier(verifier: str | None, challenge: str) -> None:
    """RFC 7636 §4.6 — the server verifies BASE64URL(SHA256(code_verifier)) == code_challenge, else invalid_grant.

    A verifier equal to the challenge is the `plain` method, which SMART App Launch 2.2 forbids.
    """
    verifier = check_verifier_syntax(verifier)
    if hmac.compare_digest(verifier.encode(), challenge.encode()):
        raise InvalidGrant("code_verifier equals the code_challenge: that is PKCE 'plain', which SMART App Launch "
                           "2.2 forbids; send the original verifier, whose S256 hash is the challenge")
    if not hmac.compare_digest(s256(verifier).encode(), challenge.encode()):
        raise InvalidGrant("code_verifier does not match the code_challenge: BASE64URL(SHA256(code_verifier)) "
                           "must equal the code_challenge sent to the authorize endpoint (RFC 7636 §4.6)")
