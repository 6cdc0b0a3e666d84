"""OpenSSF model signing of adapters: sign, verify, interop with the upstream CLI, tampering."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from attest.conftest import (
    ADAPTER,
    ADAPTER_DIR,
    ADAPTER_FILES,
    Chain,
    attest_adapter,
    attest_dataset,
    build_governed_repo,
)

from ftpolicy.attest import verify_chain
from ftpolicy.errors import FtpolicyError
from ftpolicy.keys import generate_key
from ftpolicy.manifest import load_manifest
from ftpolicy.signing import sign_adapter, signature_rel, verify_adapter_signature
from ftpolicy.signing.model_signature import _rewrite_manifest

MODEL_SIGNING = Path(sys.executable).parent / "model_signing"
SIG = signature_rel("bot", "1.0")


@pytest.fixture
def attested(tmp_path: Path) -> Chain:
    governed = build_governed_repo(tmp_path)
    attest_dataset(governed)
    attest_adapter(governed)
    return governed


def codes(chain: Chain) -> set[str]:
    return {f.code for f in verify_chain(chain.root, ADAPTER).failures}


def upstream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MODEL_SIGNING), *args], capture_output=True, text=True, check=False)


def test_sign_records_signature_and_verify_holds(attested: Chain) -> None:
    result = sign_adapter(attested.root, "bot@1.0", attested.keys["tom"])
    assert result.identity == "tom" and result.signature_path == SIG
    assert set(result.resources) == {"adapter_config.json", "adapter_model.safetensors"}
    sig = load_manifest(attested.root, "adapters/bot/1.0.yaml").data["signature"]
    assert sig == {"path": SIG, "sha256": result.sha256, "method": "model_signing-key"}
    facts = verify_chain(attested.root, ADAPTER)
    assert facts.ok, [f.to_dict() for f in facts.failures]
    check = verify_adapter_signature(attested.root, "bot@1.0", signed_products=facts.adapter_files)
    assert check.ok and check.identity == "tom"
    # signing again replaces the block (one signature: entry, manifest still valid)
    sign_adapter(attested.root, "bot@1.0", attested.keys["paul"])
    text = (attested.root / "adapters/bot/1.0.yaml").read_text()
    assert text.count("signature:") == 1
    assert verify_adapter_signature(attested.root, "bot@1.0").identity == "paul"


def test_upstream_cli_verifies_our_signature(attested: Chain) -> None:
    sign_adapter(attested.root, "bot@1.0", attested.keys["tom"])
    proc = upstream(
        "verify",
        "key",
        str(attested.root / ADAPTER_DIR),
        "--signature",
        str(attested.root / SIG),
        "--public_key",
        str(attested.root / "identities/keys/tom.pub"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verification succeeded" in proc.stdout


def test_we_verify_a_signature_made_by_the_upstream_cli(attested: Chain) -> None:
    out = attested.root / SIG
    out.parent.mkdir(parents=True)
    proc = upstream(
        "sign",
        "key",
        str(attested.root / ADAPTER_DIR),
        "--private_key",
        str(attested.keys["eve"]),
        "--signature",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import hashlib

    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    _rewrite_manifest(
        attested.root, "adapters/bot/1.0.yaml", {"path": SIG, "sha256": sha, "method": "model_signing-key"}
    )
    facts = verify_chain(attested.root, ADAPTER)
    assert facts.ok, [f.to_dict() for f in facts.failures]
    assert verify_adapter_signature(attested.root, "bot@1.0").identity == "eve"


@pytest.mark.parametrize("victim", ADAPTER_FILES)
def test_tampering_with_any_adapter_file_fails_verify(attested: Chain, victim: str) -> None:
    sign_adapter(attested.root, "bot@1.0", attested.keys["tom"])
    path = attested.root / victim
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    facts = verify_chain(attested.root, ADAPTER)
    sig_failures = [f for f in facts.failures if f.code == "model-signature"]
    assert sig_failures and "does not verify" in sig_failures[0].message
    assert victim.rsplit("/", 1)[1] in sig_failures[0].message


def test_extra_file_signature_file_edit_and_missing_signature(attested: Chain) -> None:
    sign_adapter(attested.root, "bot@1.0", attested.keys["tom"])
    extra = attested.write(f"{ADAPTER_DIR}/extra.py", "import os\n")
    assert "model-signature" in codes(attested)
    extra.unlink()
    assert codes(attested) == set()
    sig = attested.root / SIG
    original = sig.read_bytes()
    sig.write_bytes(original.replace(b'"hint"', b'"hint" '))
    assert "model-signature" in codes(attested)
    sig.unlink()
    facts = verify_chain(attested.root, ADAPTER)
    assert any(f.code == "model-signature" and "missing" in f.message for f in facts.failures)


def test_signature_digests_must_match_the_train_products(attested: Chain) -> None:
    sign_adapter(attested.root, "bot@1.0", attested.keys["tom"])
    facts = verify_chain(attested.root, ADAPTER)
    products = dict(facts.adapter_files)
    products[ADAPTER_FILES[0]] = "0" * 64
    check = verify_adapter_signature(attested.root, "bot@1.0", signed_products=products)
    assert not check.ok and "train step's products" in check.failures[0][0]


def test_unknown_key_and_ed25519_key_are_refused(attested: Chain, tmp_path: Path) -> None:
    stranger = generate_key("stranger", tmp_path / "other-keys")
    sign_adapter(attested.root, "bot@1.0", stranger.private_path)
    facts = verify_chain(attested.root, ADAPTER)
    assert any(f.code == "model-signature" and "no identity" in f.message for f in facts.failures)
    ed = generate_key("ed", tmp_path / "other-keys", key_type="ed25519")
    with pytest.raises(FtpolicyError, match="ECDSA"):
        sign_adapter(attested.root, "bot@1.0", ed.private_path)


def test_sign_refuses_a_folder_that_differs_from_its_manifest(attested: Chain) -> None:
    attested.write(f"{ADAPTER_DIR}/notes.txt", "x\n")
    with pytest.raises(FtpolicyError, match="not listed"):
        sign_adapter(attested.root, "bot@1.0", attested.keys["tom"])
    (attested.root / ADAPTER_DIR / "notes.txt").unlink()
    (attested.root / ADAPTER_FILES[0]).write_text("{}\n")
    with pytest.raises(FtpolicyError, match="sha256 differs"):
        sign_adapter(attested.root, "bot@1.0", attested.keys["tom"])
    assert not (attested.root / SIG).exists()


def test_cli_sign_then_verify(attested: Chain) -> None:
    def ftpolicy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ftpolicy", *args], capture_output=True, text=True, check=False
        )

    signed = ftpolicy(
        "sign", "adapter", "bot@1.0", "--key", str(attested.keys["tom"]), "--repo", str(attested.root)
    )
    assert signed.returncode == 0, signed.stderr
    assert SIG in signed.stdout and "as tom" in signed.stdout
    ok = ftpolicy("verify", "adapter", "bot@1.0", "--repo", str(attested.root))
    assert ok.returncode == 0, ok.stdout
    shutil.copy(attested.root / ADAPTER_FILES[0], attested.root / f"{ADAPTER_DIR}/copy.json")
    bad = ftpolicy("verify", "adapter", "bot@1.0", "--repo", str(attested.root))
    assert bad.returncode == 1 and "[model-signature]" in bad.stdout
