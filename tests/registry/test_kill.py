"""A promote killed with SIGKILL at random points never leaves a broken registry or lost history."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from attest.conftest import Chain

from ftpolicy.registry import load_registry
from ftpolicy.registry.store import check_extends

from .conftest import copy_chain

TRIALS = int(os.environ.get("FTPOLICY_KILL_TRIALS", "50"))


def _cmd(chain: Chain, version: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ftpolicy",
        "promote",
        f"bot@{version}",
        "--channel",
        "staging",
        "--key",
        str(chain.keys["paul"]),
        "--repo",
        str(chain.root),
    ]


def test_promote_killed_at_random_points(reg_template: Chain, tmp_path: Path) -> None:
    chain = copy_chain(reg_template, tmp_path)
    # complete runs first: the fastest bounds the random kill delays (a loaded machine makes
    # later runs slower, so most kills still land inside a run)
    durations = []
    for _ in range(3):
        t0 = time.perf_counter()
        done = subprocess.run(_cmd(chain, "1.0"), capture_output=True, text=True, check=False)
        durations.append(time.perf_counter() - t0)
        assert done.returncode == 0, done.stderr
    full = min(durations)
    rng = random.Random(20261129)
    before = load_registry(chain.root, "bot")["history"]
    completed = killed = killed_after_write = 0
    for trial in range(TRIALS):
        proc = subprocess.Popen(
            _cmd(chain, rng.choice(["1.0", "1.1"])), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # half the kills anywhere in the run, half late (around the registry write)
        time.sleep(rng.uniform(0.0, full) if trial % 2 else rng.uniform(0.6 * full, 1.4 * full))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        if proc.returncode == 0:
            completed += 1
        else:
            assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        doc = load_registry(chain.root, "bot")  # parses and validates against the schema
        after = doc["history"]
        check_extends(before, after, f"trial {trial}")
        assert len(after) - len(before) <= 1
        if proc.returncode != 0 and len(after) > len(before):
            killed_after_write += 1  # killed between the rename and exiting: the entry is complete
        elif proc.returncode == 0:
            assert len(after) == len(before) + 1
        assert [e["seq"] for e in after] == list(range(1, len(after) + 1))
        before = after
        leftovers = [p.name for p in (chain.root / "registry").iterdir() if p.name.endswith(".tmp")]
        assert not leftovers or all(p.startswith(".bot.yaml.") for p in leftovers)
    print(
        f"kill test: {TRIALS} trials, full run {full:.2f} s, {killed} killed "
        f"({killed_after_write} after the write landed), {completed} completed"
    )
    assert killed >= TRIALS // 4, (killed, completed)
    assert len(before) == 3 + completed + killed_after_write
