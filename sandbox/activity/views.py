"""The activity trail of every authorization, read back from the audit trail: the teaching view (UI-GUIDE §5).

/activity lists the trails: EHR launches (a portal launch when the launch's user is a patient or a family
member) and standalone launches, each with its app, user, patient, start and state. /activity/<trail id> tells
one as a numbered story, oldest step first (steps.py). While a trail is running the page polls every
2 s, new steps are announced politely to screen readers, and the server answers 286 once it is finished so
htmx stops polling.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from werkzeug.routing import BuildError

from ..auth import audit, signin
from ..auth.authorization import PAGE_HEADERS, store
from ..auth.clients import ClientRegistry
from ..auth.pages import bad_csrf, csrf_ok, login_csrf, patient_row
from ..auth.users import User, UserDirectory
from ..store import FhirError
from .discovery import with_discovery
from .steps import (
    FHIR_EVENTS,
    IDLE_AFTER,
    Setting,
    Step,
    finished,
    steps_of,
    waiting_for,
)
from .words import STEPS

blueprint = Blueprint("activity", __name__)

LIST_LIMIT = 50
SUMMARY_EVENTS = ("launch.created", "authorize.requested", "authorize.refused", "authorize.context", "code.issued")
STATE_WORDS = {  # the last event of a running trail → its state in the list
    "launch.created": "Launched; waiting for the app",
    "authorize.requested": "Waiting for the user",
    "authorize.signed_in": "Waiting for the user",
    "authorize.context": "Waiting for the user",
    "authorize.approved": "Code issued",
    "code.issued": "Code issued; waiting for the token exchange",
    "token.issued": "Tokens issued",
    "token.refreshed": "Tokens refreshed",
    "access.allowed": "Using the FHIR API",
    "access.refused": "Using the FHIR API",
    "revocation": "Tokens revoked",
}


@dataclass
class Trail:
    """One trail as the list and the page header show it."""

    id: str
    kind: str  # EHR launch | Portal launch | Standalone launch
    app: str
    user: str | None
    patient: str | None
    started: str
    state: str
    status: str  # done | failed | waiting


def sees_all(viewer: User) -> bool:
    # Clinicians see every trail: this is a teaching sandbox, where a class watches one screen, and trails keep
    # no usable secret. Patients and family members see only the trails of their own launches.
    return viewer.is_clinician


def may_see(viewer: User, events: list[audit.AuditEvent]) -> bool:
    return sees_all(viewer) or any(e.user_id == viewer.id for e in events)


# -- looking things up once per request ------------------------------------------------------------------------


class Lookups:
    """Names of apps, users and patients, each looked up once per page."""

    def __init__(self):
        self.registry = ClientRegistry(store(), current_app.config["BASE_URL"])
        self.directory = UserDirectory(store())
        self.clients = functools.lru_cache(maxsize=None)(self.registry.get)
        self.users = functools.lru_cache(maxsize=None)(self.directory.get)
        self.patients = functools.lru_cache(maxsize=None)(self._patient)

    def app_name(self, client_id: str | None) -> str:
        client = self.clients(client_id) if client_id else None
        return client.display_name if client else (client_id or "Unknown app")

    def launch_uri(self, client_id: str | None) -> str | None:
        client = self.clients(client_id) if client_id else None
        return client.launch_uri if client else None

    def user_name(self, user_id: str | None) -> str | None:
        user = self.users(user_id) if user_id else None
        return f"{user.display_name} ({user.fhir_user})" if user else user_id

    @staticmethod
    def _patient(patient_id: str) -> str:
        try:
            return f"{patient_row(store().read('Patient', patient_id).resource)['name']} (Patient/{patient_id})"
        except FhirError:
            return f"Patient/{patient_id}"


def summary(trail_id: str, events: list[audit.AuditEvent], lookups: Lookups, now: float) -> Trail:
    """Kind, app, user, patient, start and state of a trail, from its first, context and last events."""
    created = next((e for e in events if e.event == "launch.created"), None)
    if created is not None:
        user = lookups.users(created.user_id) if created.user_id else None
        kind = "Portal launch" if user is not None and not user.is_clinician else "EHR launch"
    else:  # an authorize request naming an unknown launch is an EHR launch attempt all the same
        asked_launch = (events[0].detail.get("request") or {}).get("launch")
        kind = "Standalone launch" if trail_id.startswith(audit.STANDALONE_PREFIX) and not asked_launch else \
            "EHR launch"
    user_id = next((e.user_id for e in events if e.user_id), None)
    patient = None
    for event in events:
        patient = (event.detail.get("context") or {}).get("patient") or patient
    last = events[-1]
    running = now - audit.moment(last.at).timestamp() < IDLE_AFTER
    if last.outcome == audit.FAILURE and last.event not in FHIR_EVENTS:
        status, state = "failed", f"Failed: {STEPS.get(last.event, (last.event,))[0]}"
    else:
        state = STATE_WORDS.get(last.event, "Done")
        status = "waiting" if running and state.startswith(("Waiting", "Launched", "Code issued;")) else "done"
    return Trail(trail_id, kind, lookups.app_name(events[0].client_id), lookups.user_name(user_id),
                 lookups.patients(patient) if patient else None,
                 audit.moment(events[0].at).astimezone().strftime("%d-%b-%Y %H:%M:%S"), state, status)


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to: one app, one user, and/or the trails' outcome (done, failed, waiting)."""
    app: str = ""
    user: str = ""
    outcome: str = ""

    OUTCOMES = {"done": "Done", "failed": "Failed", "waiting": "Running"}

    @classmethod
    def of(cls, args) -> Filters:
        outcome = args.get("outcome", "")
        return cls(args.get("app", "")[:200], args.get("user", "")[:200], outcome if outcome in cls.OUTCOMES else "")

    @property
    def any(self) -> bool:
        return bool(self.app or self.user or self.outcome)


