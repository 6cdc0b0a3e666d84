"""The pull-request gate (`ftpolicy check`) judges adapters with the chain facts at head.

An adapter manifest or registry entry the check judges is verified with `verify_chain` on
the repository at head; a chain that does not verify adds no fact, only the finding
promotion/chain-unverified with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.gitrepo import ScratchRepo

from attest.conftest import ADAPTER, SHARDS, Chain, attest_adapter, attest_dataset
from ftpolicy.check import evaluate_check
from ftpolicy.cli.main import main


def _promotion_rules(result_rules: list[str]) -> list[str]:
    return sorted(r for r in result_rules if r.startswith("promotion/"))


def test_full_check_judges_the_verified_chain(chain: Chain) -> None:
    result = evaluate_check(chain.root)
    doc = result.input.document
    assert [c["subject"] for c in doc["chains"]] == [str(ADAPTER)]
    assert doc["chains"][0]["verified"] is True
    steps = {(a["subject"], a["step"]) for a in doc["attestations"]}
    assert (str(ADAPTER), "security-approval") in steps and ("dataset:support@1.0", "dataset-review") in steps
    assert _promotion_rules([f.rule_id for f in result.report.findings]) == []
    assert any("attestation chain of bot@1.0 at head verified" in n for n in result.report.notes)


def test_a_broken_chain_is_a_finding_and_no_fact(chain: Chain) -> None:
    shard = chain.root / SHARDS[0]
    shard.write_text(shard.read_text() + '{"messages": []}\n')  # local shard no longer what was reviewed
    result = evaluate_check(chain.root)
    doc = result.input.document
    assert doc["attestations"] == []  # never a half fact
    assert doc["chains"][0]["verified"] is False
    findings = [f for f in result.report.findings if f.rule_id == "promotion/chain-unverified"]
    assert findings and any("[artifact-mismatch]" in f.message for f in findings)
    assert result.report.status == "fail"


def test_diff_check_of_an_adapter_manifest_change(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    scratch = ScratchRepo(governed.root)
    scratch.commit("repository without attestations")
    attest_dataset(governed)
    attest_adapter(governed, skip=("security-eval", "quality-eval", "security-approval", "promote"))
    manifest = governed.root / "adapters/bot/1.0.yaml"
    manifest.write_text(manifest.read_text().replace("r: 4", "r: 4\n  lora_alpha: 8"))
    scratch.commit("adapter manifest edited, chain half attested")
    with pytest.raises(SystemExit) as exc:
        main(["check", "--repo", str(governed.root), "--base", "HEAD~1", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    rules = {f["rule_id"] if "rule_id" in f else f.get("rule") for f in out.get("findings", [])}
    assert exc.value.code == 1, out
    assert "promotion/chain-unverified" in rules


def test_registry_channel_without_attestations(governed: Chain) -> None:
    scratch = ScratchRepo(governed.root)
    scratch.commit("base")
    digest = "sha256:" + "0" * 64
    (governed.root / "registry").mkdir(exist_ok=True)
    (governed.root / "registry/bot.yaml").write_text(
        "schema_version: 1\nkind: registry\nadapter: bot\nchannels:\n"
        f'  production:\n    version: "1.0"\n    digest: {digest}\nhistory: []\n'
    )
    scratch.commit("promote bot@1.0 by hand")
    result = evaluate_check(governed.root, base="HEAD~1")
    findings = [f for f in result.report.findings if f.rule_id == "promotion/chain-unverified"]
    assert findings, [f.rule_id for f in result.report.findings]
    assert result.input.document["chains"][0]["manifest"] == "adapters/bot/1.0.yaml"


def test_adapter_without_attestations_is_not_judged(governed: Chain) -> None:
    ScratchRepo(governed.root).commit("no attestations yet")
    result = evaluate_check(governed.root)
    assert result.input.document["chains"] == []
    assert any("no attestations at head" in n for n in result.report.notes)
    assert Path(governed.root / "adapters/bot/1.0.yaml").is_file()


def test_chain_facts_come_from_head_not_the_work_tree(chain: Chain) -> None:
    evidence = chain.root / ADAPTER.evidence_dir / "security-approval.json"
    evidence.unlink()  # uncommitted: head still has it
    result = evaluate_check(chain.root)
    assert result.input.document["chains"][0]["verified"] is True

    ScratchRepo(chain.root).commit("evidence removed")  # now head lacks it
    result = evaluate_check(chain.root)
    chain_doc = result.input.document["chains"][0]
    assert chain_doc["verified"] is False
    assert "evidence-missing" in {f["code"] for f in chain_doc["failures"]}
