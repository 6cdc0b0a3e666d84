"""Shared fixtures: a copy of the example governed repository and its holdout items."""

from __future__ import annotations

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
