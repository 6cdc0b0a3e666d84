"""The result model every command renders: findings, a summary and a status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["error", "warning", "note"]
Status = Literal["pass", "fail", "error"]

# Domain severities and the SARIF level they map to.
SEVERITY_LEVEL: dict[str, Level] = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}


@dataclass(frozen=True)
class Finding:
    """One result: a policy violation, a scan finding, a verification failure.

    ``rule_id`` is stable across versions (e.g. ``secret/aws-access-key`` or
    ``dataset/licence-allowlist``); ``level`` is the SARIF level; ``severity`` the
    domain severity (critical/high/medium/low/info).
    """

    rule_id: str
    message: str
    level: Level = "error"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: str | None = None
    category: str | None = None
    hint: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule_id, "level": self.level, "message": self.message}
        for key in ("file", "line", "column", "severity", "category", "hint"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.properties:
            data["properties"] = dict(self.properties)
        return data


@dataclass(frozen=True)
class RuleInfo:
    """Description of a rule for SARIF ``tool.driver.rules`` and text help."""

    rule_id: str
    short: str
    help: str | None = None


@dataclass
class Report:
    """What a command found. ``kind`` names the report (``check``, ``scan-dataset`` …)."""

    kind: str
    status: Status
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # human lines shown in text/markdown output

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "note": 0}
        for f in self.findings:
            out[f.level] += 1
        return out
