"""``audit log``: registry events from history, cross-checked against Git (tampering exits 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers.gitrepo import ScratchRepo

from audit.conftest import History, run_cli
from ftpolicy.audit.log import audit_log
from ftpolicy.registry.ops import revoke


def _clone(history: History, dst: Path) -> ScratchRepo:
    subprocess.run(["git", "clone", "-q", str(history.root), str(dst)], check=True)
    return ScratchRepo(dst, clock=int(history.repo.clock) + 600)


def test_events_with_commits_before_tampering(history: History) -> None:
    log = audit_log(history.root, history.c["key-revoked"])
    assert log.ok and log.tampering == []
    got = [(e["action"], e["version"], e["channel"], e["by"], e["commit"]) for e in log.events]
    c = history.c
    assert got == [
        ("promote", "1.0", "staging", "paul", c["promoted-staging"]),
        ("promote", "1.0", "production", "paul", c["promoted-production"]),
        ("promote", "1.1", "staging", "paul", c["promoted-1.1"]),
        ("rollback", "1.0", "staging", "paul", c["rollback"]),
    ]
    production = log.events[1]
    assert production["attestation"].startswith("attestations/adapter/bot/1.0/promote.")
    assert production["attestation"] in production["links"]
    assert production["commit_signed"] is False and production["commit_signature"] == "none"
    assert production["recorded_head"] == c["promoted-staging"]  # HEAD when the promote ran


def test_rewritten_attestation_is_tampering(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    log = audit_log(history.root)
    [t] = log.tampering
    assert (t.code, t.commit) == ("attestation-rewritten", history.c["forged"])
    assert t.path.startswith("attestations/adapter/bot/1.0/train.")
    code, out, _ = run_cli(capsys, "audit", "log", "--repo", str(history.root))
    assert code == 1 and "TAMPER attestation-rewritten" in out


def test_deleted_registry_entry_is_tampering(history: History, tmp_path: Path) -> None:
    repo = _clone(history, tmp_path / "clone")
    path = repo.path / "registry/bot.yaml"
    doc = yaml.safe_load(path.read_text())
    del doc["history"][1]  # the production promotion disappears
    bad = repo.commit("tidy registry", {"registry/bot.yaml": yaml.safe_dump(doc, sort_keys=False)})
    log = audit_log(tmp_path / "clone", adapter="bot")
    rewritten = [t for t in log.tampering if t.code == "registry-history-rewritten"]
    assert [(t.commit, t.path) for t in rewritten] == [(bad, "registry/bot.yaml")]
    assert "seq 2" in rewritten[0].message
    assert not log.ok


def test_since_and_adapter_filters(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_log(history.root, history.c["rollback"], since="2999-01-01").events == []
    assert len(audit_log(history.root, history.c["rollback"], since="2000-01-01").events) == 4
    assert audit_log(history.root, history.c["rollback"], adapter="other").events == []
    base = ["audit", "log", "--repo", str(history.root)]
    code, out, _ = run_cli(capsys, *base, "--rev", history.c["rollback"], "--format", "json")
    assert code == 0 and len(json.loads(out)["events"]) == 4
    code, _, err = run_cli(capsys, *base, "--since", "yesterday")
    assert code == 2 and "--since" in err


def test_deleted_registry_file_is_tampering(history: History, tmp_path: Path) -> None:
    repo = _clone(history, tmp_path / "clone")
    gone = repo.commit("start the registry afresh", {"registry/bot.yaml": None})
    log = audit_log(tmp_path / "clone")
    assert [(t.code, t.commit) for t in log.tampering if t.code == "registry-deleted"] == [
        ("registry-deleted", gone)
    ]
    assert log.events == []  # nothing is left at HEAD to list, the deletion says why


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_revocation_in_a_signed_commit(history: History, tmp_path: Path) -> None:
    repo = _clone(history, tmp_path / "clone")
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ada@example.invalid {key.with_suffix('.pub').read_text()}")
    repo.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    revoke(repo.path, "bot@1.1", "eval contamination found", history.chain.keys["eve"])
    signed = repo.commit("revoke bot@1.1", ssh_signing_key=key)
    log = audit_log(repo.path, since="2000-01-01")
    last = log.events[-1]
    assert (last["action"], last["version"], last["by"], last["commit"]) == ("revoke", "1.1", "eve", signed)
    assert last["commit_signed"] is True and last["commit_signature"] == "good"
    assert last["reason"] == "eval contamination found"
    assert all(e["commit_signed"] is False for e in log.events[:-1])


def test_entry_contradicting_git_is_reported(history: History, tmp_path: Path) -> None:
    repo = _clone(history, tmp_path / "clone")
    path = repo.path / "registry/bot.yaml"
    doc = yaml.safe_load(path.read_text())
    forged = dict(doc["history"][1], seq=len(doc["history"]) + 1, commit="1" * 40)
    forged["attestation"] = "attestations/adapter/bot/1.0/promote.00000000.link"
    doc["history"].append(forged)
    bad = repo.commit("promote again", {"registry/bot.yaml": yaml.safe_dump(doc, sort_keys=False)})
    found = {(t.code, t.commit) for t in audit_log(repo.path).tampering}
    assert ("registry-commit-mismatch", bad) in found and ("attestation-missing", bad) in found
