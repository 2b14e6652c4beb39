"""Settings are data: each one is documented in the README and read from SANDBOX_* variables."""

import datetime as dt
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
