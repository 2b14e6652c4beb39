"""Tables of the authorization server, in the same SQLite file as the FHIR resources.

Every statement is idempotent (``IF NOT EXISTS``), so each worker process may run them at start-up;
the busy timeout of the store's connection queues concurrent runs under WAL. Tables of later parts
(codes, tokens, launches, audit) are added as further entries of ``TABLES``.
"""

from __future__ import annotations

from ..store import Store

# Registered apps. `metadata` holds the validated RFC 7591 client metadata as JSON (see auth/registration.py);
# the columns beside it are the ones looked up or shown in lists. `origin` says how the app came to be:
# seed | cli | dynamic (RFC 7591) | ui.
CLIENTS = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT,
    client_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'dynamic',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
"""

# Sandbox users, each standing for a FHIR Practitioner, Patient or RelatedPerson (the `fhirUser` claim).
# `seeded` users are re-derived from the FHIR data by `users.seed_users`; others are left alone.
USERS = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('clinician', 'patient', 'related-person')),
    fhir_user TEXT NOT NULL,
    password_hash TEXT,
    seeded INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS users_fhir_user ON users (fhir_user);
CREATE INDEX IF NOT EXISTS users_kind ON users (kind, created_at);
"""

# The server's signing keys. Exactly one row has `retired_at` NULL: the current key, with its private
# JWK. Retired keys keep only their public JWK, published in the JWKS until they are pruned.
SIGNING_KEYS = """
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    public_jwk TEXT NOT NULL,
    private_jwk TEXT,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS signing_keys_one_current ON signing_keys (retired_at IS NULL)
    WHERE retired_at IS NULL;
"""

TABLES: tuple[str, ...] = (CLIENTS, USERS, SIGNING_KEYS)


def ensure_schema(store: Store) -> None:
    """Create the authorization server's tables when missing (safe to run from every worker)."""
    store.conn.executescript("".join(TABLES))
