"""Content negotiation, request bodies, JSON rendering and CORS for the FHIR API.

FHIR R4 §3.1.0.1.10 (http.html#mime-type): the formal MIME type is ``application/fhir+json``; servers
SHALL honour ``_format`` as well as ``Accept``. This server speaks JSON only, so a request for XML only
gets 406 Not Acceptable with an OperationOutcome that says so.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from flask import Response, request

from .. import bounded_json
from ..store.errors import InvalidRequest, NotAcceptable, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
CONTENT_TYPE = f"{FHIR_JSON}; charset=utf-8"

JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}
XML_FORMATS = {"xml", "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir"}
JSON_BODY_TYPES = {FHIR_JSON, "application/json", "application/json+fhir"}
FORM_TYPE = "application/x-www-form-urlencoded"
_STAND_IN = re.compile('"@raw:([0-9a-f]{16}):([0-9]+)@"')

CORS_ALLOW_METHODS = "GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD"
CORS_ALLOW_HEADERS = ("Authorization, Content-Type, Accept, If-Match, If-None-Exist, If-None-Match, "
                      "If-Modified-Since, Prefer, X-Requested-With")
CORS_EXPOSE_HEADERS = "Location, ETag, Content-Location, Last-Modified"


class RawJson:
    """JSON text embedded in a response as is: stored resources are served without parsing them again."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def check_acceptable() -> None:
    """Refuse XML (and anything else that is not JSON) asked for with ``_format``; refuse an ``Accept`` header
    only when it accepts XML and no JSON at all. A browser's default (``text/html,application/xhtml+xml,
    application/xml;q=0.9,*/*;q=0.8``) accepts JSON through ``*/*`` and is served JSON (RFC 9110 §12.5.1: the
    server picks among what the client accepts)."""
    wanted = request.args.get("_format")
    if wanted is not None:
        value = wanted.strip().lower().split(";")[0].strip().replace(" ", "+")  # an unencoded + arrives as a space
        if value not in JSON_FORMATS:
            kind = "XML" if value in XML_FORMATS else f"'{wanted}'"
            raise NotAcceptable(f"_format={wanted} asks for {kind}, but this server only serves JSON "
                                f"(_format=json or {FHIR_JSON})")
        return
    if "xml" not in request.headers.get("Accept", ""):
        return  # only XML is refused; skip parsing the common Accept headers
    accepted = request.accept_mimetypes
    if any(accepted.quality(json_type) > 0 for json_type in JSON_BODY_TYPES):
        return
    asked = accepted.best_match(sorted(XML_FORMATS - {"xml"})) or request.headers["Accept"]
    raise NotAcceptable(f"The Accept header asks for {asked}, but this server only serves JSON ({FHIR_JSON})")


def request_json() -> Any:
    """The request body as JSON: 415 for other media types, 400 for malformed JSON."""
    mimetype = request.mimetype
    data = request.get_data()
    if mimetype not in JSON_BODY_TYPES:
        shown = request.content_type or "no Content-Type"
        raise UnsupportedMediaType(f"The request body must be {FHIR_JSON} (or application/json), not {shown}")
    return parse_json(data)


def parse_json(data: bytes | str) -> Any:
    """Strict JSON (RFC 8259: no NaN, valid UTF-8, no lone surrogates), nested at most bounded_json.MAX_DEPTH
    deep."""
    if not data:
        raise InvalidRequest("The request has no body; a FHIR resource in JSON was expected")
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        value = bounded_json.loads(text, parse_constant=_reject_constant)
        if "\\ud" in text.lower():  # a \uXXXX escape may encode a lone surrogate, which cannot be stored
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except bounded_json.TooDeep:
        raise InvalidRequest(f"The JSON body is nested deeper than {bounded_json.MAX_DEPTH} levels") from None
    except (UnicodeError, ValueError) as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}") from None
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def form_params() -> list[tuple[str, str]]:
    """Parameters of a ``POST [type]/_search`` body (FHIR R4 §3.1.0.9: application/x-www-form-urlencoded)."""
    if not request.get_data():
        return []
    if request.mimetype != FORM_TYPE:
        raise UnsupportedMediaType(f"POST _search takes a {FORM_TYPE} body, not {request.content_type}")
    return list(request.form.items(multi=True))


def wants_pretty() -> bool:
    return request.args.get("_pretty", "").lower() == "true"


def dumps(value: Any, pretty: bool = False) -> str:
    """Serialize a response body. ``RawJson`` parts are stand-ins during encoding, then swapped for their
    text in one pass, so the body is encoded at C speed and stored JSON is never parsed."""
    if isinstance(value, RawJson):
        return json.dumps(json.loads(value.text), indent=2, ensure_ascii=False) if pretty else value.text
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False, default=_materialize)
    parts: list[str] = []
    nonce = secrets.token_hex(8)

    def stand_in(item: Any) -> str:
        if not isinstance(item, RawJson):
            raise TypeError(f"{type(item).__name__} is not JSON serializable")
        parts.append(item.text)
        return f"@raw:{nonce}:{len(parts) - 1}@"

    def swap(match: re.Match) -> str:
        return parts[int(match.group(2))] if match.group(1) == nonce else match.group(0)

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=stand_in)
    return _STAND_IN.sub(swap, text) if parts else text


def _materialize(item: Any) -> Any:
    if isinstance(item, RawJson):
        return json.loads(item.text)
    raise TypeError(f"{type(item).__name__} is not JSON serializable")


def fhir_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A FHIR JSON response; ``body`` None gives an empty body (Prefer: return=minimal, 204)."""
    if body is None:
        response = Response(status=status)
        del response.headers["Content-Type"]
    else:
        response = Response(dumps(body, wants_pretty()), status=status, content_type=CONTENT_TYPE)
    if headers:
        response.headers.update(headers)
    return response


def add_cors_headers(response: Response) -> Response:
    """CORS for browser apps served from other origins (Fetch standard §3.2): echo the Origin."""
    origin = request.headers.get("Origin")
    response.headers.extend([
        ("Access-Control-Allow-Origin", origin or "*"),
        ("Access-Control-Allow-Methods", CORS_ALLOW_METHODS),
        ("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS),
        ("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS),
        ("Access-Control-Max-Age", "600"),
        ("Vary", "Origin"),
    ])
    return response


def preflight_response() -> Response:
    return fhir_response(None, 204)


def prefer(name: str) -> str | None:
    """A preference of the ``Prefer`` header (RFC 7240), e.g. ``return`` or ``handling``."""
    for header in request.headers.getlist("Prefer"):
        for part in header.replace(";", ",").split(","):
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == name:
                return value.strip().strip('"')
    return None
