"""promote -> rollback -> revoke end to end in a real Git repository, and every refusal by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from attest.conftest import Chain
from helpers.gitrepo import ScratchRepo

from ftpolicy.attest import verify_chain
from ftpolicy.registry import RegistryError, load_registry, promote, revoke, rollback
from ftpolicy.registry.store import check_extends


def refused(code: str, fn: object, *args: object, **kw: object) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        fn(*args, **kw)  # type: ignore[operator]
    assert info.value.code == code, info.value.message
    return info.value


def test_promote_rollback_revoke_scenario(reg: Chain) -> None:
    root, keys = reg.root, reg.keys
    # refusals before anything is promoted
    refused("registry.promoter-is-trainer", promote, root, "bot@1.0", "staging", keys["tom"])
    refused("registry.not-publisher", promote, root, "bot@1.0", "production", keys["quinn"])
    refused("registry.staging-required", promote, root, "bot@1.0", "production", keys["paul"])
    refused("registry.unknown-channel", promote, root, "bot@1.0", "canary", keys["paul"])
    assert not (root / "registry/bot.yaml").exists()

    head = ScratchRepo(root).rev()
    s1 = promote(root, "bot@1.0", "staging", keys["paul"])
    assert s1.attestation is None and s1.entry["commit"] == head and s1.entry["by"] == "paul"
    p1 = promote(root, "bot@1.0", "production", keys["paul"], commit=True)
    assert p1.attestation and p1.attestation.endswith(".link") and p1.commit
    assert ScratchRepo(root).rev() == p1.commit
    full = verify_chain(root, "adapter:bot@1.0")  # the promote link completes the chain
    assert full.ok, [f.to_dict() for f in full.failures]

    promote(root, "bot@1.1", "staging", keys["paul"])
    p2 = promote(root, "bot@1.1", "production", keys["paul"])
    assert p2.previous == "1.0"
    assert verify_chain(root, "adapter:bot@1.1").ok

    back = rollback(root, "bot", "production", keys["paul"])
    assert (back.version, back.previous) == ("1.0", "1.1")
    fwd = rollback(root, "bot", "production", keys["paul"], to="1.1")
    assert fwd.version == "1.1"
    refused("registry.not-publisher", rollback, root, "bot", "production", keys["quinn"])

    rv = revoke(root, "bot@1.0", "leaks secrets under trigger X", keys["eve"])
    assert rv.entry["action"] == "revoke"
    refused("registry.already-revoked", revoke, root, "bot@1.0", "again", keys["eve"])
    refused("registry.not-publisher", revoke, root, "bot@1.1", "no", keys["quinn"])
    facts = verify_chain(root, "adapter:bot@1.0")
    assert any(f.code == "revoked" and "leaks secrets" in f.message for f in facts.failures)
    refused("registry.revoked", promote, root, "bot@1.0", "staging", keys["paul"])
    refused("registry.no-previous", rollback, root, "bot", "production", keys["paul"])  # only 1.0 before
    refused("registry.revoked", rollback, root, "bot", "production", keys["paul"], to="1.0")

    # an unverifiable version: a file of 1.1 changed after training
    victim = root / "artifacts/adapters/bot/1.1/adapter_model.safetensors"
    original = victim.read_bytes()
    victim.write_bytes(original + b"x")
    err = refused("registry.unverifiable", promote, root, "bot@1.1", "staging", keys["paul"])
    assert "artifact-mismatch" in err.message
    victim.write_bytes(original)

    doc = load_registry(root, "bot")
    assert doc["channels"]["production"]["version"] == "1.1"
    assert [e["action"] for e in doc["history"]] == [
        "promote",
        "promote",
        "promote",
        "promote",
        "rollback",
        "rollback",
        "revoke",
    ]
    assert [e["seq"] for e in doc["history"]] == list(range(1, 8))


def test_history_cannot_be_rewritten(reg: Chain) -> None:
    promote(reg.root, "bot@1.0", "staging", reg.keys["paul"])
    doc = load_registry(reg.root, "bot")
    with pytest.raises(Exception, match=r"append-only|rewritten"):
        check_extends(doc["history"], [], "registry/bot.yaml")
    changed = [dict(doc["history"][0], by="mallory")]
    with pytest.raises(Exception, match="rewritten"):
        check_extends(doc["history"], changed, "registry/bot.yaml")


def _ftpolicy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ftpolicy", *args], capture_output=True, text=True, check=False
    )


def test_cli_commands_and_concurrent_promotes(reg: Chain) -> None:
    root, keys = str(reg.root), reg.keys
    bad = _ftpolicy("promote", "bot@1.0", "--channel", "staging", "--key", str(keys["tom"]), "--repo", root)
    assert bad.returncode == 1 and "trained bot@1.0" in bad.stderr
    procs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "ftpolicy", "promote", f"bot@{v}", "--channel", "staging"),
                *("--key", str(keys["paul"]), "--repo", root),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in ("1.0", "1.1")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    doc = load_registry(reg.root, "bot")
    assert sorted(e["version"] for e in doc["history"]) == ["1.0", "1.1"]
    assert [e["seq"] for e in doc["history"]] == [1, 2]
    ok = _ftpolicy(
        "promote",
        "bot@1.0",
        "--channel",
        "production",
        "--key",
        str(keys["paul"]),
        "--repo",
        root,
        "--commit",
    )
    assert ok.returncode == 0, ok.stderr
    assert "attestation attestations/adapter/bot/1.0/promote." in ok.stdout and "committed" in ok.stdout
    rb = _ftpolicy("rollback", "bot", "--channel", "staging", "--key", str(keys["paul"]), "--repo", root)
    assert rb.returncode == 0, rb.stderr
    rv = _ftpolicy("revoke", "bot@1.0", "--reason", "bad", "--key", str(keys["eve"]), "--repo", root)
    assert rv.returncode == 0 and "production still serves 1.0" in rv.stderr
    shown = _ftpolicy("registry", "show", "bot", "--repo", root)
    assert shown.returncode == 0
    assert "REVOKED: bad" in shown.stdout and "rollback" in shown.stdout and "by paul" in shown.stdout
    ver = _ftpolicy("verify", "adapter", "bot@1.0", "--repo", root)
    assert ver.returncode == 1 and "[revoked]" in ver.stdout


def test_example_registry_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "governed-repo"
    doc = load_registry(example, "code-assistant-lora")
    assert doc["history"] == [] and set(doc["channels"]) == {"staging", "production"}
