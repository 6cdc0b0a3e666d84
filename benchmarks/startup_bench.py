"""Start-up time of the ``ftpolicy`` command: ``--help`` and ``--version`` (target <= 0.25 s).

Runs the console script installed next to the running interpreter (the virtualenv's
``bin/ftpolicy``) N times each and prints the median and minimum wall time, with
``python -c pass`` as the interpreter's own start-up for reference.

Usage: python benchmarks/startup_bench.py [-n 20] [--target 0.25]
To find a slow import: python -X importtime -m ftpolicy --help 2> imports.txt
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def console_script() -> list[str]:
    """The ``ftpolicy`` script beside ``sys.executable``, else ``python -m ftpolicy``."""
    folder = Path(sys.executable).parent
    for name in ("ftpolicy", "ftpolicy.exe"):
        if (folder / name).exists():
            return [str(folder / name)]
    found = shutil.which("ftpolicy")
    if found:
        return [found]
    return [sys.executable, "-m", "ftpolicy"]


def measure(cmd: list[str], runs: int) -> list[float]:
    times = []
    env = {**os.environ, "NO_COLOR": "1"}
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--runs", type=int, default=20, help="runs per command (default 20)")
    parser.add_argument("--target", type=float, default=0.25, help="seconds (default 0.25)")
    args = parser.parse_args(argv)

    script = console_script()
    measure([*script, "--version"], 2)  # warm the file-system cache and .pyc files
    rows = [
        ("python -c pass (baseline)", [sys.executable, "-c", "pass"], False),
        ("ftpolicy --help", [*script, "--help"], True),
        ("ftpolicy --version", [*script, "--version"], True),
        ("ftpolicy dataset --help (info)", [*script, "dataset", "--help"], False),
    ]
    print(f"{args.runs} runs each; command: {' '.join(script)}")
    print(f"{'command':28} {'median s':>9} {'min s':>7}  target")
    ok = True
    for label, cmd, judged in rows:
        times = measure(cmd, args.runs)
        med, low = statistics.median(times), min(times)
        verdict = ""
        if judged:
            verdict = "PASS" if med <= args.target else "FAIL"
            ok &= verdict == "PASS"
            verdict = f"{verdict} (median <= {args.target} s)"
        print(f"{label:28} {med:9.3f} {low:7.3f}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
