"""Evaluate a large full check in chunks of manifests, with the same decision as one query.

On regopy (the embedded engine) taking in the input costs about 0.5 ms per manifest and its
iteration cost grows with the size of the document; past roughly nine thousand manifests it
fails without a message. A full check is therefore split into chunks of subject manifests,
evaluated in forked worker processes (one per CPU). Each chunk's input document is
the full document except three lists, cut down to the chunk:

* ``manifests``: the chunk's subjects, plus (as context, ``subject`` false) every manifest a
  subject's resolved ``refs`` names, so rules that follow references see what they would see in
  the whole document;
* ``problems`` and ``shards_verified``: the entries of the chunk's manifests.

Promotion facts (``chains``, ``attestations``) stay whole in every chunk, and every chunk also
carries, as context, the manifests those facts are judged with (each chain's adapter and
dataset manifest, every eval suite), so each chunk reaches the same promotion findings, which
the merge then counts once.

The decisions are merged: deny, warn and waived are sets in Rego, so their union (duplicates
such as waiver warnings, which every chunk reports, counted once) is the single query's answer
for every rule that judges a manifest by itself and by the manifests it references, which is
how the default library is written (a test compares chunked and single decisions on both
engines). A rule that compares unrelated manifests with each other sees one chunk at a time.
Only full checks are split: a diff check's changed-path rules look across the whole change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["CHUNK_MANIFESTS", "chunk_digest", "merge_decisions", "split_input"]

CHUNK_MANIFESTS = 500
"""Subject manifests per chunk on the embedded engine."""


def split_input(document: dict[str, Any], subjects: Sequence[str], size: int) -> list[dict[str, Any]]:
    """The chunk documents of a full-check ``document`` whose subject paths are ``subjects``."""
    order = sorted(subjects)
    chunk_of = {path: i // size for i, path in enumerate(order)}
    count = max(1, (len(order) + size - 1) // size)
    by_path = {m["path"]: m for m in document["manifests"]}
    picked: list[dict[str, dict[str, Any]]] = [{} for _ in range(count)]
    for m in document["manifests"]:
        if not m.get("subject"):
            continue
        i = chunk_of.get(m["path"], 0)
        picked[i][m["path"]] = m
    shared = _fact_context(document, by_path)
    for i in range(count):
        context: dict[str, dict[str, Any]] = {p: m for p, m in shared.items() if p not in picked[i]}
        for m in picked[i].values():
            for ref in m.get("refs", []):
                target = by_path.get(ref.get("path"))
                if target is not None and ref["path"] not in picked[i]:
                    context[ref["path"]] = (
                        target if not target.get("subject") else {**target, "subject": False}
                    )
        picked[i].update(context)
    problems: list[list[Any]] = [[] for _ in range(count)]
    for p in document["problems"]:
        problems[chunk_of.get(p.get("path"), 0)].append(p)
    shards: list[list[Any]] = [[] for _ in range(count)]
    for s in document["shards_verified"]:
        shards[chunk_of.get(s.get("manifest"), 0)].append(s)
    return [
        {
            **document,
            "manifests": [picked[i][p] for p in sorted(picked[i])],
            "problems": problems[i],
            "shards_verified": shards[i],
        }
        for i in range(count)
    ]


def _fact_context(document: dict[str, Any], by_path: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Manifests the promotion facts are judged with, as context (``subject`` false)."""
    chains = document.get("chains") or []
    if not chains and not document.get("attestations"):
        return {}
    wanted = {m["path"] for m in document["manifests"] if m.get("kind") == "eval-suite"}
    for c in chains:
        if not isinstance(c, dict):
            continue
        if isinstance(c.get("manifest"), str):
            wanted.add(c["manifest"])
        ref = c.get("dataset")
        if isinstance(ref, str) and ref.startswith("dataset:") and ref.count("@") == 1:
            name, version = ref[len("dataset:") :].split("@")
            wanted.add(f"datasets/{name}/{version}.yaml")
    return {p: {**by_path[p], "subject": False} for p in sorted(wanted) if p in by_path}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chunk_digest(policy_digest: str, document: dict[str, Any]) -> str:
    """Cache key of one chunk's decision: the policy set and the exact input."""
    h = hashlib.sha256(policy_digest.encode() + b"\0")
    h.update(_canonical(document).encode())
    return h.hexdigest()


def merge_decisions(raws: Sequence[Any]) -> Any:
    """One raw decision from the chunks' raw decisions (union of deny, warn and waived).

    A chunk answer that is not a decision object is returned as it is, so the usual parsing
    reports it.
    """
    if len(raws) == 1:
        return raws[0]
    for raw in raws:
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), list) for k in ("deny", "warn", "waived")
        ):
            return raw
    merged: dict[str, Any] = dict(raws[0])
    for key in ("deny", "warn", "waived"):
        seen: dict[str, Any] = {}
        for raw in raws:
            for item in raw[key]:
                seen.setdefault(_canonical(item), item)
        merged[key] = [seen[k] for k in sorted(seen)]
    consistent = all(raw.get("allow") is (not raw["deny"]) for raw in raws)
    # An inconsistent chunk makes the merged answer inconsistent too, which parsing refuses.
    merged["allow"] = (not merged["deny"]) if consistent else bool(merged["deny"])
    return merged


# -- evaluation in worker processes ------------------------------------------------------------

_JOB: tuple[Any, Sequence[dict[str, Any]]] | None = None  # (policy set, chunks), inherited by fork
_ENGINE: Any = None  # one embedded engine per worker process


def _evaluate_one(index: int) -> tuple[str, Any]:
    """Evaluate chunk ``index`` of :data:`_JOB` in a worker; errors come back as plain values."""
    global _ENGINE
    from ftpolicy.errors import FtpolicyError
    from ftpolicy.policy.decision import DECISION_QUERY
    from ftpolicy.policy.engines import get_engine

    assert _JOB is not None
    policy_set, chunks = _JOB
    try:
        if _ENGINE is None:
            _ENGINE = get_engine("embedded")
        return "ok", _ENGINE.query(policy_set, DECISION_QUERY, chunks[index])
    except FtpolicyError as exc:
        loc = exc.location
        where = None if loc is None else (loc.path, loc.line, loc.column)
        return "error", (exc.message, exc.hint, exc.code, where)


def evaluate_in_workers(
    policy_set: Any, chunks: Sequence[dict[str, Any]], indexes: Sequence[int], workers: int
) -> dict[int, Any] | None:
    """Raw decisions of ``chunks[i]`` for ``i`` in ``indexes``, on ``workers`` forked processes.

    Each worker compiles the policies once and evaluates whole chunks; nothing large is sent to
    it (the chunks are inherited by fork). Returns None when no pool could be started (the
    caller then evaluates in this process); an evaluation error in a worker is raised here as
    :class:`~ftpolicy.errors.EvaluationError` with the worker's message, hint and location.
    """
    global _JOB
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from ftpolicy.errors import EvaluationError, Location

    _JOB = (policy_set, chunks)
    results: dict[int, Any] = {}
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for index, (status, value) in zip(indexes, pool.map(_evaluate_one, indexes), strict=True):
                if status == "error":
                    message, hint, code, where = value
                    raise EvaluationError(
                        message, hint=hint, code=code, location=Location(*where) if where else None
                    )
                results[index] = value
    except (BrokenProcessPool, OSError):
        return None
    finally:
        _JOB = None
    return results
