"""Routes of the FHIR R4 REST API (FHIR R4 http.html §3.1.0): thin views that read the HTTP request,
call an interaction and render its Answer. Every response, errors and preflights included, is
FHIR JSON with CORS headers."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..store.errors import InvalidRequest, MethodNotAllowed, NotFound, NotSupported
from ..store.query import SUMMARY_VALUES
from . import interactions as api
from . import transaction
from .capability import capability_statement
from .everything import everything
from .formats import (
    add_cors_headers,
    check_acceptable,
    fhir_response,
    form_params,
    prefer,
    preflight_response,
    request_json,
)
from .interactions import Answer, Context
from .operations import SUPPORTED_TEXT, check_operation
from .outcome import error_response
from .patch import conditional_patch, patch, patch_document
from .policy import current_policy

blueprint = Blueprint("fhir", __name__)
URL_PREFIX = "/fhir"  # where app.py mounts the blueprint

# Routes take every method clients use, so a wrong one is answered with a clear 405 OperationOutcome.
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
FORMAT_PARAMS = ("_format", "_pretty")


@blueprint.before_request
def negotiate():
    if request.method == "OPTIONS":
        return preflight_response()
    check_acceptable()
    check_operation(request.path[len(URL_PREFIX):].strip("/").split("/"))
    return None


@blueprint.after_request
def cors(response: Response) -> Response:
    return add_cors_headers(response)


@blueprint.before_app_request
def unroutable_requests():
    """A request under /fhir that matches no route (an HTTP method no route takes) never reaches the blueprint's
    handlers; it still gets an OperationOutcome with CORS headers."""
    failure = request.routing_exception
    under_fhir = request.path == URL_PREFIX or request.path.startswith(URL_PREFIX + "/")
    if under_fhir and isinstance(failure, HTTPException) and (failure.code or 0) >= 400:
        return add_cors_headers(error_response(failure))
    return None


@blueprint.errorhandler(Exception)
def render_error(exc: Exception) -> Response:
    return error_response(exc)


def context() -> Context:
    config = current_app.config
    return Context(current_app.extensions["store"], current_policy(), config["BASE_URL"] + "/fhir",
                   config["PAGE_SIZE"], config["MAX_PAGE_SIZE"], strict_search=strict_search())


def params() -> list[tuple[str, str]]:
    return list(request.args.items(multi=True))


def strict_search() -> bool:
    """R4 search.html#errors: search is strict unless the client sends ``Prefer: handling=lenient``."""
    return prefer("handling") != "lenient"


def search_query_text() -> str:
    """The query string of a conditional update or delete, without the format parameters."""
    pairs = [(k, v) for k, v in params() if k not in FORMAT_PARAMS]
    return urlencode(pairs, quote_via=quote)


def http_date(instant: str) -> str:
    moment = dt.datetime.fromisoformat(instant[:19]).replace(tzinfo=dt.UTC)
    return format_datetime(moment, usegmt=True)


def respond(answer: Answer) -> Response:
    headers = dict(answer.headers)
    stored = answer.stored
    if stored is not None:
        headers["ETag"] = stored.etag
        headers["Last-Modified"] = http_date(stored.last_updated)
        if answer.location:
            headers["Location"] = f"{current_app.config['BASE_URL']}/fhir/{stored.type}/{stored.id}/_history/" \
                                  f"{stored.version}"
    return fhir_response(answer.body, answer.status, headers)


def reads_only() -> None:
    """History, vread and metadata are read-only endpoints: other methods are 405."""
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(f"{request.method} is not supported on {request.path}; it is read-only",
                               headers={"Allow": "GET, HEAD"})


def summary_params() -> tuple[str | None, tuple[str, ...]]:
    summary = request.args.get("_summary")
    if summary is not None and summary not in SUMMARY_VALUES:
        raise InvalidRequest(f"_summary must be one of {', '.join(sorted(SUMMARY_VALUES))}")
    elements = tuple(e.strip() for e in request.args.get("_elements", "").split(",") if e.strip())
    return summary, elements


# -- system level ----------------------------------------------------------------------------------

@blueprint.route("/metadata", methods=METHODS)
def metadata():
    reads_only()
    return respond(Answer(200, capability_statement(current_app.config["BASE_URL"])))


@blueprint.route("", methods=METHODS, endpoint="base")
@blueprint.route("/", methods=METHODS)
def base():
    if request.method == "POST":
        return respond(transaction.process(context(), request_json(), prefer("return")))
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(f"{request.method} is not supported on the FHIR base; POST a batch or transaction",
                               headers={"Allow": "POST"})
    raise NotSupported("Searching across all resource types is not supported; search one type, "
                       f"e.g. GET {current_app.config['BASE_URL']}/fhir/Patient")


@blueprint.route("/_history", methods=METHODS)
def system_history():
    reads_only()
    return respond(api.history(context(), params()))


# -- type level ------------------------------------------------------------------------------------

