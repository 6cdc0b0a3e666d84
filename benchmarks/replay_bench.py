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
import shutil
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 30.0
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from attest.conftest import (  # noqa: E402
    attest_adapter,
    attest_dataset,
    build_governed_repo,
)
from helpers.gitrepo import ScratchRepo  # noqa: E402
from registry.conftest import REGISTRY_CONFIG, add_version  # noqa: E402

from ftpolicy.audit.log import audit_log  # noqa: E402
from ftpolicy.audit.replay import replay  # noqa: E402
from ftpolicy.registry.ops import promote  # noqa: E402


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
        add_version(chain, "1.0", name)
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
