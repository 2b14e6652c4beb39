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


def test_a_connection_is_answered_while_others_keep_every_thread_busy(start_sandbox, seeded_db, tmp_path):
    """A thread serves its kept-alive connection's next request itself only while no other connection waits:
    four clients keeping requests queued on a one-worker sandbox (four threads) must not shut out a fifth."""
    import http.client
    import socket
    import threading

    db = tmp_path / "busy.sqlite"
    shutil.copy(seeded_db, db)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    answered = [0] * 4

    def hammer(index: int) -> None:
        # two requests in flight (pipelined): whenever a response is written, the next request is waiting
        request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock, sock.makefile("rb") as reader:
            sock.sendall(request * 2)
            while not stop.is_set():
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                reader.read(length)
                answered[index] += 1
                sock.sendall(request)

    with start_sandbox(db, port, env={"SANDBOX_BASE_URL": base_url, "SANDBOX_WORKERS": "1"},
                       health_url=f"{base_url}/healthz"):
        clients = [threading.Thread(target=hammer, args=(index,)) for index in range(4)]
        for client in clients:
            client.start()
        try:
            while min(answered) < 50:  # every thread of the worker now holds a busy connection
                stop.wait(0.01)
            before = list(answered)
            fifth = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            fifth.request("GET", "/healthz")
            response = fifth.getresponse()
            assert response.status == 200 and response.read()
            fifth.close()
            served_meanwhile = [after - then for after, then in zip(answered, before, strict=True)]
        finally:
            stop.set()
            for client in clients:
                client.join()
        # its turn came after a few of theirs, not after they had been served thousands of times
        assert max(served_meanwhile) < 300, served_meanwhile


def test_the_access_log_has_one_line_per_request_in_gunicorns_format(start_sandbox, seeded_db, tmp_path):
    """The line gunicorn writes by default (address, time, request line, status, size, referrer, user agent), with
    a quote inside a field escaped so the line still splits into its fields."""
    import re

    db = tmp_path / "logged.sqlite"
    shutil.copy(seeded_db, db)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with start_sandbox(db, port, env={"SANDBOX_BASE_URL": base_url, "SANDBOX_WORKERS": "1"},
                       health_url=f"{base_url}/healthz"):
        answer = requests.get(f"{base_url}/fhir/metadata?_summary=true", timeout=10,
                              headers={"Referer": "http://app.example/launch", "User-Agent": 'demo "quoted" 1.0'})
        assert answer.ok
        requests.get(f"{base_url}/no/such/page", timeout=10)
    lines = db.with_suffix(".log").read_text().splitlines()
    metadata = [line for line in lines if '"GET /fhir/metadata?_summary=true HTTP/1.1"' in line]
    assert len(metadata) == 1, lines
    assert re.fullmatch(r'127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] '
                        r'"GET /fhir/metadata\?_summary=true HTTP/1\.1" 200 (\d+) "http://app\.example/launch" '
                        r'"demo \\"quoted\\" 1\.0"', metadata[0]), metadata[0]
    assert int(metadata[0].split('" 200 ')[1].split()[0]) == len(answer.content)
    assert any('"GET /no/such/page HTTP/1.1" 404 ' in line for line in lines), lines