def trails(viewer: User, limit: int = LIST_LIMIT, filters: Filters = Filters()) -> list[Trail]:
    """The latest trails the viewer may see, newest first; each read from a few of its events only."""
    audit.flush(store())
    where, args = [], []
    if not sees_all(viewer):
        where.append("launch_id IN (SELECT launch_id FROM audit_events WHERE user_id = ?)")
        args.append(viewer.id)
    for column, value in (("client_id", filters.app), ("user_id", filters.user)):
        if value:
            where.append(f"launch_id IN (SELECT launch_id FROM audit_events WHERE {column} = ?)")
            args.append(value)
    # an outcome is known only once a trail is summed up: read more trails, then keep the matching ones
    scan = limit * 4 if filters.outcome else limit
    groups = store().conn.execute(
        f"SELECT launch_id, MIN(id), MAX(id) FROM audit_events WHERE launch_id IS NOT NULL "
        f"{''.join(' AND ' + w for w in where)} GROUP BY launch_id ORDER BY MIN(id) DESC LIMIT ?",
        [*args, scan]).fetchall()
    if not groups:
        return []
    ids = [g[0] for g in groups]
    ends = [i for g in groups for i in g[1:]]
    marks, kinds = ",".join("?" * len(ids)), ",".join("?" * len(SUMMARY_EVENTS))
    rows = store().conn.execute(
        "SELECT id, at, event, outcome, client_id, user_id, launch_id, rule, detail FROM audit_events "
        f"WHERE launch_id IN ({marks}) AND (event IN ({kinds}) OR id IN ({','.join('?' * len(ends))})) "
        "ORDER BY at, id",  # in the order things happened, as audit.trail reads a trail
        [*ids, *SUMMARY_EVENTS, *ends]).fetchall()
    by_trail: dict[str, list[audit.AuditEvent]] = {trail_id: [] for trail_id in ids}
    for row in rows:
        by_trail[row[6]].append(audit.AuditEvent(*row[:8], json.loads(row[8])))
    lookups, now = Lookups(), time.time()
    found = [summary(trail_id, by_trail[trail_id], lookups, now) for trail_id in ids]
    return [t for t in found if not filters.outcome or t.status == filters.outcome][:limit]


def filter_choices(viewer: User) -> dict[str, list[tuple[str, str]]]:
    """The apps and users the list may be narrowed to: those with trails the viewer may see."""
    own = "" if sees_all(viewer) else "AND launch_id IN (SELECT launch_id FROM audit_events WHERE user_id = ?)"
    args = [] if sees_all(viewer) else [viewer.id]
    lookups = Lookups()

    def distinct(column: str) -> list[str]:
        return [row[0] for row in store().conn.execute(
            f"SELECT DISTINCT {column} FROM audit_events WHERE launch_id IS NOT NULL AND {column} IS NOT NULL "
            f"{own} ORDER BY {column} LIMIT 200", args)]

    return {"apps": sorted(((c, lookups.app_name(c)) for c in distinct("client_id")), key=lambda x: x[1].lower()),
            "users": sorted(((u, lookups.user_name(u) or u) for u in distinct("user_id")), key=lambda x: x[1].lower())}


