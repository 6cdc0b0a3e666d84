"""Shared test set-up: a Git identity for the repositories tests create."""

from __future__ import annotations

import os

for _var, _value in {
    "GIT_AUTHOR_NAME": "ftpolicy tests",
    "GIT_AUTHOR_EMAIL": "tests@ftpolicy.invalid",
    "GIT_COMMITTER_NAME": "ftpolicy tests",
    "GIT_COMMITTER_EMAIL": "tests@ftpolicy.invalid",
}.items():
    os.environ.setdefault(_var, _value)


# -- OPA: the binary and a real server for the policy-engine tests ----------------------------
# scripts/ensure_opa.sh prints an OPA v1.x binary (opa on PATH, or a pinned one built once with
# `go install` into the Go build cache). Without opa and without go the tests that need it skip
# with the reason; with go present a failed build fails them.

import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

_REPO_ROOT = Path(__file__).resolve().parent.parent
_OPA_CACHE: dict[str, str] = {}


def _find_opa() -> str:
    """Path of an OPA v1.x binary; skips (no opa, no go) or fails (go could not build it)."""
    if "path" in _OPA_CACHE:
        return _OPA_CACHE["path"]
    if "skip" in _OPA_CACHE:
        pytest.skip(_OPA_CACHE["skip"])
    proc = subprocess.run(
        ["bash", str(_REPO_ROOT / "scripts" / "ensure_opa.sh")], capture_output=True, text=True, check=False
    )
    if proc.returncode == 1:
        _OPA_CACHE["skip"] = (
            "OPA not available (no opa v1.x on PATH and no Go to build it): "
            + (proc.stderr.strip().splitlines() or [""])[0]
        )
        pytest.skip(_OPA_CACHE["skip"])
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.fail(f"scripts/ensure_opa.sh failed (exit {proc.returncode}):\n{proc.stderr}")
    _OPA_CACHE["path"] = proc.stdout.strip().splitlines()[-1]
    return _OPA_CACHE["path"]


@pytest.fixture(scope="session")
def opa_bin() -> str:
    """Path of an OPA v1.x binary (built with go install when missing)."""
    return _find_opa()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def opa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real `opa run --server` on a free loopback port, stopped at the end of the session."""
    opa = _find_opa()
    log = tmp_path_factory.mktemp("opa-server") / "opa.log"
    for _attempt in range(3):  # the free port can be taken between probing and binding
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        command = [opa, "run", "--server", "--addr", f"127.0.0.1:{port}", "--skip-version-check"]
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [*command, "--log-level", "error"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if _wait_healthy(proc, url, 30):
            break
        _stop(proc)
    else:
        pytest.fail(f"opa run --server did not become healthy:\n{log.read_text(errors='replace')}")
    try:
        yield url
    finally:
        _stop(proc)
