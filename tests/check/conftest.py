"""Fixtures for ``ftpolicy check``: a copy of the example governed repository in real Git."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.gitrepo import ScratchRepo, repo_from_example

NOW = "2026-11-28T12:00:00Z"


@dataclass
class CliResult:
    """Exit code and output of one in-process ``ftpolicy`` run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def rules(self) -> list[str]:
        """Rule ids of the errors (denies) in a --format json report, sorted."""
        return sorted(f["rule"] for f in self.json()["findings"] if f["level"] == "error")


@pytest.fixture
def ftpolicy(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run the ftpolicy CLI in-process (through its real error boundary) and capture everything."""
    from ftpolicy.cli.main import main

    monkeypatch.setenv("FTPOLICY_NOW", NOW)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        sys.stdout.flush()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[ScratchRepo]:
    """The example governed repository committed on ``main``, switched to a ``change`` branch."""
    repo = repo_from_example(tmp_path / "gov")
    repo.branch("change")
    yield repo
