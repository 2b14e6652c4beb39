"""Routes of Bulk Data export (Bulk Data Access IG 2.0.0, export.html), under the FHIR base and behind the same
bearer tokens: the kick-off at ``$export``, ``Patient/$export`` and ``Group/[id]/$export``; the status URL
(poll, cancel); the output files. Only the client that started an export may poll, cancel or download it."""

from __future__ import annotations

import datetime as dt
import time
from email.utils import format_datetime

from flask import Blueprint, Response, current_app, g, request, send_file

from ..fhir.formats import (
    add_cors_headers,
    check_acceptable,
    dumps,
    fhir_response,
    prefer,
    preflight_response,
    request_json,
    wants_pretty,
)
from ..fhir.outcome import error_response, information
from ..fhir.policy import current_policy
from ..store.errors import FhirError, Forbidden, InvalidRequest, MethodNotAllowed, NotFound, Unauthorized
from . import files, jobs
from .kickoff import start_export
from .parameters import GROUP, PATIENT, SYSTEM
from .runner import ensure_running

blueprint = Blueprint("bulk", __name__)
RETRY_AFTER_SECONDS = 2


class TooManyExports(FhirError):
    status, code = 429, "throttled"


@blueprint.before_request
def negotiate():
    if request.method == "OPTIONS":
        return preflight_response()
    check_acceptable()
    return None


@blueprint.after_request
def cors(response: Response) -> Response:
    return add_cors_headers(response)


@blueprint.errorhandler(Exception)
def render_error(exc: Exception) -> Response:
    return error_response(exc)


def _store():
    return current_app.extensions["store"]


def _decide(outcome: str, rule: str) -> None:
    """Tell the activity trail what was decided and why (the access policy's decisions go to the audit event)."""
    decisions = getattr(current_policy(), "decisions", None)
    if decisions is not None:
        decisions.append((outcome, rule))


def _client_id() -> str:
    """The client of the bearer token (exports belong to clients; without a token there is none)."""
    info = g.get("fhir_token")
    if info is None:
        raise Unauthorized("Bulk Data export needs an access token (SMART Backend Services): send "
                           "Authorization: Bearer <token>", headers={"WWW-Authenticate": 'Bearer realm="sandbox-fhir"'})
    return info.client_id


# -- kick-off --------------------------------------------------------------------------------------

@blueprint.route("/$export", methods=["GET", "POST"])
def system_export():
    return _kickoff(SYSTEM)


@blueprint.route("/Patient/$export", methods=["GET", "POST"])
def patient_export():
    return _kickoff(PATIENT)


@blueprint.route("/Group/<group_id>/$export", methods=["GET", "POST"])
def group_export(group_id: str):
    return _kickoff(GROUP, group_id)


def _kickoff(level: str, group_id: str | None = None) -> Response:
    client_id = _client_id()
    config = current_app.config
    if prefer("respond-async") is None:
        raise InvalidRequest("A Bulk Data kick-off needs the header 'Prefer: respond-async' (Bulk Data IG "
                             "export.html: only the asynchronous pattern is supported)")
    store = _store()
    if jobs.active_count(store, client_id) >= config["BULK_MAX_JOBS"]:
        raise TooManyExports(f"This client already has {config['BULK_MAX_JOBS']} exports waiting or running "
                             "(SANDBOX_BULK_MAX_JOBS); wait for one to finish, or cancel one with DELETE on its "
                             "status URL", headers={"Retry-After": "30"})
    posted = request.method == "POST"
    params = list(request.args.items(multi=True))
    body = request_json() if posted and request.get_data() else None
    job = start_export(store, current_policy(), g.fhir_token, level, group_id,
                       url=config["BASE_URL"] + request.full_path.rstrip("?"),
                       params=params, body=body, strict=prefer("handling") != "lenient", posted=posted)
    ensure_running(store, config)
    _decide("success", f"Bulk export started ({level} level): it runs in the background under this token's scopes, "
                       "as search would")
    status_url = f"{config['BASE_URL']}/fhir/bulk-status/{job.id}"
    return fhir_response(information(f"Export started; poll {status_url} for its progress"), 202,
                         {"Content-Location": status_url})


# -- status, cancel --------------------------------------------------------------------------------

def _own_job(job_id: str) -> jobs.Job:
    client_id = _client_id()
    store = _store()
    job = jobs.get(store, job_id) if files.JOB_ID.match(job_id) else None
    if job is not None and job.expires_at is not None and job.expires_at <= time.time():
        jobs.delete(store, job.id)  # past its retention time: gone now, not at the runner's next sweep
        files.remove(store.path, job.id)
        job = None
    if job is None:
        raise NotFound(f"No bulk export {job_id}: it never existed, was cancelled, or its files were removed after "
                       f"{current_app.config['BULK_RETENTION']} seconds (SANDBOX_BULK_RETENTION)")
    if job.client_id != client_id:
        _decide("failure", "A bulk export is seen only by the client that started it")
        raise Forbidden("This bulk export belongs to another client; only the client that started it may see it")
    return job


@blueprint.route("/bulk-status/<job_id>", methods=["GET", "DELETE"])
def status(job_id: str):
    job = _own_job(job_id)
    store, config = _store(), current_app.config
    _decide("success", f"Bulk export {'cancelled' if request.method == 'DELETE' else 'status'}: the client that "
                       "started it")
    if request.method == "DELETE":
        jobs.delete(store, job.id)
        files.remove(store.path, job.id)
        return fhir_response(information(f"Export {job.id} was cancelled and its files removed"), 202)
    if job.status == jobs.COMPLETE:
        response = current_app.response_class(_manifest_text(job), 200, content_type="application/json")
        response.headers["Expires"] = format_datetime(dt.datetime.fromtimestamp(job.expires_at, dt.UTC), usegmt=True)
        return response
    if job.status == jobs.FAILED:
        raise FhirError(job.error or "The export failed", status=500, code="exception")
    ensure_running(store, config)  # a worker died and this one's runner is idle: it takes the job over
    progress = "queued" if job.status == jobs.QUEUED else (job.progress or "in progress")
    return fhir_response(None, 202, {"X-Progress": progress, "Retry-After": str(RETRY_AFTER_SECONDS)})


def _manifest_text(job: jobs.Job) -> str:
    return dumps(job.manifest, wants_pretty())


# -- files -----------------------------------------------------------------------------------------

@blueprint.route("/bulk-files/<job_id>/<name>", methods=["GET"])
def output_file(job_id: str, name: str):
    """An output file, streamed from disk (export.html §File Request: the client SHALL present its token when
    requiresAccessToken is true)."""
    job = _own_job(job_id)
    path = files.file_path(_store().path, job.id, name)
    listed = job.manifest and any(item["url"].endswith(f"/{job.id}/{name}")
                                  for item in job.manifest["output"] + job.manifest["error"]
                                  + job.manifest.get("deleted", []))
    if path is None or not listed or not path.is_file():
        raise NotFound(f"Export {job.id} has no file {name}; the manifest lists its files")
    _decide("success", f"Bulk export file {name} downloaded by the client that started the export")
    response = send_file(path, mimetype=files.NDJSON, conditional=True, etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/bulk-status/<job_id>", methods=["POST", "PUT", "PATCH"])
@blueprint.route("/bulk-files/<job_id>/<name>", methods=["POST", "PUT", "PATCH", "DELETE"])
def read_only(job_id: str, name: str | None = None):
    allowed = "GET, DELETE" if name is None else "GET"
    raise MethodNotAllowed(f"{request.method} is not supported here; this URL takes {allowed}",
                           headers={"Allow": allowed})
