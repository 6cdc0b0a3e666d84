"""Baselines: accepted findings, suppressed by fingerprint until they expire.

A baseline file (YAML or JSON, ``schemas/scan-baseline.v1.schema.json``)::

    schema_version: 1
    kind: scan-baseline
    suppressions:
      - fingerprint: 3f1c...            # from the finding's properties.fingerprint
        rule: secret/generic-assignment # optional, checked when present
        file: data/train.jsonl          # optional, checked when present
        owner: alice@example.com
        reason: test fixture password, not a real credential
        expires: 2027-03-31

A fingerprint is ``sha256(rule, file, matched value or evidence)`` (truncated), never
the line number, so it survives records moving. A suppression whose ``expires`` date is
in the past no longer suppresses: the finding comes back, marked ``baseline: expired``,
and the expired entry is listed in the scan summary.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ftpolicy._internal.atomic import write_text_atomic
from ftpolicy.errors import ConfigError, Location
from ftpolicy.report import Finding


@dataclass(frozen=True)
class Suppression:
    """One accepted finding."""

    fingerprint: str
    owner: str
    reason: str
    expires: dt.date
    rule: str | None = None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fingerprint": self.fingerprint}
        if self.rule:
            out["rule"] = self.rule
        if self.file:
            out["file"] = self.file
        out.update(owner=self.owner, reason=self.reason, expires=self.expires.isoformat())
        return out


def load_baseline(path: Path) -> list[Suppression]:
    """Read and validate a baseline file."""
    from jsonschema import Draft202012Validator

    from ftpolicy.manifest.yamlsafe import load_yaml
    from ftpolicy.resources import schemas_dir

    display = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{display}: cannot read baseline: {exc.strerror}",
            location=Location(display),
            hint="create one with --write-baseline or fix the path",
        ) from exc
    doc, _positions = load_yaml(display, raw)
    if isinstance(doc, dict) and isinstance(doc.get("suppressions"), list):
        for s in doc["suppressions"]:
            if isinstance(s, dict) and isinstance(s.get("expires"), dt.date):
                s["expires"] = s["expires"].isoformat()
    schema = json.loads((schemas_dir() / "scan-baseline.v1.schema.json").read_text())
    problems = sorted(Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(map(str, e.path)))
    if problems:
        first = problems[0]
        where = "/".join(map(str, first.absolute_path)) or "(top)"
        raise ConfigError(
            f"{display}: invalid baseline at {where}: {first.message}",
            location=Location(display),
            hint="see schemas/scan-baseline.v1.schema.json",
        )
    out = []
    for i, s in enumerate(doc.get("suppressions", []) if isinstance(doc, dict) else []):
        try:
            expires = dt.date.fromisoformat(str(s["expires"]))
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                f"{display}: suppressions[{i}].expires must be a date (YYYY-MM-DD)",
                location=Location(display),
            ) from exc
        out.append(
            Suppression(
                fingerprint=str(s["fingerprint"]),
                owner=str(s["owner"]),
                reason=str(s["reason"]),
                expires=expires,
                rule=s.get("rule"),
                file=s.get("file"),
            )
        )
    return out


@dataclass
class BaselineOutcome:
    """Findings that remain, those suppressed, and expired suppressions that matched."""

    findings: list[Finding]
    suppressed: list[Finding]
    expired: list[Suppression]
    unused: list[Suppression]


def apply_baseline(
    findings: list[Finding], suppressions: list[Suppression], today: dt.date
) -> BaselineOutcome:
    """Split ``findings`` into remaining and suppressed; expired entries suppress nothing."""
    index: dict[str, list[Suppression]] = {}
    for s in suppressions:
        index.setdefault(s.fingerprint, []).append(s)
    remaining: list[Finding] = []
    suppressed: list[Finding] = []
    expired: dict[str, Suppression] = {}
    used: set[int] = set()
    for f in findings:
        fp = str(f.properties.get("fingerprint", ""))
        match = None
        for s in index.get(fp, []):
            if (s.rule is None or s.rule == f.rule_id) and (s.file is None or s.file == f.file):
                match = s
                break
        if match is None:
            remaining.append(f)
            continue
        used.add(id(match))
        if match.expires < today:
            expired[match.fingerprint] = match
            props = dict(f.properties)
            props["baseline"] = "expired"
            props["baseline_owner"] = match.owner
            props["baseline_expired"] = match.expires.isoformat()
            remaining.append(replace(f, properties=props))
        else:
            suppressed.append(f)
    unused = [s for s in suppressions if id(s) not in used]
    return BaselineOutcome(remaining, suppressed, list(expired.values()), unused)


def write_baseline(path: Path, findings: list[Finding], owner: str, reason: str, expires: dt.date) -> int:
    """Write a baseline that accepts every finding in ``findings``; returns the count."""
    seen: dict[str, dict[str, Any]] = {}
    for f in findings:
        fp = str(f.properties.get("fingerprint", ""))
        if fp and fp not in seen:
            seen[fp] = Suppression(fp, owner, reason, expires, f.rule_id, f.file).to_dict()
    doc = {"schema_version": 1, "kind": "scan-baseline", "suppressions": list(seen.values())}
    write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return len(seen)