def clear_trails(viewer: User) -> int:
    """Remove every launch's trail (a clean list before a class); says who did it in the audit trail."""
    audit.flush(store())
    with store().transaction() as conn:
        removed = conn.execute("DELETE FROM audit_events WHERE launch_id IS NOT NULL").rowcount
        audit.record(store(), "activity.cleared", user_id=viewer.id,
                     rule=f"{viewer.display_name} cleared the activity list ({removed} events)")
    return removed


# -- pages -----------------------------------------------------------------------------------------------------


@blueprint.before_request
def require_sign_in():
    user, _ = signin.current()
    if user is None:
        target = url_for("pages.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request"):
            return "", 200, {"HX-Redirect": target}
        return redirect(target)
    g.viewer = user
    return None


def page(template: str, status: int = 200, **values):
    """A page in the EHR's frame for clinicians, in a plain frame with the person's name for everyone else."""
    clinician = g.viewer.is_clinician
    try:
        portal = None if clinician else url_for("portal.home")
    except BuildError:
        portal = None
    return render_template(template, clinician=clinician, user=g.viewer, csrf=login_csrf(), active_top="activity",
                           portal=portal, **values), status, {**PAGE_HEADERS, "Vary": "HX-Request"}


@blueprint.get("/")
def index():
    filters = Filters.of(request.args)
    return page("activity/index.html", trails=trails(g.viewer, filters=filters), sees_all=sees_all(g.viewer),
                filters=filters, choices=filter_choices(g.viewer), outcomes=Filters.OUTCOMES,
                cleared=request.args.get("cleared", type=int))


@blueprint.post("/clear")
def clear():
    """Clinicians (who see every trail) may clear the list; patients and family members may not."""
    if not csrf_ok(login_csrf()):
        return bad_csrf()
    if not sees_all(g.viewer):
        return page("oauth/error.html", 403, title="Only clinicians clear the activity list",
                    message="The list is shared by everyone who teaches or demonstrates here; sign in as a "
                    "clinician to clear it.")
    return redirect(url_for("activity.index", cleared=clear_trails(g.viewer)), 303)


@blueprint.get("/<launch_id>")
def launch(launch_id: str):
    events = with_discovery(store(), audit.trail(store(), launch_id))
    if events and not may_see(g.viewer, events):
        return page("activity/launch.html", 403, forbidden=True, steps=[], launch_id=launch_id, trail=None)
    now = time.time()
    lookups = Lookups()
    setting = Setting(current_app.config["BASE_URL"], now, lookups.launch_uri, lookups.user_name)
    steps = steps_of(events, setting)
    polling = bool(events) and not finished(launch_id, events, now)
    values = {"steps": steps, "launch_id": launch_id, "polling": polling,
              "waiting": waiting_for(events) if polling else None,
              "requests_total": sum(s.requests_total for s in steps)}
    if request.headers.get("HX-Request"):
        news = announcement(steps, request.args.get("steps", type=int), request.args.get("requests", type=int))
        body, _, headers = page("activity/_steps.html", news=news, **values)
        return body, 200 if polling else 286, headers  # 286: htmx stops polling, the trail is finished
    trail = summary(launch_id, events, lookups, now) if events else None
    return page("activity/launch.html", 200 if events else 404, trail=trail,
                permalink=url_for("activity.launch", launch_id=launch_id, _external=True), **values)


def announcement(steps: list[Step], seen_steps: int | None, seen_requests: int | None) -> str | None:
    """What changed since the last poll, for the aria-live region: new steps by title, new FHIR requests by count."""
    if seen_steps is None:
        return None
    said = [f"Step {s.number}: {s.title}." for s in steps[seen_steps:]]
    more = sum(s.requests_total for s in steps) - (seen_requests or 0)
    if more > 0 and not any(s.event == "fhir" for s in steps[seen_steps:]):
        said.append(f"{more} more FHIR request{'s' if more != 1 else ''}.")
    return " ".join(said)
