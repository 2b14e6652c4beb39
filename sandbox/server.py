"""The production WSGI server: gunicorn with several worker processes sharing one SQLite file, serving https
(tls.py) when TLS_CERT and TLS_KEY are set."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from .tls import server_context


class _Gunicorn(BaseApplication):
    def __init__(self, values: dict):
        self.values = values
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.values['HOST']}:{self.values['PORT']}")
        self.cfg.set("workers", self.values["WORKERS"])
        self.cfg.set("worker_class", "gthread")
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
        # Each worker builds its own app after the fork: no connection or state crosses processes.
        from .app import create_app

        return create_app(self.values)


def run(values: dict) -> None:
    _Gunicorn(values).run()