@blueprint.route("/<rtype>", methods=METHODS)
def type_level(rtype: str):
    api.known_type(rtype)
    ctx = context()
    if request.method in ("GET", "HEAD"):
        return respond(api.search(ctx, rtype, params(), strict=strict_search()))
    if request.method == "POST":
        return respond(api.create(ctx, rtype, request_json(), request.headers.get("If-None-Exist"),
                                  prefer("return")))
    query = search_query_text()
    if request.method == "PUT":
        if not query:
            raise MethodNotAllowed(f"PUT needs an id (PUT /fhir/{rtype}/[id]) or search parameters",
                                   headers={"Allow": "GET, HEAD, POST"})
        return respond(api.conditional_update(ctx, rtype, query, request_json(), request.headers.get("If-Match"),
                                              prefer("return")))
    if request.method == "DELETE" and query:
        return respond(api.conditional_delete(ctx, rtype, query))
    if request.method == "PATCH" and query:
        return respond(conditional_patch(ctx, rtype, query, *request_patch(), request.headers.get("If-Match"),
                                         prefer("return")))
    raise MethodNotAllowed(f"{request.method} is not supported on /fhir/{rtype}", headers={"Allow": "GET, HEAD, POST"})


@blueprint.route("/<rtype>/_search", methods=["GET", "HEAD", "POST"])
def search_form(rtype: str):
    api.known_type(rtype)
    merged = params() + (form_params() if request.method == "POST" else [])
    return respond(api.search(context(), rtype, merged, strict=strict_search()))


@blueprint.route("/<rtype>/$validate", methods=METHODS)
def validate_operation(rtype: str):
    api.known_type(rtype)
    if request.method != "POST":
        raise MethodNotAllowed(f"{rtype}/$validate takes the resource (or a Parameters with 'resource') by POST",
                               headers={"Allow": "POST"})
    return respond(api.validate_only(context(), rtype, request_json()))


@blueprint.route("/<rtype>/_history", methods=METHODS)
def type_history(rtype: str):
    reads_only()
    return respond(api.history(context(), params(), rtype))


# -- instance level --------------------------------------------------------------------------------

@blueprint.route("/<rtype>/<rid>", methods=METHODS)
def instance(rtype: str, rid: str):
    api.known_type(rtype)
    ctx = context()
    if request.method in ("GET", "HEAD"):
        summary, elements = summary_params()
        answer = api.read(ctx, rtype, rid, summary, elements)
        if not_modified(answer):
            return respond(Answer(304, None, answer.stored))
        return respond(answer)
    if request.method == "PUT":
        return respond(api.update(ctx, rtype, rid, request_json(), request.headers.get("If-Match"),
                                  prefer("return")))
    if request.method == "DELETE":
        return respond(api.delete(ctx, rtype, rid))
    if request.method == "PATCH":
        return respond(patch(ctx, rtype, rid, *request_patch(), request.headers.get("If-Match"), prefer("return")))
    raise MethodNotAllowed(f"{request.method} is not supported on /fhir/{rtype}/{rid}",
                           headers={"Allow": "GET, HEAD, PUT, PATCH, DELETE"})


def request_patch() -> tuple[str, object]:
    """(kind, document) of a PATCH request's body, chosen by its Content-Type."""
    return patch_document(request.mimetype, request.get_data())


def not_modified(answer: Answer) -> bool:
    """Conditional read (R4 §3.1.0.2.1): If-None-Match with the current ETag, or If-Modified-Since."""
    stored = answer.stored
    if stored is None:
        return False
    wanted = request.headers.get("If-None-Match")
    if wanted:
        return any(tag.strip() in (stored.etag, f'"{stored.version}"') for tag in wanted.split(","))
    since = request.if_modified_since
    if since is not None:
        changed = dt.datetime.strptime(stored.last_updated[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
        return changed <= since
    return False


@blueprint.route("/<rtype>/<rid>/_history", methods=METHODS)
def instance_history(rtype: str, rid: str):
    reads_only()
    return respond(api.history(context(), params(), rtype, rid))


@blueprint.route("/<rtype>/<rid>/_history/<vid>", methods=METHODS)
def version_read(rtype: str, rid: str, vid: str):
    reads_only()
    return respond(api.vread(context(), rtype, rid, vid))


@blueprint.route("/<rtype>/<rid>/<operation>", methods=METHODS)
def instance_operation(rtype: str, rid: str, operation: str):
    api.known_type(rtype)
    if rtype == "Patient" and operation == "$everything":
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed("Patient/[id]/$everything is served with GET", headers={"Allow": "GET, HEAD"})
        return respond(everything(context(), rid, params()))
    raise NotFound(f"No FHIR endpoint at /fhir/{rtype}/{rid}/{operation}; operations are named with a '$' "
                   f"(this server supports {SUPPORTED_TEXT})")


@blueprint.route("/<path:anything>", methods=METHODS)
def unknown(anything: str):
    raise NotFound(f"No FHIR endpoint at /fhir/{anything}; see {current_app.config['BASE_URL']}/fhir/metadata")
