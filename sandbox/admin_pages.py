"""The administrator's page: return the sandbox to its first seed before a demo, save and restore snapshots.

Only the sandbox administrator (the seeded ``admin`` user) reaches it. A reset or restore replaces the sessions
table too, so everyone — the administrator included — is signed out, and the page that confirms it needs no
sign-in.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, request

from . import bootstrap, snapshots
from .auth import signin
from .auth.pages import login_csrf, page, signed_in_as

blueprint = Blueprint("admin", __name__)


def _db() -> str:
    return current_app.config["DB"]


@blueprint.before_request
def administrator_only():
    return signed_in_as(lambda user: user.is_admin, "Only the sandbox administrator may do this",
                        "{name} is signed in. Resetting the sandbox and its snapshots are the administrator's: sign "
                        "out, then sign in as the Sandbox administrator.")


def _page(status: int = 200, problem: str | None = None, saved: str | None = None):
    user, _ = signin.current()
    return page("admin/index.html", status, user=user, csrf=login_csrf(), active_top="admin",
                snapshots=snapshots.listed(_db()), first_seed=snapshots.FIRST_SEED, problem=problem, saved=saved,
                when=lambda s: time.strftime("%d-%b-%Y %H:%M", time.localtime(s.saved_at)))


@blueprint.get("/")
def index():
    return _page()


def _restored(name: str, what: str):
    return page("admin/done.html", title=what, message=f"The sandbox now holds snapshot {name}: data, apps, users, "
                "tokens and the activity trail. Everyone was signed out; sign in again to go on.")


@blueprint.post("/reset")
def reset_all():
    if snapshots.get_or_none(_db(), snapshots.FIRST_SEED) is None:
        bootstrap.build_first_seed(dict(current_app.config), echo=lambda line: None)
    snapshots.restore(_db(), snapshots.FIRST_SEED)
    return _restored(snapshots.FIRST_SEED, "The sandbox is back to its first seed")


@blueprint.post("/snapshots")
def save_snapshot():
    name = request.form.get("name", "").strip()
    if name == snapshots.FIRST_SEED:
        return _page(400, problem=f"{snapshots.FIRST_SEED} is the state Reset returns to; choose another name.")
    try:
        snapshots.save(_db(), name)
    except snapshots.SnapshotError as exc:
        return _page(400, problem=str(exc))
    return _page(saved=name)


@blueprint.post("/snapshots/restore")
def restore_snapshot():
    name = request.form.get("name", "")
    try:
        snapshots.restore(_db(), name)
    except snapshots.SnapshotError as exc:
        return _page(404, problem=str(exc))
    return _restored(name, f"Snapshot {name} restored")
