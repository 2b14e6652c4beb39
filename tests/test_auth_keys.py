"""The server's signing keys: generated once, shared by every worker, published as a JWKS, rotated."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from sandbox.auth.cli import keys as keys_cli
from sandbox.auth.keys import KEEP_PREVIOUS, PUBLIC_MEMBERS, InvalidToken, SigningKeys
from sandbox.settings import load
from sandbox.store import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def signing(store):
    return SigningKeys(store)


def test_the_jwks_publishes_one_rs256_signing_key_named_by_its_thumbprint(signing):
    published = signing.jwks()["keys"]
    assert len(published) == 1
    jwk = published[0]
    assert set(jwk) == {"kty", "kid", "use", "alg", "n", "e"}
    assert (jwk["kty"], jwk["use"], jwk["alg"]) == ("RSA", "sig", "RS256")
    assert jwk["kid"] == RSAKey.import_key(jwk).thumbprint()  # RFC 7638
    assert RSAKey.import_key(jwk).is_private is False


def test_the_key_is_generated_once_and_kept_in_the_database(store, signing):
    kid = signing.current_kid()
    assert SigningKeys(store).current_kid() == kid
    assert store.conn.execute("SELECT count(*) FROM signing_keys").fetchone()[0] == 1


def test_another_process_on_the_same_file_signs_with_the_same_key(store, signing):
    """Every worker process must sign with the one key, so any of them can verify what another issued."""
    kid = signing.current_kid()
    script = (
        "import sys\n"
        "from sandbox.store import Store\n"
        "from sandbox.auth.keys import SigningKeys\n"
        "print(SigningKeys(Store(sys.argv[1])).sign({'sub': 'worker-2'}))\n"
    )
    token = subprocess.run([sys.executable, "-c", script, store.path], capture_output=True, text=True, check=True,
                           cwd=ROOT).stdout.strip()
    assert jwt.decode(token, KeySet.import_key_set(signing.jwks())).header["kid"] == kid
    assert signing.verify(token) == {"sub": "worker-2"}


def test_workers_starting_together_agree_on_one_key(tmp_path):
    """Two threads (each with its own connection) race to create the first key; one key wins."""
    path = str(tmp_path / "race.sqlite")
    from sandbox.auth import ensure_schema

    ensure_schema(Store(path))
    kids: list[str] = []
    threads = [threading.Thread(target=lambda: kids.append(SigningKeys(Store(path)).current_kid()))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kids)) == 1
    assert Store(path).conn.execute("SELECT count(*) FROM signing_keys").fetchone()[0] == 1


def test_signed_tokens_carry_kid_alg_typ_and_verify_against_the_published_jwks(signing):
    token = signing.sign({"iss": "http://localhost/fhir", "sub": "alice", "aud": "demo-app"})
    decoded = jwt.decode(token, KeySet.import_key_set(signing.jwks()), algorithms=["RS256"])
    assert decoded.header == {"alg": "RS256", "kid": signing.current_kid(), "typ": "JWT"}
    assert decoded.claims == {"iss": "http://localhost/fhir", "sub": "alice", "aud": "demo-app"}


def test_rotation_keeps_the_previous_public_key_published(store, signing):
    old_kid = signing.current_kid()
    old_token = signing.sign({"sub": "before"})
    new_kid = signing.rotate()
    assert new_kid != old_kid
    assert [k["kid"] for k in signing.jwks()["keys"]] == [new_kid, old_kid]
    assert signing.verify(old_token) == {"sub": "before"}
    assert jwt.decode(signing.sign({"sub": "after"}), KeySet.import_key_set(signing.jwks())).header["kid"] == new_kid
    retired = store.conn.execute("SELECT private_jwk FROM signing_keys WHERE kid = ?", (old_kid,)).fetchone()
    assert retired == (None,)  # a retired key keeps no private part


def test_rotation_prunes_keys_beyond_the_previous_ones_kept(signing):
    kids = [signing.current_kid()] + [signing.rotate() for _ in range(KEEP_PREVIOUS + 1)]
    assert [k["kid"] for k in signing.jwks()["keys"]] == kids[::-1][:KEEP_PREVIOUS + 1]


def test_no_private_member_is_ever_published(signing):
    signing.rotate()
    for jwk in signing.jwks()["keys"]:
        assert set(jwk) <= set(PUBLIC_MEMBERS)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_verify_refuses_a_token_signed_by_another_key(signing):
    stranger = RSAKey.generate_key(2048, private=True)
    stranger.ensure_kid()
    token = jwt.encode({"alg": "RS256", "kid": stranger.kid}, {"sub": "mallory"}, stranger)
    with pytest.raises(InvalidToken):
        signing.verify(token)


def test_verify_refuses_a_tampered_token(signing):
    header, _, signature = signing.sign({"sub": "alice"}).split(".")
    forged_claims = base64.urlsafe_b64encode(b'{"sub":"admin"}').rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        signing.verify(f"{header}.{forged_claims}.{signature}")


def test_verify_refuses_an_expired_token(signing):
    token = signing.sign({"sub": "alice", "exp": int(time.time()) - 60})
    with pytest.raises(InvalidToken):
        signing.verify(token)


def test_the_private_key_cache_follows_a_rotation_made_elsewhere(store, signing):
    before = jwt.decode(signing.sign({"sub": "warm the cache"}), KeySet.import_key_set(signing.jwks())).header["kid"]
    SigningKeys(store).rotate()  # as another process would
    token = signing.sign({"sub": "x"})
    after = jwt.decode(token, KeySet.import_key_set(signing.jwks())).header["kid"]
    assert after == signing.current_kid() != before


def test_the_jwks_endpoint_serves_the_public_keys(client, store):
    response = client.get("/auth/jwks")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json == SigningKeys(store).jwks()


def test_cli_shows_and_rotates_keys(tmp_path):
    values = load({"DB": str(tmp_path / "cli.sqlite")}, environ={})
    runner = CliRunner()
    shown = runner.invoke(keys_cli, ["show"], obj=values)
    assert shown.exit_code == 0, shown.output
    first_kid = json.loads(shown.output)["keys"][0]["kid"]
    rotated = runner.invoke(keys_cli, ["rotate"], obj=values)
    assert rotated.exit_code == 0, rotated.output
    new_kid = SigningKeys(Store(values["DB"])).current_kid()
    assert rotated.output == f"New signing key {new_kid}; previous public keys stay in the JWKS.\n"
    assert [k["kid"] for k in json.loads(runner.invoke(keys_cli, ["show"], obj=values).output)["keys"]] == \
        [new_kid, first_kid]
