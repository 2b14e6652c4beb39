"""The activity trail of EHR launches, read back from the audit trail: the teaching view (UI-GUIDE §5).

One launch is one numbered story, oldest step first: launch saved, authorization request and decision,
code, token exchange, refreshes, and the FHIR requests made with its tokens (folded into one step with a
table), each with the rule that decided it. While a launch is young the page polls for new steps.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from flask import Blueprint, redirect, render_template, request, url_for

from . import audit, signin
from .authorization import PAGE_HEADERS, store

blueprint = Blueprint("activity", __name__)

POLL_FOR_S = 300  # a launch older than this is finished: stop polling

# event → (title in plain words, actor arrow, protocol term)
STEPS = {
    "launch.created": ("Launch requested: context saved", "EHR", "launch"),
    "launch.refused": ("Launch refused", "App → EHR", "launch"),
    "authorize.refused": ("Authorization request refused", "App → EHR", "GET /auth/authorize"),
    "authorize.approved": ("Authorization approved", "User → EHR", "consent"),  # the rule says how
    "authorize.denied": ("Authorization denied", "User → EHR", "access_denied"),
    "code.issued": ("Redirect back to the app with a code", "EHR → App", "authorization code"),
    "code.reused": ("A code was used twice: its tokens were revoked", "App → EHR", "invalid_grant"),
    "token.issued": ("Code exchanged for tokens", "App → EHR", "POST /auth/token"),
    "token.refused": ("Token request refused", "App → EHR", "POST /auth/token"),
    "token.refreshed": ("Access token refreshed", "App → EHR", "refresh_token"),
    "refresh.reused": ("An old refresh token was reused: all tokens revoked", "App → EHR", "refresh_token"),
    "introspection": ("Token introspected", "App → EHR", "POST /auth/introspect"),
    "revocation": ("Tokens revoked", "→ EHR", "POST /auth/revoke"),
}
FHIR_EVENTS = ("access.allowed", "access.refused")


@dataclass
class Step:
    number: int
    title: str
    actor: str
    term: str
    at: str
    since_start: str
    ok: bool
    rule: str | None
    detail: dict = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)


def _moment(at: str) -> dt.datetime:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00"))


def steps_of(launch_id: str) -> list[Step]:
    events = list(reversed(audit.recent(store(), limit=1000, launch_id=launch_id)))
    if not events:
        return []
    start = _moment(events[0].at)
    steps: list[Step] = []
    fhir: Step | None = None
    for event in events:
        since = f"+{(_moment(event.at) - start).total_seconds():.2f} s"
        if event.event in FHIR_EVENTS:
            if fhir is None:
                fhir = Step(0, "", "App → FHIR", "GET /fhir/…", event.at, since, True, None)
                steps.append(fhir)
            fhir.requests.append({"at": since, "method": event.detail.get("method"), "path": event.detail.get("path"),
                                  "status": event.detail.get("status"), "rule": event.rule,
                                  "ok": event.outcome == audit.SUCCESS})
            continue
        title, actor, term = STEPS.get(event.event, (event.event, "", event.event))
        steps.append(Step(0, title, actor, term, event.at, since, event.outcome == audit.SUCCESS, event.rule,
                          event.detail))
        fhir = None  # FHIR requests after another step fold into a new one
    for number, step in enumerate(steps, 1):
        step.number = number
        if step.requests:
            refused = sum(1 for r in step.requests if not r["ok"])
            step.title = (f"{len(step.requests)} FHIR request{'s' if len(step.requests) != 1 else ''}: "
                          f"{len(step.requests) - refused} OK" + (f", {refused} refused" if refused else ""))
            step.ok = not refused
    return steps


def launches(limit: int = 50) -> list[dict]:
    rows = store().conn.execute(
        "SELECT l.id, l.client_id, l.user_id, l.context, l.created_at, l.used_at FROM launches l "
        "ORDER BY l.created_at DESC, l.rowid DESC LIMIT ?", (limit,)).fetchall()
    return [{"id": r[0], "client_id": r[1], "user_id": r[2], "context": json.loads(r[3]),
             "created": dt.datetime.fromtimestamp(r[4]).strftime("%d-%b-%Y %H:%M:%S"), "used": r[5] is not None}
            for r in rows]


@blueprint.before_request
def require_sign_in():
    if signin.current()[0] is None:
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    return None


@blueprint.get("/")
def index():
    return render_template("activity/index.html", launches=launches()), 200, PAGE_HEADERS


@blueprint.get("/<launch_id>")
def launch(launch_id: str):
    steps = steps_of(launch_id)
    young = bool(steps) and (dt.datetime.now(dt.UTC) - _moment(steps[0].at)).total_seconds() < POLL_FOR_S
    if request.headers.get("HX-Request"):
        # 286 tells htmx to stop polling once the launch is finished
        return render_template("activity/_steps.html", steps=steps, launch_id=launch_id, polling=young), \
            200 if young else 286
    return render_template("activity/launch.html", steps=steps, launch_id=launch_id, polling=young), \
        (200 if steps else 404), PAGE_HEADERS
