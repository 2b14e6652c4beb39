"""The events of one activity trail as the numbered steps of the teaching view (UI-GUIDE §5).

Each step says in plain words what happened; shows the request as method, URL and a parameter table, and the
response; for tokens, a claim table with the launch context highlighted and the id_token decoded into header,
payload and signature. A failed step says what happened, the OAuth error code and what to change, with the
registered and the received value side by side when they differ. FHIR requests between two other steps fold
into one step with a compact table.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..auth.audit import FAILURE, STANDALONE_PREFIX, AuditEvent, moment, short
from . import words

FHIR_EVENTS = ("access.allowed", "access.refused")
FOLD_ROWS = 200  # a folded step's table shows the latest requests only
IDLE_AFTER = 300  # seconds without a new event before a trail counts as finished
ENDINGS = ("authorize.denied", "code.reused", "refresh.reused")  # nothing can follow in the trail
ERROR_STATUS = {"invalid_client": 401, "invalid_token": 401, "access_denied": 403, "slow_down": 429,
                "server_error": 500}  # RFC 6749 §5.2: every other error is 400


@dataclass
class Row:
    name: str
    value: Any  # text, or a list shown as a list
    meaning: str = ""
    context: bool = False  # a launch-context field: highlighted
    mono: bool = True  # a protocol value (monospace), not a sentence


@dataclass
class Table:
    title: str
    rows: list[Row]
    heading: str = "Parameter"


@dataclass
class Request:
    method: str
    url: str
    params: Table | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)  # those the trail knows were sent

    def raw(self) -> str:
        """The request as HTTP/1.1 text, rebuilt from what the trail kept: values cut short stay cut short and a
        secret the server never keeps shows as what it was, not its value."""
        parts = urlsplit(self.url)
        pairs = [(row.name, " ".join(row.value) if isinstance(row.value, list) else str(row.value))
                 for row in (self.params.rows if self.params else [])]
        query = urlencode(pairs, safe=" /:|*…()")
        in_body = self.method == "POST"
        target = parts.path + (f"?{parts.query}" if parts.query else "") + (f"?{query}" if query and not in_body
                                                                             else "")
        head = [f"{self.method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
        if in_body and query:
            head.append("Content-Type: application/x-www-form-urlencoded")
        head += [f"{name}: {value}" for name, value in self.headers]
        return "\n".join(head) + ("\n\n" + query if in_body and query else "")


@dataclass
class Failure:
    what: str
    code: str | None
    change: str
    mismatch: dict | None = None


@dataclass
class Jwt:
    parts: list[tuple[str, str]]  # (label, base64url text): header, payload, signature
    header: Table
    claims: Table


@dataclass
class Step:
    number: int
    event: str
    title: str
    actor: str
    term: str
    at: str
    since_start: str
    status: str  # done | failed | waiting
    rule: str | None = None
    explain: str = ""
    more: str = ""
    request: Request | None = None
    response: str | None = None
    facts: list[Row] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    jwt: Jwt | None = None
    failure: Failure | None = None
    requests: list[dict] = field(default_factory=list)
    requests_total: int = 0
    refused: int = 0


@dataclass(frozen=True)
class Setting:
    """What building the steps needs beyond the events: the server's base URL, the time, and lookups."""

    base_url: str
    now: float
    launch_uri: Callable[[str | None], str | None]
    user_name: Callable[[str | None], str | None]


def steps_of(events: list[AuditEvent], setting: Setting) -> list[Step]:
    """The numbered steps of a trail's events (oldest first)."""
    if not events:
        return []
    start = moment(events[0].at)
    steps: list[Step] = []
    fold: Step | None = None
    for event in events:
        since = words.since_start(moment(event.at) - start)
        if event.event in FHIR_EVENTS:
            if fold is None:
                fold = Step(0, "fhir", "", "App → FHIR", "GET /fhir/…", event.at, since, "done",
                            explain=words.EXPLAIN["fhir"][0], more=words.EXPLAIN["fhir"][1])
                steps.append(fold)
            add_request(fold, event, since)
            continue
        fold = None  # FHIR requests after another step fold into a new one
        title, actor, term = words.STEPS.get(event.event, (event.event, "", event.event))
        explain, more = words.EXPLAIN.get(event.event, ("", ""))
        step = Step(0, event.event, title, actor, term, event.at, since,
                    "failed" if event.outcome == FAILURE else "done", event.rule, explain, more)
        BUILDERS.get(event.event, failed_if_so)(step, event, setting)
        steps.append(step)
    for number, step in enumerate(steps, 1):
        step.number = number
        if step.event == "fhir":
            count = step.requests_total
            step.title = (f"{count} FHIR request{'s' if count != 1 else ''}: {count - step.refused} OK"
                          + (f", {step.refused} refused" if step.refused else ""))
            step.term = f"{'/'.join(sorted({r['method'] for r in step.requests}))} /fhir/…"
            step.status = "failed" if step.refused else "done"
    return steps


