"""Settings are data: each one is documented in the README and read from SANDBOX_* variables."""

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from sandbox import settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_in_the_readme(setting):
    rows = [line for line in README.splitlines() if line.startswith("|") and f"`{setting.env_var}`" in line]
    assert rows, f"{setting.env_var} is missing from the README's settings table"
    assert f"`{setting.flag}`" in rows[0], f"the README row of {setting.env_var} does not show {setting.flag}"


def test_readme_documents_no_setting_that_does_not_exist():
    documented = set(re.findall(r"`SANDBOX_([A-Z_]+)`", README))
    assert documented <= set(settings.BY_NAME)


def test_defaults():
    values = settings.load(environ={})
    assert values["PORT"] == 8080
    assert values["PATIENTS"] == 100
    assert values["BASE_URL"] == "http://localhost:8080"
    assert values["ANCHOR_DATE"] == dt.date.today()


def test_environment_then_overrides():
    env = {"SANDBOX_PORT": "9000", "SANDBOX_ANCHOR_DATE": "2024-02-29", "SANDBOX_PATIENTS": "3"}
    values = settings.load(environ=env)
    assert values["PORT"] == 9000
    assert values["BASE_URL"] == "http://localhost:9000"
    assert values["ANCHOR_DATE"] == dt.date(2024, 2, 29)
    assert settings.load({"PATIENTS": "12"}, environ=env)["PATIENTS"] == 12


def test_base_url_loses_its_trailing_slash():
    assert settings.load(environ={"SANDBOX_BASE_URL": "https://ehr.example.org/"})["BASE_URL"] == \
        "https://ehr.example.org"


def test_a_bad_value_names_the_variable():
    with pytest.raises(settings.SettingError, match="SANDBOX_PORT"):
        settings.load(environ={"SANDBOX_PORT": "eighty"})


def test_tls_makes_the_default_base_url_https_and_refuses_an_http_one():
    tls = {"SANDBOX_TLS_CERT": "cert.pem", "SANDBOX_TLS_KEY": "key.pem", "SANDBOX_PORT": "8443"}
    assert settings.load(environ=tls)["BASE_URL"] == "https://localhost:8443"
    with pytest.raises(settings.SettingError, match="SANDBOX_BASE_URL is http://ehr.example.org"):
        settings.load(environ={**tls, "SANDBOX_BASE_URL": "http://ehr.example.org"})
    with pytest.raises(settings.SettingError, match="go together"):
        settings.load(environ={"SANDBOX_TLS_CERT": "cert.pem"})


def test_self_signed_serving_refuses_an_http_base_url_and_a_certificate_of_its_own(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sandbox.cli import main

    for name in [k for k in os.environ if k.startswith("SANDBOX_")]:
        monkeypatch.delenv(name)
    db = str(tmp_path / "x.sqlite")
    http = CliRunner().invoke(main, ["--db", db, "--base-url", "http://localhost:9000", "serve", "--self-signed"])
    assert http.exit_code == 2 and "SANDBOX_BASE_URL is http://localhost:9000" in http.output
    both = CliRunner().invoke(main, ["--db", db, "--tls-cert", "c.pem", "--tls-key", "k.pem", "serve",
                                     "--self-signed"])
    assert both.exit_code == 2 and "leave SANDBOX_TLS_CERT and SANDBOX_TLS_KEY unset" in both.output
    assert not (tmp_path / "tls").exists() and not (tmp_path / "x.sqlite").exists()  # nothing made, nothing seeded
