"""Benchmark ``ftpolicy check`` on a generated governed repository with 10,000 manifests.

Measures, as wall time of the real ``ftpolicy`` process (interpreter start included):

* ``check --base main`` with one manifest changed (target <= 1 s), and
* a full check of every manifest (target <= 15 s), once cold (``FTPOLICY_CACHE=0``: every
  manifest parsed and schema-checked, every policy chunk evaluated) and then warm, with the
  caches in ``.git/ftpolicy/`` (manifest parse results; on the embedded engine, which evaluates
  large full checks in chunks of 500 manifests, also the chunk decisions, which are reused
  because the check time is fixed with ``FTPOLICY_NOW``),

on the embedded engine and on a real OPA server (started here on a loopback port; skipped with
the reason printed when no OPA v1.x binary can be found or built). Prints the figures and
PASS/FAIL per target; exits 1 when a target is missed.

    .venv/bin/python benchmarks/check_bench.py [--manifests 10000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FTPOLICY = [sys.executable, "-m", "ftpolicy"]
DIFF_TARGET_S = 1.0
FULL_TARGET_S = 15.0
SHA = "0" * 64

CONFIG = """schema_version: 1
kind: config
project: bench
datasets:
  licence_allowlist: [internal, Apache-2.0]
  untrusted_source_kinds: [user-generated]
"""

DATASET = """schema_version: 1
kind: dataset
name: {name}
version: "{version}"
record_format: chat
parent: {parent}
change_summary: generated version {version} of {name}
sources:
  - name: helpdesk
    kind: internal
    uri: s3://bench/{name}/{version}
    licence: internal
collected_by: alice
authors: [alice]
collection:
  start: "2026-01-01"
  end: "2026-02-01"
preprocessing:
  - tool: redact
    version: "1.0"
    parameters_digest: sha256:{sha}
shards:
  - uri: s3://bench/{name}/{version}/part-0.jsonl
    sha256: "{sha}"
    bytes: 1000
    records: 10
    format: jsonl
"""

ADAPTER = """schema_version: 1
kind: adapter
name: {name}
version: "1.0.0"
base_model:
  id: org/base-7b
  revision: "{rev}"
datasets:
  - {dataset}
training:
  config_digest: sha256:{sha}
  trained_by: bob
peft:
  type: LORA
  r: 8
  target_modules: [q_proj, v_proj]
files:
  - path: artifacts/{name}/adapter_model.safetensors
    sha256: "{sha}"
    bytes: 8192