def add_request(fold: Step, event: AuditEvent, since: str) -> None:
    ok = event.outcome != FAILURE
    fold.requests_total += 1
    fold.refused += not ok
    detail = event.detail
    fold.requests.append({"at": since, "method": detail.get("method"), "path": detail.get("path"),
                          "status": detail.get("status"), "count": detail.get("count"), "rule": event.rule, "ok": ok})
    if len(fold.requests) > FOLD_ROWS:
        fold.requests.pop(0)


def finished(trail_id: str, events: list[AuditEvent], now: float) -> bool:
    """Whether nothing more can happen in a trail, or nothing has for IDLE_AFTER seconds (polling stops)."""
    if not events:
        return True
    kinds = {e.event for e in events}
    if kinds & set(ENDINGS):
        return True
    last = events[-1].event
    # A refused standalone request ends its trail (a retry starts another); an EHR launch may be retried.
    refused = last == "launch.refused" or (last == "authorize.refused" and trail_id.startswith(STANDALONE_PREFIX))
    if refused and "code.issued" not in kinds:
        return True
    return now - moment(events[-1].at).timestamp() >= IDLE_AFTER


def waiting_for(events: list[AuditEvent]) -> str:
    """What the trail is waiting for next, in words (the last row while the page polls)."""
    steps = [e.event for e in events if e.event not in FHIR_EVENTS]
    return words.WAITING.get(steps[-1] if steps else "", words.WATCHING if "token.issued" in steps else
                             "Watching for new steps")


# -- building each kind of step -----------------------------------------------------------------------------


def more_than_shown(shown: list, total: int | None) -> str:
    """A note such as " The first 20 of 311 are shown." when the trail kept only the first few items of a list
    (authorization.asked_for); else nothing."""
    return f" The first {len(shown)} of {total} are shown." if total and total > len(shown) else ""


def failed_if_so(step: Step, event: AuditEvent, setting: Setting) -> None:
    if step.status == "failed":
        detail = event.detail
        change = words.CHANGE_LAUNCH if event.event == "launch.refused" else \
            words.change_for(detail.get("error"), event.rule, detail.get("mismatch"))
        step.failure = Failure(event.rule or "", detail.get("error"), change, detail.get("mismatch"))


def launch_created(step: Step, event: AuditEvent, setting: Setting) -> None:
    detail = event.detail
    uri = setting.launch_uri(event.client_id) or "(the app's launch URL)"
    step.request = Request("GET", uri, Table("Launch URL parameters", [
        Row("iss", f"{setting.base_url}/fhir", words.LAUNCH_PARAMS["iss"]),
        Row("launch", short(event.launch_id, 10), words.LAUNCH_PARAMS["launch"])]))
    step.facts.append(Row("User", setting.user_name(event.user_id) or event.user_id,
                          "Who launched the app; the launch carries their identity.", mono=False))
    if detail.get("expires_in"):
        step.facts.append(Row("Valid for", f"{detail['expires_in']} s, once, for this app only", mono=False))
    for flag, meaning in (("skip_login", "No one is asked to sign in (a headless launch)."),
                          ("skip_consent", "No consent page.")):
        if detail.get(flag):
            step.facts.append(Row(flag, "true", meaning))
    step.tables.append(context_table("Launch context saved", detail.get("context") or {}))


def authorize_request(step: Step, event: AuditEvent, setting: Setting) -> None:
    asked = event.detail.get("request") or {}
    rows = []
    for name, meaning in words.AUTHORIZE_PARAMS.items():
        if name not in asked:
            continue
        value = asked[name]
        if isinstance(value, bool):
            value = "sent" if value else "not sent"
        elif name == "scope":
            value = value.split()
        rows.append(Row(name, value, meaning))
    step.request = Request(asked.get("method", "GET"), f"{setting.base_url}/auth/authorize",
                           Table("Parameters", rows))
    if asked.get("unknown_scopes"):
        step.facts.append(Row("Scopes not understood", asked["unknown_scopes"],
                              "Dropped, never an error (SMART App Launch 2.2)."
                              + more_than_shown(asked["unknown_scopes"], asked.get("unknown_scope_count"))))
    if event.detail.get("scope_allowed") is not None:
        step.facts.append(Row("Scopes that may be granted", event.detail["scope_allowed"].split(),
                              "What is left once scopes the app is not registered for, and launch without a "
                              "launch, are dropped."))
    dropped = [d for d in event.detail.get("scope_dropped") or [] if isinstance(d, dict)]
    if dropped:
        step.tables.append(Table("Scopes requested but not granted", [
            Row(str(d.get("scope", "")), str(d.get("why", "")), mono=False) for d in dropped], heading="Scope"))
    if asked.get("other"):
        step.facts.append(Row("Other parameters", ", ".join(asked["other"]),
                              "Not part of SMART's request; ignored."
                              + more_than_shown(asked["other"], asked.get("other_count"))))
    if step.status == "done":
        step.response = "302 Found → sign-in, a picker or consent as needed, then back to the app with a code"
        return
    failed_if_so(step, event, setting)
    field_name = (event.detail.get("mismatch") or {}).get("field")
    step.response = ("400 Bad Request: an error page in the browser, never a redirect to an unverified URI"
                     if field_name in ("client_id", "redirect_uri") else
                     f"302 Found → redirect_uri?error={event.detail.get('error')}&error_description=…&state=…")


