"""The policy input document: built only from verified facts, and valid against its schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from check_support import edit
from helpers.gitrepo import ScratchRepo

from ftpolicy.git import GitRepo
from ftpolicy.policy.input import INPUT_SCHEMA, build_input
from ftpolicy.resources import schemas_dir

DS = "datasets/support-tickets/1.1.0.yaml"


def _validate(document: dict[str, Any]) -> None:
    schema = json.loads((schemas_dir() / "policy-input.v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)


def _build(repo: ScratchRepo, base: str | None = None) -> dict[str, Any]:
    with GitRepo.open(repo.path) as git:
        return build_input(git, root=repo.path, base=base, now="2026-11-28T12:00:00Z").document


def test_full_input_of_the_example_validates(gov: ScratchRepo) -> None:
    doc = _build(gov)
    _validate(doc)
    assert doc["schema"] == INPUT_SCHEMA
    assert doc["mode"] == "full"
    assert doc["git"]["base"] is None and doc["git"]["changed"] == []
    kinds = {m["kind"] for m in doc["manifests"]}
    assert {"dataset", "eval-suite", "adapter", "config", "identity", "registry"} <= kinds
    assert all(m["subject"] for m in doc["manifests"])
    assert doc["identities"]["alice"]["teams"]
    assert doc["config"]["datasets"]["licence_allowlist"][0] == "LicenseRef-Acme-Internal"
    assert doc["shards_verified"] and all(s["match"] for s in doc["shards_verified"])
    assert doc["problems"] == []


def test_diff_input_has_subjects_references_and_base(gov: ScratchRepo) -> None:
    gov.commit("edit", {DS: edit(gov, DS, "342 records.", "343 records.")})
    doc = _build(gov, base="main")
    _validate(doc)
    by_path = {m["path"]: m for m in doc["manifests"]}
    assert set(by_path) == {DS, "datasets/support-tickets/1.0.0.yaml"}
    assert by_path[DS]["subject"] is True and by_path[DS]["change"] == "modified"
    assert by_path["datasets/support-tickets/1.0.0.yaml"]["subject"] is False
    assert "343" not in json.dumps(by_path[DS]["base"]["data"])
    assert by_path[DS]["lines"]["/change_summary"] == 8
    assert doc["git"]["changed"] == [{"status": "modified", "path": DS}]
    (commit,) = doc["git"]["commits"]
    assert commit["subject"] == "edit" and commit["signature"]["status"] == "none"


def test_unverifiable_reference_is_absent_and_a_problem(gov: ScratchRepo) -> None:
    gov.commit("break parent", {"datasets/support-tickets/1.0.0.yaml": "schema_version: 1\nkind: dataset\n"})
    gov.commit("edit", {DS: edit(gov, DS, "342 records.", "343 records.")})
    doc = _build(gov, base="HEAD~1")
    _validate(doc)
    assert [m["path"] for m in doc["manifests"]] == [DS]
    assert doc["problems"]
    assert all(p["path"] == "datasets/support-tickets/1.0.0.yaml" for p in doc["problems"])
    assert all("referenced by" in p["message"] for p in doc["problems"])


def test_yaml_error_in_subject_is_a_located_problem(gov: ScratchRepo) -> None:
    gov.commit("bad yaml", {"datasets/support-tickets/1.2.0.yaml": "schema_version: 1\nkind: [dataset\n"})
    doc = _build(gov, base="main")
    _validate(doc)
    assert doc["manifests"] == []
    (problem,) = doc["problems"]
    assert problem["path"] == "datasets/support-tickets/1.2.0.yaml"
    assert problem["line"] >= 2


def test_deleted_and_moved_paths(gov: ScratchRepo) -> None:
    gov.move(DS, "datasets/support-tickets/1.1.1.yaml")
    gov.commit("move", {})
    doc = _build(gov, base="main")
    _validate(doc)
    (change,) = doc["git"]["changed"]
    assert change == {"status": "renamed", "path": "datasets/support-tickets/1.1.1.yaml", "old_path": DS}
    # the moved file still says version 1.1.0: not verifiable, so absent and a problem
    assert doc["manifests"] == [] or all(m["path"] != change["path"] for m in doc["manifests"])
    assert any(p["path"] == change["path"] and "version" in p["message"] for p in doc["problems"])
