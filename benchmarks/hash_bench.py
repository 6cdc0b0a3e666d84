"""Hashing throughput: ftpolicy (SHA-256 + record counting) against hashlib single-stream.

Generates JSONL chat shards on the fly (default 8 x 128 MiB = 1 GiB) in a temporary
folder, warms the page cache so every run reads from memory, then measures, in three
interleaved rounds keeping each one's best run:

* hashlib: one thread, files one after another, 1 MiB ``readinto`` + ``update``
  (and ``hashlib.file_digest``; the faster of the two is the baseline);
* ftpolicy ``hash_files(jobs=1)`` and ``hash_files(jobs=<CPUs available>)``, which also
  count the records of every shard.

Targets (issue 2): ftpolicy jobs=1 >= 0.9x hashlib, and jobs=N > 1.5x hashlib when the
machine has at least 2 cores and there are at least 2 shards. CPU seconds are printed too,
so per-core efficiency is visible when ftpolicy overlaps hashing with counting.

Usage: python benchmarks/hash_bench.py [--size-mib 1024] [--shards 8] [--record-bytes 2048]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MIB = 1 << 20

_WORDS = [
    "the",
    "model",
    "should",
    "refuse",
    "to",
    "reveal",
    "credentials",
    "and",
    "explain",
    "why",
    "a",
    "deployment",
    "needs",
    "review",
    "customer",
    "asked",
    "about",
    "invoice",
    "totals",
    "refund",
    "policy",
    "shipping",
    "delays",
    "account",
    "access",
    "reset",
    "please",
    "summarise",
    "the",
    "ticket",
    "escalate",
    "to",
    "the",
    "on-call",
    "engineer",
    "with",
    "the",
    "log",
    "excerpt",
    "attached",
    "assistant",
    "answered",
    "politely",
    "with",
    "steps",
    "one",
    "two",
    "three",
    "and",
    "a",
    "link",
    "to",
    "the",
    "documentation",
    "page",
]


def _text(rng: random.Random, nbytes: int) -> str:
    out: list[str] = []
    size = 0
    while size < nbytes:
        w = rng.choice(_WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


def _record_pool(rng: random.Random, mean_bytes: int, n: int = 512) -> list[bytes]:
    """Distinct chat records whose sizes spread from 0.25x to 1.75x the mean."""
    pool = []
    for i in range(n):
        size = int(mean_bytes * rng.uniform(0.25, 1.75))
        user = _text(rng, size // 3)
        answer = _text(rng, max(0, size - len(user) - 160))
        record = {
            "id": f"r{i:06d}",
            "messages": [
                {"role": "system", "content": "You are a helpful support assistant."},
                {"role": "user", "content": user},
                {"role": "assistant", "content": answer},
            ],
        }
        pool.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
    return pool


def generate(
    folder: Path, shards: int, shard_mib: int, mean_bytes: int, seed: int = 7
) -> tuple[list[Path], int]:
    """Write ``shards`` JSONL files of about ``shard_mib`` MiB; return paths and record count."""
    rng = random.Random(seed)
    pool = _record_pool(rng, mean_bytes)
    paths = []
    records = 0
    for s in range(shards):
        path = folder / f"shard-{s:03d}.jsonl"
        target = shard_mib * MIB
        written = 0
        with open(path, "wb") as fh:
            while written < target:
                block = [pool[rng.randrange(len(pool))] for _ in range(2048)]
                data = b"".join(block)
                fh.write(data)
                written += len(data)
                records += len(block)
        paths.append(path)
    return paths, records


def hashlib_readinto(paths: list[Path]) -> list[str]:
    """Baseline: one thread, sequential, 1 MiB reads into one reused buffer."""
    out = []
    buf = bytearray(MIB)
    view = memoryview(buf)
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
        out.append(h.hexdigest())
    return out


def hashlib_file_digest(paths: list[Path]) -> list[str]:
    """Baseline: ``hashlib.file_digest`` per file, sequential."""
    out = []
    for p in paths:
        with open(p, "rb") as fh:
            out.append(hashlib.file_digest(fh, "sha256").hexdigest())
    return out


def _cpu_seconds() -> float:
    """CPU seconds of this process and of the worker processes it has waited for."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float, object]:
    """Best wall time over ``repeat`` runs, with the CPU time of that run and its result."""
    best = (float("inf"), 0.0)
    result: object = None
    for _ in range(repeat):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        result = fn()
        wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        if wall < best[0]:
            best = (wall, cpu)
    return best[0], best[1], result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="total data size (default 1024)")
    parser.add_argument("--shards", type=int, default=8, help="number of shard files (default 8)")
    parser.add_argument(
        "--record-bytes", type=int, default=2048, help="mean JSONL record size (default 2048)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best kept (default 3)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: CPUs available)")
    parser.add_argument("--dir", type=Path, default=None, help="parent folder for the temporary data")
    parser.add_argument("--no-hash-only", action="store_true", help="skip the hash-only (no counting) rows")
    args = parser.parse_args(argv)

    from ftpolicy.hashing import hash_files
    from ftpolicy.hashing.stream import available_cpus

    cores = available_cpus()
    if args.jobs is None:
        args.jobs = cores
    shard_mib = max(1, args.size_mib // args.shards)
    tmp = Path(tempfile.mkdtemp(prefix="ftpolicy-hash-bench-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        paths, records = generate(tmp, args.shards, shard_mib, args.record_bytes)
        total = sum(p.stat().st_size for p in paths)
        mib = total / MIB
        print(
            f"data: {args.shards} shards, {mib:.0f} MiB, {records} records "
            f"(mean {total // records} B), generated in {time.perf_counter() - t0:.1f}s; "
            f"{cores} cores, jobs={args.jobs}, python {sys.version.split()[0]}"
        )
        expected = hashlib_readinto(paths)  # also warms the page cache
        hashlib_readinto(paths)

        # Rounds interleave the measurements so a burst of load elsewhere hits all of them.
        contenders: list[tuple[str, Callable[[], object]]] = [
            ("hashlib readinto, 1 thread", lambda: hashlib_readinto(paths)),
            ("hashlib.file_digest, 1 thread", lambda: hashlib_file_digest(paths)),
        ]
        job_counts = sorted({1, args.jobs})
        for jobs in job_counts:
            contenders.append((f"ftpolicy jobs={jobs} (+ records)", lambda j=jobs: hash_files(paths, jobs=j)))
        if not args.no_hash_only:  # the hashing layer alone, to separate its cost from counting
            for jobs in job_counts:
                contenders.append(
                    (
                        f"ftpolicy jobs={jobs}, hash only",
                        lambda j=jobs: hash_files(paths, jobs=j, count_records=False),
                    )
                )
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeat):
            for name, fn in contenders:
                wall, cpu, result = best_of(1, fn)
                if isinstance(result, list) and result and not isinstance(result[0], str):
                    assert [d.sha256 for d in result] == expected, "ftpolicy digest differs from hashlib"
                    if "hash only" not in name:
                        assert sum(d.records or 0 for d in result) == records, "record count differs"
                else:
                    assert result == expected
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
        rows = [(name, *best[name]) for name, _ in contenders]
        baseline = max(mib / rows[0][1], mib / rows[1][1])
        results = {jobs: mib / best[f"ftpolicy jobs={jobs} (+ records)"][0] for jobs in job_counts}

        print(f"{'measurement':34} {'MiB/s':>8} {'wall s':>7} {'cpu s':>7} {'MiB/cpu-s':>10}")
        for name, wall, cpu in rows:
            print(f"{name:34} {mib / wall:8.0f} {wall:7.2f} {cpu:7.2f} {mib / cpu if cpu else 0:10.0f}")
        print(f"hashlib single-stream baseline: {baseline:.0f} MiB/s (faster of the two)")
        # Work per CPU-second does not depend on what else the machine runs; wall-clock
        # ratios do. When other processes hold the cores, read these lines too.
        hashlib_eff = max(mib / rows[0][2], mib / rows[1][2])
        for name, _wall, cpu in rows[2:]:
            print(f"info  {name}: {mib / cpu / hashlib_eff:.2f}x hashlib's work per CPU-second")
        wall_cores = max(r[2] / r[1] for r in rows[:2])
        if wall_cores < 0.9:
            print(
                f"note  the best hashlib run got only {wall_cores:.0%} of a core: the machine is busy, "
                "so wall-clock ratios below are unreliable"
            )

        ok = True
        r1 = results[1] / baseline
        verdict = "PASS" if r1 >= 0.9 else "FAIL"
        ok &= verdict == "PASS"
        print(f"{verdict}  ftpolicy jobs=1 / hashlib = {r1:.2f}  (target >= 0.90)")
        if cores >= 2 and args.shards >= 2 and args.jobs >= 2:
            rn = results[args.jobs] / baseline
            verdict = "PASS" if rn > 1.5 else "FAIL"
            ok &= verdict == "PASS"
            print(f"{verdict}  ftpolicy jobs={args.jobs} / hashlib = {rn:.2f}  (target > 1.50)")
        else:
            print("n/a   parallel target needs >= 2 cores, >= 2 shards and --jobs >= 2")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
