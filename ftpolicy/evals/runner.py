"""Run a sealed suite against a model through a :class:`Backend`, resumably, and grade it.

A run generates one output per item (bounded concurrency, in item-file order), appends each
output to a cache file as soon as it arrives (one JSON line, flushed and fsynced) and grades
every output with :mod:`ftpolicy.evals.graders` once all are there. A killed run started
again with the same cache continues where it stopped: items whose digest is in the cache are
not generated again. The cache's first line binds it to the suite digest, the adapter digest
and the backend/model, so a cache of another run is refused instead of silently reused; a
torn last line (the process died mid-write) is ignored and that item generated again.

Backends implement :class:`Backend`: ``openai`` (:mod:`ftpolicy.evals.backends.openai`) talks
to any OpenAI-compatible ``/v1/chat/completions`` server; ``transformers``
(:mod:`ftpolicy.evals.backends.transformers`, optional ``models`` extra) loads a local base
model and the registered PEFT adapter in-process, after checking the adapter's files against
the manifest digests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ftpolicy.errors import ConfigError, EvaluationError, Location
from ftpolicy.evals.evidence import ItemResult, results_digest, score
from ftpolicy.evals.graders import grade
from ftpolicy.evals.seal import Item, Suite

__all__ = ["Backend", "BackendError", "RunResult", "item_messages", "run_suite"]

CACHE_FORMAT = "ftpolicy-eval-cache/1"


class BackendError(EvaluationError):
    """A backend could not produce an output (after its retries)."""

    code = "eval.backend"


class Backend(Protocol):
    """Something that answers chat messages with text.

    ``name`` is the backend kind (``openai``, ``transformers``), ``model`` the model it
    answers with, ``identity()`` what the cache and the evidence record about it
    (``backend``, ``backend_version``, ``model``, ``model_version`` as far as known).
    ``generate`` is called from worker threads and must be thread-safe.
    """

    name: str
    model: str

    def generate(self, messages: Sequence[Mapping[str, str]]) -> str: ...

    def identity(self) -> dict[str, str]: ...


def item_messages(item: Mapping[str, Any]) -> list[dict[str, str]]:
    """Chat messages of an item: its ``messages``, or ``system`` + ``context`` + ``prompt``."""
    msgs = item.get("messages")
    if isinstance(msgs, list) and msgs:
        return [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in msgs]
    out = []
    if isinstance(item.get("system"), str):
        out.append({"role": "system", "content": item["system"]})
    prompt = str(item.get("prompt", ""))
    if isinstance(item.get("context"), str):
        prompt = f"{item['context']}\n\n{prompt}"
    out.append({"role": "user", "content": prompt})
    return out


@dataclass
class RunResult:
    """Everything a finished run produced."""

    results: list[ItemResult]
    identity: dict[str, str]
    started_at: dt.datetime
    finished_at: dt.datetime
    generated: int  # outputs generated in this invocation (the rest came from the cache)
    cached: int
    scores: list[Any] = field(default_factory=list)

    @property
    def results_digest(self) -> str:
        return results_digest(self.results)


def _cache_header(suite: Suite, adapter_digest: str, backend: Backend) -> dict[str, Any]:
    header = {
        "format": CACHE_FORMAT,
        "suite": f"{suite.name}@{suite.version}",
        "suite_digest": suite.digest,
        "adapter_digest": adapter_digest,
        "backend": backend.name,
        "model": backend.model,
    }
    # a model version known before the first answer (the transformers backend's base model
    # digest) binds the cache too; the openai backend learns its only from answers
    pinned = backend.identity().get("model_version")
    if pinned:
        header["model_version"] = pinned
    return header


def _read_cache(path: Path, header: Mapping[str, Any]) -> dict[str, str]:
    if not path.exists():
        return {}
    lines = path.read_bytes().split(b"\n")
    try:
        first = json.loads(lines[0])
    except ValueError:
        first = None
    if first != dict(header):
        raise ConfigError(
            f"{path}: the cache belongs to another run ({json.dumps(first)[:200]})",
            location=Location(str(path), 1),
            hint="pass another --cache file, or delete this one to start the run afresh",
        )
    outputs: dict[str, str] = {}
    for n, raw in enumerate(lines[1:], 2):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            outputs[str(row["item"])] = str(row["output"])
        except (ValueError, KeyError, TypeError):
            if n == len(lines) or (n == len(lines) - 1 and not lines[-1]):
                continue  # torn last line: the run was killed while writing it
            raise ConfigError(
                f"{path}:{n}: damaged cache line", location=Location(str(path), n), hint="delete the cache"
            ) from None
    return outputs


class _CacheWriter:
    def __init__(self, path: Path, header: Mapping[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        if not fresh:  # drop a torn last line so appends start on a line of their own
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(path, "r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
        self._fh = open(path, "ab")  # noqa: SIM115 (closed in close())
        self._lock = threading.Lock()
        if fresh:
            self._write(header)

    def _write(self, row: Mapping[str, Any]) -> None:
        with self._lock:
            self._fh.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def add(self, item: str, output: str) -> None:
        self._write({"item": item, "output": output})

    def close(self) -> None:
        self._fh.close()


def _progress(total: int, done: int, enabled: bool) -> tuple[Callable[[], None], Callable[[], None]]:
    if not enabled:
        return (lambda: None), (lambda: None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
    )
    task = bar.add_task("eval", total=total, completed=done)
    bar.start()
    return (lambda: bar.advance(task)), bar.stop


def run_suite(
    suite: Suite,
    backend: Backend,
    *,
    adapter_digest: str,
    cache: Path,
    concurrency: int = 4,
    progress: bool | None = None,
    limit: int | None = None,
) -> RunResult:
    """Generate (or take from ``cache``) an output for every item of ``suite`` and grade it.

    ``limit`` stops after that many newly generated outputs (the cache keeps them; a later
    call continues) and raises nothing; the returned result then has fewer results than
    items and must not be turned into evidence (:func:`complete` tells).
    """
    started = dt.datetime.now(dt.UTC)
    header = _cache_header(suite, adapter_digest, backend)
    outputs = _read_cache(cache, header)
    todo = [i for i in suite.items if i.digest not in outputs]
    cached = len(suite.items) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    show = sys.stderr.isatty() and not os.environ.get("CI") if progress is None else progress
    advance, stop = _progress(len(suite.items), cached, show)
    writer = _CacheWriter(cache, header)
    generated = 0
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            pending: dict[Future[str], Item] = {}
            queue = list(todo)
            while queue or pending:
                while queue and len(pending) < max(1, concurrency):
                    item = queue.pop(0)
                    pending[pool.submit(backend.generate, item_messages(item.data))] = item
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    item = pending.pop(fut)
                    try:
                        text = fut.result()
                    except Exception:
                        for other in pending:
                            other.cancel()
                        raise
                    writer.add(item.digest, text)
                    outputs[item.digest] = text
                    generated += 1
                    advance()
    finally:
        writer.close()
        stop()
    results = [_grade(i, outputs[i.digest]) for i in suite.items if i.digest in outputs]
    run = RunResult(results, backend.identity(), started, dt.datetime.now(dt.UTC), generated, cached)
    run.scores = score(results, suite.data.get("categories") or {})
    return run


def complete(run: RunResult, suite: Suite) -> bool:
    """True when every item of ``suite`` has a result."""
    return len(run.results) == len(suite.items)


def _grade(item: Item, output: str) -> ItemResult:
    verdict = grade(item.data, output)
    spec = item.data.get("grader") or {}
    return ItemResult(
        item=item.digest,
        item_id=item.item_id,
        category=item.category,
        passed=verdict.passed,
        rule=verdict.rule,
        output_sha256=hashlib.sha256(output.encode("utf-8")).hexdigest(),
        over_refusal=verdict.over_refusal,
        benign=item.category == "refusal" and spec.get("expected") == "comply",
        detail=verdict.detail,
    )
