"""Keys (generate, store, load) and identities (keyring, validity windows, revocation)."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
import yaml
from helpers.gitrepo import init_repo

from ftpolicy.cli.main import main
from ftpolicy.errors import FtpolicyError, ManifestError, UsageError
from ftpolicy.identities import load_keyring, parse_time
from ftpolicy.keys import PrivateKeyInRepoError, generate_key, load_public_key, load_signer


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gov"
    init_repo(root)
    (root / "ftpolicy.yaml").write_text("schema_version: 1\nkind: config\nproject: keys-test\n")
    return root


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def test_generate_writes_private_0600_outside_and_public_inside(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys"
    code = run(["keys", "generate", "--name", "alice", "--out", str(out), "--repo", str(repo)])
    text = capsys.readouterr().out
    assert code == 0
    private = out / "alice.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    public = repo / "identities/keys/alice.pub"
    key = load_public_key(public)
    assert key.scheme == "ecdsa-sha2-nistp256"
    assert f"keyid:       {key.keyid}" in text
    assert load_signer(private, repo=repo).public_key.keyid == key.keyid
    snippet = text[text.index("schema_version") :]
    assert yaml.safe_load(snippet)["keys"][0]["keyid"] == key.keyid  # a ready-to-use identity file


def test_generate_with_identity_creates_then_updates_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys"
    base = ["keys", "generate", "--out", str(out), "--repo", str(repo), "--identity", "alice"]
    assert run([*base, "--name", "alice", "--team", "data-review"]) == 0
    assert run([*base, "--name", "alice-2", "--team", "security", "--type", "ed25519"]) == 0
    capsys.readouterr()
    doc = yaml.safe_load((repo / "identities/alice.yaml").read_text())
    assert doc["teams"] == ["data-review", "security"]
    assert [k["scheme"] for k in doc["keys"]] == ["ecdsa-sha2-nistp256", "ed25519"]
    ring = load_keyring(repo)
    assert {r.identity for r in ring.keys.values()} == {"alice"}
    assert ring.team_members("security") == ["alice"]
    assert run(["validate", "--repo", str(repo)]) == 0


def test_generate_refuses_private_key_inside_the_repo(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["keys", "generate", "--name", "x", "--out", str(repo / "secrets"), "--repo", str(repo)])
    assert code != 0
    assert "refusing to write a private key inside the governed repository" in capsys.readouterr().err
    assert not (repo / "secrets").exists()


def test_generate_refuses_inside_the_git_work_tree_above_the_repo(tmp_path: Path) -> None:
    top = tmp_path / "mono"
    init_repo(top)
    (top / "ml").mkdir()
    (top / "ml/ftpolicy.yaml").write_text("schema_version: 1\nkind: config\nproject: mono\n")
    with pytest.raises(PrivateKeyInRepoError):
        generate_key("x", top / "other-folder", repo=top / "ml")


def test_generate_never_overwrites(repo: Path, tmp_path: Path) -> None:
    generate_key("bob", tmp_path / "k", repo=repo)
    with pytest.raises(UsageError, match="already exists"):
        generate_key("bob", tmp_path / "k2", repo=repo)


def test_load_signer_refuses_keys_inside_the_repo_and_readable_by_others(repo: Path, tmp_path: Path) -> None:
    gen = generate_key("carol", tmp_path / "k", repo=repo)
    inside = repo / "carol.pem"
    inside.write_bytes(gen.private_path.read_bytes())
    inside.chmod(0o600)
    with pytest.raises(PrivateKeyInRepoError):
        load_signer(inside, repo=repo)
    gen.private_path.chmod(0o644)
    with pytest.raises(FtpolicyError, match="readable by other users"):
        load_signer(gen.private_path, repo=repo)


def test_keyid_is_the_in_toto_keyid(repo: Path, tmp_path: Path) -> None:
    """The keyid is securesystemslib's: sha256 over the canonical {keytype, scheme, keyval}."""
    import hashlib

    from securesystemslib.formats import encode_canonical

    gen = generate_key("dan", tmp_path / "k", repo=repo)
    data = load_public_key(repo / "identities/keys/dan.pub").to_dict()
    canonical = encode_canonical(data).encode()
    assert hashlib.sha256(canonical).hexdigest() == gen.keyid


def _identity(repo: Path, tmp_path: Path, **fields: str) -> str:
    gen = generate_key("erin", tmp_path / "k", repo=repo)
    entry = {"keyid": gen.keyid, "public_key": "identities/keys/erin.pub", "scheme": gen.scheme, **fields}
    doc = {"schema_version": 1, "kind": "identity", "name": "erin", "type": "person", "teams": ["security"]}
    doc["keys"] = [entry]  # type: ignore[assignment]
    (repo / "identities/erin.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return gen.keyid


def test_key_validity_window_and_revocation(repo: Path, tmp_path: Path) -> None:
    keyid = _identity(
        repo,
        tmp_path,
        valid_from="2026-01-01T00:00:00Z",
        valid_until="2026-12-31T00:00:00Z",
        revoked_at="2026-06-01T12:00:00Z",
    )
    ring = load_keyring(repo)

    def at(text: str) -> tuple[bool, str | None]:
        status = ring.key_valid_at(keyid, parse_time(text))
        return status.ok, status.reason

    assert at("2025-12-31T23:59:59Z") == (False, "key-not-yet-valid")
    assert at("2026-03-01T00:00:00Z") == (True, None)
    assert at("2026-06-01T11:59:59Z") == (True, None)  # signed before the revocation: still counts
    assert at("2026-06-01T12:00:00Z") == (False, "key-revoked")
    assert at("2027-01-01T00:00:00Z") == (False, "key-revoked")
    assert ring.key_valid_at("0" * 64, dt.datetime.now(dt.UTC)).reason == "key-unknown"
    assert ring.team_keys("security", at=parse_time("2026-07-01T00:00:00Z")) == []


def test_keyid_that_does_not_match_the_public_key_is_rejected(repo: Path, tmp_path: Path) -> None:
    _identity(repo, tmp_path)
    path = repo / "identities/erin.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["keys"][0]["keyid"] = "a" * 64
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ManifestError, match="does not match the public key") as exc:
        load_keyring(repo)
    assert exc.value.location is not None and exc.value.location.path == "identities/erin.yaml"
    assert exc.value.location.line == 8


def test_same_key_in_two_identities_is_rejected(repo: Path, tmp_path: Path) -> None:
    _identity(repo, tmp_path)
    doc = yaml.safe_load((repo / "identities/erin.yaml").read_text())
    doc["name"] = "mallory"
    (repo / "identities/mallory.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ManifestError, match="listed by both"):
        load_keyring(repo)


def test_generate_outside_a_repository_prints_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside any repository only the private key is written and the public PEM is printed."""
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = run(["keys", "generate", "--name", "solo", "--out", str(tmp_path / "k")])
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert code == 0
    assert "-----BEGIN PUBLIC KEY-----" in out
    assert (tmp_path / "k" / "solo.pem").is_file()
