#!/usr/bin/env python3
"""Detection quality of ``ftpolicy scan dataset`` on the labelled benchmark corpus.

Generates the corpus with ``benchmarks/scan_corpus.py`` (100k records by default, ~0.5 %
poison per category plus hard negatives), runs the real CLI over it
(``ftpolicy scan dataset CORPUS --holdout HOLDOUT --format json``), and prints
record-level precision and recall per category against the labels: a record counts as
flagged for a category when at least one finding of that category names its line.
Targets: precision >= 0.95 and recall >= 0.95 for every category.

Usage::

    python benchmarks/scan_quality.py                 # 100k records, seed 7
    python benchmarks/scan_quality.py --records 20000 --jobs 2 --show-errors 5

Exit status 0 when every category passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_P = 0.95
TARGET_R = 0.95


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("scan_corpus", HERE / "scan_corpus.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["scan_corpus"] = mod
    spec.loader.exec_module(mod)
    return mod


def run_scan(corpus: Path, holdout: Path, out: Path, jobs: int) -> tuple[dict[str, Any], float, float]:
    """Run the CLI; return (report, seconds, peak RSS of the scan in MiB)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cmd = [
        sys.executable, "-m", "ftpolicy", "scan", "dataset", str(corpus),
        "--holdout", str(holdout), "--format", "json", "--output", str(out),
        "--fail-on", "never", "--jobs", str(jobs),
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"scan failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = json.loads(out.read_text(encoding="utf-8"))
    return report, seconds, max(peak, before) / 1024.0


def score(
    findings: list[dict[str, Any]], labels: dict[int, set[str]], categories: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Per-category record-level TP/FP/FN, precision, recall."""
    flagged: dict[str, set[int]] = defaultdict(set)
    for f in findings:
        if f.get("category") in categories and f.get("line"):
            flagged[f["category"]].add(int(f["line"]))
    out: dict[str, dict[str, Any]] = {}
    for cat in categories:
        truth = {line for line, cats in labels.items() if cat in cats}
        got = flagged.get(cat, set())
        tp, fp, fn = len(got & truth), len(got - truth), len(truth - got)
        p = tp / (tp + fp) if tp + fp else (1.0 if not truth else 0.0)
        r = tp / (tp + fn) if tp + fn else 1.0
        out[cat] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": p,
            "recall": r,
            "fp_lines": got - truth,
            "fn_lines": truth - got,
        }
    return out


def _tags(path: Path) -> dict[int, list[str]]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            row = json.loads(raw)
            out[int(row["line"])] = row["tags"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Per-category precision/recall of ftpolicy scan dataset.")
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    ap.add_argument("--out", type=Path, default=ROOT / ".benchmarks-out" / "scan-quality")
    ap.add_argument("--reuse", action="store_true", help="reuse an existing corpus in --out")
    ap.add_argument(
        "--show-errors", type=int, default=0, metavar="N", help="print N missed / wrong lines per category"
    )
    args = ap.parse_args(argv)

    gen = _generator()
    corpus = args.out / "corpus.jsonl"
    if not (args.reuse and corpus.exists()):
        t0 = time.perf_counter()
        info = gen.generate(args.out, args.records, args.seed)
        print(f"generated {info.records} records in {time.perf_counter() - t0:.1f}s -> {info.corpus}")
    labels = gen.load_labels(args.out / "labels.jsonl")
    n_records = sum(1 for _ in corpus.open("rb"))

    report, seconds, peak = run_scan(corpus, args.out / "holdout.jsonl", args.out / "report.json", args.jobs)
    findings = report["findings"]
    print(
        f"ftpolicy scan dataset: {n_records} records in {seconds:.1f}s ({n_records / seconds:,.0f} rec/s, "
        f"--jobs {args.jobs}, peak RSS {peak:.0f} MiB, {len(findings)} findings)"
    )
    suspected = report["summary"].get("suspected_triggers", [])
    meta = json.loads((args.out / "meta.json").read_text(encoding="utf-8"))
    print("planted triggers:   " + ", ".join(t["escaped"] for t in meta["triggers"]))
    print(
        "suspected triggers: "
        + ", ".join(ascii(t.get("trigger") if isinstance(t, dict) else t) for t in suspected)
    )

    results = score(findings, labels, tuple(gen.CATEGORIES))
    tags = _tags(args.out / "labels.jsonl") if args.show_errors else {}
    print()
    print(
        f"{'category':18} {'planted':>7} {'TP':>6} {'FP':>6} {'FN':>6} {'precision':>9} {'recall':>7}  result"
    )
    ok_all = True
    for cat, r in results.items():
        ok = r["precision"] >= TARGET_P and r["recall"] >= TARGET_R
        ok_all &= ok
        print(
            f"{cat:18} {r['tp'] + r['fn']:7d} {r['tp']:6d} {r['fp']:6d} {r['fn']:6d} {r['precision']:9.3f} "
            f"{r['recall']:7.3f}  {'PASS' if ok else 'FAIL'}"
        )
        if args.show_errors:
            for kind in ("fn_lines", "fp_lines"):
                lines = sorted(r[kind])
                if not lines:
                    continue
                kinds = Counter(t for line in lines for t in tags.get(line, ["clean"]) or ["clean"])
                print(f"    {kind[:2].upper()} by tag: {dict(kinds.most_common(8))}")
                for line in lines[: args.show_errors]:
                    print(f"      line {line}: tags={tags.get(line)}")
    print()
    print(
        f"targets: precision >= {TARGET_P}, recall >= {TARGET_R} per category: {'PASS' if ok_all else 'FAIL'}"
    )
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
