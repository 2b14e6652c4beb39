"""Shared fixtures: an app on a fresh database, a seeded database, and a live server over real HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from sandbox.app import create_app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
ANCHOR_DATE = "2026-06-01"
TEST_SEED = 7
TEST_PATIENTS = 5


# Shared fixtures kept beside the tests: the signed-in clinician of the EHR tests, and Chromium for browser tests.
pytest_plugins = ["ehr_support", "browser"]

FULL_ACCESS = "system/*.cruds"


def issue_token(store, scope: str = FULL_ACCESS, client_id: str = "test-client", user_id: str | None = None,
                lifetime: int = 3600, **context) -> str:
    """An access token stored as the token endpoint would store it (for tests of the FHIR API itself)."""
    from sandbox.auth import ensure_schema
    from sandbox.auth.tokens import issue, new_family_id

    ensure_schema(store)
    return issue(store, family_id=new_family_id(), client_id=client_id, scope=scope, access_lifetime=lifetime,
                 user_id=user_id, context=context).access_token


class FhirTestClient(FlaskClient):
    """A test client that presents a full-access bearer token on FHIR requests, as a backend service
    would, unless the test sets its own Authorization header (an empty one sends none)."""

    def open(self, *args, **kwargs):
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "")
        headers = dict(kwargs.pop("headers", None) or {})
        if urlsplit(path).path.startswith("/fhir") and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.application.config['TEST_FHIR_TOKEN']}"
        elif headers.get("Authorization") == "":
            del headers["Authorization"]
        return super().open(*args, headers=headers, **kwargs)


def with_test_token(app):
    """Give the app's test clients a full-access token on FHIR requests (FhirTestClient)."""
    app.config["TEST_FHIR_TOKEN"] = issue_token(app.extensions["store"])
    app.test_client_class = FhirTestClient
    return app


@pytest.fixture
def app(request, tmp_path):
    """An app on a fresh database; in a module marked `seeded`, the app on a copy of the seeded database (so its
    `client` and `store` are the seeded ones too)."""
    if request.node.get_closest_marker("seeded"):
        yield request.getfixturevalue("seeded_app")
        return
    yield with_test_token(create_app({"DB": str(tmp_path / "test.sqlite"), "BASE_URL": "http://localhost",
                               "ANCHOR_DATE": ANCHOR_DATE, "TESTING": True}))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["store"]


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> Path:
    """A database seeded once per test session (seed 7, 5 random patients plus the story patients)."""
    from sandbox import bootstrap
    from sandbox.settings import load
    from sandbox.store import Store

    path = tmp_path_factory.mktemp("seeded") / "seeded.sqlite"
    values = load({"DB": str(path), "SEED": TEST_SEED, "PATIENTS": TEST_PATIENTS, "ANCHOR_DATE": ANCHOR_DATE})
    store = Store(str(path))
    bootstrap.seed_database(store, values["SEED"], values["PATIENTS"], values["ANCHOR_DATE"])
    bootstrap.seed_directory(store, "http://localhost")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # copies of the file must hold everything
    return path


@pytest.fixture
def seeded_app(seeded_db, tmp_path):
    """An app on a private copy of the seeded database, so tests may write."""
    copy = tmp_path / "seeded.sqlite"
    shutil.copy(seeded_db, copy)
    return with_test_token(create_app({"DB": str(copy), "BASE_URL": "http://localhost", "ANCHOR_DATE": ANCHOR_DATE,
                                "TESTING": True}))


@pytest.fixture
def seeded_client(seeded_app):
    return seeded_app.test_client()


class LiveServer(str):
    """The live server's base URL, which also knows its database file."""

    def __new__(cls, base_url: str, db: Path):
        server = super().__new__(cls, base_url)
        server.db = db
        return server

    def token(self, scope: str = FULL_ACCESS, **kwargs) -> str:
        from sandbox.store import Store

        return issue_token(Store(str(self.db)), scope, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_serving(db: Path, port: int, *flags: str, env: dict[str, str], health_url: str,
                    verify: bool | str = True):
    """The real `sandbox serve` (gunicorn) on ``db`` and ``port`` for the length of the block: started with the
    ``SANDBOX_*`` variables of ``env`` and the serve ``flags``, ready once ``health_url`` answers, then stopped."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}, "SANDBOX_DB": str(db),
           "SANDBOX_PORT": str(port), "SANDBOX_ANCHOR_DATE": ANCHOR_DATE, **env}
    log = open(db.with_suffix(".log"), "w")  # noqa: SIM115 - closed after the server stops
    process = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "serve", *flags], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(health_url, timeout=1, verify=verify).ok:
                    break
            except OSError:  # workers still booting, or (https) the certificate to verify with not made yet
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox serve did not start; see {log.name}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def serving_on_a_free_port(db: Path, settings=None, workers: int = 2):
    """`sandbox serve` on ``db`` at a free loopback port; yields (base URL, the server process). ``settings`` are
    more ``SANDBOX_*`` variables, or a function of the base URL giving them."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    more = settings(base_url) if callable(settings) else (settings or {})
    env = {"SANDBOX_BASE_URL": base_url, "SANDBOX_WORKERS": str(workers), **more}
    with sandbox_serving(db, port, env=env, health_url=f"{base_url}/healthz") as process:
        yield base_url, process


def seeded_copy(seeded_db: Path, tmp_path_factory, name: str) -> Path:
    db = tmp_path_factory.mktemp(name) / f"{name}.sqlite"
    shutil.copy(seeded_db, db)
    return db


@pytest.fixture(scope="session")
def live_server(seeded_db, tmp_path_factory):
    """The real `sandbox serve` (gunicorn, two workers) on a copy of the seeded database."""
    db = seeded_copy(seeded_db, tmp_path_factory, "live")
    with serving_on_a_free_port(db) as (base_url, _):
        yield LiveServer(base_url, db)


@pytest.fixture(scope="session")
def start_sandbox():
    """`sandbox_serving`, for tests that need a sandbox of their own beside live_server (other settings, flags)."""
    return sandbox_serving
