"""Attacks on the transport of `sandbox serve --self-signed`, over real TLS against a second running sandbox: a
client that offers only TLS 1.1 or older, and a session cookie that could travel over plain http. The certificate
the sandbox made is the one a client is told to trust, and the server negotiates TLS 1.2 or newer.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import warnings

import pytest
import requests

from sandbox.tls import self_signed_paths

HOST = "localhost"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tls_server(seeded_db, tmp_path_factory, start_sandbox):
    """`sandbox serve --self-signed` with no BASE_URL: it serves https://localhost:<port> with a certificate of its
    own. Yields (base URL, port, certificate path)."""
    db = tmp_path_factory.mktemp("tls") / "tls.sqlite"
    shutil.copy(seeded_db, db)
    port = free_port()
    cert, _ = self_signed_paths(str(db))
    base_url = f"https://{HOST}:{port}"
    with start_sandbox(db, port, "--self-signed", env={"SANDBOX_WORKERS": "1"}, health_url=f"{base_url}/healthz",
                       verify=str(cert)):
        yield base_url, port, cert


def handshake(port: int, context: ssl.SSLContext) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        return tls.version()


def test_the_sandbox_speaks_tls_1_2_or_newer_with_the_certificate_it_made(tls_server):
    base_url, port, cert = tls_server
    trusting = ssl.create_default_context(cafile=str(cert))  # verifies the chain and the host name
    assert handshake(port, trusting) in ("TLSv1.2", "TLSv1.3")
    at_most_1_2 = ssl.create_default_context(cafile=str(cert))
    at_most_1_2.maximum_version = ssl.TLSVersion.TLSv1_2
    assert handshake(port, at_most_1_2) == "TLSv1.2"
    metadata = requests.get(f"{base_url}/fhir/.well-known/smart-configuration", verify=str(cert), timeout=10).json()
    assert metadata["authorization_endpoint"] == f"{base_url}/auth/authorize"  # the base URL defaulted to https


def test_a_client_offering_only_tls_1_1_is_refused(tls_server):
    _, port, cert = tls_server
    old = ssl.create_default_context(cafile=str(cert))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # naming the old versions is deprecated, rightly
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that only the server's refusal can end the handshake
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS"):
        handshake(port, old)


def test_the_session_cookie_is_secure_over_https(tls_server):
    base_url, _, cert = tls_server
    login = requests.get(f"{base_url}/auth/login", verify=str(cert), timeout=10)
    cookie = login.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with pytest.raises(requests.ConnectionError):  # nothing is served over plain http on that port
        requests.get(f"http://{HOST}:{tls_server[1]}/auth/login", timeout=10)
