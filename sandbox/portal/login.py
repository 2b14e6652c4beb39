"""The portal's sign-in: patients and family members only, checked exactly as /auth/login checks (CSRF, rate
limits, passwords of users given one, `next` kept on this site). Standalone launches of patient-facing apps come
here too (auth/authorization.py), with `next` leading back to their authorization request.
"""

from __future__ import annotations

from flask import current_app, redirect, request, url_for

from ..auth import signin
from ..auth.pages import asking_app, check_sign_in, login_csrf, page
from ..auth.users import User, UserDirectory, patients_of
from ..ehr import records
from . import health
from .views import blueprint, next_or_home, store

PORTAL_KINDS = ("patient", "related-person")


def persona(user: User) -> dict[str, str | bool]:
    """A sign-in card: the person's name, who they are to the record, their FHIR reference."""
    if user.kind == "patient":
        role = "Patient"
    else:
        linked = [health.everyday_name(records.patient(store(), p), p) for p in patients_of(store(), user) or ()]
        role = f"Family member of {', '.join(linked)}" if linked else "Family member (no linked patient)"
    return {"username": user.username, "name": user.display_name, "role": role, "reference": user.fhir_user,
            "password": user.needs_password(current_app.config["SIGN_IN_PASSWORD"])}


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    directory = UserDirectory(store())
    next_url = next_or_home()
    error, status = None, 200
    if request.method == "POST":
        user, refused = check_sign_in(directory)
        if refused:
            return refused
        if user is not None and user.kind in PORTAL_KINDS:
            signin.sign_in(user)
            return redirect(next_url)
        if user is not None:
            error, status = (f"{user.display_name} is a clinician. Clinicians sign in on the clinician sign-in "
                             "page, linked below."), 403
        else:
            error, status = ("That password did not match, or that person is not a sandbox user. Pick yourself "
                             "below and try again."), 401
    people = [persona(u) for kind in PORTAL_KINDS for u in directory.list(kind)]
    signed_in, _ = signin.current()
    return page("portal/login.html", status, csrf=login_csrf(), next_url=next_url, error=error, people=people,
                signed_in=signed_in, asking=asking_app(next_url),
                clinician_login=url_for("pages.login", next=next_url))
