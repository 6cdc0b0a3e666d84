"""Local caches in the Git directory: manifest parse results and chunk decisions.

:class:`ParseCache` maps a manifest's exact bytes to its parse result; :class:`DecisionCache`
maps (policy set digest, engine, exact chunk input) to the embedded engine's decision for one
chunk of a large full check (:mod:`ftpolicy.policy.chunked`); a chunk decision is reused only
when the check time (``now``, part of the input) is the same too, e.g. with ``FTPOLICY_NOW``.

Parsing and schema-checking a manifest costs about a millisecond; a full check of a repository
with ten thousand manifests would spend much of its time there although the manifests rarely
change. The parse cache maps ``sha256(ftpolicy version, schemas, path, bytes)`` to
the result of :func:`ftpolicy.manifest.check_manifest` *without* the work-tree checks (symlinks),
which the caller repeats every time. It lives in the Git directory (``.git/ftpolicy/``), never
in the work tree, so it cannot be committed, and it is rebuilt whenever ftpolicy or its schemas
change. Set ``FTPOLICY_CACHE=0`` to bypass both caches.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from ftpolicy import __version__
from ftpolicy._internal.atomic import write_text_atomic
from ftpolicy.resources import schemas_dir

_FILE = "manifest-cache.v1.json"
PARALLEL_FROM = 2000
"""Manifests to parse (cache misses) from which :meth:`ParseCache.prefill` uses every CPU."""
_BATCH = 250

Parser = Callable[[str, bytes], Any]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _parse_batch(parse: Parser, batch: list[tuple[str, bytes]]) -> list[Any]:
    return [parse(path, raw) for path, raw in batch]


@cache
def _salt() -> bytes:
    h = hashlib.sha256(__version__.encode())
    for path in sorted(schemas_dir().glob("*.schema.json")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.digest()


def _git_dir(root: Path) -> Path | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--path-format=absolute", "--git-common-dir"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    out = proc.stdout.strip()
    return Path(out) if proc.returncode == 0 and out else None


class ParseCache:
    """Parse results by content key; :meth:`save` writes new entries back (atomically)."""

    FILE = _FILE

    def __init__(self, root: Path) -> None:
        self._path: Path | None = None
        self._entries: dict[str, Any] = {}
        self._dirty = False
        if os.environ.get("FTPOLICY_CACHE", "1") == "0":
            return
        git_dir = _git_dir(root)
        if git_dir is None:
            return
        self._path = git_dir / "ftpolicy" / self.FILE
        try:
            doc = json.loads(self._path.read_text(encoding="utf-8"))
            if doc.get("salt") == _salt().hex() and isinstance(doc.get("entries"), dict):
                self._entries = doc["entries"]
        except (OSError, ValueError):
            self._entries = {}

    @property
    def enabled(self) -> bool:
        """Whether results are kept (false with ``FTPOLICY_CACHE=0`` or outside a Git repository)."""
        return self._path is not None

    @staticmethod
    def key(path: str, raw: bytes) -> str:
        """The cache key of ``raw`` shown as ``path``."""
        return hashlib.sha256(_salt() + path.encode() + b"\0" + raw).hexdigest()

    def get(self, key: str) -> Any:
        """The stored result, or None."""
        return self._entries.get(key)

    def put(self, key: str, value: Any) -> None:
        """Remember ``value`` (JSON-serialisable) under ``key``."""
        self._entries[key] = value
        self._dirty = True

    def prefill(self, items: Sequence[tuple[str, bytes]], parse: Parser) -> None:
        """Parse the ``(path, bytes)`` the cache lacks with ``parse`` (a module-level function).

        From :data:`PARALLEL_FROM` misses on, batches go to one worker process per CPU (forked,
        so nothing is imported again); fewer are left to the caller's own loop. A worker that
        fails costs only time: what it did not parse is parsed by the caller.
        """
        missing: dict[str, tuple[str, bytes]] = {}
        for path, raw in items:
            key = self.key(path, raw)
            if key not in self._entries:
                missing[key] = (path, raw)
        workers = min(_cpus(), 8)
        if len(missing) < PARALLEL_FROM or workers < 2 or os.environ.get("FTPOLICY_JOBS") == "1":
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        keys = list(missing)
        batches = [keys[i : i + _BATCH] for i in range(0, len(keys), _BATCH)]
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = [pool.submit(_parse_batch, parse, [missing[k] for k in b]) for b in batches]
                for batch, future in zip(batches, futures, strict=True):
                    for key, entry in zip(batch, future.result(), strict=True):
                        self.put(key, entry)
        except Exception:  # a broken pool only costs time; the caller parses the rest
            return

    def save(self, keep: set[str] | None = None) -> None:
        """Write the cache back if it changed; keep only ``keep`` keys when given (drop stale ones)."""
        if self._path is None or not self._dirty:
            return
        entries = self._entries if keep is None else {k: v for k, v in self._entries.items() if k in keep}
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            doc = {"salt": _salt().hex(), "entries": entries}
            write_text_atomic(self._path, json.dumps(doc, separators=(",", ":")))
        except OSError:
            pass  # a cache that cannot be written only costs time


class DecisionCache(ParseCache):
    """Raw decisions of full-check chunks, keyed by :func:`ftpolicy.policy.chunked.chunk_digest`.

    The key covers the policy set digest, the engine and its version, and every byte of the
    chunk's input (the check time included: a check at another time is evaluated afresh).
    """

    FILE = "decision-cache.v1.json"

    @staticmethod
    def key_for(engine: str, chunk_key: str) -> str:
        """The cache key of a chunk whose input and policies hash to ``chunk_key`` on ``engine``."""
        return hashlib.sha256(_salt() + engine.encode() + b"\0" + chunk_key.encode()).hexdigest()
