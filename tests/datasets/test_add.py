"""`add_dataset_version`: hashes shards, validates before writing, never overwrites."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.datasets.add import (
    PreprocessStep,
    Source,
    add_dataset_version,
    parse_collection,
    render_manifest,
)
from ftpolicy.errors import ImmutableVersionError, PathEscapeError, UsageError
from ftpolicy.manifest import load_manifest

CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def governed_repo(tmp_path: Path) -> Path:
    """A minimal governed repository: a valid ftpolicy.yaml and a data/ folder."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "ftpolicy.yaml").write_text("schema_version: 1\nkind: config\nproject: demo\n")
    return root


def write_jsonl(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": i, **CHAT}) + "\n" for i in range(n)))
    return path


def add(root: Path, version: str = "1.0.0", **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "version": version,
        "shards": [root / "data" / "a.jsonl"],
        "sources": [Source.parse("kind=internal,uri=s3://corp/tickets,licence=proprietary")],
        "collected_by": "data-eng",
        "authors": ["alice", "bob"],
        "collection": ("2026-01-01", "2026-03-31"),
        "record_format": "chat",
        "change_summary": "first export",
    }
    args.update(overrides)
    return add_dataset_version(root, "tickets", **args)


def test_add_writes_a_valid_manifest_with_pinned_shards(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    a = write_jsonl(root / "data" / "a.jsonl", 25)
    params = root / "scrub.yaml"
    params.write_text("drop: [email, phone]\n")
    result = add(root, preprocessing=[PreprocessStep.parse("tool=scrub,version=2.0,params=scrub.yaml", root)])
    assert result.path == "datasets/tickets/1.0.0.yaml"
    manifest = load_manifest(root, result.path)  # validates against the schema, paths confined
    data = manifest.data
    assert data["version"] == "1.0.0" and data["parent"] is None
    assert data["shards"] == [
        {
            "path": "data/a.jsonl",
            "sha256": hashlib.sha256(a.read_bytes()).hexdigest(),
            "bytes": a.stat().st_size,
            "records": 25,
            "format": "jsonl",
        }
    ]
    assert data["sources"] == [
        {"name": "tickets", "kind": "internal", "uri": "s3://corp/tickets", "licence": "proprietary"}
    ]
    assert (
        data["preprocessing"][0]["parameters_digest"]
        == "sha256:" + hashlib.sha256(params.read_bytes()).hexdigest()
    )
    text = (root / result.path).read_text()
    assert 'version: "1.0.0"' in text  # versions are always quoted
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == [
        "schema_version",
        "kind",
        "name",
        "version",
        "record_format",
        "parent",
        "change_summary",
        "sources",
        "collected_by",
        "authors",
        "collection",
        "preprocessing",
        "shards",
    ]


def test_version_that_looks_like_a_number_stays_text(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    write_jsonl(root / "data" / "a.jsonl", 1)
    add(root, version="1.0")
    text = (root / "datasets/tickets/1.0.yaml").read_text()
    assert 'version: "1.0"' in text
    assert load_manifest(root, "datasets/tickets/1.0.yaml").data["version"] == "1.0"


def test_existing_version_is_never_overwritten(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    write_jsonl(root / "data" / "a.jsonl", 3)
    add(root)
    before = (root / "datasets/tickets/1.0.0.yaml").read_bytes()
    write_jsonl(root / "data" / "a.jsonl", 4)
    with pytest.raises(ImmutableVersionError) as info:
        add(root, change_summary="sneaky rewrite")
    assert info.value.exit_code == 1
    assert "add a new version" in (info.value.hint or "")
    assert (root / "datasets/tickets/1.0.0.yaml").read_bytes() == before


def test_invalid_values_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    write_jsonl(root / "data" / "a.jsonl", 3)
    with pytest.raises(UsageError) as info:
        add(root, authors=["Alice Smith"], collection=("2026-01-01", "2026-02-30"))
    message = info.value.message
    assert "nothing was written" in message
    assert "--author" in message and "--collection" in message
    assert not (root / "datasets").exists()


def test_parent_must_exist(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    write_jsonl(root / "data" / "a.jsonl", 3)
    with pytest.raises(UsageError) as info:
        add(root, parent="0.9.0")
    assert info.value.code == "dataset.parent-not-found"
    assert "none yet" in (info.value.hint or "")
    add(root)
    result = add(root, version="1.1.0", parent="1.0.0")
    assert load_manifest(root, result.path).data["parent"] == "1.0.0"
    assert 'parent: "1.0.0"' in (root / result.path).read_text()
    warned = add(root, version="2.0.0")
    assert warned.warnings and "no --parent" in warned.warnings[0]


def test_shards_must_stay_inside_the_repository(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    outside = write_jsonl(tmp_path / "outside.jsonl", 2)
    with pytest.raises(PathEscapeError):
        add(root, shards=[outside])
    os.symlink(outside, root / "data" / "link.jsonl")
    with pytest.raises(PathEscapeError, match="outside the repository"):
        add(root, shards=[root / "data" / "link.jsonl"])
    (root / "data" / "notes.csv").write_text("a,b\n")
    with pytest.raises(UsageError, match="unsupported file type"):
        add(root, shards=[root / "data" / "notes.csv"])
    with pytest.raises(UsageError, match="no such file"):
        add(root, shards=[root / "data" / "missing.jsonl"])
    assert not (root / "datasets").exists()


def test_relative_shard_paths_are_taken_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = governed_repo(tmp_path)
    write_jsonl(root / "data" / "a.jsonl", 2)
    monkeypatch.chdir(root / "data")
    result = add(root, shards=["a.jsonl"])
    assert result.manifest["shards"][0]["path"] == "data/a.jsonl"


def test_source_and_preprocess_specs() -> None:
    s = Source.parse("kind=vendor,uri=https://v.example/export?a=1,b=2,license=CC-BY-4.0,name=acme")
    assert (s.kind, s.uri, s.licence, s.name) == (
        "vendor",
        "https://v.example/export?a=1,b=2",
        "CC-BY-4.0",
        "acme",
    )
    with pytest.raises(UsageError, match="unknown kind"):
        Source.parse("kind=scraped,uri=https://x.example,licence=none")
    with pytest.raises(UsageError, match="lacks licence"):
        Source.parse("kind=public,uri=https://x.example")
    step = PreprocessStep.parse("tool=dedup,version=1.4,params_digest=sha256:" + "a" * 64)
    assert step.parameters_digest == "sha256:" + "a" * 64
    with pytest.raises(UsageError, match="params"):
        PreprocessStep.parse("tool=dedup,version=1.4")
    with pytest.raises(UsageError, match="not found"):
        PreprocessStep.parse("tool=dedup,version=1.4,params=/nonexistent/params.yaml")


def test_collection_window() -> None:
    assert parse_collection("2026-01-01..2026-03-31") == ("2026-01-01", "2026-03-31")
    for bad in ("2026-01-01", "2026-03-31..2026-01-01", "jan..feb"):
        with pytest.raises(UsageError):
            parse_collection(bad)


def test_render_is_stable() -> None:
    doc = {"schema_version": 1, "list": [{"b": 1, "a": 2}], "date": "2026-01-01"}
    assert render_manifest(doc) == render_manifest(dict(doc))
    assert "  - b: 1\n    a: 2\n" in render_manifest(doc)


def test_warnings_for_records_that_do_not_fit_and_unknown_identities(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    write_jsonl(root / "data" / "a.jsonl", 5)
    (root / "identities").mkdir()
    (root / "identities" / "alice.yaml").write_text("placeholder\n")
    result = add(root, record_format="instruction")
    assert result.warnings[0].startswith("data/a.jsonl:1: missing field 'instruction' (instruction format)")
    assert "5 of the first 50 records" in result.warnings[0]
    assert [w.split("'")[1] for w in result.warnings[1:]] == ["bob", "data-eng"]
    clean = add(root, version="1.1.0", parent="1.0.0", authors=["alice"], collected_by="alice")
    assert clean.warnings == ()
