"""ftpolicy.manifest.loader: path confinement, kinds by place, check/parse/load/discover."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ftpolicy.errors import ManifestError, PathEscapeError, UsageError
from ftpolicy.manifest import (
    check_manifest,
    confine,
    discover,
    find_repo_root,
    kind_for_path,
    load_manifest,
    parse_manifest,
    path_fields,
)

BASELINE = Path(__file__).resolve().parent.parent / "assets" / "malformed" / "baseline.dataset.yaml"
DATASET = "datasets/tickets/1.0.0.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "a.jsonl").write_text("{}\n")
    (tmp_path / "outside.jsonl").write_text("{}\n")
    return repo


# --- confine ---------------------------------------------------------------------------


def test_confine_accepts_paths_inside(root: Path) -> None:
    assert confine(root, "data/a.jsonl") == (root / "data" / "a.jsonl").resolve()
    assert confine(root, "data/not-yet-there.jsonl").parent == (root / "data").resolve()
    assert confine(root, "./data/a.jsonl") == (root / "data" / "a.jsonl").resolve()
    os.symlink("a.jsonl", root / "data" / "inner-link.jsonl")
    assert confine(root, "data/inner-link.jsonl") == (root / "data" / "a.jsonl").resolve()


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("/etc/passwd", "absolute path '/etc/passwd' is not allowed"),
        ("\\\\server\\share", "absolute path"),
        ("C:\\data\\x.jsonl", "absolute path"),
        ("", "empty path"),
        ("../outside.jsonl", "uses '..' to leave its folder"),
        ("data/../../outside.jsonl", "uses '..'"),
        ("data\\..\\..\\outside.jsonl", "uses '..'"),
    ],
)
def test_confine_rejects_escapes(root: Path, rel: str, message: str) -> None:
    with pytest.raises(PathEscapeError, match=None) as exc:
        confine(root, rel)
    assert message in exc.value.message
    assert exc.value.hint and exc.value.code == "path.escape" and exc.value.exit_code == 1


def test_confine_rejects_symlinks_out(root: Path) -> None:
    os.symlink(root.parent / "outside.jsonl", root / "data" / "out.jsonl")
    os.symlink(root.parent, root / "up")
    with pytest.raises(PathEscapeError, match="through a symlink"):
        confine(root, "data/out.jsonl")
    with pytest.raises(PathEscapeError, match="through a symlink"):
        confine(root, "up/outside.jsonl")


# --- kinds and discovery -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("ftpolicy.yaml", "config"),
        ("identities/teams.yaml", "teams"),
        ("identities/dana.yaml", "identity"),
        ("datasets/tickets/1.0.0.yaml", "dataset"),
        ("evals/holdout/2026.11.yaml", "eval-suite"),
        ("adapters/bot/1.0.yaml", "adapter"),
        ("registry/bot.yaml", "registry"),
        ("datasets/tickets.yaml", None),
        ("datasets/a/b/1.0.yaml", None),
        ("sub/ftpolicy.yaml", None),
        ("datasets/tickets/1.0.0.yml", None),
        ("README.md", None),
    ],
)
def test_kind_for_path(rel: str, kind: str | None) -> None:
    assert kind_for_path(rel) == kind


def test_discover_and_find_repo_root(root: Path) -> None:
    for rel in ("ftpolicy.yaml", DATASET, "identities/teams.yaml", "registry/bot.yaml", "datasets/README.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x: 1\n")
    assert discover(root) == [
        "datasets/tickets/1.0.0.yaml",
        "ftpolicy.yaml",
        "identities/teams.yaml",
        "registry/bot.yaml",
    ]
    assert find_repo_root(root / "datasets" / "tickets") == root.resolve()
    with pytest.raises(UsageError, match=r"no ftpolicy\.yaml found") as exc:
        find_repo_root(root.parent)
    assert exc.value.exit_code == 2


# --- check / parse / load ----------------------------------------------------------------


def test_check_collects_all_problems_in_line_order(root: Path) -> None:
    text = BASELINE.read_text()
    text = text.replace("name: tickets\n", "name: other\n")
    text = text.replace("    records: 300\n", "    records: -3\n")
    text = text.replace("  - path: data/tickets-1.0.0.jsonl\n", "  - path: ../x.jsonl\n")
    text = text.replace("collected_by: dana\n", "collected_by: dana\ncollected_at: now\n")
    manifest, found = check_manifest(DATASET, text.encode(), root=root)
    assert manifest.kind == "dataset" and manifest.ref == "other@1.0.0"
    lines = [manifest.positions.line(p.pointer) for p in found]
    assert lines == sorted(lines)
    assert [(p.pointer, p.code) for p in found] == [
        ("/name", "manifest.location"),
        ("/collected_at", "manifest.schema"),
        ("/shards/0/path", "path.escape"),  # replaces the schema's generic pattern message
        ("/shards/0/records", "manifest.schema"),
    ]
    assert found[2].message == "path '../x.jsonl' uses '..' to leave its folder"


def test_path_checks_need_a_root(root: Path) -> None:
    text = BASELINE.read_text().replace("data/tickets-1.0.0.jsonl", "data/out.jsonl")
    os.symlink(root.parent / "outside.jsonl", root / "data" / "out.jsonl")
    assert check_manifest(DATASET, text.encode())[1] == []
    (p,) = check_manifest(DATASET, text.encode(), root=root)[1]
    assert p.pointer == "/shards/0/path" and "through a symlink" in p.message


def test_place_checks_only_at_known_places() -> None:
    text = BASELINE.read_bytes()
    assert check_manifest("drafts/tickets/x.yaml", text)[1] == []
    found = check_manifest("datasets/other/2.0.yaml", text)[1]
    assert [p.message for p in found] == [
        "name 'tickets' does not match the folder 'other'",
        "version '1.0.0' does not match the file name '2.0.yaml'",
    ]


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("kind: dataset\n", "manifest.schema-version", "missing required field 'schema_version'"),
        ("schema_version: 2\nkind: dataset\n", "manifest.schema-version", "unsupported schema_version 2"),
        (
            "schema_version: true\nkind: dataset\n",
            "manifest.schema-version",
            "unsupported schema_version True",
        ),
        ("schema_version: 1\n", "manifest.kind", "missing required field 'kind'"),
        ("schema_version: 1\nkind: model\n", "manifest.kind", "unknown kind 'model'"),
        ("schema_version: 1\nkind: adapter\n", "manifest.kind", "kind 'adapter' does not belong at"),
    ],
)
def test_version_and_kind_are_checked_first(text: str, code: str, message: str) -> None:
    _, found = check_manifest(DATASET, text.encode())
    assert len(found) == 1 and found[0].code == code and message in found[0].message


def test_parse_raises_the_first_problem_with_its_line() -> None:
    text = BASELINE.read_text().replace("    records: 300\n", "    records: -3\n")
    with pytest.raises(ManifestError) as exc:
        parse_manifest(DATASET, text.encode())
    assert exc.value.location is not None
    assert (exc.value.location.path, exc.value.location.line) == (DATASET, 30)
    assert parse_manifest(DATASET, BASELINE.read_bytes()).data["name"] == "tickets"


def test_load_manifest(root: Path) -> None:
    (root / "datasets" / "tickets").mkdir(parents=True)
    (root / DATASET).write_bytes(BASELINE.read_bytes())
    manifest = load_manifest(root, DATASET)
    assert manifest.location("/shards/0/sha256").line == 28
    assert list(path_fields("dataset", manifest.data)) == [("/shards/0/path", "data/tickets-1.0.0.jsonl")]
    with pytest.raises(UsageError, match="no such file"):
        load_manifest(root, "datasets/tickets/9.yaml")
    with pytest.raises(PathEscapeError):
        load_manifest(root, "../elsewhere.yaml")
