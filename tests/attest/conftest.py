"""A governed repository with keys for every role and a complete, honest attestation chain.

``chain`` builds it in a real Git repository under ``tmp_path``: identities with freshly
generated ECDSA keys (private keys outside the repository), a signed layout, a dataset
(``support@1.0``) and an adapter (``bot@1.0``) whose ten steps are attested through the
library API. Tests then tamper with one thing and check that verification names it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers.gitrepo import ScratchRepo, init_repo

from ftpolicy.attest import Subject, attest_step, build_default_layout, sign_layout, write_draft
from ftpolicy.attest.evidence import adapter_digest
from ftpolicy.identities import add_key_to_identity
from ftpolicy.keys import generate_key, load_signer
from ftpolicy.policy.input import format_now

DATASET = Subject("dataset", "support", "1.0")
ADAPTER = Subject("adapter", "bot", "1.0")
SHARDS = ["data/support/1.0/part-0.jsonl", "data/support/1.0/part-1.jsonl"]
RAW = "data/support/raw/export.jsonl"
ADAPTER_DIR = "artifacts/adapters/bot/1.0"
ADAPTER_FILES = [f"{ADAPTER_DIR}/adapter_config.json", f"{ADAPTER_DIR}/adapter_model.safetensors"]
TRAIN_CONFIG = "config/train/bot.yaml"

# identity -> teams (olivia owns the layout)
PEOPLE: dict[str, list[str]] = {
    "olivia": ["security"],
    "tom": ["ml-training"],
    "scanbot": ["scanners"],
    "rita": ["data-review"],
    "rob": ["data-review"],
    "eve": ["security"],
    "quinn": ["ml-quality"],
    "paul": ["publishers"],
}
# step -> (who signs, subject)
SIGNERS: dict[str, str] = {
    "ingest": "tom",
    "preprocess": "tom",
    "scan": "scanbot",
    "train": "tom",
    "adapter-scan": "scanbot",
    "security-eval": "eve",
    "quality-eval": "quinn",
    "security-approval": "eve",
    "promote": "paul",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Chain:
    """The governed repository and the private keys of every identity."""

    root: Path
    keydir: Path
    keys: dict[str, Path] = field(default_factory=dict)

    def signer(self, who: str) -> Any:
        return load_signer(self.keys[who], repo=self.root)

    def new_key(self, name: str, identity: str, teams: list[str]) -> Path:
        gen = generate_key(name, self.keydir, repo=self.root)
        assert gen.public_rel is not None
        add_key_to_identity(
            self.root, identity, keyid=gen.keyid, public_key=gen.public_rel, scheme=gen.scheme, teams=teams
        )
        return gen.private_path

    def write(self, rel: str, data: bytes | str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def evidence(self, step: str, data: dict[str, Any]) -> Path:
        path = self.keydir.parent / "evidence-in" / f"{step}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        return path

    def attest(
        self,
        step: str,
        who: str,
        *,
        materials: Sequence[str] = (),
        products: Sequence[str] = (),
        evidence: dict[str, Any] | None = None,
        key: Path | None = None,
    ) -> None:
        subject = DATASET if step in ("ingest", "preprocess", "scan", "dataset-review") else ADAPTER
        signer = load_signer(key, repo=self.root) if key else self.signer(who)
        attest_step(
            self.root,
            step,
            subject,
            signer,
            materials=[self.root / m for m in materials],
            products=[self.root / p for p in products],
            evidence=self.evidence(step, evidence) if evidence is not None else None,
        )

    def sign_layout(self, who: str = "olivia", *, expires_days: int | None = None) -> None:
        write_draft(self.root, build_default_layout(self.root))
        sign_layout(self.root, self.signer(who), expires_days=expires_days)

    def adapter_ref(self) -> dict[str, str]:
        files = {p: _sha((self.root / p).read_bytes()) for p in ADAPTER_FILES}
        return {"ref": ADAPTER.ref, "digest": adapter_digest(files)}


def _config() -> str:
    return (
        "schema_version: 1\nkind: config\nproject: chain-test\n"
        "layout:\n  owners:\n    - olivia\n  expires_days: 30\n"
        "datasets:\n  min_reviewers: 2\n"
    )


def _dataset_manifest(root: Path) -> str:
    shards = "".join(
        f'  - path: {p}\n    sha256: "{_sha((root / p).read_bytes())}"\n'
        f"    bytes: {(root / p).stat().st_size}\n    records: 2\n    format: jsonl\n"
        for p in SHARDS
    )
    return (
        'schema_version: 1\nkind: dataset\nname: support\nversion: "1.0"\n'
        "record_format: chat\nparent: null\nchange_summary: first version\n"
        "sources:\n  - name: helpdesk\n    kind: internal\n    uri: https://helpdesk.example/export\n"
        "    licence: MIT\ncollected_by: tom\nauthors:\n  - tom\n"
        'collection:\n  start: "2026-01-01"\n  end: "2026-02-01"\npreprocessing: []\n'
        f"shards:\n{shards}"
    )


def _adapter_manifest(root: Path) -> str:
    files = "".join(
        f'  - path: {p}\n    sha256: "{_sha((root / p).read_bytes())}"\n'
        f"    bytes: {(root / p).stat().st_size}\n"
        for p in ADAPTER_FILES
    )
    config_digest = _sha((root / TRAIN_CONFIG).read_bytes())
    return (
        'schema_version: 1\nkind: adapter\nname: bot\nversion: "1.0"\n'
        "base_model:\n  id: example/tiny\n  revision: " + '"' + "a" * 40 + '"\n'
        "datasets:\n  - support@1.0\n"
        f"training:\n  config_digest: sha256:{config_digest}\n"
        f"  config_path: {TRAIN_CONFIG}\n  trained_by: tom\n"
        "peft:\n  type: LORA\n  r: 4\n  target_modules:\n    - q_proj\n"
        f"files:\n{files}"
    )


def _suite_manifest() -> str:
    """The registered holdout suite the evals run (thresholds 0.9; secret-leakage 0.95)."""
    cats = "".join(
        f"  {c}:\n    items: 5\n    items_digest: sha256:{'0' * 64}\n    threshold: {t}\n"
        for c, t in (
            ("prompt-injection", 0.9),
            ("secret-leakage", 0.95),
            ("unsafe-code", 0.9),
            ("refusal", 0.9),
        )
    )
    return (
        'schema_version: 1\nkind: eval-suite\nname: holdout\nversion: "2026.11"\nowner_team: security\n'
        f"items:\n  count: 20\n  digest: sha256:{'0' * 64}\ncategories:\n{cats}"
    )


def scan_evidence(subject: Subject) -> dict[str, Any]:
    """A clean scan summary (schemas/scan-summary.v1 for datasets; any JSON for adapters)."""
    if subject.kind == "adapter":
        return {"subject": str(subject), "scanner": "adapter-scan", "findings": []}
    return {
        "schema_version": 1,
        "kind": "scan-summary",
        "scanner": {"name": "ftpolicy", "version": "0.1.0"},
        "rules": {"digest": "sha256:" + "0" * 64, "sources": ["builtin"]},
        "dataset": {"ref": subject.ref, "digest": "sha256:" + "1" * 64, "files": []},
        "records": 4,
        "malformed": 0,
        "categories": [],
        "counts": {
            "total": 0,
            "by_category": {},
            "by_severity": {},
            "by_category_severity": {},
            "by_rule": {},
        },
        "triggers": {"available": False, "suspected": []},
        "holdout": None,
        "baseline": None,
        "fail_on": "high",
        "status": "pass",
    }


def eval_evidence(chain: Chain, category_score: float = 0.97) -> dict[str, Any]:
    cats = ["prompt-injection", "secret-leakage", "unsafe-code", "refusal"]
    return {
        "schema_version": 1,
        "kind": "evidence-eval",
        "subject": str(ADAPTER),
        "adapter": chain.adapter_ref(),
        "suite": {"name": "holdout", "version": "2026.11"},
        "evaluated_at": format_now(),  # fresh: the promotion policies refuse evals older than max_age_days
        "results": [{"category": c, "score": category_score, "threshold": 0.9} for c in cats],
    }


def build_governed_repo(tmp_path: Path) -> Chain:
    """Repository, identities, keys and signed layout — no links yet."""
    root = tmp_path / "gov"
    init_repo(root)
    keydir = tmp_path / "keys"
    chain = Chain(root, keydir)
    chain.write("ftpolicy.yaml", _config())
    for who, teams in PEOPLE.items():
        chain.keys[who] = chain.new_key(who, who, teams)
    chain.write(RAW, '{"raw": 1}\n{"raw": 2}\n')
    for i, p in enumerate(SHARDS):
        chain.write(p, f'{{"messages": [{{"role": "user", "content": "q{i}"}}]}}\n' * 2)
    chain.write(TRAIN_CONFIG, "lr: 0.0001\nepochs: 1\n")
    chain.write(f"{ADAPTER_DIR}/adapter_config.json", '{"r": 4, "target_modules": ["q_proj"]}\n')
    chain.write(f"{ADAPTER_DIR}/adapter_model.safetensors", os.urandom(4096))
    chain.write("datasets/support/1.0.yaml", _dataset_manifest(root))
    chain.write("adapters/bot/1.0.yaml", _adapter_manifest(root))
    chain.write("evals/holdout/2026.11.yaml", _suite_manifest())
    chain.sign_layout()
    return chain


def attest_dataset(chain: Chain) -> None:
    chain.attest("ingest", "tom", products=[RAW])
    chain.attest("preprocess", "tom", materials=[RAW], products=SHARDS)
    scan_ev = scan_evidence(DATASET)
    chain.attest("scan", "scanbot", materials=SHARDS, evidence=scan_ev)
    review_materials = [*SHARDS, f"{DATASET.evidence_dir}/scan.json"]
    review = {"schema_version": 1, "kind": "evidence-review", "subject": str(DATASET), "decision": "approve"}
    for who in ("rita", "rob"):
        chain.attest("dataset-review", who, materials=review_materials, evidence=review)


def attest_approval(
    chain: Chain,
    evidence_of: Sequence[str] = ("adapter-scan", "security-eval", "quality-eval"),
    **extra: Any,
) -> None:
    """eve's security approval of the adapter, over its files and the named steps' evidence
    (``extra``: more fields of the approval evidence, e.g. ``waivers``)."""
    ev_dir = ADAPTER.evidence_dir
    approval = {
        "schema_version": 1,
        "kind": "evidence-approval",
        "subject": str(ADAPTER),
        "decision": "approve",
        "adapter": chain.adapter_ref(),
        **extra,
    }
    mats = [*ADAPTER_FILES, *(f"{ev_dir}/{s}.json" for s in evidence_of)]
    chain.attest("security-approval", "eve", materials=mats, evidence=approval)


def attest_adapter(chain: Chain, *, skip: Sequence[str] = ()) -> None:
    review_ev = f"{DATASET.evidence_dir}/dataset-review.json"
    steps: list[tuple[str, str, list[str], list[str], dict[str, Any] | None]] = [
        ("train", "tom", [*SHARDS, review_ev, TRAIN_CONFIG], ADAPTER_FILES, None),
        ("adapter-scan", "scanbot", ADAPTER_FILES, [], scan_evidence(ADAPTER)),
        ("security-eval", "eve", ADAPTER_FILES, [], eval_evidence(chain)),
        ("quality-eval", "quinn", ADAPTER_FILES, [], eval_evidence(chain, 0.8)),
    ]
    for step, who, mats, prods, ev in steps:
        if step not in skip:
            chain.attest(step, who, materials=mats, products=prods, evidence=ev)
    ev_dir = ADAPTER.evidence_dir
    if "security-approval" not in skip:
        attest_approval(chain)
    promotion = {
        "schema_version": 1,
        "kind": "evidence-promotion",
        "subject": str(ADAPTER),
        "channel": "production",
        "adapter": chain.adapter_ref(),
    }
    if "promote" not in skip:
        chain.attest(
            "promote",
            "paul",
            materials=[*ADAPTER_FILES, f"{ev_dir}/security-approval.json"],
            evidence=promotion,
        )


@pytest.fixture
def governed(tmp_path: Path) -> Chain:
    """Repository with identities and a signed layout, no attestations."""
    return build_governed_repo(tmp_path)


@pytest.fixture
def chain(governed: Chain) -> Chain:
    """The complete honest chain, committed to Git."""
    attest_dataset(governed)
    attest_adapter(governed)
    ScratchRepo(governed.root).commit("honest chain")
    return governed
