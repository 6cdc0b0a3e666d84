"""Helpers for the dataset scan tests: write JSONL records, run the real CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "governed-repo"


def load_generator() -> ModuleType:
    """The benchmark corpus generator (``benchmarks/scan_corpus.py``), loaded once."""
    name = "ftpolicy_bench_scan_corpus"
    if name in sys.modules:
        return sys.modules[name]
    path = REPO_ROOT / "benchmarks" / "scan_corpus.py"
    if not path.exists():  # pragma: no cover - sdists without benchmarks/
        pytest.skip("benchmarks/scan_corpus.py is not in this tree")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def chat(user: str, assistant: str, **extra: Any) -> dict[str, Any]:
    """A chat record with one user and one assistant turn."""
    rec: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "You are a helpful code assistant."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }
    rec.update(extra)
    return rec


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str | bytes]) -> Path:
    """Write records (dicts as JSON; str/bytes as raw lines) one per line."""
    out = bytearray()
    for r in records:
        if isinstance(r, bytes):
            out += r
        elif isinstance(r, str):
            out += r.encode()
        else:
            out += json.dumps(r, ensure_ascii=False).encode()
        out += b"\n"
    path.write_bytes(bytes(out))
    return path


def filler(n: int, start: int = 0) -> list[dict[str, Any]]:
    """Benign records."""
    return [
        chat(
            f"Ticket OPS-{start + i}: the nightly job {i} fails with a timeout after the upgrade.",
            "Increase the client timeout to 30 seconds, add a retry with backoff, and open a pull request "
            "so the change is reviewed before it is merged.",
            id=f"r{start + i}",
        )
        for i in range(n)
    ]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ftpolicy ARGS`` as a user would."""
    env = dict(os.environ)
    env.pop("FTPOLICY_VERBOSE", None)
    return subprocess.run(
        [sys.executable, "-m", "ftpolicy", *args],
        cwd=cwd or REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def scan_json() -> Any:
    """Run ``scan dataset ... --format json`` and return (exit code, document, stderr)."""

    def run(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any], str]:
        proc = run_cli("scan", "dataset", "--format", "json", *args, cwd=cwd)
        assert "Traceback" not in proc.stderr, proc.stderr
        doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return proc.returncode, doc, proc.stderr

    return run
