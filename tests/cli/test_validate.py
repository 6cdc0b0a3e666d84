"""`ftpolicy validate` and the library under it (ftpolicy.validation)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftpolicy.cli.main import main
from ftpolicy.errors import UsageError
from ftpolicy.scaffold import scaffold
from ftpolicy.validation import REPORT_SCHEMA, FileProblem, validate_repo

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "malformed"
BASELINE = ASSETS / "baseline.dataset.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    scaffold(root, git=False)
    (root / "datasets" / "tickets").mkdir()
    shutil.copy(BASELINE, root / "datasets" / "tickets" / "1.0.0.yaml")
    return root


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the console entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- library -------------------------------------------------------------------------


def test_valid_repository(repo: Path) -> None:
    report = validate_repo(repo)
    assert report.ok
    assert [f.path for f in report.files] == [
        "datasets/tickets/1.0.0.yaml",
        "ftpolicy.yaml",
        "identities/teams.yaml",
    ]
    assert [f.kind for f in report.files] == ["dataset", "config", "teams"]
    assert report.checked == 3 and report.invalid == () and report.problem_count == 0


def test_every_problem_of_a_file_is_collected(repo: Path) -> None:
    text = BASELINE.read_text()
    text = text.replace("    bytes: 48213\n", "    bytes: -1\n")
    text = text.replace("record_format: chat\n", "record_format: chat\nsize: large\n")
    text = text.replace("  - path: data/tickets-1.0.0.jsonl\n", "  - path: /srv/data.jsonl\n")
    write(repo, "datasets/tickets/1.0.0.yaml", text)
    report = validate_repo(repo)
    assert not report.ok
    (bad,) = report.invalid
    assert bad.path == "datasets/tickets/1.0.0.yaml"
    assert [(p.line, p.code) for p in bad.problems] == [
        (8, "manifest.schema"),
        (28, "path.escape"),
        (30, "manifest.schema"),
    ]
    assert bad.problems[0] == FileProblem(
        "unknown field 'size'",
        line=8,
        column=7,
        pointer="/size",
        hint=bad.problems[0].hint,
        code="manifest.schema",
    )
    assert report.problem_count == 3


def test_yaml_error_is_one_problem_and_other_files_are_still_checked(repo: Path) -> None:
    write(repo, "evals/holdout/1.0.yaml", "schema_version: 1\nkind: eval-suite\nname: [holdout\n")
    write(repo, "registry/tickets-bot.yaml", "schema_version: 1\nkind: registry\n")
    report = validate_repo(repo)
    by_path = {f.path: f for f in report.files}
    assert by_path["datasets/tickets/1.0.0.yaml"].ok
    (yaml_problem,) = by_path["evals/holdout/1.0.yaml"].problems
    assert yaml_problem.code == "manifest.yaml" and yaml_problem.line == 3
    missing = by_path["registry/tickets-bot.yaml"].problems
    assert {p.message for p in missing} == {
        "missing required field 'adapter'",
        "missing required field 'channels'",
        "missing required field 'history'",
    }
    assert all(p.line == 1 for p in missing)


def test_given_paths_files_and_folders(repo: Path) -> None:
    write(repo, "evals/holdout/1.0.yaml", "schema_version: 1\nkind: eval-suite\n")
    report = validate_repo(repo, ["datasets", "datasets/tickets/1.0.0.yaml", "ftpolicy.yaml"], cwd=repo)
    assert [f.path for f in report.files] == ["datasets/tickets/1.0.0.yaml", "ftpolicy.yaml"]
    assert report.ok
    report = validate_repo(repo, [str(repo / "evals")], cwd=repo.parent)
    assert [f.path for f in report.files] == ["evals/holdout/1.0.yaml"]
    assert not report.ok


def test_repository_root_given_as_a_path(repo: Path) -> None:
    assert validate_repo(repo, ["."], cwd=repo).checked == 3


def test_file_outside_known_locations_is_validated_by_its_kind(repo: Path) -> None:
    shutil.copy(BASELINE, repo / "drafts.yaml")
    report = validate_repo(repo, ["drafts.yaml"], cwd=repo)
    assert report.ok and report.files[0].kind == "dataset"
    write(repo, "notes/x.yaml", "schema_version: 1\nname: x\n")
    (problem,) = validate_repo(repo, ["notes/x.yaml"], cwd=repo).files[0].problems
    assert problem.message == "missing required field 'kind'"
    assert problem.hint is not None and "dataset" in problem.hint


def test_usage_errors(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        validate_repo(repo, ["datasets/missing.yaml"], cwd=repo)
    outside = tmp_path / "outside.yaml"
    outside.write_text("schema_version: 1\n")
    with pytest.raises(UsageError, match="is outside the repository") as exc:
        validate_repo(repo, [str(outside)], cwd=repo)
    assert exc.value.exit_code == 2
    with pytest.raises(UsageError, match="outside the repository"):
        validate_repo(repo, ["../outside.yaml"], cwd=repo)
    with pytest.raises(UsageError, match="no manifests in this folder"):
        validate_repo(repo, ["attestations"], cwd=repo)
    with pytest.raises(UsageError, match=r"has no ftpolicy\.yaml") as exc:
        validate_repo(tmp_path)
    assert exc.value.hint is not None and "ftpolicy init" in exc.value.hint
    with pytest.raises(UsageError, match="no such folder"):
        validate_repo(tmp_path / "nowhere")


def test_repository_reached_through_a_symlink(repo: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(repo)
    report = validate_repo(link, [str(link / "datasets" / "tickets" / "1.0.0.yaml")], cwd=tmp_path)
    assert report.ok and report.files[0].path == "datasets/tickets/1.0.0.yaml"


def test_json_form_is_versioned_and_complete(repo: Path) -> None:
    write(repo, "identities/dana.yaml", "schema_version: 1\nkind: identity\nname: dana\ntype: robot\n")
    data = validate_repo(repo).to_dict()
    assert data["schema"] == REPORT_SCHEMA == "ftpolicy/validate-report/v1"
    assert data["ok"] is False
    assert data["summary"] == {"checked": 4, "valid": 3, "invalid": 1, "problems": 3}
    (bad,) = [f for f in data["files"] if not f["ok"]]
    assert bad["path"] == "identities/dana.yaml" and bad["kind"] == "identity"
    assert {"code", "message", "line", "pointer"} <= set(bad["problems"][0])
    json.dumps(data)  # serialisable as is


# --- command line ----------------------------------------------------------------------


def test_cli_all_valid(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "datasets")  # the repository is found from a subfolder
    code, out, err = cli(capsys, "validate")
    assert (code, out, err) == (0, "3 manifests checked, all valid\n", "")


def test_cli_text_report(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = BASELINE.read_text().replace("    records: 300\n", "    records: many\n")
    write(repo, "datasets/tickets/1.0.0.yaml", text)
    write(
        repo, "identities/lee.yaml", "schema_version: 1\nkind: identity\nname: lee\ntype: person\nteamz: []\n"
    )
    monkeypatch.chdir(repo.parent)
    code, out, err = cli(capsys, "validate", "--repo", "repo")
    assert code == 1 and err == ""
    assert out.splitlines() == [
        'repo/datasets/tickets/1.0.0.yaml:30:14: expected a whole number, got text "many"',
        "repo/identities/lee.yaml:1:1: missing required field 'teams'",
        "    hint: add 'teams:' (see schemas/ for its format)",
        "repo/identities/lee.yaml:1:1: missing required field 'keys'",
        "    hint: add 'keys:' (see schemas/ for its format)",
        "repo/identities/lee.yaml:5:1: unknown field 'teamz'",
        "    hint: allowed fields here: display_name, email, keys, kind, name, schema_version, teams, type",
        "4 manifests checked, 2 invalid (4 problems)",
    ]


def test_cli_json_report(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, "registry/tickets-bot.yaml", "schema_version: 3\nkind: registry\n")
    monkeypatch.chdir(repo)
    code, out, err = cli(capsys, "validate", "--format", "json", "registry/tickets-bot.yaml")
    assert code == 1 and err == ""
    data = json.loads(out)
    assert data["schema"] == "ftpolicy/validate-report/v1"
    assert data["files"] == [
        {
            "path": "registry/tickets-bot.yaml",
            "kind": "registry",
            "ok": False,
            "problems": [
                {
                    "code": "manifest.schema-version",
                    "message": "unsupported schema_version 3 (this ftpolicy supports 1)",
                    "line": 1,
                    "column": 17,
                    "pointer": "/schema_version",
                    "hint": "write 'schema_version: 1', or upgrade ftpolicy "
                    "if the file was written by a newer one",
                }
            ],
        }
    ]
    assert data["summary"] == {"checked": 1, "valid": 0, "invalid": 1, "problems": 1}


def test_cli_usage_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "validate", "--repo", str(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "has no ftpolicy.yaml" in err and "hint: run `ftpolicy init" in err
    code, _, err = cli(capsys, "validate", "--format", "yaml")
    assert code == 2 and "'yaml' is not one of 'text', 'json'" in err


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "validate", "--help")
    assert code == 0
    for needle in (
        "--repo DIR",
        "--format [text|json|sarif|github]",
        "Examples:",
        "ftpolicy validate datasets/",
        "Exit codes",
    ):
        assert needle in out


def test_misplaced_yaml_files_are_reported(repo: Path) -> None:
    shutil.copy(BASELINE, repo / "datasets" / "tickets.yaml")
    shutil.copy(BASELINE, repo / "datasets" / "tickets" / "1.1.yml")
    write(repo, "identities/people/dana.yaml", "schema_version: 1\n")
    write(repo, "datasets/tickets/.drafts/x.yaml", "ignored: true\n")  # hidden folders are skipped
    write(repo, "datasets/tickets/NOTES.md", "not YAML\n")
    report = validate_repo(repo)
    misplaced = {f.path: f for f in report.invalid}
    assert sorted(misplaced) == [
        "datasets/tickets.yaml",
        "datasets/tickets/1.1.yml",
        "identities/people/dana.yaml",
    ]
    (problem,) = misplaced["datasets/tickets.yaml"].problems
    assert problem.code == "manifest.misplaced" and "datasets/*/*.yaml" in problem.message
    assert problem.hint is not None and "out of datasets/" in problem.hint
    # Named explicitly, a file outside the layout is validated by its declared kind instead.
    assert validate_repo(repo, ["datasets/tickets.yaml"], cwd=repo).ok


def test_misplaced_files_under_a_given_folder(repo: Path) -> None:
    shutil.copy(BASELINE, repo / "datasets" / "tickets" / "1.1.yml")
    report = validate_repo(repo, ["datasets"], cwd=repo)
    assert [(f.path, f.ok) for f in report.files] == [
        ("datasets/tickets/1.0.0.yaml", True),
        ("datasets/tickets/1.1.yml", False),
    ]
    assert validate_repo(repo, ["identities"], cwd=repo).ok
    assert not validate_repo(repo, ["."], cwd=repo).ok


def test_cli_sarif_and_github(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonschema

    text = BASELINE.read_text().replace("    records: 300\n", "    records: -5\n")
    write(repo, "datasets/tickets/1.0.0.yaml", text)
    monkeypatch.chdir(repo)
    code, out, _ = cli(capsys, "validate", "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    schema = json.loads((Path(__file__).resolve().parents[1] / "sarif-2.1.0-rtm.5.json").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "manifest.schema"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "datasets/tickets/1.0.0.yaml"
    assert location["region"] == {"startLine": 30, "startColumn": 14}
    code, out, _ = cli(capsys, "validate", "--format", "github")
    assert code == 1
    assert out == (
        "::error file=datasets/tickets/1.0.0.yaml,line=30,title=manifest.schema::"
        "-5 is too small (must be >= 0)\n"
    )
    write(repo, "datasets/tickets/1.0.0.yaml", BASELINE.read_text())
    assert cli(capsys, "validate", "--format", "github")[:2] == (0, "")
