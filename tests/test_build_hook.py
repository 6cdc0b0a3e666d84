"""The build hook compiles the scanner's C extension, and a missing compiler only warns.

``hatch_build.compile_extension`` is what the wheel and editable builds run; these tests
call it directly into a temporary folder with the real compiler, and with a compiler that
cannot run, whose build must still succeed (pure-Python scanner) with a clear warning.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _hook_module() -> object:
    spec = importlib.util.spec_from_file_location("ftpolicy_hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_compiles_an_importable_extension(tmp_path: Path) -> None:
    hook = _hook_module()
    built = hook.compile_extension(ROOT, tmp_path)  # type: ignore[attr-defined]
    assert built is not None and built.exists() and built.parent == tmp_path
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('_native', {str(built)!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "print(sorted(n for n in dir(mod) if not n.startswith('_')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "feature_hashes" in out and "contamination_quiet" in out


def test_a_missing_compiler_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = _hook_module()
    monkeypatch.setenv("LDSHARED", str(tmp_path / "no-such-compiler"))
    assert hook.compile_extension(ROOT, tmp_path) is None  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert "C compiler not available" in err and "pure Python" in err
    monkeypatch.setenv("LDSHARED", "false")  # runs, fails
    assert hook.compile_extension(ROOT, tmp_path) is None  # type: ignore[attr-defined]
    assert "compiling the scanner's C extension failed" in capsys.readouterr().err