def signed_in(step: Step, event: AuditEvent, setting: Setting) -> None:
    step.facts.append(Row("User", setting.user_name(event.user_id) or event.user_id,
                          "The request continues as this user.", mono=False))
    if event.detail.get("fhir_user"):
        step.facts.append(Row("fhirUser", event.detail["fhir_user"], words.RESPONSE_CLAIMS["fhirUser"]))


def context_chosen(step: Step, event: AuditEvent, setting: Setting) -> None:
    picked = event.detail.get("picked", "patient")
    step.title = f"{picked.capitalize()} chosen"
    step.term = f"launch/{picked}"
    step.tables.append(context_table("Context", event.detail.get("context") or {}, keep_empty=True))


def approved(step: Step, event: AuditEvent, setting: Setting) -> None:
    how = event.detail.get("how")
    if how in ("pre-approved", "skip_consent"):
        step.actor, step.term = "EHR", how
    if how:
        step.facts.append(Row("How", words.APPROVALS.get(how, how), mono=False))
    if event.detail.get("scope") is not None:
        step.facts.append(Row("Scopes granted", event.detail["scope"].split(), "What the code, and so the tokens, "
                              "will carry."))
    if event.detail.get("unchecked"):
        step.facts.append(Row("Unticked", event.detail["unchecked"], "Resource types the user did not allow."))


def code_issued(step: Step, event: AuditEvent, setting: Setting) -> None:
    detail = event.detail
    if detail.get("redirect_uri"):
        state = "sent back unchanged" if detail.get("state") else "none (the app sent no state)"
        step.request = Request("GET", detail["redirect_uri"], Table("Parameters on the redirect", [
            Row("code", detail.get("code"), words.REDIRECT_PARAMS["code"]),
            Row("state", state, words.REDIRECT_PARAMS["state"])]))
        step.response = "302 Found: the browser goes to the redirect_uri"
    if detail.get("expires_in"):
        step.facts.append(Row("Code valid for", f"{detail['expires_in']} s, once", mono=False))
    if detail.get("scope") is not None:
        step.facts.append(Row("Scopes", detail["scope"].split(), "Bound to the code."))
    step.tables.append(context_table("Launch context bound to the code", detail.get("context") or {}))


def token_exchange(step: Step, event: AuditEvent, setting: Setting) -> None:
    detail = event.detail
    if detail.get("request") or detail.get("grant_type"):
        rows = [Row(name, value, words.TOKEN_PARAMS.get(name, "")) for name, value in
                (detail.get("request") or {}).items()]
        step.request = Request("POST", f"{setting.base_url}/auth/token", Table("Form parameters", rows))
        if detail.get("client_auth") == "client_secret_basic":
            step.request.headers.append(("Authorization", "Basic (client_id:client_secret in base64; not kept)"))
    if detail.get("client_auth"):
        step.facts.append(Row("Client authentication", detail["client_auth"],
                              words.CLIENT_AUTH.get(detail["client_auth"], "")))
    if detail.get("pkce"):
        step.facts.append(Row("PKCE", detail["pkce"].get("result", ""),
                              f"Challenge {detail['pkce'].get('code_challenge')} ({detail['pkce'].get('method')})",
                              mono=False))
    if rotation := detail.get("rotation"):
        step.facts.append(Row("Rotation", f"{rotation.get('presented')} retired, {rotation.get('issued')} issued",
                              "The refresh token presented now fails; the new one is the only one that works.",
                              mono=False))
        if detail.get("scope") != rotation.get("family_scope"):
            step.facts.append(Row("Narrowed from", (rotation.get("family_scope") or "").split(),
                                  "The refresh asked for less than was granted; the refresh token keeps it all."))
    if step.status == "failed":
        failed_if_so(step, event, setting)
        status = HTTPStatus(ERROR_STATUS.get(detail.get("error"), 400))
        step.response = f"{status.value} {status.phrase}: JSON with error={detail.get('error')}"
        return
    if detail.get("response"):
        step.response = "200 OK: JSON with the tokens and the launch context"
        step.tables.append(response_table(detail["response"], detail.get("token") or {}, setting.now))
        if detail["response"].get("id_token"):
            step.jwt = decode_jwt(detail["response"]["id_token"], setting.now)


