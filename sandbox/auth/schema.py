"""Tables of the authorization server, in the same SQLite file as the FHIR resources.

Every statement is idempotent (``IF NOT EXISTS``), so each worker process may run them at start-up;
the busy timeout of the store's connection queues concurrent runs under WAL. Tables of later parts
(codes, tokens, launches, audit) are added as further entries of ``TABLES``.
"""

from __future__ import annotations

import sqlite3

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
    owner TEXT,
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
    created_at INTEGER NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0
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

# Sign-ins of users (login page, or a headless launch's user). online_access refresh tokens end with their
# session: `ended_at` set (sign-out) or `expires_at` passed.
SESSIONS = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER
);
"""

# EHR launch contexts (SMART App Launch 2.2 §EHR launch): the opaque `launch` value an app receives, bound to
# one client and one user (and that user's session). `context` is JSON: patient, encounter, fhirContext, intent,
# need_patient_banner, smart_style_url, tenant. Single use: `used_at` is set when an authorize request takes it.
LAUNCHES = """
CREATE TABLE IF NOT EXISTS launches (
    id TEXT PRIMARY KEY,
    secret TEXT,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    session_id TEXT,
    context TEXT NOT NULL DEFAULT '{}',
    skip_login INTEGER NOT NULL DEFAULT 0,
    skip_consent INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
"""

# Authorization requests in progress: validated at the authorize endpoint, then carried through the sign-in,
# patient and encounter pickers and consent pages by their random id. `browser` is the digest of the value the
# starting browser holds in its session cookie (auth/browser_binding.py): the id alone opens nothing.
# `csrf` protects the pages' forms.
PENDING = """
CREATE TABLE IF NOT EXISTS pending_authorizations (
    id TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    user_id TEXT,
    session_id TEXT,
    launch_id TEXT,
    context TEXT NOT NULL DEFAULT '{}',
    skip_consent INTEGER NOT NULL DEFAULT 0,
    csrf TEXT NOT NULL,
    browser TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
"""

# Authorization codes. Only a SHA-256 hash of the code is kept. A code is bound to its client, redirect_uri,
# PKCE challenge, granted scope, user, session and context; `family_id` names the tokens its redemption issued,
# so a second redemption can revoke them (RFC 9700 §4.5).
CODES = """
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope TEXT NOT NULL,
    user_id TEXT,
    session_id TEXT,
    launch_id TEXT,
    context TEXT NOT NULL DEFAULT '{}',
    nonce TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    family_id TEXT
);
CREATE INDEX IF NOT EXISTS codes_expires ON codes (expires_at);
"""

# Access and refresh tokens (only SHA-256 hashes). Tokens issued together share a `family_id`; each refresh
# rotates: the presented refresh token gets `rotated_at` and a new one joins the family. Presenting a rotated
# refresh token revokes the family. `context` is JSON as in launches; `session_id` ties online_access tokens
# to the user's sign-in.
TOKENS = """
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT,
    session_id TEXT,
    scope TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{}',
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS tokens_family ON tokens (family_id);
CREATE INDEX IF NOT EXISTS tokens_expires ON tokens (expires_at);
"""

# Client assertion ids seen (private_key_jwt): each `jti` of a client is accepted once until it expires.
ASSERTION_IDS = """
CREATE TABLE IF NOT EXISTS assertion_ids (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
"""

# Cached JWK Sets of clients registered with a jwks_uri, kept as long as the response's Cache-Control allows.
JWKS_CACHE = """
CREATE TABLE IF NOT EXISTS jwks_cache (
    url TEXT PRIMARY KEY,
    jwks TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
"""

# The audit trail of authorization events (and, later, FHIR access decisions). `event` names what happened
# (launch.created, authorize.approved, authorize.denied, code.issued, token.issued, token.refused,
# token.refreshed, refresh.reused, introspection, revocation, access.allowed, access.refused …); `outcome` is
# success | failure; `rule` the rule that decided it, in words; `detail` JSON with anything else.
AUDIT = """
CREATE TABLE IF NOT EXISTS audit_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    launch_id TEXT,
    rule TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_events_client ON audit_events (client_id, id);
CREATE INDEX IF NOT EXISTS audit_events_launch ON audit_events (launch_id, id);
"""

# Recent failures (client authentication, sign-in) per key, for rate limiting.
FAILURES = """
CREATE TABLE IF NOT EXISTS auth_failures (
    key TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_failures_key ON auth_failures (key, at);
"""

# How many FHIR requests each simulated launch (auth/simulate.py) has made, counted across worker processes.
SIMULATIONS = """
CREATE TABLE IF NOT EXISTS simulation_calls (
    launch_id TEXT PRIMARY KEY,
    calls INTEGER NOT NULL DEFAULT 0
);
"""

# A counter per table whose rows each worker process caches (auth/changes.py): triggers move it on every insert,
# update and delete, whoever writes (a worker, the CLI), so one cheap read tells a process its copies are stale.
CACHED_TABLES = ("clients", "users", "signing_keys")
CHANGES = """
CREATE TABLE IF NOT EXISTS changes (
    name TEXT PRIMARY KEY,
    counter INTEGER NOT NULL
);
""" + "".join(f"""
INSERT OR IGNORE INTO changes (name, counter) VALUES ('{table}', 0);
CREATE TRIGGER IF NOT EXISTS {table}_inserted AFTER INSERT ON {table}
    BEGIN UPDATE changes SET counter = counter + 1 WHERE name = '{table}'; END;
CREATE TRIGGER IF NOT EXISTS {table}_updated AFTER UPDATE ON {table}
    BEGIN UPDATE changes SET counter = counter + 1 WHERE name = '{table}'; END;
CREATE TRIGGER IF NOT EXISTS {table}_deleted AFTER DELETE ON {table}
    BEGIN UPDATE changes SET counter = counter + 1 WHERE name = '{table}'; END;
""" for table in CACHED_TABLES)

# Step mode (auth/step_mode.py): where a launch waits for the presenter's Continue, and when it was given.
PAUSES = """
CREATE TABLE IF NOT EXISTS pauses (
    launch_id TEXT NOT NULL,
    point TEXT NOT NULL,
    held_at INTEGER NOT NULL,
    released_at INTEGER,
    PRIMARY KEY (launch_id, point)
);
"""

TABLES: tuple[str, ...] = (CLIENTS, USERS, SIGNING_KEYS, SESSIONS, LAUNCHES, PENDING, CODES, TOKENS, ASSERTION_IDS,
                           JWKS_CACHE, AUDIT, FAILURES, SIMULATIONS, CHANGES, PAUSES)


# Columns added after a table first shipped: (table, column, declaration), added to older databases in place.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("pending_authorizations", "browser", "TEXT"),
    ("launches", "secret", "TEXT"),
    ("clients", "owner", "TEXT"),
    ("users", "admin", "INTEGER NOT NULL DEFAULT 0"),
)
# Indexes on added columns: created once the columns exist; and the indexes background pruning reads by
# (auth/pruning.py), so that finding what to prune never scans a table.
ADDED_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS launches_secret ON launches (secret);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
CREATE INDEX IF NOT EXISTS launches_expires ON launches (expires_at);
CREATE INDEX IF NOT EXISTS pending_expires ON pending_authorizations (expires_at);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS assertion_ids_expires ON assertion_ids (expires_at);
CREATE INDEX IF NOT EXISTS auth_failures_at ON auth_failures (at);
"""


def ensure_schema(store: Store) -> None:
    """Create the authorization server's tables when missing, and add the columns later versions added (safe to
    run from every worker: a column another worker added first is taken as done)."""
    store.conn.executescript("".join(TABLES))
    for table, column, declaration in ADDED_COLUMNS:
        have = {row[1] for row in store.conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            try:
                store.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise
    store.conn.executescript(ADDED_INDEXES)
