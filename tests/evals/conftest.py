"""Shared fixtures: a copy of the example governed repository and its holdout items."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "governed-repo"
ITEMS_REL = "holdout/security-holdout/2026.11/items.jsonl"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the example governed repository (the holdout suite registered)."""
    dest = tmp_path / "gov"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("attestations"))
    return dest


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``ftpolicy ARGS`` through the console entry point; (exit code, stdout, stderr)."""
    from ftpolicy.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """tiny_model.build(): a random 2-layer Llama, its tokenizer and a LoRA adapter (needs torch)."""
    for mod in ("torch", "transformers", "peft", "tokenizers"):
        pytest.importorskip(mod, reason=f"needs the models extra ({mod}): make test-models")
    from .tiny_model import build

    return build(tmp_path_factory.mktemp("tiny-model"))


def by_category(evidence: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The results of security-eval evidence, by category."""
    return {r["category"]: r for r in evidence["results"]}


def assert_chain_verifies(chain: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The rest of the honest chain attested after the security eval; ``verify`` passes."""
    from attest.conftest import ADAPTER, attest_adapter

    attest_adapter(chain, skip=("train", "adapter-scan", "security-eval"))
    code, stdout, _ = run(
        capsys, "verify", "adapter", ADAPTER.ref, "--repo", str(chain.root), "--format", "json"
    )
    doc = json.loads(stdout)
    assert code == 0, json.dumps(doc.get("failures"), indent=1) + json.dumps(doc.get("policies"), indent=1)
    assert doc["ok"] is True and doc["policies"]["deny"] == []
