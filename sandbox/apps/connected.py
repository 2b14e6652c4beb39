"""Connected apps: the `management_endpoint` (SMART App Launch 2.2 §Conformance) where a signed-in user sees
which apps hold tokens for their data and revokes any of them (every access and refresh token of the grant)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, request, url_for

from ..auth import audit, signin, tokens
from ..auth.authorization import store
from ..auth.clients import ClientRegistry
from ..auth.consent_text import describe
from ..auth.pages import bad_csrf, csrf_ok, login_csrf, page, safe_next

blueprint = Blueprint("manage", __name__)


@dataclass(frozen=True)
class Grant:
    family_id: str
    client_name: str
    client_id: str
    scopes: list[tuple[str, str]]
    granted_at: dt.datetime  # local time, as the pages show it
    last_used: dt.datetime | None  # the last FHIR request made with the grant's tokens
    state: str


def grants_of(user_id: str) -> list[Grant]:
    """One row per token family (one authorization) of the user, newest first."""
    now = int(time.time())
    rows = store().conn.execute(
        "SELECT family_id, client_id, min(issued_at), max(CASE WHEN revoked_at IS NULL AND rotated_at IS NULL "
        "AND expires_at > ? THEN 1 ELSE 0 END), min(CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END), "
        "(SELECT scope FROM tokens t2 WHERE t2.family_id = t.family_id ORDER BY issued_at, kind DESC LIMIT 1) "
        "FROM tokens t WHERE user_id = ? GROUP BY family_id, client_id ORDER BY min(issued_at) DESC",
        (now, user_id)).fetchall()
    registry = ClientRegistry(store(), current_app.config["BASE_URL"])
    grants = []
    for family_id, client_id, issued_at, active, all_revoked, scope in rows:
        client = registry.get(client_id)
        state = "Active" if active else ("Revoked" if all_revoked else "Expired")
        grants.append(Grant(family_id, client.display_name if client else client_id, client_id,
                            [(s, describe(s)) for s in scope.split()], dt.datetime.fromtimestamp(issued_at),
                            last_use(client_id, user_id, family_id), state))
    return grants


def last_use(client_id: str, user_id: str, family_id: str) -> dt.datetime | None:
    """When the grant's tokens last reached the FHIR API, from the audit trail (walked newest first along the
    client's index, so a busy app's recent use is found quickly)."""
    audit.flush(store())
    row = store().conn.execute(
        "SELECT at FROM audit_events WHERE client_id = ? AND user_id = ? AND event IN ('access.allowed', "
        "'access.refused') AND json_extract(detail, '$.family') = ? ORDER BY id DESC LIMIT 1",
        (client_id, user_id, family_id)).fetchone()
    return audit.moment(row[0]).astimezone().replace(tzinfo=None) if row else None


@blueprint.route("/manage", methods=["GET", "POST"])
def manage():
    user, _ = signin.current()
    if user is None:
        return redirect(url_for("pages.login", next=url_for("manage.manage")))
    if request.method == "POST":
        if not csrf_ok(login_csrf()):
            return bad_csrf()
        family_id = request.form.get("family", "")
        owned = store().conn.execute("SELECT client_id FROM tokens WHERE family_id = ? AND user_id = ? LIMIT 1",
                                     (family_id, user.id)).fetchone()
        if owned:
            tokens.revoke_family(store(), family_id)
            audit.record(store(), "revocation", client_id=owned[0], user_id=user.id,
                         rule="The user revoked the app's access on the connected apps page", family=family_id)
        # the patient portal lists the same grants and sends its revokes here, asking to come back
        return redirect(safe_next(request.form.get("next") or url_for("manage.manage")))
    if not user.is_clinician:  # patients and family members manage their apps in the portal's own words
        return redirect(url_for("portal.connected"))
    return page("oauth/manage.html", user=user, grants=grants_of(user.id), csrf=login_csrf(), active_top="connected")
