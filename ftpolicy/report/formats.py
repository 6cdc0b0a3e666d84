"""Render a :class:`Report` as text, JSON, SARIF 2.1.0 or GitHub workflow commands.

Renderers are pure: they return strings and never decide exit codes. ``github`` returns
the annotation lines; :func:`markdown_summary` gives the job summary written to
``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from enum import StrEnum
from typing import Any, assert_never

from ftpolicy import __version__
from ftpolicy.report.model import Finding, Report

try:  # a declared dependency; json gives the same document where it is missing
    import orjson

    _ORJSON: Any = orjson
except ImportError:  # pragma: no cover
    _ORJSON = None

JSON_SCHEMA_ID = "ftpolicy/report/v1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_URI = "https://github.com/ftpolicy/ftpolicy"


class FormatChoice(StrEnum):
    """Output formats offered by reporting commands."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"


def render(report: Report, fmt: FormatChoice | str) -> str:
    """Render ``report`` in ``fmt``."""
    choice = FormatChoice(fmt)
    if choice is FormatChoice.TEXT:
        return render_text(report)
    if choice is FormatChoice.JSON:
        return render_json(report)
    if choice is FormatChoice.SARIF:
        return render_sarif(report)
    if choice is FormatChoice.GITHUB:
        return render_github(report)
    assert_never(choice)  # pragma: no cover


def render_text(report: Report) -> str:
    """Findings grouped by file, each with rule id, message and hint, then a summary."""
    lines: list[str] = []
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_file[f.file or "(repository)"].append(f)
    for file in sorted(by_file):
        lines.append(file)
        for f in sorted(by_file[file], key=lambda x: (x.line or 0, x.rule_id)):
            where = f":{f.line}" if f.line else ""
            lines.append(f"  {f.level.upper():7} {where:6} [{f.rule_id}] {f.message}")
            if f.hint:
                lines.append(f"  {'':7} {'':6} hint: {f.hint}")
    lines.extend(report.notes)
    c = report.counts()
    lines.append(
        f"{report.kind}: {report.status.upper()} — {c['error']} error(s), {c['warning']} warning(s), "
        f"{c['note']} note(s)"
    )
    return "\n".join(lines) + "\n"


def to_json_dict(report: Report) -> dict[str, Any]:
    """The stable JSON form (``schema`` names its version)."""
    return {
        "schema": JSON_SCHEMA_ID,
        "kind": report.kind,
        "tool": {"name": "ftpolicy", "version": __version__},
        "status": report.status,
        "summary": {**report.summary, "counts": report.counts()},
        "findings": [f.to_dict() for f in report.findings],
    }


def pretty_json(doc: Any) -> str:
    """``doc`` as JSON indented by two spaces, keys in insertion order, non-ASCII text as is:
    the layout of ``json.dumps(doc, indent=2, ensure_ascii=False)``, written by orjson (a
    dataset scan's report holds thousands of findings; Python's indenting encoder is pure
    Python and took ~5x longer). Floats in exponent form read ``1e-5`` instead of
    ``1e-05`` (the same number); documents orjson refuses (keys that are not strings,
    integers over 64 bits) go through ``json``."""
    if _ORJSON is not None:
        try:
            return str(_ORJSON.dumps(doc, option=_ORJSON.OPT_INDENT_2), "utf-8") + "\n"
        except TypeError:
            pass
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_json(report: Report) -> str:
    return pretty_json(to_json_dict(report))


def _sarif_result(f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index[f.rule_id],
        "level": f.level,
        "message": {"text": f.message + (f" (hint: {f.hint})" if f.hint else "")},
    }
    if f.file:
        region: dict[str, Any] = {}
        if f.line:
            region["startLine"] = f.line
            if f.column:
                region["startColumn"] = f.column
        physical: dict[str, Any] = {"artifactLocation": {"uri": f.file, "uriBaseId": "%SRCROOT%"}}
        if region:
            physical["region"] = region
        result["locations"] = [{"physicalLocation": physical}]
    props: dict[str, Any] = dict(f.properties)
    if f.severity:
        props["severity"] = f.severity
    if f.category:
        props["category"] = f.category
    if props:
        result["properties"] = props
    return result


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0: one run, one result per finding, rules described in the driver."""
    rule_ids = sorted({f.rule_id for f in report.findings} | set(report.rules))
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    rules = []
    for rid in rule_ids:
        info = report.rules.get(rid)
        rule: dict[str, Any] = {"id": rid, "shortDescription": {"text": info.short if info else rid}}
        if info and info.help:
            rule["help"] = {"text": info.help}
        rules.append(rule)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ftpolicy",
                        "version": __version__,
                        "informationUri": TOOL_URI,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"ftpolicy/{report.kind}/"},
                "results": [_sarif_result(f, rule_index) for f in report.findings],
                "properties": {"status": report.status, "summary": report.summary},
            }
        ],
    }
    return pretty_json(doc)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report) -> str:
    """GitHub workflow commands: ``::error file=…,line=…,title=…::message``."""
    out = []
    for f in report.findings:
        command = {"error": "error", "warning": "warning", "note": "notice"}[f.level]
        props = []
        if f.file:
            props.append(f"file={_escape_property(f.file)}")
            if f.line:
                props.append(f"line={f.line}")
        props.append(f"title={_escape_property(f.rule_id)}")
        msg = f.message + (f" — hint: {f.hint}" if f.hint else "")
        out.append(f"::{command} {','.join(props)}::{_escape_data(msg)}")
    return "\n".join(out) + ("\n" if out else "")


def markdown_summary(report: Report) -> str:
    """A Markdown job summary for ``$GITHUB_STEP_SUMMARY``."""
    c = report.counts()
    icon = {"pass": "✅", "fail": "❌", "error": "⚠️"}[report.status]
    lines = [
        f"## {icon} ftpolicy {report.kind}: {report.status.upper()}",
        "",
        f"{c['error']} error(s), {c['warning']} warning(s), {c['note']} note(s).",
        "",
    ]
    lines.extend(report.notes)
    if report.findings:
        lines += ["", "| Level | Rule | File | Message |", "|---|---|---|---|"]
        for f in report.findings:
            where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or "")
            msg = f.message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {f.level} | `{f.rule_id}` | `{where}` | {msg} |")
    return "\n".join(lines) + "\n"
