"""The malformed-input catalogue: every way a manifest can be broken, through the real CLI.

Each case is a named file under ``tests/assets/malformed/`` (or bytes written here where
a file cannot be committed sensibly: a symlink, non-UTF-8 bytes). The test installs it
in a fresh governed repository, runs ``python -m ftpolicy validate`` as a subprocess and
checks the exit code, that the report names the file *and* the line of the mistake,
that the message says what is wrong, and that no traceback is ever printed.

``baseline.dataset.yaml`` is the valid manifest every dataset case differs from in one
place, so each failure is due to that one defect.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ftpolicy.scaffold import scaffold

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "malformed"
DATASET = "datasets/tickets/1.0.0.yaml"
TRACEBACK = "Traceback (most recent call last)"


def asset(name: str) -> bytes:
    """The bytes of a catalogue file (which must exist)."""
    path = ASSETS / name
    assert path.is_file(), f"missing catalogue asset {path}"
    return path.read_bytes()


def _non_utf8(repo: Path) -> bytes:
    text = asset("baseline.dataset.yaml")
    # Latin-1 "é" (0xe9) instead of UTF-8 in the description on line 6.
    return text.replace(b"answered by", b"answered by caf\xe9", 1)


def _symlink_out(repo: Path) -> bytes:
    outside = repo.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.jsonl").write_text('{"messages": []}\n')
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data" / "escape.jsonl").symlink_to(outside / "secret.jsonl")
    return asset("symlink-escape.yaml")


@dataclass(frozen=True)
class Case:
    """One catalogue entry: what to install where, and what the CLI must say."""

    name: str
    content: str | Callable[[Path], bytes]  # asset file name, or a writer given the repo root
    line: int
    message: str  # a fragment the problem's message must contain
    dest: str = DATASET
    exit_code: int = 1

    def install(self, repo: Path) -> Path:
        data = asset(self.content) if isinstance(self.content, str) else self.content(repo)
        target = repo / self.dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target


CASES = [
    # YAML level: nothing past the first error can be read, one problem per file.
    Case("yaml-syntax-error", "yaml-syntax-error.yaml", 16, "list [ opened here is not closed"),
    Case("bad-indentation", "bad-indentation.yaml", 12, "mapping values are not allowed"),
    Case("unclosed-quote", "unclosed-quote.yaml", 6, "quoted value runs on from line 6"),
    Case("duplicate-key", "duplicate-key.yaml", 10, "duplicate key 'version' (first defined on line 5)"),
    Case("tab-indentation", "tab-indentation.yaml", 21, "'\\t'"),
    Case("alias-anchor-bomb", "alias-bomb.yaml", 7, "aliases (*name) are not allowed"),
    Case("merge-key", "merge-key.yaml", 20, "merge keys (<<) are not allowed"),
    Case("non-utf8-bytes", _non_utf8, 6, "not valid UTF-8 (byte 0xe9"),
    Case("empty-file", "empty.yaml", 1, "file is empty"),
    Case("comments-only", "comments-only.yaml", 1, "file is empty"),
    Case("not-a-mapping", "not-a-mapping.yaml", 1, "must be a mapping of fields, found list"),
    # Versioning and kind.
    Case("unsupported-schema-version", "unsupported-schema-version.yaml", 2, "unsupported schema_version 2"),
    Case(
        "missing-schema-version", "missing-schema-version.yaml", 2, "missing required field 'schema_version'"
    ),
    Case("kind-mismatch", "kind-mismatch.yaml", 3, "kind 'adapter' does not belong at"),
    # Schema: types, formats, required and unknown fields.
    Case("wrong-type", "wrong-type.yaml", 29, 'expected a whole number, got text "lots"'),
    Case("version-as-float", "version-as-float.yaml", 5, "expected text, got a number 1.0"),
    Case("missing-required-field", "missing-required-field.yaml", 19, "missing required field 'end'"),
    Case("unknown-field", "unknown-field.yaml", 15, "unknown field 'licence_url'"),
    Case("bad-digest-format", "bad-digest-format.yaml", 28, '"9B2D4C6E8F0A" has the wrong format'),
    Case("negative-count", "negative-count.yaml", 30, "-5 is too small (must be >= 0)"),
    Case("bad-enum", "bad-enum.yaml", 7, '"conversation" is not allowed here'),
    Case("bad-date", "bad-date.yaml", 20, '"2026-13-45" is not a valid date'),
    Case("path-and-uri", "path-and-uri.yaml", 27, "either 'path' or 'uri', not both"),
    Case("name-mismatch", "name-mismatch.yaml", 4, "name 'tickets-v2' does not match the folder"),
    # Paths must stay inside the repository.
    Case("dotdot-path", "dotdot-path.yaml", 27, "uses '..' to leave its folder"),
    Case("absolute-path", "absolute-path.yaml", 27, "absolute path '/etc/passwd' is not allowed"),
    Case("symlink-escape", _symlink_out, 27, "resolves outside the repository (through a symlink)"),
    # The repository configuration itself.
    Case("config-invalid", "config-unknown-field.yaml", 6, "0 is too small", dest="ftpolicy.yaml"),
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh governed repository (scaffolded without Git: validate does not need it)."""
    root = tmp_path / "repo"
    scaffold(root, git=False)
    return root


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command line, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "ftpolicy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 15
    assert len({c.name for c in CASES}) == len(CASES)


