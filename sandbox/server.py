"""The production WSGI server: gunicorn with several worker processes sharing one SQLite file, serving https
(tls.py) when TLS_CERT and TLS_KEY are set."""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

from .tls import server_context

MAX_REQUEST_LINE = 8190  # the longest request line gunicorn can be told to read (its default is 4094)


class SandboxWorker(ThreadWorker):
    """gunicorn's threaded worker, except that a request line longer than MAX_REQUEST_LINE is answered 414 URI Too
    Long (RFC 9110 §15.5.15) as a FHIR OperationOutcome with CORS headers instead of gunicorn's HTML page. The
    worker cannot see the path of a line it refused to read; a URL that long is almost always a FHIR search, and
    JSON that says what to do is readable on any surface."""

    def handle_error(self, req, client, addr, exc):
        if not isinstance(exc, LimitRequestLine):
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Request line too long from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, uri_too_long_response())
        except OSError:
            self.log.debug("Failed to send the 414 response.")


def uri_too_long_response() -> bytes:
    from .fhir.outcome import operation_outcome

    body = json.dumps(operation_outcome(
        f"The request line is longer than this server reads ({MAX_REQUEST_LINE} bytes). Send a long FHIR search as "
        "POST [base]/[type]/_search with the parameters in an application/x-www-form-urlencoded body "
        "(FHIR R4 http.html §3.1.0.9), or split it into several searches.", "too-costly")).encode()
    head = ("HTTP/1.1 414 URI Too Long\r\nConnection: close\r\nContent-Type: application/fhir+json; charset=utf-8\r\n"
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
        self.cfg.set("threads", 4)
        self.cfg.set("accesslog", "-")
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
        from .store import db

        db.checkpoint_in_background(self.values["DB"])  # before the request threads open their connections
        app = create_app(self.values)
        pruning.start(app.extensions["store"], app.config)
        return app


def run(values: dict) -> None:
    _Gunicorn(values).run()
