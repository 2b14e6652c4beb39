"""HTTPS for `sandbox serve`: TLS 1.2 or newer (RFC 9325 §3.1.1: TLS 1.0 and 1.1 MUST NOT be negotiated), with the
certificate and key of the TLS_CERT and TLS_KEY settings, or a self-signed certificate made for the host of
BASE_URL (`sandbox serve --self-signed`).

The self-signed certificate and its key are kept in `tls/` beside the database and reused while they name the
same host and have more than RENEW_BEFORE left; a browser or client that is told to trust the file once keeps
trusting it across restarts. They are for a machine of one's own: the private key never leaves it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
VALID_FOR = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)


def server_context(config, default_context_factory) -> ssl.SSLContext:
    """gunicorn's ssl_context hook: its context (certificate, key) with TLS 1.2 as the oldest version spoken."""
    context = default_context_factory()
    context.minimum_version = MINIMUM_VERSION
    return context


def self_signed_paths(db: str) -> tuple[Path, Path]:
    """Where `--self-signed` keeps its certificate and key: `tls/` beside the database."""
    folder = Path(db).resolve().parent / "tls"
    return folder / "self-signed-cert.pem", folder / "self-signed-key.pem"


def ensure_self_signed(db: str, host: str) -> tuple[Path, Path]:
    """The self-signed certificate and key for ``host``: the ones made earlier while they still fit, else new."""
    cert_path, key_path = self_signed_paths(db)
    if not _still_fits(cert_path, key_path, host):
        _make(cert_path, key_path, host)
    return cert_path, key_path


def _still_fits(cert_path: Path, key_path: Path, host: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return (_alt_name(host) in names and left > RENEW_BEFORE
            and cert.public_key().public_numbers() == key.public_key().public_numbers())


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _make(cert_path: Path, key_path: Path, host: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
            .add_extension(x509.SubjectAlternativeName([_alt_name(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the key: its owner's alone
    with os.fdopen(descriptor, "wb") as file:
        file.write(key_bytes)
    os.chmod(key_path, 0o600)  # also when an older key file was there with other permissions
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