def revoked(step: Step, event: AuditEvent, setting: Setting) -> None:
    if event.detail.get("kind"):
        step.facts.append(Row("Token presented", f"{event.detail['kind']} token", mono=False))
    failed_if_so(step, event, setting)


def discovered(step: Step, event: AuditEvent, setting: Setting) -> None:
    path = event.detail.get("path", "")
    step.title = {"/fhir/metadata": "Discovery: the app read the CapabilityStatement"}.get(
        path, f"Discovery: the app read {path.rsplit('/', 1)[-1]}")
    step.term = f"GET {path}"
    step.request = Request("GET", f"{setting.base_url}{path}")
    step.response = "200 OK: the server's endpoints and capabilities (no token needed)"
    step.facts.append(Row("Matched to this launch", f"from {event.detail.get('address')}, before the authorization "
                          "request", "Discovery carries no launch: it is joined by the address and the time it "
                          "came from.", mono=False))


BUILDERS: dict[str, Callable[[Step, AuditEvent, Setting], None]] = {
    "discovery": discovered,
    "launch.created": launch_created,
    "authorize.requested": authorize_request,
    "authorize.refused": authorize_request,
    "authorize.signed_in": signed_in,
    "authorize.context": context_chosen,
    "authorize.approved": approved,
    "code.issued": code_issued,
    "token.issued": token_exchange,
    "token.refreshed": token_exchange,
    "token.refused": token_exchange,
    "revocation": revoked,
}


# -- tables ------------------------------------------------------------------------------------------------------


def context_table(title: str, context: dict, keep_empty: bool = False) -> Table:
    rows = [Row(name, words.text(context.get(name)), words.RESPONSE_CLAIMS[name], True) for name in words.CONTEXT_FIELDS
            if name in context and (keep_empty or context[name] not in (None, "", []))]
    return Table(title, rows, "Field")


def response_table(response: dict, token: dict, now: float) -> Table:
    """The token response, claim by claim, with what the opaque access token stands for."""
    rows = []
    for name in ("access_token", "token_type", "expires_in"):
        if name in response:
            rows.append(Row(name, words.text(response[name]), words.RESPONSE_CLAIMS[name]))
    if token.get("exp"):
        rows.append(Row("exp", f"{words.local_time(token['exp'])} ({words.relative(token['exp'], now)})",
                        words.RESPONSE_CLAIMS["exp"] + " Not in the response: the server keeps it."))
    if "scope" in response:
        rows.append(Row("scope", response["scope"].split(), words.RESPONSE_CLAIMS["scope"]))
    if token.get("fhirUser"):
        rows.append(Row("fhirUser", token["fhirUser"], words.RESPONSE_CLAIMS["fhirUser"] + " Not in the response: "
                        "the app learns it from the id_token."))
    for name in ("refresh_token", "id_token"):
        if name in response:
            value = response[name] if name == "refresh_token" else short(response[name], 16) + " (decoded below)"
            rows.append(Row(name, value, words.RESPONSE_CLAIMS[name]))
    for name in words.CONTEXT_FIELDS:
        if name in response:
            rows.append(Row(name, words.text(response[name]), words.RESPONSE_CLAIMS[name], True))
    return Table("Token response", rows, "Claim")


def decode_jwt(token: str, now: float) -> Jwt | None:
    """A compact JWS split into its three parts, with its header and claims decoded (not verified: the server
    signed it moments before)."""
    try:
        head, body, signature = token.split(".")
        header, claims = json.loads(unpadded(head)), json.loads(unpadded(body))
    except (ValueError, binascii.Error):
        return None
    header_rows = [Row(name, words.text(value), words.ID_TOKEN_HEADER.get(name, "")) for name, value in header.items()]
    claim_rows = []
    for name, value in claims.items():
        if name in ("exp", "iat") and isinstance(value, int):
            shown = f"{value} = {words.local_time(value)} ({words.relative(value, now, name == 'exp')})"
        elif name == "nonce":
            shown = f"present: {value}"
        else:
            shown = words.text(value)
        claim_rows.append(Row(name, shown, words.ID_TOKEN_CLAIMS.get(name, "")))
    return Jwt([("Header", head), ("Payload", body), ("Signature", signature)],
               Table("id_token header", header_rows, "Field"), Table("id_token claims", claim_rows, "Claim"))


def unpadded(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
