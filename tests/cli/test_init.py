"""`ftpolicy init` and ftpolicy.scaffold: a governed repository that validates, made idempotently."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from ftpolicy.cli.main import main
from ftpolicy.manifest import load_manifest
from ftpolicy.scaffold import FOLDERS, TEAMS, project_name, scaffold
from ftpolicy.validation import validate_repo

EXPECTED_FILES = ["ftpolicy.yaml", "identities/teams.yaml", *(f"{f}/README.md" for f in FOLDERS)]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside .git with its bytes and modification time (ns)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or not path.is_file():
            continue
        out[rel.as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


def git_toplevel(folder: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_init_creates_a_valid_git_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "init", "Support Bot!")
    assert code == 0 and err == ""
    root = tmp_path / "Support Bot!"
    assert (root / ".git").is_dir()
    assert git_toplevel(root) == str(root.resolve())
    for rel in EXPECTED_FILES:
        assert (root / rel).is_file(), rel
        assert f"created  {rel}\n" in out
    assert "initialised a Git repository" in out
    assert "Next steps:" in out and "ftpolicy validate" in out
    assert "1. cd 'Support Bot!'\n" in out
    report = validate_repo(root)
    assert report.ok, [p for f in report.files for p in f.problems]
    assert [f.path for f in report.files] == ["ftpolicy.yaml", "identities/teams.yaml"]
    config = load_manifest(root.resolve(), "ftpolicy.yaml").data
    assert config["project"] == "support-bot"
    assert config["datasets"]["min_reviewers"] == 2
    assert config["registry"]["channels"] == ["staging", "production"]
    assert config["evals"]["max_age_days"] > 0
    assert set(config["teams"].values()) == set(TEAMS)
    teams = yaml.safe_load((root / "identities/teams.yaml").read_text())
    assert list(teams["teams"]) == ["security", "ml-training", "ml-quality", "data-review", "publishers"]


def test_second_run_creates_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "gov"
    assert cli(capsys, "init", str(root))[0] == 0
    before = snapshot(root)
    head_before = (root / ".git" / "HEAD").read_bytes()
    code, out, _ = cli(capsys, "init", str(root))
    assert code == 0
    assert "created" not in out and "initialised" not in out
    assert "nothing to do" in out
    assert snapshot(root) == before
    assert (root / ".git" / "HEAD").read_bytes() == head_before
    result = scaffold(root)
    assert not result.changed and result.created == ()
    assert {a.path for a in result.kept} >= set(EXPECTED_FILES)


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "gov"
    (root / "identities").mkdir(parents=True)
    custom_config = "schema_version: 1\nkind: config\nproject: mine  # hand-written\n"
    (root / "ftpolicy.yaml").write_text(custom_config)
    (root / "identities" / "teams.yaml").write_text("not: [valid yet\n")
    (root / "datasets").mkdir()
    (root / "datasets" / "README.md").write_text("our own notes\n")
    result = scaffold(root, git=False)
    assert (root / "ftpolicy.yaml").read_text() == custom_config
    assert (root / "identities" / "teams.yaml").read_text() == "not: [valid yet\n"
    assert (root / "datasets" / "README.md").read_text() == "our own notes\n"
    kept = {a.path for a in result.kept}
    assert {"ftpolicy.yaml", "identities/teams.yaml", "datasets/README.md", "datasets/"} <= kept
    assert "evals/README.md" in {a.path for a in result.created}
    assert not (root / ".git").exists()
    # No temporary files are left behind by the atomic writes.
    assert not [p for p in root.rglob("*.tmp")]


def test_symlink_is_kept_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "gov"
    root.mkdir()
    target = tmp_path / "elsewhere.yaml"
    (root / "ftpolicy.yaml").symlink_to(target)  # dangling: must not be written through
    result = scaffold(root, git=False)
    assert "ftpolicy.yaml" in {a.path for a in result.kept}
    assert not target.exists()


def test_inside_an_existing_git_repository_no_nested_init(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "mono")], check=True)
    sub = tmp_path / "mono" / "ml" / "governance"
    result = scaffold(sub)
    assert not result.git_initialized
    assert not (sub / ".git").exists()
    assert git_toplevel(sub) == str((tmp_path / "mono").resolve())
    assert validate_repo(sub).ok


def test_no_git_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "init", "--no-git", "--project", "acme", str(tmp_path / "gov"))
    assert code == 0 and "initialised" not in out
    assert not (tmp_path / "gov" / ".git").exists()
    assert "project: acme\n" in (tmp_path / "gov" / "ftpolicy.yaml").read_text()


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "init", "--project", "Not Valid", str(tmp_path / "a"))
    assert code == 2 and "invalid project name 'Not Valid'" in err and "hint:" in err
    (tmp_path / "file").write_text("x")
    code, _, err = cli(capsys, "init", str(tmp_path / "file"))
    assert code == 2 and "exists and is not a folder" in err
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "datasets").write_text("a file where a folder belongs")
    code, _, err = cli(capsys, "init", "--no-git", str(blocked))
    assert code == 2 and "datasets exists and is not a folder" in err
    assert "Traceback" not in err


def test_project_name_derivation() -> None:
    assert project_name(Path("/x/My Repo")) == "my-repo"
    assert project_name(Path("/x/__ml.gov__")) == "ml.gov"
    assert project_name(Path("/x/ü")) == "governed-repo"
    assert len(project_name(Path("/x/" + "a" * 100))) == 64


def test_readmes_say_what_goes_where(tmp_path: Path) -> None:
    scaffold(tmp_path / "gov", git=False)
    text = (tmp_path / "gov" / "datasets" / "README.md").read_text()
    assert "datasets/<name>/<version>.yaml" in text
    for folder in FOLDERS:
        assert (tmp_path / "gov" / folder / "README.md").read_text().startswith(f"# {folder}/\n")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "init", "--help")
    assert code == 0
    assert "Examples:" in out and "--project NAME" in out and "--git / --no-git" in out


def test_files_are_world_readable(tmp_path: Path) -> None:
    scaffold(tmp_path / "gov", git=False)
    assert os.stat(tmp_path / "gov" / "ftpolicy.yaml").st_mode & 0o777 == 0o644
