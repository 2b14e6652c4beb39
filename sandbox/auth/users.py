"""Sandbox users: who is signed in to the EHR, each standing for a FHIR resource (the `fhirUser` claim).

SMART App Launch 2.2 §Scopes for requesting identity data — `fhirUser` is a reference to a Practitioner,
Patient, RelatedPerson or Person. Clinicians are made for the first seeded Practitioners, portal users
for the story patients (ids `story-…`) and for RelatedPersons linked to them. Usernames come from the
resources' names, so the same data gives the same users. A user's `id` (the OIDC `sub`) is its username
at creation and never changes. Passwords are optional; they matter only when a setting asks for them.
"""

from __future__ import annotations

import hmac
import json
import re
import time
import unicodedata
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from ..store import Store
from .changes import TableCache

KINDS = ("clinician", "patient", "related-person")
RESOURCE_TYPE_OF_KIND = {"clinician": "Practitioner", "patient": "Patient", "related-person": "RelatedPerson"}
# The sandbox administrator: a clinician who also decides for every app (owner of the bundled ones, pre-approval).
ADMIN_ID = "admin"
ADMIN_PRACTITIONER = {"resourceType": "Practitioner", "id": "sandbox-admin", "active": True,
                      "name": [{"use": "official", "text": "Sandbox Administrator", "family": "Administrator",
                                "given": ["Sandbox"]}]}
CLINICIAN_COUNT = 5
STORY_PREFIX = "story-"
_COLUMNS = "id, username, display_name, kind, fhir_user, password_hash, seeded, created_at, admin"


@dataclass(frozen=True)
class User:
    id: str
    username: str
    display_name: str
    kind: str  # clinician | patient | related-person
    fhir_user: str  # "Practitioner/<id>", "Patient/<id>" or "RelatedPerson/<id>"
    password_hash: str | None = None
    seeded: bool = False
    created_at: int = 0
    admin: bool = False  # the sandbox administrator (a clinician who decides for every app)

    @property
    def is_clinician(self) -> bool:
        """Whether the user works in the EHR (sees every patient, registers apps); the administrator is one."""
        return self.kind == "clinician"

    @property
    def is_admin(self) -> bool:
        return self.admin

    @property
    def fhir_resource(self) -> tuple[str, str]:
        """The (type, id) of the FHIR resource this user stands for."""
        rtype, _, rid = self.fhir_user.partition("/")
        return rtype, rid

    def check_password(self, password: str) -> bool:
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    def needs_password(self, shared: str | None) -> bool:
        """Whether signing in asks for a password: the user's own, or the SIGN_IN_PASSWORD setting (``shared``)."""
        return self.password_hash is not None or bool(shared)

    def password_matches(self, given: str, shared: str | None) -> bool:
        """The sign-in password rule: the user's own password if they have one, else the shared one if set,
        else none is asked for."""
        if self.password_hash is not None:
            return self.check_password(given)
        return hmac.compare_digest(given.encode(), shared.encode()) if shared else True


_cache = TableCache("users")  # users by id, in this process (auth/changes.py)


class UserDirectory:
    """The users kept in one store."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, user_id: str) -> User | None:
        return _cache.get(self.store, user_id, lambda: self._one("id = ?", user_id))

    def by_username(self, username: str) -> User | None:
        return self._one("username = ?", username)

    def by_fhir_user(self, reference: str) -> User | None:
        """The user standing for a FHIR resource, e.g. ``Practitioner/123`` (the oldest if several)."""
        return self._one("fhir_user = ? ORDER BY created_at, rowid", reference)

    def list(self, kind: str | None = None) -> list[User]:
        """Users in creation order, optionally of one kind."""
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self.store.conn.execute(f"SELECT {_COLUMNS} FROM users {where} ORDER BY created_at, rowid", args)
        return [_user(row) for row in rows]

    def first_clinician(self) -> User | None:
        """The default user of EHR launches (DESIGN: headless launches default to the first seeded clinician)."""
        return self._one("kind = 'clinician' ORDER BY seeded DESC, created_at, rowid")

    def create(self, username: str, display_name: str, kind: str, fhir_user: str,
               password: str | None = None) -> User:
        """Add a user. Raises ValueError for an unknown kind, a reference of the wrong type or a taken name."""
        _check(kind, fhir_user)
        if self.by_username(username) is not None:
            raise ValueError(f"username {username!r} is taken")
        password_hash = generate_password_hash(password) if password else None
        with self.store.transaction() as conn:
            conn.execute(f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0)",
                         (username, username, display_name, kind, fhir_user, password_hash, int(time.time())))
        return self.get(username)

    def set_password(self, user_id: str, password: str | None) -> None:
        """Set (or with None, clear) a user's password; only its hash is kept."""
        password_hash = generate_password_hash(password) if password else None
        with self.store.transaction() as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    def remove(self, user_id: str) -> bool:
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount > 0

    def _one(self, condition: str, *args) -> User | None:
        row = self.store.conn.execute(f"SELECT {_COLUMNS} FROM users WHERE {condition} LIMIT 1", args).fetchone()
        return _user(row) if row else None


