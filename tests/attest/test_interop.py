"""The chains ftpolicy writes verify with in-toto's reference tools (Python and Go)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.attest.verify import ExportedChain, export_chain

from .conftest import ADAPTER, ADAPTER_FILES, SHARDS, Chain, attest_adapter, attest_dataset, eval_evidence

IN_TOTO_VERIFY = Path(sys.executable).parent / "in-toto-verify"
REPO_ROOT = Path(__file__).resolve().parents[2]


def python_verify(exported: ExportedChain) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IN_TOTO_VERIFY), *exported.in_toto_verify_args()],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def shard_swapped_after_review(governed: Chain) -> str:
    """A shard modified after review and then trained on: the train link breaks the rules."""
    attest_dataset(governed)
    (governed.root / SHARDS[0]).write_text('{"messages": [{"role": "user", "content": "poison"}]}\n')
    attest_adapter(governed)
    return SHARDS[0]


def adapter_swapped_before_eval(governed: Chain) -> str:
    """Adapter weights replaced after training, evaluated, then put back."""
    attest_dataset(governed)
    attest_adapter(governed, skip=("security-eval", "quality-eval", "security-approval", "promote"))
    weights = governed.root / ADAPTER_FILES[1]
    original = weights.read_bytes()
    weights.write_bytes(os.urandom(len(original)))
    governed.attest("security-eval", "eve", materials=ADAPTER_FILES, evidence=eval_evidence(governed))
    weights.write_bytes(original)
    attest_adapter(governed, skip=("train", "adapter-scan", "security-eval"))
    return ADAPTER_FILES[1]


TAMPERS = [shard_swapped_after_review, adapter_swapped_before_eval]


@pytest.mark.skipif(not IN_TOTO_VERIFY.exists(), reason="in-toto-verify is not installed next to python")
def test_in_toto_verify_accepts_the_honest_chain(chain: Chain, tmp_path: Path) -> None:
    proc = python_verify(export_chain(chain.root, ADAPTER, tmp_path / "export"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not IN_TOTO_VERIFY.exists(), reason="in-toto-verify is not installed next to python")
@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda f: f.__name__)
def test_in_toto_verify_rejects_artifact_tampering(governed: Chain, tmp_path: Path, tamper: Any) -> None:
    artifact = tamper(governed)
    proc = python_verify(export_chain(governed.root, ADAPTER, tmp_path / "export"))
    assert proc.returncode == 1
    assert "RuleVerificationError" in proc.stderr + proc.stdout
    assert artifact in proc.stderr + proc.stdout


def go_in_toto() -> tuple[Path | None, str]:
    """Build (once, cached) or find in-toto-golang's CLI via scripts/ensure_in_toto_go.sh."""
    script = REPO_ROOT / "scripts" / "ensure_in_toto_go.sh"
    if shutil.which("go") is None:
        return None, "no Go toolchain on PATH"
    try:
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False, timeout=900)
    except subprocess.TimeoutExpired:
        return None, "building in-toto-golang took more than 15 minutes"
    if proc.returncode != 0:
        return None, proc.stderr.strip()[-500:] or f"{script.name} exited with {proc.returncode}"
    path = Path(proc.stdout.strip().splitlines()[-1])
    if not (path.is_file() and os.access(path, os.X_OK)):
        return None, f"{script.name} printed {path}, which is not an executable"
    return path, ""


@pytest.fixture(scope="session")
def go_binary() -> Path:
    path, reason = go_in_toto()
    if path is None:
        print(f"in-toto-golang unavailable: {reason}")
        pytest.skip(f"in-toto-golang could not be built: {reason}")
    return path


def go_verify(binary: Path, exported: ExportedChain) -> subprocess.CompletedProcess[str]:
    args = [str(binary), "verify", "--layout", str(exported.layout), "--link-dir", str(exported.link_dir)]
    for key in exported.owner_keys:
        args += ["--layout-keys", str(key)]
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.slow
def test_in_toto_golang_accepts_the_honest_chain(chain: Chain, tmp_path: Path, go_binary: Path) -> None:
    proc = go_verify(go_binary, export_chain(chain.root, ADAPTER, tmp_path / "export"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda f: f.__name__)
def test_in_toto_golang_rejects_artifact_tampering(
    governed: Chain, tmp_path: Path, go_binary: Path, tamper: Any
) -> None:
    artifact = tamper(governed)
    proc = go_verify(go_binary, export_chain(governed.root, ADAPTER, tmp_path / "export"))
    assert proc.returncode != 0
    assert artifact in proc.stdout + proc.stderr


@pytest.mark.skipif(not IN_TOTO_VERIFY.exists(), reason="in-toto-verify is not installed next to python")
def test_export_passes_only_the_owner_keys_that_signed(chain: Chain, tmp_path: Path) -> None:
    chain.new_key("olivia-2", "olivia", ["security"])  # a second owner key that did not sign
    exported = export_chain(chain.root, ADAPTER, tmp_path / "export")
    assert len(exported.owner_keys) == 1
    proc = python_verify(exported)
    assert proc.returncode == 0, proc.stdout + proc.stderr
