"""A governed repository with two attested versions of adapter ``bot`` (1.0 and 1.1), up to approval."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from attest.conftest import (
    ADAPTER_DIR,
    ADAPTER_FILES,
    SHARDS,
    TRAIN_CONFIG,
    Chain,
    attest_adapter,
    attest_dataset,
    build_governed_repo,
)
from helpers.gitrepo import ScratchRepo

from ftpolicy.attest import Subject, attest_step
from ftpolicy.attest.evidence import adapter_digest
from ftpolicy.policy.input import format_now

REGISTRY_CONFIG = (
    "registry:\n  channels:\n    - staging\n    - production\n  require_staging_before:\n    - production\n"
)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def add_version(chain: Chain, version: str, name: str = "bot") -> None:
    """Adapter NAME@VERSION (bot@1.0's files with other bytes, its manifest renamed) and its
    chain up to security-approval."""
    root = chain.root
    folder = f"artifacts/adapters/{name}/{version}"
    (root / folder).mkdir(parents=True)
    for p in ADAPTER_FILES:
        data = (root / p).read_bytes()
        (root / folder / Path(p).name).write_bytes(data + f"{name}@{version}".encode())
    files = [f"{folder}/{Path(p).name}" for p in ADAPTER_FILES]
    manifest = (root / "adapters/bot/1.0.yaml").read_text()
    manifest = manifest.replace("name: bot", f"name: {name}")
    manifest = manifest.replace('version: "1.0"', f'version: "{version}"').replace(ADAPTER_DIR, folder)
    for old, new in zip(ADAPTER_FILES, files, strict=True):
        manifest = manifest.replace(_sha(root / old), _sha(root / new))
        manifest = manifest.replace(
            f"bytes: {(root / old).stat().st_size}\n", f"bytes: {(root / new).stat().st_size}\n", 1
        )
    (root / f"adapters/{name}").mkdir(parents=True, exist_ok=True)
    (root / f"adapters/{name}/{version}.yaml").write_text(manifest)
    subject = Subject("adapter", name, version)
    ref: dict[str, Any] = {"ref": subject.ref, "digest": adapter_digest({f: _sha(root / f) for f in files})}
    review_ev = "attestations/dataset/support/1.0/evidence/dataset-review.json"

    def attest(step: str, who: str, mats: list[str], prods: list[str], ev: dict[str, Any] | None) -> None:
        ev_path = None
        if ev is not None:
            ev_path = chain.keydir.parent / f"ev-{name}-{version}-{step}.json"
            ev_path.write_text(json.dumps(ev))
        attest_step(
            root,
            step,
            subject,
            chain.signer(who),
            materials=[root / m for m in mats],
            products=[root / p for p in prods],
            evidence=ev_path,
        )

    cats = ["prompt-injection", "secret-leakage", "unsafe-code", "refusal"]
    evals = {
        "schema_version": 1,
        "kind": "evidence-eval",
        "subject": str(subject),
        "adapter": ref,
        "suite": {"name": "holdout", "version": "2026.11"},
        "evaluated_at": format_now(),  # fresh: promoting to production runs the promotion policies
        "results": [{"category": c, "score": 0.97, "threshold": 0.9} for c in cats],
    }
    attest("train", "tom", [*SHARDS, review_ev, TRAIN_CONFIG], files, None)
    attest("adapter-scan", "scanbot", files, [], {"subject": str(subject), "findings": []})
    attest("security-eval", "eve", files, [], evals)
    attest("quality-eval", "quinn", files, [], evals)
    ev_dir = subject.evidence_dir
    approval = {
        "schema_version": 1,
        "kind": "evidence-approval",
        "subject": str(subject),
        "decision": "approve",
        "adapter": ref,
    }
    mats = [*files, *(f"{ev_dir}/{s}.json" for s in ("adapter-scan", "security-eval", "quality-eval"))]
    attest("security-approval", "eve", mats, [], approval)


def build_registry_repo(tmp_path: Path) -> Chain:
    chain = build_governed_repo(tmp_path)
    with open(chain.root / "ftpolicy.yaml", "a", encoding="utf-8") as fh:
        fh.write(REGISTRY_CONFIG)
    attest_dataset(chain)
    attest_adapter(chain, skip=("promote",))
    add_version(chain, "1.1")
    ScratchRepo(chain.root).commit("two approved versions")
    return chain


@pytest.fixture
def reg(tmp_path: Path) -> Chain:
    """Repository with bot@1.0 and bot@1.1 approved (no promote yet), committed."""
    return build_registry_repo(tmp_path)


@pytest.fixture(scope="module")
def reg_template(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """One built repository per module, to be copied by tests that only need a fresh copy."""
    return build_registry_repo(tmp_path_factory.mktemp("registry-template"))


def copy_chain(template: Chain, dst: Path) -> Chain:
    shutil.copytree(template.root, dst / "gov", symlinks=True)
    shutil.copytree(template.keydir, dst / "keys")
    keys = {who: dst / "keys" / p.name for who, p in template.keys.items()}
    return Chain(dst / "gov", dst / "keys", keys)
