"""The scan summary (``schemas/scan-summary.v1.schema.json``): step evidence of a scan.

It records what was scanned (dataset reference, per-file sha256 and a dataset digest),
with what (scanner version, rule-pack digest and sources, holdout suite and digest) and
what was found (counts per category, severity and rule; suspected triggers; baseline
suppressions and expired entries), plus the verdict under ``--fail-on``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ftpolicy.report import Finding
from ftpolicy.scan.dataset.baseline import BaselineOutcome
from ftpolicy.scan.dataset.contamination import Holdout
from ftpolicy.scan.dataset.rules import RulePack

CONTAMINATION_METHOD = (
    "word 13-gram overlap after NFKC/lower-case/punctuation normalisation (any shared 13-gram; "
    "13-grams shared by more than 10 items ignored); items under 13 words: normalised exact containment"
)


def build_summary(
    *,
    findings: list[Finding],
    files: list[dict[str, Any]],
    ref: str | None,
    dataset_digest: str,
    pack: RulePack,
    records: int,
    malformed: int,
    trigger: dict[str, Any],
    holdout: Holdout | None,
    baseline_file: str | None,
    outcome: BaselineOutcome | None,
    fail_on: str,
    jobs: int,
    started_at: str,
    duration: float,
    version: str,
    categories: list[str],
) -> dict[str, Any]:
    """Assemble the summary document (JSON-able, schema-valid)."""
    from ftpolicy.scan.dataset.engine import failing

    by_cat: Counter[str] = Counter(f.category or "" for f in findings)
    by_sev: Counter[str] = Counter(f.severity or "medium" for f in findings)
    by_rule: Counter[str] = Counter(f.rule_id for f in findings)
    by_cat_sev: dict[str, Counter[str]] = {}
    for f in findings:
        by_cat_sev.setdefault(f.category or "", Counter())[f.severity or "medium"] += 1
    summary: dict[str, Any] = {
        "schema_version": 1,
        "kind": "scan-summary",
        "scanner": {"name": "ftpolicy", "version": version},
        "rules": {"digest": pack.digest, "sources": list(pack.sources)},
        "dataset": {"ref": ref, "digest": dataset_digest, "files": files},
        "records": records,
        "malformed": malformed,
        "categories": categories,
        "counts": {
            "total": len(findings),
            "by_category": dict(sorted(by_cat.items())),
            "by_severity": dict(sorted(by_sev.items())),
            "by_category_severity": {k: dict(sorted(v.items())) for k, v in sorted(by_cat_sev.items())},
            "by_rule": dict(sorted(by_rule.items())),
        },
        "triggers": _jsonable(trigger),
        "holdout": (
            {
                "ref": holdout.ref,
                "digest": holdout.digest,
                "items": len(holdout.items),
                "method": CONTAMINATION_METHOD,
            }
            if holdout
            else None
        ),
        "baseline": (
            {
                "file": baseline_file,
                "suppressed": len(outcome.suppressed),
                "expired": [s.to_dict() for s in outcome.expired],
                "unused": len(outcome.unused),
            }
            if outcome is not None and baseline_file
            else None
        ),
        "fail_on": fail_on,
        "status": "fail" if failing(findings, fail_on) else "pass",
        "jobs": jobs,
        "started_at": started_at,
        "duration_s": round(duration, 3),
    }
    return summary


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def validate_summary(summary: dict[str, Any]) -> list[str]:
    """Schema problems of a summary (empty when valid)."""
    from jsonschema import Draft202012Validator

    from ftpolicy.resources import schemas_dir

    schema = json.loads((schemas_dir() / "scan-summary.v1.schema.json").read_text())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(summary)
    ]
