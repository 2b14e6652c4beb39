"""Every setting of the sandbox, as data.

Each setting is read, in order of precedence, from an explicit config mapping (tests, CLI flags),
then the environment variable ``SANDBOX_<NAME>``, then its default. The README documents each one;
``tests/test_settings.py`` fails when a setting is missing there.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class SettingError(ValueError):
    """A setting has a value that cannot be used."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_colour(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
        raise ValueError(f"expected a colour as #RRGGBB, got {raw!r}")
    return value


def _parse_date(raw: str) -> dt.date:
    return dt.date.fromisoformat(raw.strip())


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env_var(self) -> str:
        return f"SANDBOX_{self.name}"

    @property
    def flag(self) -> str:
        return "--" + self.name.lower().replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("HOST", "127.0.0.1", "Interface the server listens on."),
    Setting("PORT", 8080, "TCP port the server listens on.", int),
    Setting("BASE_URL", None, "The one public address of the sandbox; every URL it hands out is built from it. "
            "Default `http://localhost:<PORT>`, or https when the sandbox serves TLS."),
    Setting("TLS_CERT", None, "PEM file of the certificate (and chain) `sandbox serve` presents: it then serves "
            "https only, TLS 1.2 or newer. Needs TLS_KEY and an https BASE_URL."),
    Setting("TLS_KEY", None, "PEM file of the private key of TLS_CERT."),
    Setting("DB", "var/sandbox.sqlite", "Path of the SQLite file that holds everything."),
    Setting("SEED", 42, "Random seed of the synthetic data: the same seed gives the same patients.", int),
    Setting("PATIENTS", 100, "How many random patients to generate, besides the hand-crafted story patients.", int),
    Setting("ANCHOR_DATE", None, "The 'today' that generated dates are relative to (YYYY-MM-DD). Default: the "
            "real today.", _parse_date),
    Setting("WORKERS", 2, "Worker processes of the production server started by `sandbox serve`.", int),
    Setting("PAGE_SIZE", 20, "Default number of entries per page of a FHIR search.", int),
    Setting("MAX_PAGE_SIZE", 1000, "Largest `_count` a FHIR search accepts; larger values are reduced.", int),
    Setting("ADMIN_TOKEN", None, "Bearer token that callers on other machines need for admin endpoints (dynamic "
            "registration, headless launches); loopback callers need none. Default: a random token kept in the "
            "database; `sandbox admin-token` prints it."),
    Setting("OPEN_READ", False, "Serve FHIR reads and searches without an access token, for exploring the data "
            "(writes still need one). Off by default; the UI says so when it is on.", _parse_bool),
    Setting("SIGN_IN_PASSWORD", None, "When set, signing in needs a password: the user's own if `sandbox users "
            "password` gave them one, else this one. Default: none, so sample users sign in with one click."),
    Setting("BRAND_NAME", "SMART Sandbox EHR", "Product name shown in the EHR, the portal and the sign-in pages "
            "(for demos)."),
    Setting("BRAND_ACCENT", "#1D4E89", "Accent colour (links, primary buttons, focus ring) of the pages and of "
            "`smart_style_url`, as #RRGGBB.", _parse_colour),
    Setting("BRAND_LOGO_URL", None, "URL of a logo shown beside the product name. Default: none."),
    Setting("BRAND_BADGE", "SANDBOX · synthetic data", "The badge beside the product name; empty hides it."),
    Setting("BRAND_SIGN_IN", "Sandbox sign-in: no password needed.", "The first sentence of the sign-in pages."),
    Setting("HIDE_IDS", False, "Customer-demo mode: the EHR's pages hide developer ids (app client ids, the launch "
            "context chips of running apps and the status bar of references); the APIs are unchanged.",
            _parse_bool),
    Setting("CODE_LIFETIME", 60, "Seconds an authorization code stays redeemable.", int),
    Setting("LAUNCH_LIFETIME", 300, "Seconds an EHR launch context stays usable by its app.", int),
    Setting("ACCESS_TOKEN_LIFETIME", 3600, "Seconds an access token lives (`expires_in`).", int),
    Setting("BACKEND_TOKEN_LIFETIME", 300, "Seconds an access token of a backend service (client_credentials) "
            "lives; at most 300.", int),
    Setting("OFFLINE_LIFETIME", 90 * 24 * 3600, "Seconds an offline_access refresh token family lives.", int),
    Setting("SESSION_LIFETIME", 8 * 3600, "Seconds a user's sign-in lasts; online_access refresh tokens end "
            "with it.", int),
    Setting("ASSERTION_MAX_LIFETIME", 300, "Furthest ahead, in seconds, a client assertion's `exp` may be "
            "(private_key_jwt).", int),
    Setting("CLOCK_LEEWAY", 60, "Seconds of clock skew allowed when checking client assertions.", int),
    Setting("RATE_LIMIT_FAILURES", 50, "Failed client authentications, or failed sign-ins, from one address "
            "within RATE_LIMIT_WINDOW before further attempts of that kind from there get 429.", int),
    Setting("RATE_LIMIT_WINDOW", 300, "Seconds over which failures are counted for rate limiting.", int),
    Setting("BULK_RETENTION", 3600, "Seconds the files of a finished bulk export (`$export`) are kept; then they "
            "are removed and the status URL answers 404.", int),
    Setting("BULK_MAX_JOBS", 2, "Bulk exports one client may have waiting or running at once; a further kick-off "
            "gets 429 with Retry-After.", int),
    Setting("BULK_BATCH_SIZE", 1000, "Resources a bulk export reads from the database per batch; memory stays flat "
            "whatever the size of the export.", int),
    Setting("BULK_BATCH_PAUSE", 0, "Milliseconds a bulk export pauses between batches, leaving the database to "
            "interactive requests on a busy sandbox.", int),
    Setting("BULK_LEASE", 30, "Seconds a worker holds a running bulk export without renewing its claim; when a "
            "worker dies, another one resumes the export after this long.", int),
    Setting("RETENTION", 7 * 24 * 3600, "Seconds the authorization server keeps what is done with: audit events "
            "(the activity trail) older than this, and tokens, codes, launches, pending authorizations and sign-ins "
            "expired longer than this, are deleted in the background. Default: a week.", int),
    Setting("PRUNE_EVERY", 300, "Seconds between two background prunings in each server worker (0: never prune).",
            int),
    Setting("MAX_BODY_BYTES", 50 * 1024 * 1024, "Largest request body accepted, in bytes; larger ones get 413. The "
            "default takes a large Synthea patient bundle in one transaction.", int),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Resolve every setting: explicit overrides, then ``SANDBOX_*`` environment variables, then defaults."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if overrides.get(setting.name) is not None:
            value = overrides.pop(setting.name)
            if isinstance(value, str) and setting.parse is not str:
                value = _parse(setting, value)
        elif environ.get(setting.env_var, "") != "":
            value = _parse(setting, environ[setting.env_var])
        else:
            value = setting.default
        values[setting.name] = value
    if values["BASE_URL"] is None:
        values["BASE_URL"] = f"{'https' if values['TLS_CERT'] else 'http'}://localhost:{values['PORT']}"
    values["BASE_URL"] = values["BASE_URL"].rstrip("/")
    _check_tls(values)
    if values["ANCHOR_DATE"] is None:
        values["ANCHOR_DATE"] = dt.date.today()
    values.update({k: v for k, v in overrides.items() if v is not None})  # extra keys (tests, Flask)
    return values


def _check_tls(values: Mapping[str, Any]) -> None:
    """TLS_CERT and TLS_KEY come together, and a sandbox serving https hands out https URLs only."""
    if bool(values["TLS_CERT"]) != bool(values["TLS_KEY"]):
        raise SettingError("SANDBOX_TLS_CERT and SANDBOX_TLS_KEY go together: set both (or neither)")
    if values["TLS_CERT"] and not values["BASE_URL"].startswith("https://"):
        raise SettingError(f"The sandbox serves https (SANDBOX_TLS_CERT is set) but SANDBOX_BASE_URL is "
                           f"{values['BASE_URL']}: make it https://…, or leave it unset for https://localhost:<PORT>")


def _parse(setting: Setting, raw: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise SettingError(f"{setting.env_var}: {exc}") from None
