"""Token revocation (RFC 7009).

RFC 7009 §2.1 — the client authenticates (public clients send their client_id) and names a token; the
`token_type_hint` only speeds up the search, and since tokens are found by hash whatever their kind, it is
accepted and ignored. Revoking a refresh token revokes its whole family, the access tokens issued with it
included (RFC 7009 §2.1: the server SHOULD); revoking an access token revokes just it.

RFC 7009 §2.2 — the answer is 200 whether or not the token was known ("invalid tokens do not cause an
error response"). A token issued to another client is left alone, and the answer is 200 as well, so a
client cannot learn which tokens exist.
"""

from __future__ import annotations

from ..store import Store
from . import audit, tokens
from .clients import Client

TOKEN_TYPE_HINTS = ("access_token", "refresh_token")


def revoke(store: Store, client: Client, token: str, hint: str | None = None) -> str:
    """Revoke ``token`` when ``client`` owns it; returns what happened, in words (for the audit trail)."""
    info = tokens.find(store, token)
    if info is None:
        outcome = "Unknown token: nothing to revoke (RFC 7009 §2.2 answers 200 all the same)"
    elif info.client_id != client.client_id:
        outcome = "The token was issued to another client: not revoked (RFC 7009 §2.1)"
    elif info.kind == tokens.REFRESH:
        count = tokens.revoke_family(store, info.family_id)
        outcome = f"Refresh token revoked with its family ({count} tokens)"
    else:
        tokens.revoke(store, token)
        outcome = "Access token revoked"
    owned = info is not None and info.client_id == client.client_id
    audit.record(store, "revocation", audit.SUCCESS if owned else audit.FAILURE,
                 client_id=client.client_id, user_id=info.user_id if info else None, rule=outcome,
                 launch_id=info.context.get("launch_id") if owned else None,
                 token_type_hint=hint if hint in TOKEN_TYPE_HINTS else None,
                 kind=info.kind if info else None)
    return outcome
