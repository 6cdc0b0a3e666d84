"""scripts/demo_registry.sh runs end to end on a scratch copy of the example (slow: about 30 s)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "ftpolicy").is_file(), reason="needs the project's .venv")
def test_demo_registry_script() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo_registry.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "Verification succeeded" in out  # the upstream model_signing CLI
    for code in ("promoter-is-trainer", "not-publisher", "staging-required", "revoked"):
        assert f"[registry.{code}]" in out
    assert "rollback code-assistant-lora@1.0.0 production (was 1.0.1)" in out
    assert "verify: OK: the chain holds" in out
    assert "REVOKED: demo: leaks an internal hostname" in out
    assert not (ROOT / "examples" / "governed-repo" / "signatures").exists()  # the example is untouched