"""

IDENTITY = """schema_version: 1
kind: identity
name: {name}
type: person
teams: [ml-training]
keys: []
"""


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def generate(root: Path, manifests: int) -> None:
    """A governed repository with ``manifests`` manifests on ``main`` and a one-manifest change branch."""
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "ftpolicy.yaml").write_text(CONFIG)
    (root / "identities").mkdir()
    for name in ("alice", "bob"):
        (root / "identities" / f"{name}.yaml").write_text(IDENTITY.format(name=name))
    written = 3
    versions = 4
    n_adapters = max(1, (manifests - written) // 10)
    n_datasets = (manifests - written - n_adapters + versions - 1) // versions
    count = 0
    for d in range(n_datasets):
        name = f"ds-{d:05d}"
        folder = root / "datasets" / name
        folder.mkdir(parents=True)
        for v in range(versions):
            if written + count >= manifests - n_adapters:
                break
            parent = "null" if v == 0 else f'"1.{v - 1}.0"'
            (folder / f"1.{v}.0.yaml").write_text(
                DATASET.format(name=name, version=f"1.{v}.0", parent=parent, sha=SHA)
            )
            count += 1
    for a in range(n_adapters):
        name = f"ad-{a:05d}"
        folder = root / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "1.0.0.yaml").write_text(
            ADAPTER.format(name=name, rev="c" * 40, dataset=f"ds-{a % n_datasets:05d}@1.0.0", sha=SHA)
        )
    _git(root, "add", "-A")
    _git(root, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "generated")
    _git(root, "switch", "-q", "-c", "change")
    (root / "datasets" / "ds-00000" / "1.4.0.yaml").write_text(
        DATASET.format(name="ds-00000", version="1.4.0", parent='"1.3.0"', sha=SHA)
    )
    _git(root, "add", "-A")
    _git(root, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "one new dataset version")
    total = int(_git(root, "ls-files").count(".yaml"))
    print(f"generated {total} manifests ({n_datasets} datasets x {versions} versions, {n_adapters} adapters)")


_CPU: list[float] = []


def timed(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, exit code and output tail of one run; its CPU seconds go to _CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return wall, proc.returncode, proc.stdout[-400:] + proc.stderr[-400:]


def measure(label: str, args: list[str], env: dict[str, str], runs: int, target: float) -> bool:
    times = []
    cpu = []
    for _ in range(runs):
        seconds, code, tail = timed(args, env)
        cpu.append(_CPU[-1])
        if code != 0:
            print(f"  {label}: ftpolicy exited {code}:\n{tail}")
            print(f"  {label}: FAIL")
            return False
        times.append(seconds)
    best, median = min(times), statistics.median(times)
    ok = median <= target
    print(
        f"  {label:38} median {median:6.2f} s  best {best:6.2f} s  (CPU {statistics.median(cpu):5.2f} s)  "
        f"target <= {target:g} s  " + ("PASS" if ok else "FAIL")
    )
    return ok


def measure_full(args: list[str], env: dict[str, str], runs: int) -> bool:
    """A full check cold (no parse cache), then warm (cache filled by an untimed run)."""
    cold = measure(
        "full check, cold (FTPOLICY_CACHE=0)", args, {**env, "FTPOLICY_CACHE": "0"}, 1, FULL_TARGET_S
    )
    timed(args, env)  # fills .git/ftpolicy/manifest-cache.v1.json
    warm = measure("full check, warm caches", args, env, runs, FULL_TARGET_S)
    return cold and warm


def find_opa() -> tuple[str | None, str]:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure_opa.sh")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        return None, (proc.stderr.strip().splitlines() or ["ensure_opa.sh failed"])[-1]
    return proc.stdout.strip().splitlines()[-1], ""


def start_opa(opa: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            opa,
            "run",
            "--server",
            "--addr",
            f"127.0.0.1:{port}",
            "--skip-version-check",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("opa run --server did not become healthy")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="generate into DIR and keep it")
    opts = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ftpolicy-check-bench-"))
    repo = opts.keep or work / "gov"
    try:
        if not (repo / "ftpolicy.yaml").exists():
            started = time.perf_counter()
            generate(repo, opts.manifests)
            print(f"  (generated in {time.perf_counter() - started:.1f} s)")
        env = {**os.environ, "FTPOLICY_NOW": "2026-11-28T12:00:00Z"}
        ok = True
        diff = [*FTPOLICY, "check", "--repo", str(repo), "--base", "main"]
        full = [*FTPOLICY, "check", "--repo", str(repo)]
        print("embedded engine (regopy):")
        ok &= measure("check --base main (1 manifest changed)", diff, env, opts.runs, DIFF_TARGET_S)
        ok &= measure_full(full, env, opts.runs)
        opa, why = find_opa()
        if opa is None:
            print(f"OPA server: SKIPPED ({why})")
        else:
            proc, url = start_opa(opa)
            try:
                print(f"OPA server ({url}):")
                oargs = ["--engine", "opa", "--opa-url", url]
                ok &= measure(
                    "check --base main (1 manifest changed)", diff + oargs, env, opts.runs, DIFF_TARGET_S
                )
                ok &= measure_full(full + oargs, env, opts.runs)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        print(
            "overall:",
            "PASS" if ok else "FAIL",
            f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)",
        )
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
