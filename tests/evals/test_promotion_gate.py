"""``ftpolicy promote`` refuses an adapter whose security eval does not hold (issue 9, acceptance 5).

Each case starts from the honest chain of tests/attest/conftest.py up to security-approval,
changes one thing about the security eval and runs the real ``promote`` command: the eval is
missing, below the suite's threshold, about another adapter digest, run on another suite
version, or signed by the trainer (with a key outside the step's team, or with a key of the
security team he is also in). The honest chain is promoted, so each refusal is the change's
doing. (The policy rules themselves are unit-tested in policies/promotion_test.rego
and through ``verify`` in tests/attest/test_promotion_policies.py and test_tamper.py.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
    build_governed_repo,
    eval_evidence,
)
from helpers.gitrepo import ScratchRepo

from ftpolicy.attest.link import link_rel

from .conftest import run

CONFIG = "registry:\n  channels:\n    - staging\n    - production\n"


def _approve(chain: Chain, with_eval: bool = True) -> None:
    attest_approval(
        chain,
        ("adapter-scan", "security-eval", "quality-eval") if with_eval else ("adapter-scan", "quality-eval"),
    )


def _chain(tmp_path: Path, change: Callable[[Chain], None] | None) -> Chain:
    """The chain up to security-approval; ``change`` attests the security eval (default: honest)."""
    chain = build_governed_repo(tmp_path)
    with open(chain.root / "ftpolicy.yaml", "a", encoding="utf-8") as fh:
        fh.write(CONFIG)
    attest_dataset(chain)
    attest_adapter(chain, skip=("security-eval", "security-approval", "promote"))
    if change is None:
        chain.attest("security-eval", "eve", materials=ADAPTER_FILES, evidence=eval_evidence(chain))
        _approve(chain)
    else:
        change(chain)
    ScratchRepo(chain.root).commit("chain up to security-approval")
    return chain


def _with_evidence(edit: Callable[[dict[str, Any]], None]) -> Callable[[Chain], None]:
    def change(chain: Chain) -> None:
        evidence = eval_evidence(chain)
        edit(evidence)
        chain.attest("security-eval", "eve", materials=ADAPTER_FILES, evidence=evidence)
        _approve(chain)

    return change


def _missing(chain: Chain) -> None:
    _approve(chain, with_eval=False)


def _signed_by_trainer(chain: Chain) -> None:
    """The security-eval link carries tom's signature (ml-training) instead of eve's.

    ``attest_step`` refuses tom's key for this step (not a functionary), so the link eve
    signed is re-signed with tom's key, as a trainer with write access to the repository could.
    """
    from in_toto.models.metadata import Envelope, Metadata

    chain.attest("security-eval", "eve", materials=ADAPTER_FILES, evidence=eval_evidence(chain))
    old = chain.root / link_rel(ADAPTER, "security-eval", chain.signer("eve").public_key.keyid)
    env = Envelope.from_signable(Metadata.load(str(old)).get_payload())
    env.create_signature(chain.signer("tom"))
    (chain.root / link_rel(ADAPTER, "security-eval", chain.signer("tom").public_key.keyid)).write_text(
        json.dumps(env.to_dict())
    )
    old.unlink()
    _approve(chain)


def _signed_by_trainer_in_security(chain: Chain) -> None:
    """tom is in security too: his key is a functionary of the step; the policy still refuses."""
    key = chain.new_key("tom-security", "tom", ["ml-training", "security"])
    chain.sign_layout()
    chain.attest("security-eval", "tom", materials=ADAPTER_FILES, evidence=eval_evidence(chain), key=key)
    _approve(chain)


def _below(ev: dict[str, Any]) -> None:
    ev["results"][1]["score"] = 0.93  # secret-leakage; the registered suite requires 0.95


def _other_digest(ev: dict[str, Any]) -> None:
    ev["adapter"]["digest"] = "sha256:" + "e" * 64


def _other_suite(ev: dict[str, Any]) -> None:
    ev["suite"]["version"] = "2026.10"  # only holdout@2026.11 is registered


# case -> (what is changed, the refusal's code, what its message names)
CASES: dict[str, tuple[Callable[[Chain], None], str, str]] = {
    "missing": (_missing, "registry.unverifiable", "no attestation for step security-eval"),
    "below-threshold": (
        _with_evidence(_below),
        "registry.policy-denied",
        "[promotion/eval-below-threshold] adapter:bot@1.0: security eval 'secret-leakage' scored 0.93, "
        "below the threshold 0.95",
    ),
    "other-adapter-digest": (
        _with_evidence(_other_digest),
        "registry.unverifiable",
        "evidence-adapter-digest",
    ),
    "other-suite-version": (
        _with_evidence(_other_suite),
        "registry.policy-denied",
        "[promotion/eval-suite-unregistered] adapter:bot@1.0: security eval ran suite holdout@2026.10, "
        "which is not a registered eval suite",
    ),
    "signed-by-trainer": (_signed_by_trainer, "registry.unverifiable", "unauthorised-functionary"),
    "signed-by-trainer-in-security": (
        _signed_by_trainer_in_security,
        "registry.policy-denied",
        "[promotion/eval-by-trainer] adapter:bot@1.0: security eval signed by tom, "
        "who also trained the adapter",
    ),
}


def _promote(chain: Chain, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, out, err = run(
        capsys, "promote", ADAPTER.ref, "--channel", "production", "--key", str(chain.keys["paul"]),
        "--repo", str(chain.root),
    )  # fmt: skip
    return code, out + err


def test_honest_security_eval_is_promoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chain = _chain(tmp_path, None)
    code, text = _promote(chain, capsys)
    assert code == 0, text
    assert "production" in (chain.root / "registry" / "bot.yaml").read_text()


@pytest.mark.parametrize("case", sorted(CASES))
def test_promotion_is_refused(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change, code_name, reason = CASES[case]
    chain = _chain(tmp_path, change)
    if case == "signed-by-trainer":  # the link on disk is tom's, not eve's
        assert (
            chain.root / link_rel(ADAPTER, "security-eval", chain.signer("tom").public_key.keyid)
        ).is_file()
    code, text = _promote(chain, capsys)
    assert code == 1, text
    assert reason in text and f"[{code_name}]" in text, text
    assert not (chain.root / "registry" / "bot.yaml").exists()
    code, out, _ = run(
        capsys, "verify", "adapter", ADAPTER.ref, "--repo", str(chain.root), "--format", "json"
    )
    doc = json.loads(out)
    assert code == 1 and (doc["failures"] or doc["policies"]["deny"])
