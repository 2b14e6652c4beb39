"""The production server as `sandbox serve` runs it."""

from __future__ import annotations

import shutil

import requests
from conftest import free_port


def test_a_second_sandbox_runs_beside_the_first_without_a_control_socket(live_server, start_sandbox, seeded_db,
                                                                         tmp_path):
    home = tmp_path / "home"  # gunicorn's control socket would default to ~/.gunicorn/gunicorn.ctl, one per user
    home.mkdir()
    db = tmp_path / "second.sqlite"
    shutil.copy(seeded_db, db)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with start_sandbox(db, port, env={"HOME": str(home), "SANDBOX_BASE_URL": base_url, "SANDBOX_WORKERS": "1"},
                       health_url=f"{base_url}/healthz"):
        assert requests.get(f"{live_server}/healthz", timeout=5).ok
    assert not (home / ".gunicorn").exists()
