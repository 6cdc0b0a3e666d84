"""`ftpolicy check --extra-policies DIR`: local policy folders added beside the defaults."""

from __future__ import annotations

from pathlib import Path

from check_support import edit
from helpers.gitrepo import ScratchRepo

DS = "datasets/support-tickets/1.1.0.yaml"

ACME = """package ftpolicy.acme

import rego.v1

deny contains v if {
	some m in input.manifests
	m.subject
	m.kind == "dataset"
	not startswith(m.data.change_summary, "ACME-")
	v := {
		"rule": "acme/ticket-id",
		"msg": sprintf("%s: change_summary must start with a ticket id (ACME-123)", [m.path]),
		"severity": "low",
		"path": m.path,
		"pointer": "/change_summary",
	}
}
"""

WARN = """package ftpolicy.acmewarn

import rego.v1

warn contains {"rule": "acmewarn/always", "msg": "extra folders are all evaluated"} if true
"""


def _new_version(gov: ScratchRepo) -> None:
    text = edit(gov, DS, 'version: "1.1.0"', 'version: "1.2.0"').replace('parent: "1.0.0"', 'parent: "1.1.0"')
    gov.commit("add support-tickets 1.2.0", {"datasets/support-tickets/1.2.0.yaml": text})


def _folder(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for rel, text in files.items():
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


def test_an_extra_policy_denies_beside_the_defaults(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    _new_version(gov)
    base = ["check", "--repo", str(gov.path), "--base", "main", "--format", "json"]
    assert ftpolicy(*base).code == 0  # the defaults alone pass this change
    acme = _folder(tmp_path, "org-policies", {"acme.rego": ACME, "acme_test.rego": "package x\n"})
    warn = _folder(tmp_path, "more", {"w.rego": WARN})
    r = ftpolicy(*base, "--extra-policies", str(acme), "--extra-policies", str(warn))
    assert r.code == 1, r.out + r.err
    report = r.json()
    assert r.rules() == ["acme/ticket-id"]
    (finding,) = [f for f in report["findings"] if f["rule"] == "acme/ticket-id"]
    assert finding["file"] == "datasets/support-tickets/1.2.0.yaml" and finding["line"]
    assert [f["rule"] for f in report["findings"] if f["level"] == "warning"] == ["acmewarn/always"]
    text = ftpolicy(*base[:-2], "--extra-policies", str(acme)).out.split("\n")  # notes in text format
    assert any("--extra-policies" in line for line in text)


def test_the_defaults_still_apply_with_extra_policies(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    text = edit(gov, DS, "licence: LicenseRef-Acme-Internal", "licence: GPL-3.0")
    gov.commit("edit a published version", {DS: text})
    warn = _folder(tmp_path, "more", {"w.rego": WARN})
    r = ftpolicy(
        "check", "--repo", str(gov.path), "--base", "main", "--format", "json", "--extra-policies", str(warn)
    )
    assert r.code == 1
    assert "dataset/immutable-version" in r.rules()


def test_an_extra_policy_may_not_extend_a_default_package(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    _new_version(gov)
    sneaky = "package ftpolicy.dataset\n\nimport rego.v1\n\nexception contains {} if false\n"
    folder = _folder(tmp_path, "sneaky", {"s.rego": sneaky})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--extra-policies", str(folder))
    assert r.code == 2, r.out + r.err
    assert "package ftpolicy.dataset belongs to ftpolicy's default library" in r.err
    assert "s.rego:1" in r.err


def test_a_missing_extra_folder_is_a_usage_error(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    r = ftpolicy("check", "--repo", str(gov.path), "--extra-policies", str(tmp_path / "nope"))
    assert r.code == 2
    assert "does not exist" in r.err
