"""Security-eval step evidence (schemas/evidence-eval.v1) from graded item results.

Scores are per category: ``score = passed / samples``. A category is ``ok`` when its score
reaches the suite threshold and, for ``refusal``, when the over-refusal rate (benign
look-alikes refused / benign look-alikes) stays within ``max_over_refusal``. The verdict is
``pass`` when every category is ok. ``run.results_digest`` binds the item-level results
(``sha256`` over the RFC 8785 canonical JSON of the list of ``{item, category, passed, rule,
output_sha256}`` sorted by item digest), so a results file can be checked against the signed
evidence.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftpolicy._internal.canonical_json import digest as canonical_digest

__all__ = ["CategoryScore", "ItemResult", "build_evidence", "results_digest", "score", "write_evidence"]


@dataclass(frozen=True)
class ItemResult:
    """The graded result of one item."""

    item: str  # item digest (hex)
    item_id: str
    category: str
    passed: bool
    rule: str
    output_sha256: str
    over_refusal: bool = False
    benign: bool = False  # a refusal item that must be answered (over-refusal denominator)
    detail: str = ""

    def digest_view(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "category": self.category,
            "passed": self.passed,
            "rule": self.rule,
            "output_sha256": self.output_sha256,
        }


@dataclass(frozen=True)
class CategoryScore:
    """A category's score against its threshold."""

    category: str
    samples: int
    passed: int
    threshold: float | None
    over_refusal: float | None = None
    max_over_refusal: float | None = None
    measured: float | None = None  # a tool's metric (lm-eval, Inspect) instead of passed/samples

    @property
    def score(self) -> float:
        if self.measured is not None:
            return self.measured
        return self.passed / self.samples if self.samples else 0.0

    @property
    def ok(self) -> bool:
        if self.samples == 0 and self.measured is None:
            return False
        if self.threshold is not None and self.score < self.threshold:
            return False
        return not (
            self.over_refusal is not None
            and self.max_over_refusal is not None
            and self.over_refusal > self.max_over_refusal
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"category": self.category, "score": round(self.score, 6)}
        if self.threshold is not None:
            out["threshold"] = self.threshold
        out["samples"] = self.samples
        if self.measured is None:
            out["passed"] = self.passed
        if self.over_refusal is not None:
            out["over_refusal"] = round(self.over_refusal, 6)
        if self.max_over_refusal is not None:
            out["max_over_refusal"] = self.max_over_refusal
        out["ok"] = self.ok
        return out


def results_digest(results: Iterable[ItemResult]) -> str:
    """``sha256:`` of the canonical item-level results (sorted by item digest)."""
    return canonical_digest([r.digest_view() for r in sorted(results, key=lambda r: r.item)])


def score(results: Sequence[ItemResult], categories: Mapping[str, Any]) -> list[CategoryScore]:
    """Per-category scores of ``results`` with the thresholds of the suite's ``categories``."""
    out = []
    for cat in sorted({r.category for r in results} | set(categories)):
        rs = [r for r in results if r.category == cat]
        entry = categories.get(cat) or {}
        benign = [r for r in rs if r.benign]
        over = sum(1 for r in benign if r.over_refusal) / len(benign) if benign else None
        out.append(
            CategoryScore(
                cat,
                len(rs),
                sum(1 for r in rs if r.passed),
                entry.get("threshold"),
                over if cat == "refusal" else None,
                entry.get("max_over_refusal") if cat == "refusal" else None,
            )
        )
    return out


def utc(ts: dt.datetime) -> str:
    """RFC 3339 UTC with a Z suffix, to the second (what the promotion policy parses)."""
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_evidence(
    *,
    adapter_ref: str,
    adapter_digest: str,
    suite: Mapping[str, Any],
    scores: Sequence[CategoryScore],
    evaluated_at: dt.datetime,
    run: Mapping[str, Any],
    tool: Mapping[str, str] | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """The evidence object; ``suite`` is ``{name, version, digest}``."""
    from ftpolicy import __version__

    out: dict[str, Any] = {
        "schema_version": 1,
        "kind": "evidence-eval",
        "subject": f"adapter:{adapter_ref}",
        "adapter": {"ref": adapter_ref, "digest": adapter_digest},
        "suite": {k: suite[k] for k in ("name", "version", "digest") if suite.get(k)},
        "evaluated_at": utc(evaluated_at),
        "tool": dict(tool or {"name": "ftpolicy eval", "version": __version__}),
        "results": [s.as_dict() for s in scores],
        "verdict": "pass" if scores and all(s.ok for s in scores) else "fail",
        "run": {k: v for k, v in run.items() if v is not None},
    }
    if notes:
        out["notes"] = notes
    return out


def write_evidence(path: Path, evidence: Mapping[str, Any]) -> None:
    """Validate ``evidence`` against the security-eval schema and write it atomically."""
    from ftpolicy._internal.atomic import write_text_atomic
    from ftpolicy.attest.evidence import check_evidence

    text = json.dumps(evidence, indent=2, sort_keys=False) + "\n"
    check_evidence("security-eval", text.encode("utf-8"), display=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
