"""The production WSGI server: gunicorn with several worker processes sharing one SQLite file, serving https
(tls.py) when TLS_CERT and TLS_KEY are set."""

from __future__ import annotations

import json
import logging
import select
import ssl
import threading

from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.config import AccessLogFormat
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

from .tls import server_context

MAX_REQUEST_LINE = 8190  # the longest request line gunicorn can be told to read (its default is 4094)
MAX_HEADER_FIELDS = 100  # gunicorn's defaults for the number and size of header fields
MAX_HEADER_FIELD = 8190
# How long a thread that answered on a kept-alive connection waits for that client's next request before
# handing the connection back to the poller: a client sending requests back to back (a SMART app's token
# exchange then its first reads, a load test) is faster than that; an idle one costs the thread only this wait.
NEXT_REQUEST_WAIT_S = 0.002
DEFAULT_ACCESS_FORMAT = AccessLogFormat.default  # the line as gunicorn writes it by default


class SandboxWorker(ThreadWorker):
    """gunicorn's threaded worker, except that a thread serves a kept-alive connection's next request itself when
    it comes at once and no other connection waits (``handle``), and that a request it refuses to read — a request
    line longer than MAX_REQUEST_LINE (414 URI Too Long, RFC 9110 §15.5.15) or headers beyond its limits (431
    Request Header Fields Too Large, RFC 6585 §5) — is answered as a FHIR OperationOutcome with CORS headers
    instead of gunicorn's HTML page. The worker cannot see the path of a request it refused to read; such requests
    are almost always FHIR calls, and JSON that says what to do is readable on any surface."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._queued = 0  # connections handed to the pool and not yet taken by a thread
        self._queued_lock = threading.Lock()

    def enqueue_req(self, conn):
        with self._queued_lock:
            self._queued += 1
        super().enqueue_req(conn)

    def handle(self, conn):
        # A kept-alive connection whose next request is already on its way is served by the same thread, as
        # long as no other connection waits for a thread: handing it back to the main thread's poller and out
        # again to a pool thread costs more CPU than most requests (a pipe write, epoll and fcntl calls, three
        # thread switches).
        with self._queued_lock:
            self._queued -= 1
        keepalive = super().handle(conn)
        while keepalive is True and self.alive and not self._queued and _next_request_waiting(conn):
            keepalive = super().handle(conn)
        return keepalive

    def handle_error(self, req, client, addr, exc):
        refusal = refusal_response(exc)
        if refusal is None:
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Refused an oversized request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, refusal)
        except OSError:
            self.log.debug("Failed to send the refusal.")


class AccessLogger(glogging.Logger):
    """gunicorn's logger, building only the fields of the access-log line the sandbox writes (gunicorn's default
    format: address, time, request line, status, size, referrer, user agent) instead of one field per header and
    environment variable of every request, which cost about a tenth of a small request's CPU; and writing that
    line straight to the log's stream, without a log record, a formatter and a field dictionary per request."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        handlers = self.access_log.handlers
        if self.cfg.access_log_format != DEFAULT_ACCESS_FORMAT or any(type(h) is not logging.StreamHandler
                                                                       for h in handlers):
            super().access(resp, req, environ, request_time)  # a format or a handler of someone else's
            return
        # gunicorn's own wrapper of the fields escapes the quotes inside them
        line = DEFAULT_ACCESS_FORMAT % self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        for handler in handlers:
            with handler.lock:
                handler.stream.write(line + handler.terminator)
                handler.flush()

    def atoms(self, resp, req, environ, request_time):
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        sent = getattr(resp, "sent", None)
        return {"h": environ.get("REMOTE_ADDR", "-"), "l": "-", "u": self._get_user(environ) or "-", "t": self.now(),
                "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}", "s": status,
                "b": str(sent) if sent is not None else "-", "f": environ.get("HTTP_REFERER", "-"),
                "a": environ.get("HTTP_USER_AGENT", "-")}


def _next_request_waiting(conn) -> bool:
    if getattr(conn, "is_http2", False):
        return False
    if conn.parser.unreader.buf.getvalue() or (isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()):
        return True  # read ahead with the last request, by the parser or by TLS
    try:
        readable, _, _ = select.select([conn.sock], [], [], NEXT_REQUEST_WAIT_S)
    except (OSError, ValueError):
        return False
    return bool(readable)


def refusal_response(exc: BaseException) -> bytes | None:
    """The whole HTTP response for a request gunicorn refused to read, or None for errors it answers itself."""
    if isinstance(exc, LimitRequestLine):
        return _outcome_response(
            "414 URI Too Long",
            f"The request line is longer than this server reads ({MAX_REQUEST_LINE} bytes). Send a long FHIR search "
            "as POST [base]/[type]/_search with the parameters in an application/x-www-form-urlencoded body (FHIR "
            "R4 http.html §3.1.0.9), or split it into several searches.")
    if isinstance(exc, LimitRequestHeaders):
        return _outcome_response(
            "431 Request Header Fields Too Large",
            f"The request's headers are larger than this server reads (at most {MAX_HEADER_FIELDS} fields of "
            f"{MAX_HEADER_FIELD} bytes each): {exc}. Send fewer or shorter headers — an oversized cookie or "
            "Authorization header is the usual cause.")
    return None


def _outcome_response(status: str, diagnostics: str) -> bytes:
    from .fhir.outcome import operation_outcome

    body = json.dumps(operation_outcome(diagnostics, "too-costly")).encode()
    head = (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/fhir+json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nAccess-Control-Allow-Origin: *\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    return head.encode("latin-1") + body


class _Gunicorn(BaseApplication):
    def __init__(self, values: dict):
        self.values = values
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.values['HOST']}:{self.values['PORT']}")
        self.cfg.set("workers", self.values["WORKERS"])
        self.cfg.set("worker_class", SandboxWorker)
        self.cfg.set("limit_request_line", MAX_REQUEST_LINE)
        self.cfg.set("limit_request_fields", MAX_HEADER_FIELDS)
        self.cfg.set("limit_request_field_size", MAX_HEADER_FIELD)
        self.cfg.set("threads", 4)
        self.cfg.set("accesslog", "-")
        self.cfg.set("logger_class", AccessLogger)
        self.cfg.set("timeout", 120)
        # gunicorn's control socket has one default path per machine user, so a second sandbox on the machine
        # would take over the first one's; the sandbox does not use it.
        self.cfg.set("control_socket_disable", True)
        if self.values["TLS_CERT"]:
            self.cfg.set("certfile", self.values["TLS_CERT"])
            self.cfg.set("keyfile", self.values["TLS_KEY"])
            self.cfg.set("ssl_context", server_context)

    def load(self):
        # Each worker builds its own app after the fork: no connection or state crosses processes. Each prunes
        # in the background what the authorization server is done with (auth/pruning.py) and checkpoints the
        # write-ahead log outside the requests (store/db.py).
        from .app import create_app
        from .auth import pruning
        from .bulk.runner import ensure_running
        from .store import db

        db.checkpoint_in_background(self.values["DB"])  # before the request threads open their connections
        app = create_app(self.values)
        pruning.start(app.extensions["store"], app.config)
        ensure_running(app.extensions["store"], app.config)  # exports a dead worker left are resumed here
        return app


def run(values: dict) -> None:
    _Gunicorn(values).run()
