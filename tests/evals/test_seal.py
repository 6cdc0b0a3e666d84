"""Sealing: the example suite's digests are reproduced, versions are immutable, items are verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ftpolicy.errors import ImmutableVersionError, ManifestError
from ftpolicy.evals.seal import build_manifest, load_suite, read_items, verify_items
from ftpolicy.manifest import load_manifest
from ftpolicy.scan.dataset.contamination import load_holdout

from .conftest import ITEMS_REL, run


def test_seal_reproduces_the_registered_example(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registered = yaml.safe_load((repo / "evals/security-holdout/2026.11.yaml").read_text())
    code, out, err = run(
        capsys,
        *["eval", "seal", str(repo / ITEMS_REL), "--name", "security-holdout", "--version", "2026.12",
         "--sealed-by", "dave", "--items-path", ITEMS_REL, "--repo", str(repo)],
    )  # fmt: skip
    assert code == 0, err
    assert "60 items" in out
    manifest = load_manifest(repo, "evals/security-holdout/2026.12.yaml")  # validates against the schema
    assert manifest.data["items"] == {**registered["items"]}
    for cat, entry in registered["categories"].items():
        assert manifest.data["categories"][cat] == entry


def test_version_is_immutable(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "seal", str(repo / ITEMS_REL), "--name", "security-holdout", "--version", "2026.11"]
    before = (repo / "evals/security-holdout/2026.11.yaml").read_bytes()
    code, _, err = run(capsys, *args, "--repo", str(repo))
    assert code == 1
    assert "sealed suite version never changes" in err
    assert (repo / "evals/security-holdout/2026.11.yaml").read_bytes() == before


def test_thresholds_and_bad_threshold(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = read_items(repo / ITEMS_REL)
    m = build_manifest(
        items, name="s", version="1", thresholds={"refusal": 0.8}, sealed_at="2026-11-01T00:00:00Z"
    )
    assert m["categories"]["refusal"]["threshold"] == 0.8
    assert m["categories"]["unsafe-code"]["threshold"] == 0.85
    code, _, err = run(capsys, *["eval", "seal", str(repo / ITEMS_REL), "--name", "s", "--version", "1",
                              "--threshold", "quality=0.5", "--repo", str(repo)])  # fmt: skip
    assert code == 2 and "no category 'quality'" in err
    code, _, err = run(capsys, *["eval", "seal", str(repo / ITEMS_REL), "--name", "s", "--version", "1",
                              "--threshold", "refusal", "--repo", str(repo)])  # fmt: skip
    assert code == 2 and "CATEGORY=RATE" in err


def test_verify_items_detects_edits(repo: Path, tmp_path: Path) -> None:
    suite = load_suite(repo, "security-holdout@2026.11")
    assert len(suite.items) == 60 and suite.digest.startswith("sha256:f79aed17")
    lines = (repo / ITEMS_REL).read_text().splitlines()
    edited = tmp_path / "edited.jsonl"
    obj = json.loads(lines[3])
    obj["prompt"] += " "
    edited.write_text("\n".join([*lines[:3], json.dumps(obj), *lines[4:]]) + "\n")
    with pytest.raises(ManifestError, match="do not match the digest"):
        load_suite(repo, "security-holdout@2026.11", edited)
    # a manifest whose per-category entries disagree with the items is refused too
    data = yaml.safe_load((repo / "evals/security-holdout/2026.11.yaml").read_text())
    data["categories"]["refusal"]["items"] = 14
    with pytest.raises(ManifestError, match="category 'refusal'"):
        verify_items(data, list(suite.items), display="items.jsonl", where="evals/x.yaml")


def test_contamination_uses_the_same_rule(repo: Path) -> None:
    holdout = load_holdout("security-holdout@2026.11", repo)
    assert holdout.digest == load_suite(repo, "security-holdout@2026.11").digest


def test_immutable_library_error(repo: Path) -> None:
    from ftpolicy.evals.seal import write_suite

    items = read_items(repo / ITEMS_REL)
    m = build_manifest(items, name="security-holdout", version="2026.11")
    with pytest.raises(ImmutableVersionError):
        write_suite(repo, m)
    m2 = build_manifest(items, name="security-holdout", version="2027.01")
    m2["owner_team"] = "Not A Team!"
    with pytest.raises(ManifestError):
        write_suite(repo, m2)
    assert not (repo / "evals/security-holdout/2027.01.yaml").exists()


def test_items_with_an_unknown_category_are_located(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "category": "refusal", "prompt": "x"}\n{"id": "b", "category": "jokes"}\n')
    code, _, err = run(
        capsys, "eval", "seal", str(items), "--name", "s", "--version", "1", "--repo", str(repo)
    )
    assert code == 2
    assert f"{items}:2" in err and "category 'jokes'" in err
    assert not (repo / "evals/s/1.yaml").exists()