def patients_of(store: Store, user: User | None) -> tuple[str, ...] | None:
    """The patients a user may see: every patient (None) for a clinician, their own record for a patient,
    the linked patient for a RelatedPerson, none without a user."""
    if user is None:
        return ()
    if user.is_clinician:
        return None
    rtype, rid = user.fhir_resource
    if rtype == "Patient":
        return (rid,)
    if rtype == "RelatedPerson" and store.exists("RelatedPerson", rid):
        reference = (store.read("RelatedPerson", rid).resource.get("patient") or {}).get("reference", "")
        return (reference.split("/", 1)[1],) if reference.startswith("Patient/") else ()
    return ()


def seed_users(store: Store, clinicians: int = CLINICIAN_COUNT) -> list[User]:
    """Derive users from the stored FHIR data: clinicians for the first ``clinicians`` Practitioners,
    portal users for the story patients and for RelatedPersons of story patients.

    Idempotent: seeded users are updated in place (ids, usernames and passwords stay), seeded users whose
    resource is gone are removed, and users made by hand are never touched.
    """
    wanted = [("clinician", "Practitioner", rid, res) for rid, res in _resources(store, "Practitioner")[:clinicians]]
    wanted += [("patient", "Patient", rid, res) for rid, res in _resources(store, "Patient")
               if rid.startswith(STORY_PREFIX)]
    wanted += [("related-person", "RelatedPerson", rid, res) for rid, res in _resources(store, "RelatedPerson")
               if (res.get("patient") or {}).get("reference", "").startswith("Patient/" + STORY_PREFIX)]
    now = int(time.time())
    with store.transaction() as conn:
        existing = {row[0]: row[1] for row in conn.execute("SELECT fhir_user, id FROM users WHERE seeded = 1")}
        taken = {row[0] for row in conn.execute("SELECT username FROM users WHERE seeded = 0")}
        kept = []
        for kind, rtype, rid, resource in wanted:
            reference = f"{rtype}/{rid}"
            display = display_name(resource) or reference
            user_id = existing.get(reference)
            if user_id is None:
                user_id = _free_username(username_for(resource, rid), taken | set(existing.values()) | set(kept))
                conn.execute(f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, 1, ?, 0)",
                             (user_id, user_id, display, kind, reference, now))
            else:
                conn.execute("UPDATE users SET display_name = ?, kind = ? WHERE id = ?", (display, kind, user_id))
            kept.append(user_id)
        gone = [uid for uid in existing.values() if uid not in kept]
        conn.executemany("DELETE FROM users WHERE id = ?", [(uid,) for uid in gone])
    directory = UserDirectory(store)
    return [directory.get(uid) for uid in kept]


def ensure_admin(store: Store) -> None:
    """The sandbox administrator (username `admin`) and the Practitioner it stands for, made when missing. Not a
    seeded user, so re-seeding never removes it (nor a password given to it)."""
    if not store.exists("Practitioner", ADMIN_PRACTITIONER["id"]):
        store.update(dict(ADMIN_PRACTITIONER))
    with store.transaction() as conn:
        conn.execute(f"INSERT OR IGNORE INTO users ({_COLUMNS}) VALUES (?, ?, ?, 'clinician', ?, NULL, 0, ?, 1)",
                     (ADMIN_ID, ADMIN_ID, "Sandbox Administrator", f"Practitioner/{ADMIN_PRACTITIONER['id']}",
                      int(time.time())))


def username_for(resource: dict, fallback: str) -> str:
    """``given.family`` in lower-case ASCII without digits (``maria.garcia``), or the resource id when the
    resource has no usable name."""
    name = _official_name(resource)
    parts = [*(name.get("given") or [])[:1], name.get("family") or ""]
    slug = ".".join(p for p in (_ascii_slug(re.sub(r"\d+", "", part)) for part in parts) if p)
    return slug or _ascii_slug(fallback) or "user"


def display_name(resource: dict) -> str:
    """The name as a person would read it: ``Dr. Alice Smith``."""
    name = _official_name(resource)
    if name.get("text"):
        return name["text"]
    words = [*(name.get("prefix") or []), *(name.get("given") or []), name.get("family") or ""]
    return " ".join(w for w in words if w)


def _official_name(resource: dict) -> dict:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    for name in names:
        if name.get("use") in ("official", "usual"):
            return name
    return names[0] if names else {}


def _ascii_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _free_username(base: str, taken: set[str]) -> str:
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}{number}"
    return candidate


def _resources(store: Store, rtype: str) -> list[tuple[str, dict]]:
    rows = store.conn.execute("SELECT id, json FROM resources WHERE type = ? AND deleted = 0 ORDER BY rid", (rtype,))
    return [(rid, json.loads(text)) for rid, text in rows]


def _check(kind: str, fhir_user: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    rtype, _, rid = fhir_user.partition("/")
    if rtype != RESOURCE_TYPE_OF_KIND[kind] or not rid:
        raise ValueError(f"a {kind} user stands for a {RESOURCE_TYPE_OF_KIND[kind]}/<id>, not {fhir_user!r}")


def _user(row: tuple) -> User:
    *head, seeded, created_at, admin = row
    return User(*head, seeded=bool(seeded), created_at=created_at, admin=bool(admin))
