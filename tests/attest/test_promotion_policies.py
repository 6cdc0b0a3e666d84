"""Tamper matrix, policy level: chains that verify cryptographically but that the promotion
policies (package ftpolicy.promotion) refuse, each through the real CLI with its rule id.

Completes issue 4's acceptance 2 with: eval older than the maximum age, eval below the
suite threshold, the trainer signing the security approval (a trainer who is also in
security, so the functionary check lets it through), eval evidence of another adapter.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from attest.conftest import (
    ADAPTER,
    ADAPTER_FILES,
    Chain,
    attest_adapter,
    attest_approval,
    attest_dataset,
    eval_evidence,
    scan_evidence,
)
from ftpolicy.cli.main import main
from ftpolicy.policy.input import format_now

ONLY_APPROVAL_AND_PROMOTE = ("train", "adapter-scan", "security-eval", "quality-eval")
ONLY_PROMOTE = (*ONLY_APPROVAL_AND_PROMOTE, "security-approval")


def verify(chain: Chain, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(chain.root), "--format", "json", *extra])
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)


def denied(doc: dict[str, Any]) -> list[str]:
    return sorted(v["rule"] for v in doc["policies"]["deny"])


def with_security_eval(chain: Chain, evidence: dict[str, Any]) -> None:
    """Attest the whole chain with ``evidence`` as the security eval (everything else honest)."""
    attest_dataset(chain)
    attest_adapter(chain, skip=("security-eval", "quality-eval", "security-approval", "promote"))
    chain.attest("security-eval", "eve", materials=ADAPTER_FILES, evidence=evidence)
    attest_adapter(chain, skip=("train", "adapter-scan", "security-eval"))


def test_eval_older_than_the_maximum_age(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    old = eval_evidence(governed)
    old["evaluated_at"] = format_now(dt.datetime.now(dt.UTC) - dt.timedelta(days=91))  # default max 90
    with_security_eval(governed, old)
    code, doc = verify(governed, capsys)
    assert code == 1
    assert doc["ok"] is True  # every signature and digest holds; the policy refuses
    assert denied(doc) == ["promotion/eval-stale"]
    assert "older than 90 days" in doc["policies"]["deny"][0]["msg"]


def test_eval_below_threshold(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    low = eval_evidence(governed)
    low["results"][1]["score"] = 0.93  # secret-leakage: the registered suite requires 0.95
    with_security_eval(governed, low)
    code, doc = verify(governed, capsys)
    assert code == 1 and doc["ok"] is True
    assert denied(doc) == ["promotion/eval-below-threshold"]
    msg = doc["policies"]["deny"][0]["msg"]
    assert "'secret-leakage' scored 0.93, below the threshold 0.95" in msg


def test_eval_of_an_unregistered_suite_version(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    other = eval_evidence(governed)
    other["suite"]["version"] = "2026.10"
    with_security_eval(governed, other)
    code, doc = verify(governed, capsys)
    assert code == 1 and denied(doc) == ["promotion/eval-suite-unregistered"]


def test_trainer_in_security_signs_the_security_approval(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    # tom trains and is also in security: the functionary check accepts his approval key,
    # separation of duties (a policy) does not.
    tom_sec = governed.new_key("tom-security", "tom", ["ml-training", "security"])
    governed.sign_layout()
    attest_dataset(governed)
    attest_adapter(governed, skip=("security-approval", "promote"))
    approval = {
        "schema_version": 1,
        "kind": "evidence-approval",
        "subject": str(ADAPTER),
        "decision": "approve",
        "adapter": governed.adapter_ref(),
    }
    ev = ADAPTER.evidence_dir
    governed.attest(
        "security-approval",
        "tom",
        materials=[
            *ADAPTER_FILES,
            *(f"{ev}/{s}.json" for s in ("adapter-scan", "security-eval", "quality-eval")),
        ],
        evidence=approval,
        key=tom_sec,
    )
    attest_adapter(governed, skip=ONLY_PROMOTE)
    code, doc = verify(governed, capsys)
    assert code == 1
    assert doc["ok"] is True  # tom's key is a security functionary
    assert set(denied(doc)) == {"promotion/separation-of-duties"}
    msgs = [v["msg"] for v in doc["policies"]["deny"]]
    assert any("signed by tom, who is also the trainer" in m for m in msgs)
    assert any("signed by tom, who is also the dataset author" in m for m in msgs)  # authors: [tom]


def test_eval_evidence_for_another_adapter_digest(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    replayed = eval_evidence(governed)
    replayed["adapter"]["digest"] = "sha256:" + "e" * 64
    with_security_eval(governed, replayed)
    code, doc = verify(governed, capsys)
    assert code == 1
    assert {f["code"] for f in doc["failures"]} == {"evidence-adapter-digest"}
    # the chain does not verify, so none of its facts reach the policies
    assert denied(doc) == ["promotion/chain-unverified"]
    assert "[evidence-adapter-digest]" in doc["policies"]["deny"][0]["msg"]


def test_high_adapter_scan_finding_and_its_security_waiver(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    attest_dataset(governed)
    attest_adapter(
        governed, skip=("adapter-scan", "security-eval", "quality-eval", "security-approval", "promote")
    )
    scan = scan_evidence(ADAPTER)
    scan["findings"] = [
        {"rule": "adapter/odd-tensor", "severity": "high", "message": "tensor of unexpected shape"}
    ]
    governed.attest("adapter-scan", "scanbot", materials=ADAPTER_FILES, evidence=scan)
    attest_adapter(governed, skip=("train", "adapter-scan"))
    code, doc = verify(governed, capsys)
    assert code == 1 and denied(doc) == ["promotion/scan-high-finding"]

    # security re-approves with a waiver for the finding: a fresh approval and promotion
    for link in (governed.root / ADAPTER.dir).glob("*.link"):
        if link.name.startswith(("security-approval.", "promote.")):
            link.unlink()
    for step in ("security-approval", "promote"):
        (governed.root / ADAPTER.evidence_dir / f"{step}.json").unlink()
    attest_approval(
        governed,
        waivers=[{"rule": "promotion/scan-high-finding", "reason": "shape checked by hand, benign"}],
    )
    attest_adapter(governed, skip=ONLY_PROMOTE)
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(governed.root)])
    out = capsys.readouterr().out
    assert exc.value.code == 0, out
    assert "waived [promotion/scan-high-finding] by eve" in out
    assert "verify: OK: the chain holds and the policies allow" in out


def test_text_output_names_rule_and_reason(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    low = eval_evidence(governed, 0.5)
    with_security_eval(governed, low)
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(governed.root)])
    out = capsys.readouterr().out
    assert exc.value.code == 1
    assert "[promotion/eval-below-threshold]" in out
    assert "verify: FAILED: the chain holds, the policies deny (4 violation(s))" in out


def test_policies_that_cannot_be_evaluated_exit_3(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "verify",
                "adapter",
                ADAPTER.ref,
                "--repo",
                str(chain.root),
                "--engine",
                "opa",
                "--opa-url",
                "http://127.0.0.1:9",
            ]
        )
    out = capsys.readouterr().out
    assert exc.value.code == 3
    assert "policies: could not be evaluated" in out
    assert "verify: ERROR" in out


def test_opa_engine_agrees(chain: Chain, opa_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = verify(chain, capsys, "--engine", "opa", "--opa-url", opa_server)
    assert code == 0 and doc["policies"]["evaluated"] is True and doc["policies"]["deny"] == []


def test_policy_time_is_fixed_by_ftpolicy_now(
    chain: Chain, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=120)
    monkeypatch.setenv("FTPOLICY_NOW", format_now(later))
    code, doc = verify(chain, capsys)
    assert code == 1 and denied(doc) == ["promotion/eval-stale"]


def test_until_skips_the_policies(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    attest_dataset(governed)
    attest_adapter(governed, skip=("promote",))
    code, doc = verify(governed, capsys, "--until", "security-approval")
    assert code == 0 and doc["policies"]["evaluated"] is False


def test_dataset_scan_evidence_path(chain: Chain) -> None:
    assert (chain.root / "attestations/dataset/support/1.0/evidence/scan.json").is_file()
    assert Path(chain.root / "evals/holdout/2026.11.yaml").is_file()


def test_sarif_carries_the_policy_violation(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    low = eval_evidence(governed)
    low["results"][1]["score"] = 0.93
    with_security_eval(governed, low)
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(governed.root), "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    assert exc.value.code == 1
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["promotion/eval-below-threshold"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "evidence/security-eval.json"
    )
