"""Benchmark: ``audit replay`` over a 100-commit history with 20 promoted adapters (issue 8, acceptance 3).

Builds, in a temporary folder, a governed repository (keys per role, signed layout, the
attested dataset ``support@1.0``) and then 20 adapters ``a01`` … ``a20``, each trained,
scanned, evaluated, approved (one commit) and promoted to staging (one commit), with
unrelated commits in between, 100 commits in all. It then times, from Git objects only:

* ``replay`` at HEAD: every one of the 20 adapter versions re-verified with the layout,
  identities, links and evidence of HEAD and judged by its policies (the target: ≤ 30 s);
* ``replay`` at 10 revisions spread over the history (for information);
* ``audit log`` at HEAD (registry history of 20 adapters cross-checked against Git).

The building blocks are the test suite's chain builders (``tests/attest/conftest.py``), so
run it from a checkout:

    .venv/bin/python benchmarks/replay_bench.py [--adapters 20] [--commits 100] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_S = 30.0
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from attest.conftest import (  # noqa: E402
    ADAPTER_DIR,
    ADAPTER_FILES,
    SHARDS,
    TRAIN_CONFIG,
    Chain,
    attest_adapter,
    attest_dataset,
    build_governed_repo,
)
from helpers.gitrepo import ScratchRepo  # noqa: E402
from registry.conftest import REGISTRY_CONFIG  # noqa: E402

from ftpolicy.attest import Subject, attest_step  # noqa: E402
from ftpolicy.attest.evidence import adapter_digest  # noqa: E402
from ftpolicy.audit.log import audit_log  # noqa: E402
from ftpolicy.audit.replay import replay  # noqa: E402
from ftpolicy.registry.ops import promote  # noqa: E402


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def add_adapter(chain: Chain, name: str) -> None:
    """Adapter NAME@1.0 (its own files, manifest) attested from train to security-approval."""
    root = chain.root
    folder = f"artifacts/adapters/{name}/1.0"
    (root / folder).mkdir(parents=True)
    files = []
    for p in ADAPTER_FILES:
        target = root / folder / Path(p).name
        target.write_bytes((root / p).read_bytes() + name.encode())
        files.append(f"{folder}/{Path(p).name}")
    manifest = (root / "adapters/bot/1.0.yaml").read_text().replace("name: bot", f"name: {name}")
    manifest = manifest.replace(ADAPTER_DIR, folder)
    for old, new in zip(ADAPTER_FILES, files, strict=True):
        manifest = manifest.replace(_sha(root / old), _sha(root / new))
        manifest = manifest.replace(
            f"bytes: {(root / old).stat().st_size}\n", f"bytes: {(root / new).stat().st_size}\n", 1
        )
    (root / f"adapters/{name}").mkdir(parents=True, exist_ok=True)
    (root / f"adapters/{name}/1.0.yaml").write_text(manifest)
    subject = Subject("adapter", name, "1.0")
    ref: dict[str, Any] = {"ref": subject.ref, "digest": adapter_digest({f: _sha(root / f) for f in files})}

    def attest(step: str, who: str, mats: list[str], prods: list[str], ev: dict[str, Any] | None) -> None:
        ev_path = None
        if ev is not None:
            ev_path = chain.keydir.parent / f"ev-{name}-{step}.json"
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
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [{"category": c, "score": 0.97, "threshold": 0.9} for c in cats],
    }
    review_ev = "attestations/dataset/support/1.0/evidence/dataset-review.json"
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


def build(tmp: Path, adapters: int, commits: int) -> tuple[Path, list[str]]:
    """The repository and its commit ids, oldest first."""
    chain = build_governed_repo(tmp)
    root = chain.root
    with open(root / "ftpolicy.yaml", "a", encoding="utf-8") as fh:
        fh.write(REGISTRY_CONFIG)
    attest_dataset(chain)
    attest_adapter(chain, skip=("promote",))
    repo = ScratchRepo(root, clock=int(time.time()) + 3600)
    shas = [repo.commit("governed repository, dataset support@1.0, bot@1.0 approved")]
    fillers = commits - 1 - 2 * adapters
    per_gap = max(fillers, 0) / adapters
    done = 0.0
    for i in range(1, adapters + 1):
        name = f"a{i:02d}"
        add_adapter(chain, name)
        shas.append(repo.commit(f"adapter {name}@1.0 trained and approved"))
        promote(root, f"{name}@1.0", "staging", chain.keys["paul"])
        shas.append(repo.commit(f"promote {name}@1.0 to staging"))
        done += per_gap
        while len(shas) < 1 + 2 * i + int(done):
            shas.append(repo.commit(f"notes {len(shas)}", {"NOTES.md": f"note {len(shas)}\n"}))
    while len(shas) < commits:
        shas.append(repo.commit(f"notes {len(shas)}", {"NOTES.md": f"note {len(shas)}\n"}))
    return root, shas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapters", type=int, default=20)
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep it")
    args = parser.parse_args()
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        t = time.perf_counter()
        root, shas = build(tmp, args.adapters, args.commits)
        built = time.perf_counter() - t
        print(f"built {len(shas)} commits, {args.adapters} promoted adapters in {built:.1f} s")
        t = time.perf_counter()
        head = replay(root, "HEAD")
        at_head = time.perf_counter() - t
        assert len(head.adapters) == args.adapters and head.ok, head.render_text()
        print(f"replay at HEAD ({len(head.adapters)} adapters re-verified and judged): {at_head:.2f} s")
        picks = [shas[round(k * (len(shas) - 1) / 9)] for k in range(10)]
        t = time.perf_counter()
        verified = sum(len(replay(root, sha).adapters) for sha in picks)
        sweep = time.perf_counter() - t
        print(f"replay at 10 revisions across the history ({verified} adapter verifications): {sweep:.2f} s")
        t = time.perf_counter()
        log = audit_log(root)
        took = time.perf_counter() - t
        assert log.ok and len(log.events) == args.adapters
        print(f"audit log at HEAD ({len(log.events)} events, {len(shas)} commits): {took:.2f} s")
        verdict = "PASS" if at_head <= TARGET_S else "FAIL"
        print(f"replay at HEAD: {at_head:.2f} s (target ≤ {TARGET_S:.0f} s): {verdict}")
        return 0 if verdict == "PASS" else 1
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
