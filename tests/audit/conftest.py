"""A governed repository with a real, audit-worthy Git history (15 commits).

Built once per module with the library API (keys generated, links signed) and committed
step by step, with commit times after every signing time (the replay clock is the commit
time)::

    c01 governed repo: config (registry channels), identities, signed layout, dataset
        support@1.0 shards, adapter files (weights kept out of Git by .gitignore)
    c02 dataset support@1.0 ingested, preprocessed, scanned
    c03 dataset support@1.0 reviewed by rita and rob
    c04 dataset support@1.1 manifest (a second dataset version)
    c05 adapter bot@1.0 trained (tom)
    c06 adapter bot@1.0 scanned, evaluated, approved
    c07 promote bot@1.0 to staging
    c08 promote bot@1.0 to production (signed promote attestation)
    c09 policy tightened: datasets.min_reviewers 2 -> 3
    c10 adapter bot@1.1 trained and approved
    c11 promote bot@1.1 to staging
    c12 rollback staging to bot@1.0
    c13 tom's key revoked (after all of his genuine signatures)
    c14 forged: the train link of bot@1.0 re-signed with tom's stolen key (after revocation)
    c15 unrelated note
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from attest.conftest import (
    ADAPTER,
    ADAPTER_FILES,
    DATASET,
    SHARDS,
    TRAIN_CONFIG,
    Chain,
    attest_adapter,
    build_governed_repo,
    scan_evidence,
)
from helpers.gitrepo import ScratchRepo
from registry.conftest import REGISTRY_CONFIG, add_version

from ftpolicy.identities import format_time
from ftpolicy.registry.ops import promote, rollback


@dataclass
class History:
    """The repository, its keys and the commit id of each stage (``c["promoted-production"]``)."""

    chain: Chain
    repo: ScratchRepo
    c: dict[str, str]

    @property
    def root(self) -> Path:
        return self.chain.root


def _revoke_key(root: Path, who: str) -> None:
    rel = root / "identities" / f"{who}.yaml"
    doc = yaml.safe_load(rel.read_text())
    doc["keys"][0]["revoked_at"] = format_time(dt.datetime.now(dt.UTC).replace(microsecond=0))
    doc["keys"][0]["revocation_reason"] = "laptop stolen"
    rel.write_text(yaml.safe_dump(doc, sort_keys=False))


def build_history(tmp_path: Path) -> History:
    chain = build_governed_repo(tmp_path)
    root = chain.root
    with open(root / "ftpolicy.yaml", "a", encoding="utf-8") as fh:
        fh.write(REGISTRY_CONFIG)
    (root / ".gitignore").write_text("*.safetensors\n")
    # commit times start an hour after now and advance a minute per commit: always after signing
    repo = ScratchRepo(root, clock=int(time.time()) + 3600)
    c: dict[str, str] = {}
    c["init"] = repo.commit("governed repository, identities, layout, dataset support@1.0")
    chain.attest("ingest", "tom", products=["data/support/raw/export.jsonl"])
    chain.attest("preprocess", "tom", materials=["data/support/raw/export.jsonl"], products=SHARDS)
    chain.attest("scan", "scanbot", materials=SHARDS, evidence=scan_evidence(DATASET))
    c["dataset-attested"] = repo.commit("dataset support@1.0 ingested, preprocessed, scanned")
    review_materials = [*SHARDS, f"{DATASET.evidence_dir}/scan.json"]
    review = {"schema_version": 1, "kind": "evidence-review", "subject": str(DATASET), "decision": "approve"}
    for who in ("rita", "rob"):
        chain.attest("dataset-review", who, materials=review_materials, evidence=review)
    c["dataset-reviewed"] = repo.commit("dataset support@1.0 reviewed")
    v11 = (root / "datasets/support/1.0.yaml").read_text()
    v11 = v11.replace('version: "1.0"', 'version: "1.1"').replace("parent: null", "parent: support@1.0")
    c["dataset-1.1"] = repo.commit("dataset support@1.1", {"datasets/support/1.1.yaml": v11})
    later = ("adapter-scan", "security-eval", "quality-eval", "security-approval", "promote")
    attest_adapter(chain, skip=later)
    c["trained"] = repo.commit("adapter bot@1.0 trained")
    attest_adapter(chain, skip=("train", "promote"))
    c["approved"] = repo.commit("adapter bot@1.0 scanned, evaluated, approved")
    promote(root, "bot@1.0", "staging", chain.keys["paul"])
    c["promoted-staging"] = repo.commit("promote bot@1.0 to staging")
    promote(root, "bot@1.0", "production", chain.keys["paul"])
    c["promoted-production"] = repo.commit("promote bot@1.0 to production")
    cfg = (root / "ftpolicy.yaml").read_text().replace("min_reviewers: 2", "min_reviewers: 3")
    c["policy-tightened"] = repo.commit("policy: three dataset reviewers", {"ftpolicy.yaml": cfg})
    add_version(chain, "1.1")
    c["bot-1.1"] = repo.commit("adapter bot@1.1 trained and approved")
    promote(root, "bot@1.1", "staging", chain.keys["paul"])
    c["promoted-1.1"] = repo.commit("promote bot@1.1 to staging")
    rollback(root, "bot", "staging", chain.keys["paul"])
    c["rollback"] = repo.commit("rollback staging to bot@1.0")
    time.sleep(1.1)  # the revocation is strictly after tom's last genuine signature
    _revoke_key(root, "tom")
    c["key-revoked"] = repo.commit("revoke tom's key")
    time.sleep(1.1)
    link = next((root / ADAPTER.dir).glob("train.*.link"))
    link.unlink()
    review_ev = f"{DATASET.evidence_dir}/dataset-review.json"
    chain.attest(
        "train",
        "tom",
        materials=[*SHARDS, review_ev, TRAIN_CONFIG],
        products=ADAPTER_FILES,
    )
    c["forged"] = repo.commit("retrain bot@1.0 (forged with the stolen key)")
    c["note"] = repo.commit("notes", {"NOTES.md": "audit notes\n"})
    return History(chain, repo, c)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The 15-commit history, shared by a module (tests must not change it; clone first)."""
    return build_history(tmp_path_factory.mktemp("audit-history"))


__all__ = ["History", "build_history", "run_cli"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``ftpolicy ARGS`` through the real entry point (its error boundary included)."""
    from ftpolicy.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err
