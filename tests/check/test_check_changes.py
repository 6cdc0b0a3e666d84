"""`ftpolicy check --base main` on real Git repositories: the exact rule ids each change gets."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from check_support import edit
from helpers.gitrepo import ScratchRepo

DS = "datasets/support-tickets/1.1.0.yaml"
EVAL = "evals/security-holdout/2026.11.yaml"
ADAPTER = "adapters/code-assistant-lora/1.0.0.yaml"


def new_version(repo: ScratchRepo, licence: str = "LicenseRef-Acme-Internal") -> str:
    """A dataset version 1.2.0 whose parent is 1.1.0 (same shards), with the first licence given."""
    text = edit(repo, DS, 'version: "1.1.0"', 'version: "1.2.0"')
    text = text.replace('parent: "1.0.0"', 'parent: "1.1.0"').replace(
        "licence: LicenseRef-Acme-Internal", f"licence: {licence}", 1
    )
    return text


def test_clean_change_passes(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("add support-tickets 1.2.0", {"datasets/support-tickets/1.2.0.yaml": new_version(gov)})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 0, r.out + r.err
    report = r.json()
    assert report["status"] == "pass"
    assert report["findings"] == []
    assert report["summary"]["mode"] == "diff"
    assert report["summary"]["subjects"] == 1


def test_edited_published_dataset_version(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("fix summary", {DS: edit(gov, DS, "342 records.", "343 records.")})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["dataset/immutable-version"]
    finding = r.json()["findings"][0]
    assert finding["file"] == DS
    assert finding["line"] == 8  # change_summary, the field that changed


def test_licence_outside_allowlist(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("add 1.2.0", {"datasets/support-tickets/1.2.0.yaml": new_version(gov, "CC-BY-NC-4.0")})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["dataset/licence-not-allowed"]
    finding = r.json()["findings"][0]
    assert finding["file"] == "datasets/support-tickets/1.2.0.yaml"
    assert finding["line"] == 13
    assert "CC-BY-NC-4.0" in finding["message"]


def test_lowered_eval_threshold(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("relax", {EVAL: edit(gov, EVAL, "threshold: 0.95", "threshold: 0.5")})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["eval/threshold-lowered"]
    finding = r.json()["findings"][0]
    assert finding["file"] == EVAL
    assert gov.read(EVAL).decode().splitlines()[finding["line"] - 1].strip() == "threshold: 0.5"
    assert "control-plane" in finding["message"]


def test_policy_file_change(gov: ScratchRepo, ftpolicy) -> None:
    policy = (
        'package ftpolicy.acme\n\nimport rego.v1\n\nwarn contains {"rule": "acme/x", "msg": "m"} if false\n'
    )
    gov.commit("add a policy", {"policies/acme.rego": policy})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["change/control-plane"]
    assert r.json()["findings"][0]["file"] == "policies/acme.rego"


def test_config_change_is_control_plane(gov: ScratchRepo, ftpolicy) -> None:
    text = edit(gov, "ftpolicy.yaml", "    - MIT\n", "    - MIT\n    - CC-BY-NC-4.0\n")
    gov.commit(
        "allow NC",
        {"ftpolicy.yaml": text, "datasets/support-tickets/1.2.0.yaml": new_version(gov, "CC-BY-NC-4.0")},
    )
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["change/control-plane"]


def test_adapter_with_bin_weights(gov: ScratchRepo, ftpolicy) -> None:
    text = edit(gov, ADAPTER, 'version: "1.0.0"', 'version: "1.1.0"')
    text = text.replace("1.0.0/adapter_model.safetensors", "1.1.0/adapter_model.bin")
    gov.commit("adapter 1.1.0", {"adapters/code-assistant-lora/1.1.0.yaml": text})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["adapter/unsafe-weight-format"]
    finding = r.json()["findings"][0]
    assert finding["severity"] == "critical"
    assert finding["file"] == "adapters/code-assistant-lora/1.1.0.yaml"
    assert text.splitlines()[finding["line"] - 1].strip().endswith("1.1.0/adapter_model.bin")


def test_missing_referenced_manifest(gov: ScratchRepo, ftpolicy) -> None:
    text = edit(gov, ADAPTER, 'version: "1.0.0"', 'version: "1.1.0"')
    text = text.replace("support-tickets@1.1.0", "support-tickets@9.9.9")
    gov.commit("adapter 1.1.0", {"adapters/code-assistant-lora/1.1.0.yaml": text})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main")
    assert r.code == 1
    assert "adapter/dataset-missing" in r.out
    assert "datasets/support-tickets/9.9.9.yaml" in r.out


def test_invalid_referenced_manifest_is_reported_not_used(gov: ScratchRepo, ftpolicy) -> None:
    # main gets a broken dataset version; the change adds an adapter that references it.
    gov.switch("main")
    broken = edit(gov, DS, 'version: "1.1.0"', 'version: "2.0.0"').replace("record_format: chat\n", "")
    gov.commit("broken dataset", {"datasets/support-tickets/2.0.0.yaml": broken})
    gov.branch("change2")
    text = edit(gov, ADAPTER, 'version: "1.0.0"', 'version: "1.1.0"').replace(
        "support-tickets@1.1.0", "support-tickets@2.0.0"
    )
    gov.commit("adapter 1.1.0", {"adapters/code-assistant-lora/1.1.0.yaml": text})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["adapter/dataset-missing", "manifest/invalid"]
    invalid = next(f for f in r.json()["findings"] if f["rule"] == "manifest/invalid")
    assert invalid["file"] == "datasets/support-tickets/2.0.0.yaml"
    assert "referenced by adapters/code-assistant-lora/1.1.0.yaml" in invalid["message"]


def test_shard_digest_mismatch_in_work_tree(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("add 1.2.0", {"datasets/support-tickets/1.2.0.yaml": new_version(gov)})
    shard = gov.path / "data/support-tickets/1.1.0/part-00001.jsonl"
    shard.write_bytes(shard.read_bytes() + b'{"id": "planted"}\n')
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["dataset/shard-digest-mismatch"]


def test_nothing_changed(gov: ScratchRepo, ftpolicy) -> None:
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main")
    assert r.code == 0
    assert "nothing relevant changed" in r.out


def test_reads_head_not_work_tree(gov: ScratchRepo, ftpolicy) -> None:
    # An uncommitted bad edit is not what is judged; the committed head is.
    (gov.path / "datasets/support-tickets/1.2.0.yaml").write_text(new_version(gov, "CC-BY-NC-4.0"))
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main")
    assert r.code == 0, r.out


def test_full_check_of_example_passes(gov: ScratchRepo, ftpolicy) -> None:
    r = ftpolicy("check", "--repo", str(gov.path), "--format", "json")
    assert r.code == 0, r.out
    assert r.json()["summary"]["mode"] == "full"
    assert r.json()["summary"]["subjects"] >= 10


def test_sarif_has_file_and_line_and_validates(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    gov.commit("add 1.2.0", {"datasets/support-tickets/1.2.0.yaml": new_version(gov, "CC-BY-NC-4.0")})
    out = tmp_path / "check.sarif"
    r = ftpolicy(
        "check", "--repo", str(gov.path), "--base", "main", "--format", "sarif", "--output", str(out)
    )
    assert r.code == 1
    assert r.out == ""
    sarif = json.loads(out.read_text())
    schema = json.loads((Path(__file__).resolve().parents[1] / "sarif-2.1.0-rtm.5.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "dataset/licence-not-allowed"
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "datasets/support-tickets/1.2.0.yaml"
    assert loc["region"]["startLine"] == 13


def test_github_format_writes_job_summary(gov: ScratchRepo, ftpolicy, tmp_path: Path, monkeypatch) -> None:
    gov.commit("relax", {EVAL: edit(gov, EVAL, "threshold: 0.95", "threshold: 0.5")})
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "github")
    assert r.code == 1
    assert r.out.startswith("::error file=evals/security-holdout/2026.11.yaml,line=")
    assert "eval/threshold-lowered" in summary.read_text()


def test_governed_repo_inside_a_larger_repository(tmp_path: Path, ftpolicy) -> None:
    import shutil

    from helpers.gitrepo import EXAMPLE_DIR, init_repo

    outer = init_repo(tmp_path / "mono")
    shutil.copytree(EXAMPLE_DIR, outer.path / "ml" / "gov")
    outer.commit("import")
    outer.branch("change")
    rel = "ml/gov/" + DS
    outer.commit("edit", {rel: edit(outer, rel, "342 records.", "343 records.")})
    r = ftpolicy("check", "--repo", str(outer.path / "ml" / "gov"), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["dataset/immutable-version"]
    assert r.json()["findings"][0]["file"] == rel  # relative to the Git root, as code scanning needs


@pytest.mark.parametrize("fail_on_warn", [False, True])
def test_warnings_and_fail_on_warn(gov: ScratchRepo, ftpolicy, fail_on_warn: bool) -> None:
    waiver = (
        "policy_params:\n  exceptions:\n    - rule: dataset/licence-not-allowed\n      owner: dave\n"
        "      reason: legal review pending\n      expires: '2026-01-31'\n"
    )
    gov.switch("main")
    gov.commit("old waiver", {"ftpolicy.yaml": gov.read("ftpolicy.yaml").decode() + waiver})
    gov.branch("change2")
    gov.commit("add 1.2.0", {"datasets/support-tickets/1.2.0.yaml": new_version(gov)})
    args = ["check", "--repo", str(gov.path), "--base", "main", "--format", "json"]
    r = ftpolicy(*args, *(["--fail-on-warn"] if fail_on_warn else []))
    warns = [f["rule"] for f in r.json()["findings"] if f["level"] == "warning"]
    assert warns == ["main/waiver-expired"]
    assert r.code == (1 if fail_on_warn else 0)


def test_waiver_in_base_config_applies(gov: ScratchRepo, ftpolicy) -> None:
    waiver = (
        "policy_params:\n  exceptions:\n    - rule: dataset/licence-not-allowed\n"
        "      path: datasets/support-tickets/1.2.0.yaml\n      owner: dave\n"
        "      reason: legal approved the NC source for evaluation only\n      expires: '2026-12-31'\n"
    )
    gov.switch("main")
    gov.commit("waiver", {"ftpolicy.yaml": gov.read("ftpolicy.yaml").decode() + waiver})
    gov.branch("change2")
    gov.commit("add 1.2.0", {"datasets/support-tickets/1.2.0.yaml": new_version(gov, "CC-BY-NC-4.0")})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 0, r.out
    (note,) = r.json()["findings"]
    assert note["level"] == "note" and note["rule"] == "dataset/licence-not-allowed"
    assert note["properties"]["waivers"][0]["owner"] == "dave"


def test_repository_policy_is_evaluated_beside_the_defaults(gov: ScratchRepo, ftpolicy) -> None:
    policy = (
        "package ftpolicy.acme\n\nimport rego.v1\n\n"
        "deny contains {\n"
        '\t"rule": "acme/rank-limit",\n'
        '\t"msg": sprintf("adapter %s uses LoRA rank %d; acme allows at most 4", [m.path, m.data.peft.r]),\n'
        '\t"severity": "medium",\n'
        '\t"path": m.path,\n'
        '\t"pointer": "/peft/r",\n'
        "} if {\n"
        "\tsome m in input.manifests\n"
        '\tm.kind == "adapter"\n'
        "\tm.subject\n"
        "\tm.data.peft.r > 4\n"
        "}\n"
    )
    gov.switch("main")
    gov.commit("acme policy", {"policies/acme.rego": policy})
    gov.branch("change2")
    text = edit(gov, ADAPTER, 'version: "1.0.0"', 'version: "1.1.0"').replace("r: 4", "r: 16")
    gov.commit("adapter 1.1.0", {"adapters/code-assistant-lora/1.1.0.yaml": text})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main", "--format", "json")
    assert r.code == 1
    assert r.rules() == ["acme/rank-limit"]
    finding = r.json()["findings"][0]
    assert text.splitlines()[finding["line"] - 1].strip() == "r: 16"
