"""Benchmark: verifying the 10-step attestation chain vs hashing the same bytes (issue 4, acceptance 4).

Builds, in a temporary folder, a governed repository with a key per role, a signed layout,
a dataset of several shards and an adapter with one large weights file (together
``--size-mib``, default 1100 MiB, random bytes), and attests all ten steps of the default
layout through the library. Then, in one run with a warm page cache, it times

* ``verify_chain`` on the adapter (layout and link signatures, functionaries, thresholds,
  in-toto's artifact rules, re-hashing every adapter file and dataset shard, evidence);
* ``hashlib.sha256`` over exactly the files ``verify_chain`` re-hashed, read in 1 MiB
  chunks, one file after the other (the plain baseline the target is measured against),
  and, for information, the same with one thread per CPU (``verify_chain`` re-hashes
  files in parallel too);

best of ``--repeat`` (default 3) each, interleaved, and prints both, the ratio and PASS/FAIL
against the target (verify ≤ 1.2 × hashing).

    .venv/bin/python benchmarks/verify_bench.py [--size-mib 1100] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ftpolicy.attest import Subject, attest_step, build_default_layout, sign_layout, write_draft
from ftpolicy.attest.evidence import adapter_digest
from ftpolicy.attest.verify import verify_chain
from ftpolicy.identities import add_key_to_identity
from ftpolicy.keys import generate_key, load_signer

TARGET = 1.2
DATASET = Subject("dataset", "bench", "1.0")
ADAPTER = Subject("adapter", "bench-lora", "1.0")
ADAPTER_DIR = "artifacts/adapters/bench-lora/1.0"
TRAIN_CONFIG = "config/train/bench.yaml"
PEOPLE = {
    "owner": ["security"],
    "trainer": ["ml-training"],
    "scanner": ["scanners"],
    "reviewer-a": ["data-review"],
    "reviewer-b": ["data-review"],
    "sec": ["security"],
    "quality": ["ml-quality"],
    "publisher": ["publishers"],
}
CHUNK = 1 << 20


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _random_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(CHUNK)
    with path.open("wb") as fh:
        left = size
        while left > 0:
            n = min(left, CHUNK)
            fh.write(block[:n])
            left -= n
            block = hashlib.sha512(block[:64]).digest() * (CHUNK // 64)  # cheap, varying content


def _write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def build(tmp: Path, size_mib: int) -> tuple[Path, int]:
    """The governed repository with a complete, honest chain; returns (root, artifact bytes)."""
    root, keydir, evdir = tmp / "gov", tmp / "keys", tmp / "evidence-in"
    root.mkdir()
    evdir.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    _write(
        root,
        "ftpolicy.yaml",
        "schema_version: 1\nkind: config\nproject: bench\nlayout:\n  owners:\n    - owner\n"
        "  expires_days: 30\ndatasets:\n  min_reviewers: 2\n",
    )
    keys: dict[str, Path] = {}
    for who, teams in PEOPLE.items():
        gen = generate_key(who, keydir, repo=root)
        assert gen.public_rel is not None
        add_key_to_identity(
            root, who, keyid=gen.keyid, public_key=gen.public_rel, scheme=gen.scheme, teams=teams
        )
        keys[who] = gen.private_path
    total = size_mib << 20
    adapter_bytes = total // 4
    n_shards = 6
    shard_bytes = (total - adapter_bytes) // n_shards
    shards = [f"data/bench/1.0/part-{i:05d}.jsonl" for i in range(n_shards)]
    for rel in shards:
        _random_file(root / rel, shard_bytes)
    weights = f"{ADAPTER_DIR}/adapter_model.safetensors"
    _random_file(root / weights, adapter_bytes)
    _write(root, f"{ADAPTER_DIR}/adapter_config.json", '{"r": 8, "target_modules": ["q_proj"]}\n')
    _write(root, TRAIN_CONFIG, "lr: 0.0001\nepochs: 1\n")
    adapter_files = [f"{ADAPTER_DIR}/adapter_config.json", weights]
    digests = {p: _sha(root / p) for p in adapter_files}
    files_yaml = "".join(
        f'  - path: {p}\n    sha256: "{digests[p]}"\n    bytes: {(root / p).stat().st_size}\n'
        for p in adapter_files
    )
    _write(
        root,
        "adapters/bench-lora/1.0.yaml",
        'schema_version: 1\nkind: adapter\nname: bench-lora\nversion: "1.0"\n'
        f'base_model:\n  id: example/tiny\n  revision: "{"a" * 40}"\n'
        "datasets:\n  - bench@1.0\n"
        f"training:\n  config_digest: sha256:{_sha(root / TRAIN_CONFIG)}\n  config_path: {TRAIN_CONFIG}\n"
        "  trained_by: trainer\npeft:\n  type: LORA\n  r: 8\n  target_modules:\n    - q_proj\n"
        f"files:\n{files_yaml}",
    )
    shards_yaml = "".join(
        f'  - path: {p}\n    sha256: "{_sha(root / p)}"\n    bytes: {shard_bytes}\n'
        "    records: 1\n    format: jsonl\n"
        for p in shards
    )
    _write(
        root,
        "datasets/bench/1.0.yaml",
        'schema_version: 1\nkind: dataset\nname: bench\nversion: "1.0"\nrecord_format: chat\nparent: null\n'
        "change_summary: first version\nsources:\n  - name: helpdesk\n    kind: internal\n"
        "    uri: https://helpdesk.example/export\n    licence: MIT\ncollected_by: trainer\nauthors:\n"
        '  - trainer\ncollection:\n  start: "2026-01-01"\n  end: "2026-02-01"\npreprocessing: []\n'
        f"shards:\n{shards_yaml}",
    )
    write_draft(root, build_default_layout(root))
    sign_layout(root, load_signer(keys["owner"], repo=root))

    def ev(step: str, doc: dict[str, Any]) -> Path:
        p = evdir / f"{step}.json"
        p.write_text(json.dumps(doc))
        return p

    def attest(
        step: str, who: str, subject: Subject, mats: list[str], prods: list[str], e: Path | None
    ) -> None:
        attest_step(
            root,
            step,
            subject,
            load_signer(keys[who], repo=root),
            materials=[root / m for m in mats],
            products=[root / p for p in prods],
            evidence=e,
        )

    scan = {
        "schema_version": 1,
        "kind": "scan-summary",
        "scanner": {"name": "ftpolicy", "version": "0.1.0"},
        "rules": {"digest": "sha256:" + "0" * 64, "sources": ["builtin"]},
        "dataset": {"ref": DATASET.ref, "digest": "sha256:" + "1" * 64, "files": []},
        "records": 0,
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
    review = {"schema_version": 1, "kind": "evidence-review", "subject": str(DATASET), "decision": "approve"}
    ref = {"ref": ADAPTER.ref, "digest": adapter_digest(digests)}
    eval_doc = {
        "schema_version": 1,
        "kind": "evidence-eval",
        "subject": str(ADAPTER),
        "adapter": ref,
        "suite": {"name": "holdout", "version": "1"},
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [{"category": c, "score": 0.97} for c in ("prompt-injection", "secret-leakage")],
    }
    ds_ev, ad_ev = DATASET.evidence_dir, ADAPTER.evidence_dir
    attest("ingest", "trainer", DATASET, [], shards, None)
    attest("preprocess", "trainer", DATASET, shards, shards, None)
    attest("scan", "scanner", DATASET, shards, [], ev("scan", scan))
    for who in ("reviewer-a", "reviewer-b"):
        attest("dataset-review", who, DATASET, [*shards, f"{ds_ev}/scan.json"], [], ev("review", review))
    attest(
        "train",
        "trainer",
        ADAPTER,
        [*shards, f"{ds_ev}/dataset-review.json", TRAIN_CONFIG],
        adapter_files,
        None,
    )
    attest("adapter-scan", "scanner", ADAPTER, adapter_files, [], ev("ascan", {"findings": []}))
    attest("security-eval", "sec", ADAPTER, adapter_files, [], ev("seval", eval_doc))
    attest("quality-eval", "quality", ADAPTER, adapter_files, [], ev("qeval", eval_doc))
    approval = {
        "schema_version": 1,
        "kind": "evidence-approval",
        "subject": str(ADAPTER),
        "decision": "approve",
        "adapter": ref,
    }
    attest(
        "security-approval",
        "sec",
        ADAPTER,
        [*adapter_files, *(f"{ad_ev}/{s}.json" for s in ("adapter-scan", "security-eval", "quality-eval"))],
        [],
        ev("approval", approval),
    )
    promotion = {
        "schema_version": 1,
        "kind": "evidence-promotion",
        "subject": str(ADAPTER),
        "channel": "production",
        "adapter": ref,
    }
    attest(
        "promote",
        "publisher",
        ADAPTER,
        [*adapter_files, f"{ad_ev}/security-approval.json"],
        [],
        ev("promote", promotion),
    )
    size = sum((root / p).stat().st_size for p in [*shards, *adapter_files])
    return root, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--size-mib", type=int, default=1100, help="artifact bytes to generate (MiB, ≥ 1024 for the target)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each, best taken")
    ap.add_argument("--keep", type=Path, default=None, help="build (or reuse) the chain in DIR and keep it")
    args = ap.parse_args(argv)

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="ftpolicy-verify-bench-"))
    try:
        t0 = time.perf_counter()
        if args.keep and (tmp / "gov").is_dir():
            root = tmp / "gov"
            size = 0
        else:
            tmp.mkdir(parents=True, exist_ok=True)
            root, size = build(tmp, args.size_mib)
        print(f"built the 10-step chain in {time.perf_counter() - t0:.1f} s under {tmp}")

        facts = verify_chain(root, ADAPTER)
        if not facts.ok:
            for f in facts.failures:
                print(f"  [{f.code}] {f.message}", file=sys.stderr)
            print("verify_bench: the honest chain does not verify", file=sys.stderr)
            return 2
        files = sorted(
            {
                *facts.adapter_files,
                *next(s for s in facts.steps if s.name == "train").attestations[0].materials,
            }
        )
        files = [
            f
            for f in files
            if (root / f).is_file()
            and not f.startswith("attestations/")
            and f != "adapters/bench-lora/1.0.yaml"
        ]
        size = size or sum((root / f).stat().st_size for f in files)
        steps = sum(len(s.attestations) for s in facts.steps)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(
            f"artifacts: {len(files)} files, {size / (1 << 30):.2f} GiB; verify re-hashed "
            f"{facts.artifacts_checked} files, {facts.bytes_hashed / (1 << 30):.2f} GiB; "
            f"{len(facts.steps)} steps, {steps} links; CPUs available: {cpus}"
        )

        def hash_all() -> None:
            for f in files:
                _sha(root / f)

        def hash_parallel() -> None:
            with ThreadPoolExecutor(max_workers=cpus or 1) as pool:  # hashlib releases the GIL
                list(pool.map(_sha, [root / f for f in files]))

        hash_all()  # warm the page cache
        hashing: list[float] = []
        parallel: list[float] = []
        verifying: list[float] = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            hash_all()
            hashing.append(time.perf_counter() - t)
            t = time.perf_counter()
            hash_parallel()
            parallel.append(time.perf_counter() - t)
            t = time.perf_counter()
            facts = verify_chain(root, ADAPTER)
            verifying.append(time.perf_counter() - t)
            assert facts.ok
        h, v = min(hashing), min(verifying)
        ratio = v / h
        gib = facts.bytes_hashed / (1 << 30)
        runs_h, runs_v = [round(x, 3) for x in hashing], [round(x, 3) for x in verifying]
        print(f"hashlib sha256, sequential 1 MiB reads: best {h:.3f} s of {runs_h} ({gib / h:.2f} GiB/s)")
        p = min(parallel)
        runs_p = [round(x, 3) for x in parallel]
        print(
            f"hashlib sha256, {cpus} threads, per file:    best {p:.3f} s of {runs_p} ({gib / p:.2f} GiB/s)"
        )
        print(f"verify_chain (10 steps, all checks):     best {v:.3f} s of {runs_v} ({gib / v:.2f} GiB/s)")
        print(f"ratio verify / parallel hashing = {v / p:.2f} (for information)")
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(f"ratio verify / hashing = {ratio:.2f} (target ≤ {TARGET}): {verdict}")
        return 0 if verdict == "PASS" else 1
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