def test_every_asset_is_in_the_catalogue() -> None:
    used = {c.content for c in CASES if isinstance(c.content, str)}
    used |= {"baseline.dataset.yaml", "symlink-escape.yaml"}  # the latter installed by _symlink_out
    on_disk = {p.name for p in ASSETS.iterdir()}
    assert on_disk == used


def test_baseline_is_valid(repo: Path) -> None:
    target = Case("baseline", "baseline.dataset.yaml", 0, "").install(repo)
    proc = run_cli("validate", "--repo", str(repo), str(target), cwd=repo.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 manifest checked, all valid" in proc.stdout


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_manifest(case: Case, repo: Path) -> None:
    case.install(repo)
    proc = run_cli("validate", "--repo", str(repo), case.dest, cwd=repo)
    out = proc.stdout + proc.stderr
    assert TRACEBACK not in out
    assert "internal error" not in out
    assert proc.returncode == case.exit_code, out
    # The first report line is `file:line:col: message` (or `file:line: message`).
    first = proc.stdout.splitlines()[0]
    assert first.startswith((f"{case.dest}:{case.line}:", f"{case.dest}:{case.line} ")), out
    assert case.message in first, out
    assert proc.stdout.splitlines()[-1].startswith("1 manifest checked, 1 invalid ("), out


def test_config_reports_every_problem(repo: Path) -> None:
    Case("config-invalid", "config-unknown-field.yaml", 6, "", dest="ftpolicy.yaml").install(repo)
    proc = run_cli("validate", "--repo", str(repo), cwd=repo.parent)
    assert proc.returncode == 1
    assert "repo/ftpolicy.yaml:6:18: 0 is too small (must be >= 1)" in proc.stdout
    assert "repo/ftpolicy.yaml:7:1: unknown field 'evalz'" in proc.stdout
    assert "hint: allowed fields here: datasets," in proc.stdout
    assert proc.stdout.endswith("2 manifests checked, 1 invalid (2 problems)\n")


def test_manifest_that_is_a_symlink_out_of_the_repo(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_bytes(asset("baseline.dataset.yaml"))
    (repo / "datasets" / "tickets").mkdir()
    (repo / DATASET).symlink_to(outside)
    proc = run_cli("validate", "--repo", str(repo), cwd=repo)
    assert proc.returncode == 1
    assert f"{DATASET}:1: manifest file: path '{DATASET}' resolves outside the repository" in proc.stdout
    assert TRACEBACK not in proc.stdout + proc.stderr


# Usage and configuration errors: exit 2, one `error:` line on stderr naming the path.
def test_path_that_does_not_exist(repo: Path) -> None:
    proc = run_cli("validate", "--repo", str(repo), "datasets/nope/1.0.yaml", cwd=repo)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: datasets/nope/1.0.yaml: no such file or folder")
    assert proc.stdout == ""
    assert TRACEBACK not in proc.stderr


def test_path_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    stray = tmp_path / "stray.yaml"
    stray.write_bytes(asset("baseline.dataset.yaml"))
    proc = run_cli("validate", "--repo", str(repo), str(stray), cwd=tmp_path)
    assert proc.returncode == 2
    assert "error: " in proc.stderr and "stray.yaml is outside the repository" in proc.stderr
    assert "hint: pass --repo DIR" in proc.stderr
    assert TRACEBACK not in proc.stderr


def test_no_governed_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_cli("validate", cwd=plain)
    assert proc.returncode == 2
    assert "error: no ftpolicy.yaml found in" in proc.stderr
    assert "run `ftpolicy init`" in proc.stderr and "--repo DIR" in proc.stderr
    proc = run_cli("validate", "--repo", str(plain), cwd=tmp_path)
    assert proc.returncode == 2
    assert "is not a governed repository: it has no ftpolicy.yaml" in proc.stderr
    assert TRACEBACK not in proc.stderr


def test_folder_without_manifests(repo: Path) -> None:
    proc = run_cli("validate", "--repo", str(repo), "layouts", cwd=repo)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: layouts: no manifests in this folder")
